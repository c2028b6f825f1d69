"""Direct writes from the fan-out (``Socket.flush`` and the ``Flusher``), with a recording transport.

The transport's side (real sockets, partial writes) is tested in
tests/http/test_direct.py; here: what is written, in which order, and when
the socket's writer task is woken instead.
"""

from __future__ import annotations

from typing import Any

import orjson
import trio
import trio.testing
from test_actors import connect, rt, setup_room

from chatter.actors.system import open_actor_system
from chatter.service.messages import Messages
from chatter.store import open_memory_store


class Recording:
    """A DirectWriter that records frames: ``ready`` False plays a busy transport, ``complete``
    False a kernel buffer that takes only part of each frame."""

    def __init__(self, *, ready: bool = True, complete: bool = True) -> None:
        self.frames: list[Any] = []
        self.is_ready = ready
        self.complete = complete

    def ready(self) -> bool:
        return self.is_ready

    def write(self, text: str) -> bool:
        self.frames.append(orjson.loads(text))
        return self.complete

    def events(self) -> list[dict[str, Any]]:
        return [e for f in self.frames for e in (f if isinstance(f, list) else [f])]


async def _drain(socket: Any) -> None:
    """Take what is queued now (presence of the others, for instance)."""
    await trio.testing.wait_all_tasks_blocked()
    while socket.queued:
        await socket.take(1000)


async def _ana_and_ben(system: Any, store: Any, ben_transport: Recording) -> tuple[str, Any, Any]:
    """A room of ana and ben, both connected; ben's socket writes through ``ben_transport``."""
    room = await setup_room(store, "ana", "ben")
    ana, ben = await connect(system, "ana"), await connect(system, "ben")
    await _drain(ben)
    ben.direct = ben_transport
    return room, ana, ben


async def _woken(socket: Any) -> list[str] | None:
    """What the writer task's ``take`` returns at once, or None if it would have slept."""
    with trio.move_on_after(1):
        return list(await socket.take(1000))
    return None


async def test_a_batch_reaches_every_member_as_one_direct_frame_without_waking_writers(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            room = await setup_room(store, "ana", "ben", "cy")
            sockets = {u: await connect(system, u) for u in ("ana", "ben", "cy")}
            for c in sockets.values():
                await _drain(c)
            rec = {u: Recording() for u in sockets}
            started: list[str] = []
            for u, c in sockets.items():
                c.direct = rec[u]
                c.start_writer = lambda u=u: started.append(u)  # type: ignore[misc]
            async with trio.open_nursery() as nursery:  # three posts committed as they come
                for i in range(3):
                    nursery.start_soon(Messages(system.store, system).send, "ana", room, f"m{i}", f"body {i}", sockets["ana"])
            await trio.testing.wait_all_tasks_blocked()
            for u in ("ben", "cy"):
                msgs = [e for e in rec[u].events() if e["type"] == "message"]
                assert sorted(m["body"] for m in msgs) == ["body 0", "body 1", "body 2"]
                assert [m["seq"] for m in msgs] == sorted(m["seq"] for m in msgs)
                assert sockets[u].queued == 0
                assert await _woken(sockets[u]) is None  # its writer task was never needed
            acks = [e for e in rec["ana"].events() if e["type"] == "ack"]
            assert sorted(a["client_msg_id"] for a in acks) == ["m0", "m1", "m2"]
            assert system.metrics.frames_direct.value == sum(len(r.frames) for r in rec.values())
            assert started == []  # no socket needed its writer task


async def test_when_the_transport_is_busy_the_writer_task_sends(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            busy = Recording(ready=False)
            room, ana, ben = await _ana_and_ben(system, store, busy)
            started: list[bool] = []
            ben.start_writer = lambda: started.append(True)
            await Messages(system.store, system).send("ana", room, "m1", "hello", ana)
            await trio.testing.wait_all_tasks_blocked()
            assert busy.frames == []
            texts = await _woken(ben)
            assert texts is not None and [orjson.loads(t)["body"] for t in texts] == ["hello"]
            assert started == [True]  # started on first need, once


async def test_a_partial_direct_write_wakes_the_writer_to_finish_it(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            partial = Recording(complete=False)
            room, ana, ben = await _ana_and_ben(system, store, partial)
            await Messages(system.store, system).send("ana", room, "m1", "hello", ana)
            await trio.testing.wait_all_tasks_blocked()
            assert [e["body"] for e in partial.events()] == ["hello"]
            assert await _woken(ben) == []  # woken with nothing queued: the rest is the transport's to flush
            assert ben.sent == partial.events()[0]["seq"]


async def test_frames_from_outside_the_dispatcher_are_flushed_by_the_flusher_task(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            rec = Recording()
            room, _, ben = await _ana_and_ben(system, store, rec)
            await system.typing("ana", room, True)
            await trio.testing.wait_all_tasks_blocked()
            assert [e["type"] for e in rec.events()] == ["typing"]
            assert ben.queued == 0
