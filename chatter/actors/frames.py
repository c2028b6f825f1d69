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


def ack(*, client_msg_id: str, id: int, seq: int, room: str, created_at: str) -> str:
    """The ``ack`` of a send: built here only, for a new message and an idempotent repeat alike."""
    return encode({"type": "ack", "client_msg_id": client_msg_id, "id": id, "seq": seq, "room": room,
                   "created_at": created_at})


def presence(user: str, online: bool, last_seen: str | None) -> str:
    return encode({"type": "presence", "user": user, "online": online, "last_seen": last_seen})


def error(code: str, message: str, ref: str | None) -> str:
    return encode({"type": "error", "code": code, "message": message, "ref": ref})


def coalesce(frames: list[str]) -> str:
    """One frame for the socket: the object itself, or a JSON array of them."""
    if len(frames) == 1:
        return frames[0]
    return "[" + ",".join(frames) + "]"
