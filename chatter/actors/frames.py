"""Encoding of server frames: JSON text, built once per event.

Fan-out encodes a durable event once and queues the same string to every
recipient; the socket writer joins whatever is queued into one array frame.
"""

from __future__ import annotations

from typing import Any

import orjson

from chatter.store.models import EventRow


def encode(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def encode_event(ev: EventRow) -> str:
    return encode(ev.wire())


def error(code: str, message: str, ref: str | None) -> str:
    return encode({"type": "error", "code": code, "message": message, "ref": ref})


def coalesce(frames: list[str]) -> str:
    """One frame for the socket: the object itself, or a JSON array of them."""
    if len(frames) == 1:
        return frames[0]
    return "[" + ",".join(frames) + "]"
