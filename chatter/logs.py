"""Logging setup: one line per record, never a secret (tokens and hashes are not logged)."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "info") -> None:
    root = logging.getLogger()
    if getattr(root, "_chatter", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    root._chatter = True  # type: ignore[attr-defined]
