"""The contacts cache (``actors/contacts.py``) and presence's one write per burst."""

from __future__ import annotations

import gc
from typing import Any

import orjson
import trio
import trio.testing
from test_actors import connect, rt, setup_room

from chatter.actors.contacts import Contacts
from chatter.actors.session import _Attach
from chatter.actors.system import open_actor_system
from chatter.store import open_memory_store


class CountingStore:
    """Answers ``contacts`` from a dict, counting calls; ``gate`` holds a call open when set."""

    def __init__(self, answers: dict[str, frozenset[str]]) -> None:
        self.answers = answers
        self.calls = 0
        self.gate: trio.Event | None = None

    async def contacts(self, user: str, max_room: int | None = None) -> frozenset[str]:
        self.calls += 1
        answer = self.answers[user]
        if self.gate is not None:
            await self.gate.wait()
        return answer


async def test_a_second_lookup_is_served_from_the_cache_until_membership_changes() -> None:
    store = CountingStore({"ana": frozenset({"ben"})})
    contacts = Contacts(store, rt(presence_room_limit=200))  # type: ignore[arg-type]
    assert await contacts.of("ana") == {"ben"}
    assert await contacts.of("ana") == {"ben"}
    assert store.calls == 1
    store.answers["ana"] = frozenset({"ben", "cid"})
    contacts.invalidate()
    assert await contacts.of("ana") == {"ben", "cid"}
    assert store.calls == 2


async def test_a_read_in_flight_across_an_invalidation_is_not_cached() -> None:
    store = CountingStore({"ana": frozenset({"ben"})})
    contacts = Contacts(store, rt(presence_room_limit=200))  # type: ignore[arg-type]
    store.gate = trio.Event()
    got: list[frozenset[str]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _append(got, contacts.of("ana")))
        await trio.testing.wait_all_tasks_blocked()
        contacts.invalidate()  # e.g. ana was added to a room meanwhile
        store.gate.set()
    assert got == [{"ben"}]  # the caller gets what was read...
    store.gate = None
    store.answers["ana"] = frozenset({"ben", "cid"})
    assert await contacts.of("ana") == {"ben", "cid"}  # ...but the next caller reads again
    assert store.calls == 2


async def _append(out: list[Any], coro: Any) -> None:
    out.append(await coro)


async def test_the_cache_is_bounded() -> None:
    store = CountingStore({f"u{i}": frozenset() for i in range(10)})
    contacts = Contacts(store, rt(presence_room_limit=200), max_entries=4)  # type: ignore[arg-type]
    for i in range(10):
        await contacts.of(f"u{i}")
    assert len(contacts._cache) <= 4


async def test_ready_lists_a_contact_made_after_the_first_connect(autojump_clock: trio.testing.MockClock) -> None:
    """A membership change through the dispatcher invalidates the cached contacts."""
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            await setup_room(store, "ana", "ben")
            await store.create_user("cid", "Cid", "x")
            await connect(system, "cid")
            first = await _ready_of(system, "ana")
            assert first["online"] == []  # cid is online but not yet a contact; ben is offline
            await store.open_dm("ana", "cid")
            await trio.testing.wait_all_tasks_blocked()
            again = await _ready_of(system, "ana")
            assert again["online"] == ["cid"]


async def _ready_of(system: Any, user: str) -> dict[str, Any]:
    socket = system.new_socket(user, 0)
    await system.attach(socket, await system.store.get_user(user), None, system.store.epoch)
    ready: dict[str, Any] = orjson.loads((await socket.take(1))[0])
    assert ready["type"] == "ready"
    return ready


async def test_a_burst_of_connects_costs_one_last_seen_write(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            names = [f"user{i}" for i in range(20)]
            await setup_room(store, *names)
            writes: list[list[str]] = []
            original = store.set_last_seen_many

            async def counting(usernames: list[str], when: str) -> None:
                writes.append(list(usernames))
                await original(usernames, when)
            store.set_last_seen_many = counting  # type: ignore[method-assign]
            async with trio.open_nursery() as nursery:
                for name in names:
                    nursery.start_soon(connect, system, name)
            await trio.testing.wait_all_tasks_blocked()
            assert sorted(u for batch in writes for u in batch) == sorted(names)
            assert len(writes) <= 2  # the burst, maybe split once by the actor's first wake-up
            for name in names:
                row = await store.get_user(name)
                assert row is not None and row.last_seen is not None


async def test_an_idle_session_keeps_no_attach_command_alive(autojump_clock: trio.testing.MockClock) -> None:
    """Memory per socket is a benchmark target: the attach (with its ready frame) is dropped once handled."""
    with trio.fail_after(60):
        async with open_memory_store() as store, open_actor_system(rt(), store) as system:
            await setup_room(store, "ana", "ben", "cid")
            for user in ("ana", "ben", "cid"):
                await connect(system, user)
            await trio.testing.wait_all_tasks_blocked()
            gc.collect()
            assert [o for o in gc.get_objects() if isinstance(o, _Attach)] == []
