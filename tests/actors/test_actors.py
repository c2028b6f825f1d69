"""Actor tests: MemoryStore + trio's MockClock (autojump), exact virtual times.

Each test starts the actor system inside its body and talks to it the way
the socket endpoint does: new_socket -> attach -> read frames from the socket's
outbox with ``take``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import trio
import trio.testing

from chatter.actors.system import ChatSystem, open_actor_system
from chatter.config import load_config
from chatter.service import build_service
from chatter.service.messages import Messages
from chatter.service.rooms import Rooms
from chatter.store import MemoryStore, open_memory_store


def rt(**overrides: Any) -> Any:
    return load_config(env={}, use_file=False,
                       overrides={f"realtime.{k}": v for k, v in overrides.items()}).realtime


async def frames(socket: Any) -> list[dict[str, Any]]:
    """Everything queued for the socket right now (flattened)."""
    out: list[dict[str, Any]] = []
    if socket.queued:
        for text in await socket.take(10_000):
            out.append(orjson.loads(text))
    return out


async def next_frame(socket: Any) -> dict[str, Any]:
    texts = await socket.take(1)
    return orjson.loads(texts[0])  # type: ignore[no-any-return]


async def next_of(socket: Any, *types: str) -> dict[str, Any]:
    """The next frame of one of ``types``, skipping others (e.g. presence, published asynchronously)."""
    while True:
        f = await next_frame(socket)
        if f["type"] in types:
            return f


async def setup_room(store: MemoryStore, *users: str) -> str:
    for u in users:
        await store.create_user(u, u.title(), "x")
    room = await store.create_group(users[0], "Room", list(users[1:]))
    return room.id


async def connect(system: ChatSystem, user: str, since: int | None = None) -> Any:
    socket = system.new_socket(user, 0)
    await system.attach(socket, await system.store.get_user(user), since, system.store.epoch)
    ready = await next_frame(socket)
    assert ready["type"] == "ready"
    return socket


async def test_typing_expires_after_exactly_six_seconds(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            room = await setup_room(store, "ana", "ben")
            ben = await connect(system, "ben")
            await connect(system, "ana")
            await frames(ben)  # presence of ana
            t0 = trio.current_time()
            await system.typing("ana", room, True)
            assert await next_of(ben, "typing") == {"type": "typing", "room": room, "user": "ana", "active": True}
            stop = await next_of(ben, "typing")
            assert stop == {"type": "typing", "room": room, "user": "ana", "active": False}
            assert trio.current_time() - t0 == pytest.approx(6.0)


async def test_typing_refresh_extends_expiry_and_explicit_stop_is_immediate(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            room = await setup_room(store, "ana", "ben")
            ben = await connect(system, "ben")
            await system.typing("ana", room, True)
            assert (await next_of(ben, "typing"))["active"] is True
            await trio.sleep(4)
            t_refresh = trio.current_time()
            await system.typing("ana", room, True)  # within ttl/2 of the last announce? no: 4 s > 3 s
            assert (await next_of(ben, "typing"))["active"] is True
            assert (await next_of(ben, "typing"))["active"] is False
            assert trio.current_time() - t_refresh == pytest.approx(6.0)
            await system.typing("ana", room, True)
            assert (await next_of(ben, "typing"))["active"] is True
            t_stop = trio.current_time()
            await system.typing("ana", room, False)
            assert (await next_of(ben, "typing"))["active"] is False
            assert trio.current_time() == t_stop


async def test_presence_goes_offline_exactly_ten_seconds_after_last_socket(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            await setup_room(store, "ana", "ben")
            ben = await connect(system, "ben")
            ana = await connect(system, "ana")
            online = await next_of(ben, "presence")
            assert online["user"] == "ana" and online["online"] is True
            t0 = trio.current_time()
            system.detach(ana)
            offline = await next_of(ben, "presence")
            assert offline["online"] is False
            assert offline["last_seen"] is not None
            assert trio.current_time() - t0 == pytest.approx(10.0)
            assert (await store.get_user("ana")).last_seen == offline["last_seen"]  # persisted


async def test_presence_stays_online_if_a_socket_returns_within_grace(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            await setup_room(store, "ana", "ben")
            ben = await connect(system, "ben")
            ana = await connect(system, "ana")
            assert (await next_of(ben, "presence"))["online"] is True
            system.detach(ana)
            await trio.sleep(9)
            await connect(system, "ana")
            with trio.move_on_after(30):  # far beyond the grace: nothing may arrive
                frame = await next_frame(ben)
                pytest.fail(f"unexpected presence change: {frame}")
            assert system.presence.is_online("ana")


async def test_full_outbox_switches_to_catch_up_and_loses_nothing(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(outbox_frames=8), store) as system:
            room = await setup_room(store, "ana", "ben")
            ben = await connect(system, "ben")
            before = system.metrics.fell_behind.get()
            posted = [await Messages(system.store, system).send("ana", room, f"m{i}", f"message {i}") for i in range(100)]
            # Ben's writer has not read anything: the outbox (8) overflowed.
            assert system.metrics.fell_behind.get() > before
            assert ben.queued <= 8 + 2
            seqs: list[int] = []
            while len(seqs) < 100:
                for f in await frames(ben) or [await next_frame(ben)]:
                    if f["type"] == "message":
                        seqs.append(f["seq"])
            assert seqs == [p.message.seq for p in posted]
            assert ben.live  # caught up, back on the live path
            late = await Messages(system.store, system).send("ana", room, "late", "after catch-up")
            assert (await next_of(ben, "message"))["seq"] == late.message.seq


async def test_resume_from_cursor_serves_every_event_in_order_in_pages(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(catchup_page=10), store) as system:
            room = await setup_room(store, "ana", "ben")
            head = await store.head()
            posted = [await Messages(system.store, system).send("ana", room, f"m{i}", f"message {i}") for i in range(55)]
            ben = await connect(system, "ben", since=head)
            got: list[int] = []
            while len(got) < 55:
                f = await next_frame(ben)
                if f["type"] == "message":
                    got.append(f["seq"])
            assert got == [p.message.seq for p in posted]


async def test_crashed_room_actor_is_restarted_and_keeps_serving(
        autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatter.actors import room as room_mod

    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            room = await setup_room(store, "ana", "ben")
            ben = await connect(system, "ben")
            await system.typing("ana", room, True)
            assert (await next_of(ben, "typing"))["active"] is True
            original = room_mod.Room.handle
            calls = {"n": 0}

            def crash_once(self: Any, cmd: Any) -> None:
                calls["n"] += 1
                if calls["n"] == 1:
                    raise RuntimeError("injected bug")
                original(self, cmd)

            monkeypatch.setattr(room_mod.Room, "handle", crash_once)
            restarts = system.metrics.room_restarts.get()
            with pytest.raises(Exception, match="unavailable"):
                await system.typing("ana", room, False)
            monkeypatch.setattr(room_mod.Room, "handle", original)
            # The registry restarted the actor with its members reloaded from the store.
            await system.typing("ana", room, True)
            f = await next_of(ben, "typing")
            assert f == {"type": "typing", "room": room, "user": "ana", "active": True}
            assert system.metrics.room_restarts.get() == restarts + 1
            msg = await Messages(system.store, system).send("ana", room, "c1", "still here")
            assert (await next_of(ben, "message"))["seq"] == msg.message.seq


async def test_crash_during_fan_out_sends_members_to_the_database(
        autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatter.actors import room as room_mod

    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            room = await setup_room(store, "ana", "ben")
            ben = await connect(system, "ben")
            original = room_mod.Room.deliver

            def broken(self: Any, ev: Any, origin: Any) -> None:
                raise RuntimeError("injected fan-out bug")

            monkeypatch.setattr(room_mod.Room, "deliver", broken)
            lost = await Messages(system.store, system).send("ana", room, "c1", "during the crash")
            monkeypatch.setattr(room_mod.Room, "deliver", original)
            after = await Messages(system.store, system).send("ana", room, "c2", "after the crash")
            got = []
            while len(got) < 2:
                f = await next_frame(ben)
                if f["type"] == "message":
                    got.append(f["seq"])
            assert got == [lost.message.seq, after.message.seq]


async def test_removed_member_gets_the_removal_and_nothing_after(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            room = await setup_room(store, "ana", "ben", "cid")
            cid = await connect(system, "cid")
            await frames(cid)
            await Rooms(system.store).remove_member("ana", room, "cid")
            removed = await next_of(cid, "member_removed")
            assert removed["type"] == "member_removed" and removed["username"] == "cid"
            await Messages(system.store, system).send("ana", room, "c1", "secret after removal")
            with pytest.raises(Exception, match="not found"):
                await system.typing("cid", room, True)
            with trio.move_on_after(30):
                f = await next_of(cid, "message", "typing", "read", "member_added")
                pytest.fail(f"removed member received {f}")


async def test_logout_closes_every_socket_of_the_user_with_4001(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            await setup_room(store, "ana", "ben")
            tab1 = await connect(system, "ana")
            tab2 = await connect(system, "ana")
            other = await connect(system, "ben")
            await build_service(load_config(env={}, use_file=False), store, system, "k" * 32).accounts.logout("ana")
            for tab in (tab1, tab2):
                while tab.close_code is None:  # read what is queued until the close arrives
                    await tab.take(100)
            assert tab1.close_code == 4001 and tab2.close_code == 4001
            assert other.close_code is None


async def test_slow_socket_does_not_delay_others(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(outbox_frames=8), store) as system:
            room = await setup_room(store, "ana", "ben", "cid")
            stuck = await connect(system, "ben")  # never reads
            fast = await connect(system, "cid")
            await frames(fast)
            for i in range(50):
                m = await Messages(system.store, system).send("ana", room, f"m{i}", "x")
                f = await next_of(fast, "message")
                assert f["seq"] == m.message.seq
            assert stuck.queued <= 8 + 4
            assert not stuck.live


async def test_presence_is_not_broadcast_through_large_rooms(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(presence_room_limit=3), store) as system:
            await setup_room(store, "ana", "ben", "cid", "dan")  # 4 members: above the limit
            await store.open_dm("ana", "cid")
            ben = await connect(system, "ben")
            cid = await connect(system, "cid")
            await connect(system, "ana")
            p = await next_of(cid, "presence")  # cid shares a DM with ana
            assert (p["user"], p["online"]) == ("ana", True)
            with trio.move_on_after(30):
                f = await next_of(ben, "presence")  # ben shares only the large room
                pytest.fail(f"presence through a large room: {f}")
