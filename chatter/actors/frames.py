"""Every frame the server sends, as JSON text, built once per event.

Each builder makes the frame's ``chatter.wire`` struct (its one
declaration) and encodes it with msgspec; nothing else in the server writes
a frame (``tests/wire`` checks that no other module builds one).  Durable
events were written from their structs by the store (``queries._emit``);
``encode_event`` sends them as stored.

Fan-out encodes an event once and queues the same string to every
recipient; the socket writer joins whatever is queued into one array frame.
"""

from __future__ import annotations

import orjson

from chatter.store.models import EventRow
from chatter.wire import (
    AckEvent,
    ErrorEvent,
    PongEvent,
    PresenceEvent,
    ReadyEvent,
    ResetEvent,
    TypingEvent,
    User,
    encode,
)


def encode_event(ev: EventRow) -> str:
    """A durable event as stored: ``EventRow.wire()`` is the frame (``chatter.wire.DurableEvent``).

    The stored JSON text (``ev.raw``) with ``type`` and ``seq`` spliced in
    front: the same text ``orjson.dumps(ev.wire())`` makes, at a quarter of
    its cost (bench/resume_mixed.py), on the fan-out path and for every event
    of a catch-up.  A row without its text (built in memory) is encoded.
    """
    raw = ev.raw
    if raw is not None and len(raw) > 2 and raw[0] == "{":
        return f'{{"type":"{ev.type}","seq":{ev.seq},{raw[1:]}'
    return orjson.dumps(ev.wire()).decode()


def ready(*, epoch: str, seq: int, user: User, online: list[str]) -> str:
    return encode(ReadyEvent(epoch=epoch, seq=seq, user=user, online=online))


def reset(*, epoch: str, seq: int) -> str:
    return encode(ResetEvent(epoch=epoch, seq=seq))


def ack(*, client_msg_id: str, id: int, seq: int, room: str, created_at: str) -> str:
    """The ``ack`` of a send: built here only, for a new message and an idempotent repeat alike."""
    return encode(AckEvent(client_msg_id=client_msg_id, id=id, seq=seq, room=room, created_at=created_at))


def typing(room: str, user: str, active: bool) -> str:
    return encode(TypingEvent(room=room, user=user, active=active))


def presence(user: str, online: bool, last_seen: str | None) -> str:
    return encode(PresenceEvent(user=user, online=online, last_seen=last_seen))


def error(code: str, message: str, ref: str | None) -> str:
    return encode(ErrorEvent(code=code, message=message, ref=ref))


_PONG = encode(PongEvent())


def pong() -> str:
    return _PONG


def coalesce(frames: list[str]) -> str:
    """One frame for the socket: the object itself, or a JSON array of them."""
    if len(frames) == 1:
        return frames[0]
    return "[" + ",".join(frames) + "]"
