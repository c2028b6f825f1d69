"""Micro-benchmark: the cost of encoding each server frame, frames.py today vs the hand-built dicts before.

Run: .venv/bin/python bench/encode_frames.py [--rounds N]

"before" is the code the frames were built with until issue #14 item 4 (a
dict literal, orjson), reproduced here; "now" calls ``chatter.actors.frames``
(a ``chatter.wire`` struct, msgspec; durable events still orjson on the
stored dict).  Both are timed in one process, interleaved, best of N rounds,
so a busy machine shifts both alike.  Each call includes building the frame
from its fields, as the server does it.  Not a test: it prints, it asserts
only that both produce the same bytes.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import orjson

from chatter import wire
from chatter.actors import frames
from chatter.store.models import EventRow, MessageRow, RoomId, Seq

M = MessageRow(id=12345, seq=987654, room=RoomId("r_abcdefghijkl"), sender="alice_1",  # type: ignore[arg-type]
               body="hello there, how are you doing today?", client_msg_id="0b9d6c1e-7f7a-4c4b-9b7e-3c2d1f0a9e8d",
               created_at="2026-11-25T10:00:00.123Z")
DATA = {"id": M.id, "room": M.room, "sender": M.sender, "body": M.body, "client_msg_id": M.client_msg_id,
        "created_at": M.created_at}
EV_MESSAGE = EventRow(seq=M.seq, room=M.room, type="message", data=DATA)
EV_ADDED = EventRow(seq=Seq(987655), room=M.room, type="member_added",
                    data={"room": M.room, "username": "bob_2", "role": "member", "name": "Bob", "room_name": "Team",
                          "kind": "group"})
USER = {"username": "alice_1", "name": "Alice", "online": True, "last_seen": None}
WIRE_USER = wire.User(username="alice_1", name="Alice", online=True, last_seen=None)
ONLINE = ["bob_2", "carol_3"]
EPOCH = "0123456789abcdef"
T = "2026-11-25T10:00:00.123Z"


def _old(obj: object) -> str:
    """The old ``frames.encode``."""
    return orjson.dumps(obj).decode()


def _old_event(ev: EventRow) -> str:
    """The old ``frames.encode_event``."""
    return _old(ev.wire())


CASES: dict[str, tuple[Callable[[], str], Callable[[], str]]] = {
    "message (durable, fan-out)": (lambda: _old_event(EV_MESSAGE), lambda: frames.encode_event(EV_MESSAGE)),
    "member_added (durable)": (lambda: _old_event(EV_ADDED), lambda: frames.encode_event(EV_ADDED)),
    "ack": (lambda: _old({"type": "ack", "client_msg_id": M.client_msg_id, "id": M.id, "seq": M.seq, "room": M.room,
                          "created_at": M.created_at}),
            lambda: frames.ack(client_msg_id=M.client_msg_id, id=M.id, seq=M.seq, room=M.room,
                               created_at=M.created_at)),
    "typing (fan-out)": (lambda: _old({"type": "typing", "room": M.room, "user": "alice_1", "active": True}),
                         lambda: frames.typing(M.room, "alice_1", True)),
    "presence (fan-out)": (lambda: _old({"type": "presence", "user": "alice_1", "online": True, "last_seen": T}),
                           lambda: frames.presence("alice_1", True, T)),
    "ready": (lambda: _old({"type": "ready", "epoch": EPOCH, "seq": M.seq, **{"user": USER, "online": ONLINE}}),
              lambda: frames.ready(epoch=EPOCH, seq=M.seq, user=WIRE_USER, online=ONLINE)),
    "reset": (lambda: _old({"type": "reset", "epoch": EPOCH, "seq": M.seq}),
              lambda: frames.reset(epoch=EPOCH, seq=M.seq)),
    "error": (lambda: _old({"type": "error", "code": "INVALID_INPUT", "message": "missing field 'room'",
                            "ref": "send"}),
              lambda: frames.error("INVALID_INPUT", "missing field 'room'", "send")),
    "pong": (lambda: _old({"type": "pong"}), frames.pong),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    print(f"{'frame':28} {'before ns':>10} {'now ns':>8} {'now/before':>10}")
    for name, (before, now) in CASES.items():
        assert before() == now(), name
        best = {before: float("inf"), now: float("inf")}
        for _ in range(args.rounds):
            for fn in (before, now):
                best[fn] = min(best[fn], timeit.timeit(fn, number=args.number) / args.number)
        print(f"{name:28} {best[before] * 1e9:10.0f} {best[now] * 1e9:8.0f} {best[now] / best[before]:10.2f}")


if __name__ == "__main__":
    main()
