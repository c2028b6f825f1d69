"""The house rules that tools can check: ruff (incl. ASYNC and S rules) on all Python, mypy --strict on chatter/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "chatter", "tests", "bench"], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-4000:]


def test_mypy_strict_is_clean() -> None:
    p = subprocess.run([sys.executable, "-m", "mypy", "chatter"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-4000:]
