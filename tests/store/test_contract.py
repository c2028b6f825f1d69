"""The Store contract, asserted identically on SqliteStore and MemoryStore.

Every test that takes ``kind`` runs once per store: both execute the same
``queries.py``, and this suite is what keeps them (and the SQL) honest.
SqliteStore-only properties (durability, PRAGMAs, group commit, indexes) are
at the end, then a hypothesis property for membership visibility.

Stores are opened inside the test with ``async with`` (a pytest-trio
fixture's nursery is cancelled silently at the end of the test); every
async body runs under ``trio.fail_after``; no mock clock here, because
SqliteStore works through threads, which autojump does not see.
"""

from __future__ import annotations

import functools
import re
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.lowlevel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter.config import load_config
from chatter.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from chatter.service import permissions
from chatter.store import open_memory_store, open_sqlite_store
from chatter.store import queries as q
from chatter.store.models import EventRow, RoomRow
from chatter.store.schema import MIGRATIONS
from chatter.store.sqlite import migrate_file

TIMEOUT = 10
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BIG = 10_000


# -- helpers ------------------------------------------------------------------

# Who may do what is the service's (``chatter.service.permissions``); the store applies the rule it is
# given inside the write's transaction.  The contract runs the store with the rules the use cases pass.
RULES = {"get_room": permissions.may_read, "history": permissions.may_read, "mark_read": permissions.may_read,
         "post_message": permissions.may_post, "rename_room": permissions.may_rename,
         "delete_room": permissions.may_delete, "add_member": permissions.may_add_member,
         "set_role": permissions.may_set_role, "remove_member": permissions.may_remove_member,
         "get_message": permissions.may_read, "messages_around": permissions.may_read}


class Ruled:
    """A store whose guarded methods are called with the service's rule for them."""

    def __init__(self, store: Any) -> None:
        object.__setattr__(self, "_store", store)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        rule = RULES.get(name)
        return attr if rule is None else functools.partial(attr, rule=rule)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._store, name, value)


@asynccontextmanager
async def ruled(opener: AbstractAsyncContextManager[Any]) -> AsyncIterator[Ruled]:
    async with opener as store:
        yield Ruled(store)



def store_config(path: Path) -> Any:
    return load_config(env={}, use_file=False, overrides={"store.path": str(path)}).store


def open_store(kind: str, tmp_path: Path) -> AbstractAsyncContextManager[Any]:
    """An async context manager yielding a fresh, empty store of ``kind``."""
    if kind == "sqlite":
        return ruled(open_sqlite_store(store_config(tmp_path / "t.db")))
    assert kind == "memory"
    return ruled(open_memory_store())


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def users(store: Any, *names: str) -> None:
    for name in names:
        await store.create_user(name, name.capitalize(), f"hash-{name}")


async def events(store: Any, user: str, since: int = 0) -> list[tuple[int, str, dict[str, Any]]]:
    """Everything ``user`` can see after ``since``, as (seq, type, data)."""
    page = await store.events_for_user(user, since, BIG)
    assert not page.has_more
    return [(e.seq, e.type, e.data) for e in page.events]


async def new_events(store: Any, user: str, since: int) -> list[tuple[str, dict[str, Any]]]:
    return [(t, d) for _, t, d in await events(store, user, since)]


async def snapshot(store: Any, room: str, viewer: str) -> tuple[int, RoomRow, list[RoomRow]]:
    return await store.head(), await store.get_room(room, viewer), await store.list_rooms(viewer)


@asynccontextmanager
async def unchanged(store: Any, room: str, viewer: str) -> AsyncIterator[None]:
    """Assert that the block wrote nothing: same head, room and room list as ``viewer`` sees them."""
    before = await snapshot(store, room, viewer)
    yield
    assert await snapshot(store, room, viewer) == before


def roles(room: RoomRow) -> dict[str, str]:
    return {m.username: m.role for m in room.members}


def drain(recv: trio.MemoryReceiveChannel[Any]) -> list[tuple[EventRow, object]]:
    out: list[tuple[EventRow, object]] = []
    while True:
        try:
            batch = recv.receive_nowait()
        except trio.WouldBlock:
            return out
        assert batch, "a committed batch is never empty"
        out.extend(batch)


def added(room: str, username: str, role: str, room_name: str, kind: str = "group") -> dict[str, Any]:
    return {"room": room, "username": username, "role": role, "name": username.capitalize(),
            "room_name": room_name, "kind": kind}


def msg_data(m: Any) -> dict[str, Any]:
    d = msgspec.structs.asdict(m.wire())
    del d["seq"]
    return d


# The permission matrix's room: olga owner, adam and adele admins, mia and max
# members (the second admin / member serve as targets); nina is an outsider.
ACTOR = {"owner": "olga", "admin": "adam", "member": "mia"}
ROLE_USERS = ("olga", "adam", "adele", "mia", "max", "nina")


async def role_room(store: Any, name: str = "Roles") -> str:
    room = await store.create_group("olga", name, ["adam", "adele", "mia", "max"])
    await store.set_role("olga", room.id, "adam", "admin")
    await store.set_role("olga", room.id, "adele", "admin")
    return str(room.id)


# -- users --------------------------------------------------------------------


async def test_create_and_get_user(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            u = await store.create_user("alice", "Alice L", "h1")
            assert (u.username, u.name, u.password_hash, u.token_version, u.last_seen) == (
                "alice", "Alice L", "h1", 0, None)
            assert TIME_RE.match(u.created_at)
            assert await store.get_user("alice") == u
            assert await store.get_user("nobody") is None
            assert await store.head() == 0  # users are not events


async def test_duplicate_username_conflicts_and_keeps_original(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            u = await store.create_user("alice", "Alice", "h1")
            with pytest.raises(Conflict):
                await store.create_user("alice", "Impostor", "h2")
            assert await store.get_user("alice") == u


async def test_concurrent_registration_exactly_one_wins(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            won: list[str] = []
            lost: list[str] = []

            async def register(name: str) -> None:
                try:
                    await store.create_user("carol", name, "h")
                except Conflict:
                    lost.append(name)
                else:
                    won.append(name)

            async with trio.open_nursery() as n:
                for name in ("First", "Second", "Third"):
                    n.start_soon(register, name)
            assert len(won) == 1 and len(lost) == 2
            user = await store.get_user("carol")
            assert user is not None and user.name == won[0]


async def test_search_users(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            for username, name in [("alice", "Alice"), ("alfred", "Fred"), ("bob", "Albert Bob"),
                                   ("a_b", "Under Score"), ("axb", "Axe"), ("pct", "100% Sure"),
                                   ("p1x", "100x"), ("zed", "Z")]:
                await store.create_user(username, name, "h")

            async def found(prefix: str, limit: int = 20) -> list[str]:
                return [u.username for u in await store.search_users(prefix, limit)]

            # username prefix or display-name prefix, ordered by username
            assert await found("al") == ["alfred", "alice", "bob"]
            assert await found("AL") == ["alfred", "alice", "bob"]  # case-insensitive
            assert await found("fRe") == ["alfred"]  # display name only
            assert await found("lice") == []  # prefix, not substring
            assert await found("al", 2) == ["alfred", "alice"]  # limit
            assert await found("al", 1) == ["alfred"]
            # LIKE wildcards are literal
            assert await found("a_") == ["a_b"]
            assert await found("_") == []
            assert await found("100%") == ["pct"]
            assert await found("%") == []
            assert await found("\\") == []
            assert await found("100") == ["p1x", "pct"]
            assert len(await found("", 5)) == 5


async def test_search_users_non_ascii_case_insensitive(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await store.create_user("emilie", "Émilie", "h")
            assert [u.username for u in await store.search_users("émi", 20)] == ["emilie"]


async def test_rename_password_token_version_last_seen(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await store.create_user("alice", "Alice", "h1")
            u = await store.rename_user("alice", "Alice Liddell")
            assert u.name == "Alice Liddell" and u.token_version == 0
            assert await store.get_user("alice") == u

            u = await store.set_password("alice", "h2")
            assert (u.password_hash, u.token_version, u.name) == ("h2", 1, "Alice Liddell")
            assert await store.bump_token_version("alice") == 2
            assert await store.bump_token_version("alice") == 3
            got = await store.get_user("alice")
            assert got is not None and (got.token_version, got.password_hash) == (3, "h2")

            await store.set_last_seen_many(["alice"], "2026-11-25T10:00:00.123Z")
            got = await store.get_user("alice")
            assert got is not None and got.last_seen == "2026-11-25T10:00:00.123Z"
            await users(store, "bob", "carol")
            await store.set_last_seen_many(["alice", "carol", "ghost"], "2026-11-25T11:00:00.000Z")  # ghost: no-op
            seen = {u: (await store.get_user(u)).last_seen for u in ("alice", "bob", "carol")}  # type: ignore[union-attr]
            assert seen == {"alice": "2026-11-25T11:00:00.000Z", "bob": None, "carol": "2026-11-25T11:00:00.000Z"}

            for call in (store.rename_user("ghost", "G"), store.set_password("ghost", "h"),
                         store.bump_token_version("ghost")):
                with pytest.raises(NotFound):
                    await call
            assert await store.get_user("ghost") is None
            assert await store.head() == 0


async def test_contacts(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol", "dave")
            g = await store.create_group("alice", "G", ["bob"])
            await store.open_dm("alice", "carol")
            assert await store.contacts("alice") == {"bob", "carol"}
            assert await store.contacts("bob") == {"alice"}
            assert await store.contacts("carol") == {"alice"}
            assert await store.contacts("dave") == frozenset()
            await store.remove_member("alice", g.id, "bob")
            assert await store.contacts("alice") == {"carol"}
            assert await store.contacts("bob") == frozenset()
            g2 = await store.create_group("dave", "G2", ["alice"])
            assert await store.contacts("alice") == {"carol", "dave"}
            await store.delete_room("dave", g2.id)
            assert await store.contacts("alice") == {"carol"}
            assert await store.contacts("dave") == frozenset()


async def test_contacts_leave_out_rooms_over_the_size_limit(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            names = [f"u{i:02d}" for i in range(12)]
            await users(store, *names)
            await store.create_group("u00", "Ten", names[1:10])  # 10 members
            await store.open_dm("u00", "u11")
            everyone_in_ten = set(names[1:10]) | {"u11"}
            assert await store.contacts("u00") == everyone_in_ten
            assert await store.contacts("u00", 10) == everyone_in_ten  # at the limit: counted
            assert await store.contacts("u00", 9) == {"u11"}  # over it: only the DM
            assert await store.contacts("u01", 9) == frozenset()
            assert await store.contacts("u00", 1) == {"u11"}  # a DM always counts


# -- rooms --------------------------------------------------------------------


async def test_create_group(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol")
            room = await store.create_group("alice", "Team", ["carol", "bob", "bob", "alice", "carol"])
            assert room.id.startswith("r_")
            assert (room.kind, room.name, room.last_message, room.unread) == ("group", "Team", None, 0)
            assert TIME_RE.match(room.created_at)
            assert [(m.username, m.name, m.role, m.read_up_to) for m in room.members] == [
                ("alice", "Alice", "owner", 0), ("bob", "Bob", "member", 0), ("carol", "Carol", "member", 0)]
            assert await store.get_room(room.id, "bob") == room
            assert await store.head() == 3
            # members are added in the order given, deduplicated, owner first
            assert await events(store, "alice") == [
                (1, "member_added", added(room.id, "alice", "owner", "Team")),
                (2, "member_added", added(room.id, "carol", "member", "Team")),
                (3, "member_added", added(room.id, "bob", "member", "Team")),
            ]
            # each member sees events from their own member_added on
            assert [s for s, _, _ in await events(store, "carol")] == [2, 3]
            assert [s for s, _, _ in await events(store, "bob")] == [3]


async def test_create_group_unknown_member_writes_nothing(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            await store.create_group("alice", "Existing", [])
            head = await store.head()
            with pytest.raises(NotFound):
                await store.create_group("alice", "T", ["bob", "ghost"])
            with pytest.raises(NotFound):
                await store.create_group("ghost", "T", ["bob"])
            assert await store.head() == head
            assert [r.name for r in await store.list_rooms("alice")] == ["Existing"]
            assert await store.list_rooms("bob") == []
            assert await events(store, "bob") == []


async def test_open_dm_idempotent_both_directions(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            room, created = await store.open_dm("alice", "bob")
            assert created is True
            assert (room.kind, room.name, room.unread, room.last_message) == ("dm", "Bob", 0, None)
            assert [(m.username, m.role) for m in room.members] == [("alice", "member"), ("bob", "member")]
            head = await store.head()
            assert head == 2
            assert [(t, d["username"], d["kind"]) for t, d in await new_events(store, "alice", 0)] == [
                ("member_added", "alice", "dm"), ("member_added", "bob", "dm")]

            again, created = await store.open_dm("bob", "alice")
            assert created is False and again.id == room.id and again.name == "Alice"
            again, created = await store.open_dm("alice", "bob")
            assert created is False and again == room
            assert await store.head() == head
            assert [r.id for r in await store.list_rooms("bob")] == [room.id]
            # a DM is named after the other member's current display name
            await store.rename_user("bob", "Robert")
            assert (await store.get_room(room.id, "alice")).name == "Robert"


async def test_concurrent_open_dm_and_add_member_race(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol")
            dms: list[tuple[Any, bool]] = []

            async def dm(a: str, b: str) -> None:
                dms.append(await store.open_dm(a, b))

            async with trio.open_nursery() as n:
                n.start_soon(dm, "alice", "bob")
                n.start_soon(dm, "bob", "alice")
                n.start_soon(dm, "alice", "bob")
            assert sorted(created for _, created in dms) == [False, False, True]
            assert len({r.id for r, _ in dms}) == 1
            assert await store.head() == 2

            g = await store.create_group("alice", "G", [])
            outcomes: list[str] = []

            async def add() -> None:
                try:
                    await store.add_member("alice", g.id, "carol", "member")
                    outcomes.append("ok")
                except Conflict:
                    outcomes.append("conflict")

            async with trio.open_nursery() as n:
                for _ in range(3):
                    n.start_soon(add)
            assert sorted(outcomes) == ["conflict", "conflict", "ok"]
            assert roles(await store.get_room(g.id, "carol")) == {"alice": "owner", "carol": "member"}
            assert [t for t, _ in await new_events(store, "carol", 0)] == ["member_added"]


async def test_open_dm_invalid(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice")
            with pytest.raises(Invalid):
                await store.open_dm("alice", "alice")
            with pytest.raises(NotFound):
                await store.open_dm("alice", "ghost")
            with pytest.raises(NotFound):
                await store.open_dm("ghost", "alice")
            assert await store.head() == 0
            assert await store.list_rooms("alice") == []


async def test_get_room_hides_rooms_from_non_members(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "eve")
            g = await store.create_group("alice", "G", ["bob"])
            dm, _ = await store.open_dm("alice", "bob")
            for room in (g.id, dm.id, "r_nonexistent"):
                with pytest.raises(NotFound):
                    await store.get_room(room, "eve")
                with pytest.raises(NotFound):
                    await store.history("eve", room, None, 50)
            assert await store.list_rooms("eve") == []
            assert await store.role_of(g.id, "eve") is None
            assert await store.role_of(g.id, "alice") == "owner"


async def test_list_rooms_by_latest_activity(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            g1 = await store.create_group("alice", "One", ["bob"])
            g2 = await store.create_group("alice", "Two", [])
            dm, _ = await store.open_dm("alice", "bob")
            assert [r.id for r in await store.list_rooms("alice")] == [dm.id, g2.id, g1.id]
            assert [r.id for r in await store.list_rooms("bob")] == [dm.id, g1.id]

            m = (await store.post_message("bob", g1.id, "c1", "hello")).message
            rooms = await store.list_rooms("alice")
            assert [r.id for r in rooms] == [g1.id, dm.id, g2.id]
            assert rooms[0].last_message == m and rooms[0].unread == 1
            assert rooms[1].last_message is None
            # list_rooms returns the same rows as get_room
            assert rooms == [await store.get_room(r.id, "alice") for r in rooms]

            await store.post_message("alice", g2.id, "c2", "note to self")
            assert [r.id for r in await store.list_rooms("alice")] == [g2.id, g1.id, dm.id]
            # reading, renaming and adding members are not activity
            await store.mark_read("alice", g1.id, m.id)
            await store.rename_room("alice", g1.id, "Uno")
            assert [r.id for r in await store.list_rooms("alice")] == [g2.id, g1.id, dm.id]


async def test_unread_counts(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            b = [(await store.post_message("bob", g.id, f"b{i}", f"hi {i}")).message for i in range(3)]
            a = (await store.post_message("alice", g.id, "a0", "yo")).message
            assert (await store.get_room(g.id, "alice")).unread == 3  # own message excluded
            assert (await store.get_room(g.id, "bob")).unread == 1
            assert (await store.get_room(g.id, "alice")).last_message == a

            assert await store.mark_read("alice", g.id, b[1].id) == b[1].id
            room = await store.get_room(g.id, "alice")
            assert room.unread == 1
            assert {m.username: m.read_up_to for m in room.members} == {"alice": b[1].id, "bob": 0}
            await store.mark_read("alice", g.id, a.id)
            assert (await store.get_room(g.id, "alice")).unread == 0
            await store.mark_read("bob", g.id, a.id)
            assert (await store.get_room(g.id, "bob")).unread == 0


# -- room permissions -----------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
async def test_rename_room_permissions(kind: str, tmp_path: Path, role: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            actor = ACTOR[role]
            if role == "member":
                async with unchanged(store, rid, "olga"):
                    with pytest.raises(Forbidden):
                        await store.rename_room(actor, rid, "Mine")
                return
            head = await store.head()
            room = await store.rename_room(actor, rid, "Renamed")
            assert room.name == "Renamed" and room == await store.get_room(rid, actor)
            assert await new_events(store, "max", head) == [
                ("room_updated", {"room": rid, "id": rid, "kind": "group", "name": "Renamed",
                                  "created_at": room.created_at})]


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
async def test_delete_room_permissions(kind: str, tmp_path: Path, role: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            actor = ACTOR[role]
            if role != "owner":
                async with unchanged(store, rid, "olga"):
                    with pytest.raises(Forbidden):
                        await store.delete_room(actor, rid)
                return
            head = await store.head()
            await store.delete_room(actor, rid)
            for u in ("olga", "adam", "adele", "mia", "max"):
                with pytest.raises(NotFound):
                    await store.get_room(rid, u)
                with pytest.raises(NotFound):
                    await store.history(u, rid, None, 10)
                with pytest.raises(NotFound):
                    await store.post_message(u, rid, "x", "late")
                assert await store.list_rooms(u) == []
                assert await store.role_of(rid, u) is None
                # everything of the room is gone except room_deleted
                assert await events(store, u) == [(head + 1, "room_deleted", {"room": rid})]
            with pytest.raises(NotFound):
                await store.delete_room(actor, rid)
            assert await store.head() == head + 1


# (actor role, new member's role, allowed)
ADD_CASES = [
    ("owner", "member", True), ("owner", "admin", True),
    ("admin", "member", True), ("admin", "admin", False),
    ("member", "member", False), ("member", "admin", False),
]


@pytest.mark.parametrize(("role", "new_role", "allowed"), ADD_CASES)
async def test_add_member_permissions(kind: str, tmp_path: Path, role: str, new_role: str,
                                      allowed: bool) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            actor = ACTOR[role]
            if not allowed:
                async with unchanged(store, rid, "olga"):
                    with pytest.raises(Forbidden):
                        await store.add_member(actor, rid, "nina", new_role)
                assert await store.list_rooms("nina") == []
                return
            head = await store.head()
            m = await store.add_member(actor, rid, "nina", new_role)
            assert (m.username, m.name, m.role, m.read_up_to) == ("nina", "Nina", new_role, 0)
            assert roles(await store.get_room(rid, "nina"))["nina"] == new_role
            ev = [("member_added", added(rid, "nina", new_role, "Roles"))]
            assert await new_events(store, "olga", head) == ev
            assert await new_events(store, "nina", 0) == ev  # nina sees only her own arrival


async def test_add_member_errors(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            async with unchanged(store, rid, "olga"):
                with pytest.raises(Conflict):
                    await store.add_member("olga", rid, "mia", "member")
                with pytest.raises(NotFound):
                    await store.add_member("olga", rid, "ghost", "member")
                with pytest.raises(NotFound):  # outsiders learn nothing
                    await store.add_member("nina", rid, "nina", "member")
                with pytest.raises(NotFound):
                    await store.add_member("olga", "r_nonexistent", "nina", "member")


async def test_add_member_cannot_create_a_second_owner(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            async with unchanged(store, rid, "olga"):
                with pytest.raises((Forbidden, Invalid)):
                    await store.add_member("adam", rid, "nina", "owner")


async def test_unknown_role_is_invalid(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            async with unchanged(store, rid, "olga"):
                with pytest.raises(Invalid):
                    await store.set_role("olga", rid, "mia", "superuser")
                with pytest.raises(Invalid):
                    await store.add_member("olga", rid, "nina", "superuser")


# (actor role, target, new role, outcome): "ok", "noop", Forbidden or NotFound
SET_ROLE_CASES = [
    ("owner", "adam", "member", "ok"),
    ("owner", "mia", "admin", "ok"),
    ("owner", "mia", "member", "noop"),
    ("owner", "olga", "admin", Forbidden),  # the owner cannot demote themself
    ("owner", "olga", "owner", Forbidden),
    ("owner", "nina", "admin", NotFound),
    ("owner", "nina", "owner", NotFound),  # a failed transfer does not demote the owner
    ("admin", "mia", "admin", Forbidden),
    ("admin", "adele", "member", Forbidden),
    ("admin", "adam", "member", Forbidden),
    ("admin", "olga", "member", Forbidden),
    ("admin", "mia", "owner", Forbidden),
    ("member", "max", "admin", Forbidden),
    ("member", "mia", "admin", Forbidden),
]


@pytest.mark.parametrize(("role", "target", "new_role", "outcome"), SET_ROLE_CASES)
async def test_set_role_permissions(kind: str, tmp_path: Path, role: str, target: str, new_role: str,
                                    outcome: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            actor = ACTOR[role]
            if not isinstance(outcome, str):
                async with unchanged(store, rid, "olga"):
                    with pytest.raises(outcome):
                        await store.set_role(actor, rid, target, new_role)
                return
            head = await store.head()
            before = roles(await store.get_room(rid, "olga"))
            m = await store.set_role(actor, rid, target, new_role)
            assert (m.username, m.role) == (target, new_role)
            assert roles(await store.get_room(rid, "olga")) == {**before, target: new_role}
            expected = [] if outcome == "noop" else [
                ("member_updated", {"room": rid, "username": target, "role": new_role})]
            assert await new_events(store, "max", head) == expected


async def test_ownership_transfer(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            head = await store.head()
            m = await store.set_role("olga", rid, "mia", "owner")
            assert (m.username, m.role) == ("mia", "owner")
            room = await store.get_room(rid, "olga")
            assert roles(room) == {"mia": "owner", "adam": "admin", "adele": "admin", "olga": "admin", "max": "member"}
            assert [mm.username for mm in room.members] == ["mia", "adam", "adele", "olga", "max"]
            assert await new_events(store, "max", head) == [
                ("member_updated", {"room": rid, "username": "olga", "role": "admin"}),
                ("member_updated", {"room": rid, "username": "mia", "role": "owner"}),
            ]
            # the former owner is an admin now ...
            async with unchanged(store, rid, "mia"):
                with pytest.raises(Forbidden):
                    await store.set_role("olga", rid, "max", "admin")
                with pytest.raises(Forbidden):
                    await store.delete_room("olga", rid)
                with pytest.raises(Forbidden):
                    await store.remove_member("olga", rid, "mia")
            # ... can still leave, and the new owner holds every owner right
            await store.remove_member("olga", rid, "olga")
            await store.set_role("mia", rid, "max", "admin")
            await store.delete_room("mia", rid)
            assert await store.list_rooms("mia") == []


# (actor role, target, allowed); a target equal to the actor means "leave"
REMOVE_CASES = [
    ("owner", "olga", False),  # the owner can neither leave nor be removed
    ("owner", "adam", True),
    ("owner", "mia", True),
    ("admin", "olga", False),
    ("admin", "adam", True),  # leave
    ("admin", "adele", False),  # admins cannot remove admins
    ("admin", "mia", True),
    ("member", "olga", False),
    ("member", "adam", False),
    ("member", "mia", True),  # leave
    ("member", "max", False),
]


@pytest.mark.parametrize(("role", "target", "allowed"), REMOVE_CASES)
async def test_remove_member_permissions(kind: str, tmp_path: Path, role: str, target: str,
                                         allowed: bool) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            actor = ACTOR[role]
            if not allowed:
                async with unchanged(store, rid, "olga" if target != "olga" else "max"):
                    with pytest.raises(Forbidden):
                        await store.remove_member(actor, rid, target)
                return
            head = await store.head()
            before = roles(await store.get_room(rid, "olga"))
            await store.remove_member(actor, rid, target)
            del before[target]
            assert roles(await store.get_room(rid, "olga")) == before
            with pytest.raises(NotFound):
                await store.get_room(rid, target)
            assert await store.list_rooms(target) == []
            ev = [("member_removed", {"room": rid, "username": target})]
            assert await new_events(store, "olga", head) == ev
            assert await new_events(store, target, head) == ev  # the removed user learns it
            with pytest.raises(NotFound):  # now a stranger
                await store.remove_member(target, rid, target)
            with pytest.raises(NotFound):
                await store.post_message(target, rid, "after", "x")


async def test_remove_member_errors(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            async with unchanged(store, rid, "olga"):
                with pytest.raises(NotFound):
                    await store.remove_member("olga", rid, "nina")
                with pytest.raises(NotFound):
                    await store.remove_member("nina", rid, "mia")
                with pytest.raises(NotFound):
                    await store.remove_member("nina", rid, "nina")


async def test_dm_cannot_be_managed(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol")
            dm, _ = await store.open_dm("alice", "bob")
            async with unchanged(store, dm.id, "alice"):
                for actor, other in (("alice", "bob"), ("bob", "alice")):
                    with pytest.raises(Forbidden):
                        await store.rename_room(actor, dm.id, "Ours")
                    with pytest.raises(Forbidden):
                        await store.delete_room(actor, dm.id)
                    for role in ("member", "admin"):
                        with pytest.raises(Forbidden):
                            await store.add_member(actor, dm.id, "carol", role)
                    for role in ("admin", "owner"):
                        with pytest.raises(Forbidden):
                            await store.set_role(actor, dm.id, other, role)
                    with pytest.raises(Forbidden):
                        await store.remove_member(actor, dm.id, actor)
                    with pytest.raises(Forbidden):
                        await store.remove_member(actor, dm.id, other)
            assert await store.list_rooms("carol") == []


async def test_non_members_get_not_found_for_every_room_operation(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, *ROLE_USERS)
            rid = await role_room(store)
            async with unchanged(store, rid, "olga"):
                for call in (store.rename_room("nina", rid, "X"), store.delete_room("nina", rid),
                             store.add_member("nina", rid, "nina", "member"),
                             store.set_role("nina", rid, "mia", "admin"),
                             store.post_message("nina", rid, "c", "hi"),
                             store.mark_read("nina", rid, 1), store.history("nina", rid, None, 5)):
                    with pytest.raises(NotFound):
                        await call


# -- messages -------------------------------------------------------------------


async def test_post_message_and_idempotent_repeat(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            head = await store.head()
            r = await store.post_message("bob", g.id, "cid-1", "hello  there")
            m = r.message
            assert r.created is True
            assert (m.seq, m.room, m.sender, m.body, m.client_msg_id) == (head + 1, g.id, "bob", "hello  there", "cid-1")
            assert m.id >= 1 and TIME_RE.match(m.created_at)
            assert await store.head() == head + 1
            assert await events(store, "alice", head) == [(m.seq, "message", msg_data(m))]
            page = await store.events_for_user("alice", head, 10)
            assert page.events[0].wire() == {"type": "message", **msgspec.structs.asdict(m.wire())}

            again = await store.post_message("bob", g.id, "cid-1", "hello  there")
            assert again.created is False and again.message == m
            assert await store.head() == head + 1
            assert (await store.history("alice", g.id, None, 10)) == ([m], False)

            # the same id from another sender is another message
            other = await store.post_message("alice", g.id, "cid-1", "hello  there")
            assert other.created is True and other.message.id != m.id and other.message.seq == head + 2


async def test_post_message_conflicts_and_not_found(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "eve")
            g = await store.create_group("alice", "G", ["bob"])
            g2 = await store.create_group("bob", "G2", [])
            m = (await store.post_message("bob", g.id, "cid-1", "hello")).message
            async with unchanged(store, g.id, "alice"):
                with pytest.raises(Conflict):
                    await store.post_message("bob", g.id, "cid-1", "hello!")
                with pytest.raises(Conflict):
                    await store.post_message("bob", g2.id, "cid-1", "hello")
                with pytest.raises(NotFound):
                    await store.post_message("eve", g.id, "cid-2", "hi")
                with pytest.raises(NotFound):
                    await store.post_message("bob", "r_nonexistent", "cid-3", "hi")
            assert await store.history("bob", g.id, None, 10) == ([m], False)
            assert await store.history("bob", g2.id, None, 10) == ([], False)


async def test_idempotent_repeat_after_leaving_is_not_found(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            await store.post_message("bob", g.id, "c1", "hi")
            await store.remove_member("bob", g.id, "bob")
            async with unchanged(store, g.id, "alice"):
                with pytest.raises(NotFound):
                    await store.post_message("bob", g.id, "c1", "hi")


async def test_text_round_trips_exactly(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await store.create_user("alice", "Zoë 🦊 \u202eevil", "h")
            g = await store.create_group("alice", "Ümlaut 'quoted' \"room\"; DROP TABLE rooms; --", [])
            bodies = ["🦊" * 4000, "a\x00b", "<b>not html</b>", "line1\nline2\ttab", "\u202e\u200b"]
            ms = [(await store.post_message("alice", g.id, f"c{i}", b)).message for i, b in enumerate(bodies)]
            got, _ = await store.history("alice", g.id, None, 50)
            assert [m.body for m in got] == bodies and got == ms
            page = await store.events_for_user("alice", 0, BIG)
            assert [e.data["body"] for e in page.events if e.type == "message"] == bodies
            room = await store.get_room(g.id, "alice")
            assert room.name == "Ümlaut 'quoted' \"room\"; DROP TABLE rooms; --"
            assert room.members[0].name == "Zoë 🦊 \u202eevil"


async def test_unencodable_text_is_invalid(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice")
            g = await store.create_group("alice", "G", [])
            async with unchanged(store, g.id, "alice"):
                with pytest.raises(Invalid):
                    await store.post_message("alice", g.id, "c1", "a\ud800")
                with pytest.raises(Invalid):
                    await store.post_message("alice", g.id, "\udfff", "b")


async def test_concurrent_identical_posts_create_one_message(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice")
            g = await store.create_group("alice", "G", [])
            head = await store.head()
            results: list[Any] = []

            async def post() -> None:
                results.append(await store.post_message("alice", g.id, "same", "body"))

            async with trio.open_nursery() as n:
                for _ in range(5):
                    n.start_soon(post)
            assert sorted(r.created for r in results) == [False, False, False, False, True]
            assert len({r.message for r in results}) == 1
            assert await store.head() == head + 1


async def test_history_paging(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            other = await store.create_group("alice", "Other", [])
            ms = []
            for i in range(7):
                ms.append((await store.post_message("alice" if i % 2 else "bob", g.id, f"c{i}", f"m{i}")).message)
                await store.post_message("alice", other.id, f"o{i}", "noise")
            assert [m.id for m in ms] == sorted(m.id for m in ms)

            async def page(before: int | None, limit: int) -> tuple[list[str], bool]:
                msgs, more = await store.history("bob", g.id, before, limit)
                return [m.body for m in msgs], more

            assert await page(None, 3) == (["m4", "m5", "m6"], True)
            assert await page(ms[4].id, 3) == (["m1", "m2", "m3"], True)
            assert await page(ms[1].id, 3) == (["m0"], False)
            assert await page(ms[3].id, 3) == (["m0", "m1", "m2"], False)  # exactly the rest
            assert await page(None, 7) == ([f"m{i}" for i in range(7)], False)
            assert await page(None, 6) == ([f"m{i}" for i in range(1, 7)], True)
            assert await page(None, 200) == ([f"m{i}" for i in range(7)], False)
            assert await page(ms[0].id, 5) == ([], False)
            assert await page(ms[6].id + 1000, 1) == (["m6"], True)
            full, _ = await store.history("bob", g.id, None, 50)
            assert full == ms


async def test_mark_read_forward_only_and_clamped(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            empty = await store.create_group("alice", "Empty", [])
            ms = [(await store.post_message("bob", g.id, f"c{i}", "x")).message for i in range(3)]

            head = await store.head()
            assert await store.mark_read("alice", g.id, ms[1].id) == ms[1].id
            assert await store.head() == head + 1
            assert await new_events(store, "bob", head) == [
                ("read", {"room": g.id, "user": "alice", "up_to": ms[1].id})]

            head = await store.head()
            assert await store.mark_read("alice", g.id, ms[0].id) == ms[1].id  # never back
            assert await store.mark_read("alice", g.id, ms[1].id) == ms[1].id  # unchanged
            assert await store.mark_read("alice", g.id, 0) == ms[1].id
            assert await store.head() == head  # no event when unchanged

            assert await store.mark_read("alice", g.id, 10**12) == ms[2].id  # clamped
            assert await new_events(store, "alice", head) == [
                ("read", {"room": g.id, "user": "alice", "up_to": ms[2].id})]
            head = await store.head()
            assert await store.mark_read("alice", g.id, 10**12) == ms[2].id
            assert await store.head() == head
            members = {m.username: m.read_up_to for m in (await store.get_room(g.id, "bob")).members}
            assert members == {"alice": ms[2].id, "bob": 0}

            assert await store.mark_read("alice", empty.id, 5) == 0  # nothing to read
            assert await store.head() == head


# -- events ---------------------------------------------------------------------


async def test_event_visibility_follows_membership(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol")
            g = await store.create_group("alice", "G", ["bob"])  # 1, 2
            m1 = (await store.post_message("alice", g.id, "1", "one")).message  # 3
            await store.add_member("alice", g.id, "carol", "member")  # 4
            m2 = (await store.post_message("bob", g.id, "2", "two")).message  # 5
            await store.remove_member("alice", g.id, "bob")  # 6
            m3 = (await store.post_message("carol", g.id, "3", "three")).message  # 7
            await store.add_member("alice", g.id, "bob", "member")  # 8
            m4 = (await store.post_message("alice", g.id, "4", "four")).message  # 9
            assert (m1.seq, m2.seq, m3.seq, m4.seq, await store.head()) == (3, 5, 7, 9, 9)

            seqs = {u: [s for s, _, _ in await events(store, u)] for u in ("alice", "bob", "carol")}
            assert seqs == {"alice": [1, 2, 3, 4, 5, 6, 7, 8, 9],
                            "bob": [2, 3, 4, 5, 6, 8, 9],  # not 7, while he was out
                            "carol": [4, 5, 6, 7, 8, 9]}
            bob = await events(store, "bob")
            assert bob[4] == (6, "member_removed", {"room": g.id, "username": "bob"})
            assert bob[5] == (8, "member_added", added(g.id, "bob", "member", "G"))
            # since filters by seq
            assert [s for s, _, _ in await events(store, "bob", 5)] == [6, 8, 9]
            assert [s for s, _, _ in await events(store, "bob", 6)] == [8, 9]
            assert await events(store, "bob", 9) == []
            # has_more is exact for a single membership span too
            page = await store.events_for_user("carol", 0, 5)
            assert [e.seq for e in page.events] == [4, 5, 6, 7, 8] and page.has_more
            page = await store.events_for_user("carol", 0, 6)
            assert [e.seq for e in page.events] == [4, 5, 6, 7, 8, 9] and not page.has_more
            all_seqs = [s for s, _, _ in await events(store, "alice")]
            assert all(a < b for a, b in zip(all_seqs, all_seqs[1:], strict=False))


async def test_deleted_room_leaves_only_room_deleted(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol")
            keep = await store.create_group("alice", "Keep", ["bob"])  # 1, 2
            g = await store.create_group("alice", "Gone", ["bob", "carol"])  # 3, 4, 5
            await store.post_message("bob", g.id, "1", "x")  # 6
            k = (await store.post_message("bob", keep.id, "2", "y")).message  # 7
            await store.delete_room("alice", g.id)  # 8
            deleted = (8, "room_deleted", {"room": g.id})
            assert await events(store, "carol") == [deleted]
            assert [e[0] for e in await events(store, "bob")] == [2, 7, 8]
            assert (await events(store, "alice"))[-2:] == [(7, "message", msg_data(k)), deleted]
            assert await events(store, "bob", 7) == [deleted]
            assert await store.head() == 8
            assert [r.id for r in await store.list_rooms("bob")] == [keep.id]
            # the client_msg_id of a deleted message can be used again
            r = await store.post_message("bob", keep.id, "1", "x")
            assert r.created is True and r.message.seq == 9


async def test_removed_member_still_learns_after_room_deletion(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            since = await store.head()  # bob's client is up to date here, then goes offline
            await store.remove_member("alice", g.id, "bob")
            await store.delete_room("alice", g.id)
            seen = await events(store, "bob", since)
            assert any(t == "room_deleted" or (t == "member_removed" and d["username"] == "bob")
                       for _, t, d in seen)


async def test_events_paging_across_rooms(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            rooms = [await store.create_group("alice", f"R{i}", ["bob"]) for i in range(3)]
            for i in range(10):
                await store.post_message("alice", rooms[i % 3].id, f"c{i}", f"m{i}")
            await store.create_group("alice", "Hidden", [])  # bob cannot see this one
            everything = await events(store, "bob")
            assert len(everything) == 3 + 10
            assert [e[0] for e in everything] == sorted(e[0] for e in everything)
            head = await store.head()

            for limit in (1, 4, 5, 13, 14):
                got: list[Any] = []
                since = 0
                while True:
                    page = await store.events_for_user("bob", since, limit)
                    assert page.head == head
                    assert len(page.events) <= limit
                    got.extend((e.seq, e.type, e.data) for e in page.events)
                    if not page.has_more:
                        break
                    assert len(page.events) == limit
                    since = page.events[-1].seq
                assert got == everything, limit
            # has_more is exact at the boundary
            last = everything[-1][0]
            page = await store.events_for_user("bob", everything[-5][0], 4)
            assert [e.seq for e in page.events] == [e[0] for e in everything[-4:]] and not page.has_more
            page = await store.events_for_user("bob", everything[-6][0], 4)
            assert [e.seq for e in page.events] == [e[0] for e in everything[-5:-1]] and page.has_more
            page = await store.events_for_user("bob", last, 4)
            assert page.events == () and not page.has_more and page.head == head


async def test_paging_while_writing_never_skips_an_event(kind: str, tmp_path: Path) -> None:
    """A client catching up during a burst of commits sees every seq exactly once."""
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob")
            rooms = [(await store.create_group("alice", f"R{i}", ["bob"])).id for i in range(2)]
            start = await store.head()
            seen: list[int] = []

            async def reader() -> None:
                since = start
                while since < start + 120:
                    page = await store.events_for_user("bob", since, 7)
                    assert all(e.seq <= page.head for e in page.events)
                    seen.extend(e.seq for e in page.events)
                    since = page.events[-1].seq if page.events else since
                    await trio.lowlevel.checkpoint()

            async def writer(w: int) -> None:
                for i in range(30):
                    await store.post_message("alice" if w % 2 else "bob", rooms[w % 2], f"w{w}-{i}", "x")

            async with trio.open_nursery() as n:
                n.start_soon(reader)
                for w in range(4):
                    n.start_soon(writer, w)
            assert seen == list(range(start + 1, start + 121))


async def test_members_at(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol")
            g = await store.create_group("alice", "G", ["bob"])  # 1, 2
            await store.add_member("alice", g.id, "carol", "member")  # 3
            await store.remove_member("alice", g.id, "bob")  # 4
            await store.post_message("alice", g.id, "c", "x")  # 5
            await store.delete_room("alice", g.id)  # 6
            # membership right after event seq was applied
            expected = {0: set(), 1: {"alice"}, 2: {"alice", "bob"}, 3: {"alice", "bob", "carol"},
                        4: {"alice", "carol"}, 5: {"alice", "carol"}, 6: set(), 7: set()}
            for seq, who in expected.items():
                assert await store.members_at(g.id, seq) == who, seq
            assert await store.members_at("r_nonexistent", 3) == frozenset()


# -- subscribe ------------------------------------------------------------------


async def test_subscribe_delivers_committed_events_with_origin(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            recv = store.subscribe(1000)
            with pytest.raises(RuntimeError):
                store.subscribe(10)
            await users(store, "alice", "bob", "eve")
            await store.set_meta("k", "v")
            assert await store.get_meta("k") == "v"
            assert drain(recv) == []  # writes without events deliver nothing

            g = await store.create_group("alice", "G", ["bob"])
            m = (await store.post_message("bob", g.id, "c1", "hi", origin="sock-1")).message
            await store.post_message("bob", g.id, "c1", "hi", origin="sock-2")  # repeat: nothing
            await store.mark_read("alice", g.id, m.id)
            await store.mark_read("alice", g.id, m.id)  # unchanged: nothing
            for bad in (store.post_message("bob", g.id, "c1", "changed", origin="sock-3"),
                        store.post_message("eve", g.id, "c2", "hi", origin="sock-4"),
                        store.rename_room("bob", g.id, "Mine"),
                        store.add_member("alice", g.id, "bob", "member"),
                        store.open_dm("alice", "alice")):
                with pytest.raises((Conflict, NotFound, Forbidden, Invalid)):
                    await bad
            await store.post_message("alice", g.id, "c3", "yo", origin=("ws", 7))

            got = drain(recv)
            assert [(e.seq, e.type, o) for e, o in got] == [
                (1, "member_added", None), (2, "member_added", None), (3, "message", "sock-1"),
                (4, "read", None), (5, "message", ("ws", 7))]
            assert got[2][0].data == msg_data(m)
            # what was delivered is exactly what is stored
            stored = (await store.events_for_user("alice", 0, BIG)).events
            assert [e for e, _ in got] == list(stored)


async def test_failed_writes_among_concurrent_writes_leave_no_trace(kind: str, tmp_path: Path) -> None:
    """Failures interleaved with successes (one batch on SqliteStore) roll back alone."""
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            recv = store.subscribe(10_000)
            await users(store, "alice", "bob", "nina")
            g = await store.create_group("alice", "G", ["bob"])
            await store.post_message("bob", g.id, "taken", "original")
            drain(recv)
            head = await store.head()
            ok: list[Any] = []
            failed: list[BaseException] = []

            async def attempt(i: int) -> None:
                try:
                    if i % 10 == 3:  # Conflict before any write
                        await store.post_message("bob", g.id, "taken", f"changed {i}")
                    elif i % 10 == 7:  # fails after emitting its event (CHECK constraint on role)
                        await store.add_member("alice", g.id, "nina", "superuser")
                    else:
                        ok.append(await store.post_message("alice", g.id, f"c{i}", f"m{i}", origin=i))
                except Exception as e:  # noqa: BLE001 - collected and checked below
                    failed.append(e)

            batches = getattr(store, "batches", 0)
            async with trio.open_nursery() as n:
                for i in range(60):
                    n.start_soon(attempt, i)
            if kind == "sqlite":
                assert store.batches - batches < 60  # failures shared batches with successes
            assert len(ok) == 48 and len(failed) == 12
            assert sum(isinstance(e, Conflict) for e in failed) == 6
            seqs = sorted(r.message.seq for r in ok)
            assert seqs == list(range(head + 1, head + 49))  # no seq was burnt by a failure
            assert await store.head() == head + 48
            got = drain(recv)
            assert sorted(e.seq for e, _ in got) == seqs and all(e.type == "message" for e, _ in got)
            assert [e.seq for e, _ in got] == seqs
            assert await store.role_of(g.id, "nina") is None
            assert await events(store, "nina") == []


@pytest.mark.parametrize("kind", [
    "memory",
    "sqlite",
])
async def test_cancelled_caller_still_delivers_committed_events(kind: str, tmp_path: Path) -> None:
    """A committed write reaches the subscriber even if its caller gives up waiting."""
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            recv = store.subscribe(1)
            await users(store, "alice", "bob")
            await store.create_group("alice", "G", ["bob"])  # fills the channel: the dispatcher is busy
            head = await store.head()
            room = (await store.list_rooms("bob"))[0].id
            async with trio.open_nursery() as n:
                n.start_soon(store.post_message, "bob", room, "c1", "hi")
                while await store.head() == head:  # committed, now waiting on the subscriber
                    await trio.lowlevel.checkpoint()  # the writer (a task or thread) runs meanwhile
                n.cancel_scope.cancel()  # e.g. the sender's socket closed
            stored = (await store.events_for_user("alice", 0, BIG)).events
            assert [e.type for e in stored] == ["member_added", "member_added", "message"]
            got: list[tuple[EventRow, object]] = []
            while len(got) < len(stored):  # the group's batch, then the message's (or one batch)
                got.extend(await recv.receive())
            assert [e for e, _ in got] == list(stored)
            assert drain(recv) == []  # and nothing else was delivered


async def test_memory_store_fault_injection() -> None:
    with trio.fail_after(TIMEOUT):
        async with ruled(open_memory_store()) as store:
            recv = store.subscribe(100)
            await users(store, "alice")
            g = await store.create_group("alice", "G", [])
            drain(recv)
            store.fail_next_write = Unavailable("disk on fire")
            with pytest.raises(Unavailable):
                await store.post_message("alice", g.id, "c1", "hi")
            assert await store.head() == 1 and drain(recv) == []
            assert (await store.post_message("alice", g.id, "c1", "hi")).created is True  # only once
            assert [e.type for e, _ in drain(recv)] == ["message"]


async def test_epoch_and_meta(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            assert re.fullmatch(r"[0-9a-f]{16}", store.epoch)
            assert await store.get_meta("epoch") == store.epoch
            assert await store.get_meta("missing") is None
            await store.set_meta("k", "1")
            await store.set_meta("k", "2")
            assert await store.get_meta("k") == "2"
            assert await store.head() == 0
        (tmp_path / "x").mkdir()
        async with open_store(kind, tmp_path / "x") as other:
            assert other.epoch != store.epoch


# -- SqliteStore only -------------------------------------------------------------


async def test_sqlite_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        with pytest.raises(Unavailable):
            async with ruled(open_sqlite_store(store_config(tmp_path / "missing" / "t.db"))):
                pass  # pragma: no cover
        assert not (tmp_path / "missing").exists()


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        path = tmp_path / "t.db"
        version, epoch = migrate_file(str(path))
        assert version == len(MIGRATIONS) and re.fullmatch(r"[0-9a-f]{16}", epoch)
        assert migrate_file(str(path)) == (version, epoch)  # idempotent
        async with ruled(open_sqlite_store(store_config(path))) as store:
            assert store.epoch == epoch
        db = sqlite3.connect(path)
        with db:
            db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 'later')", (version + 1,))
        db.close()
        with pytest.raises(Unavailable, match="newer"):
            async with ruled(open_sqlite_store(store_config(path))):
                pass  # pragma: no cover


async def test_sqlite_small_pools_and_queues_still_serve_everyone(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        cfg = load_config(env={}, use_file=False, overrides={
            "store.path": str(tmp_path / "t.db"), "store.readers": 1, "store.write_queue": 1,
            "store.batch_max": 1}).store
        async with ruled(open_sqlite_store(cfg)) as store:
            await users(store, "alice")
            g = await store.create_group("alice", "G", [])
            batches, writes = store.batches, store.writes
            results: list[Any] = []

            async def post(i: int) -> None:
                results.append(await store.post_message("alice", g.id, f"c{i}", "x"))
                results.append(await store.get_room(g.id, "alice"))

            async with trio.open_nursery() as n:
                for i in range(40):
                    n.start_soon(post, i)
            assert len(results) == 80
            assert store.writes - writes == 40 and store.batches - batches == 40  # batch_max=1
            assert (await store.get_room(g.id, "alice")).last_message is not None
            assert len((await store.history("alice", g.id, None, 100))[0]) == 40


_KILL_SCRIPT = """
import os, signal, sys, trio
from chatter.config import load_config
from chatter.service.permissions import may_post
from chatter.store import open_sqlite_store

async def main():
    cfg = load_config(env={}, use_file=False, overrides={"store.path": sys.argv[1]}).store
    async with open_sqlite_store(cfg) as store:
        await store.create_user("alice", "Alice", "h")
        room = await store.create_group("alice", "G", [])
        print("room", room.id, store.epoch, flush=True)
        for i in range(20):
            m = (await store.post_message("alice", room.id, f"c{i}", f"m{i}", rule=may_post)).message
            print("ack", m.id, m.seq, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint

trio.run(main)
"""


_ROOT = str(Path(__file__).resolve().parents[2])


async def test_sqlite_acked_writes_survive_sigkill(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        path = tmp_path / "t.db"
        proc = await trio.run_process([sys.executable, "-c", _KILL_SCRIPT, str(path)], capture_stdout=True,
                                      check=False, cwd=_ROOT)
        assert proc.returncode == -signal.SIGKILL
        lines = proc.stdout.decode().split("\n")
        _, room, epoch = lines[0].split()
        acks = [tuple(int(x) for x in line.split()[1:]) for line in lines if line.startswith("ack")]
        assert len(acks) == 20
        assert await trio.Path(str(path) + "-wal").exists()  # the data is in the WAL, not yet checkpointed
        async with ruled(open_sqlite_store(store_config(path))) as store:
            assert store.epoch == epoch
            msgs, more = await store.history("alice", room, None, 50)
            assert [(m.id, m.seq) for m in msgs] == acks and not more
            assert await store.head() == acks[-1][1]


async def test_sqlite_writes_after_close_are_unavailable(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with ruled(open_sqlite_store(store_config(tmp_path / "t.db"))) as store:
            recv = store.subscribe(10)
            await users(store, "alice")
        with pytest.raises(Unavailable):
            await store.create_user("bob", "Bob", "h")
        with pytest.raises(trio.EndOfChannel):  # the subscriber learns the store is gone
            await recv.receive()


async def test_sqlite_write_queued_as_the_store_closes_is_committed(tmp_path: Path) -> None:
    """A write handed to the writer just before shutdown closes its queue is committed, not an error.

    The writer takes the write, then looks for more to batch with it and finds the queue closed
    and empty (trio.EndOfChannel, not WouldBlock): that ends the batch, not the store.  The search
    index build made this common: its batch is often in the queue when the store closes.
    """
    from chatter.store.sqlite import _Write

    with trio.fail_after(TIMEOUT):
        async with ruled(open_sqlite_store(store_config(tmp_path / "t.db"))) as store:
            op = _Write(fn=lambda db: ("done", []), args=(), origin=None)
            store._queue_send.send_nowait(op)  # handed straight to the waiting writer
            store._queue_send.close()  # before the writer runs again
            await op.done.wait()
        assert op.error is None and op.result == "done"


async def test_sqlite_data_survives_reopen_with_same_epoch(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        cfg = store_config(tmp_path / "t.db")
        async with ruled(open_sqlite_store(cfg)) as store:
            epoch = store.epoch
            assert re.fullmatch(r"[0-9a-f]{16}", epoch)
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            m = (await store.post_message("bob", g.id, "c1", "persist me")).message
            await store.mark_read("alice", g.id, m.id)
            room = await store.get_room(g.id, "alice")
            seen = await events(store, "alice")
            head = await store.head()
        async with ruled(open_sqlite_store(cfg)) as store:
            assert store.epoch == epoch
            assert await store.head() == head
            assert await store.get_room(g.id, "alice") == room
            assert await events(store, "alice") == seen
            assert await store.history("bob", g.id, None, 10) == ([m], False)
            again = await store.post_message("bob", g.id, "c1", "persist me")
            assert again.created is False and again.message == m
            assert (await store.post_message("bob", g.id, "c2", "more")).message.seq == head + 1
        async with ruled(open_sqlite_store(store_config(tmp_path / "other.db"))) as other:
            assert other.epoch != epoch and re.fullmatch(r"[0-9a-f]{16}", other.epoch)
            assert await other.head() == 0


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        path = tmp_path / "t.db"
        async with ruled(open_sqlite_store(store_config(path))) as store:
            await users(store, "alice")
            # journal_mode=WAL is a property of the file: visible from any connection ...
            probe = sqlite3.connect(path)
            try:
                assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            finally:
                probe.close()
            # ... while synchronous and foreign_keys are per connection: check the
            # store's own writer and readers (idle here, so safe to touch).
            conns = [store._writer, *store._readers]
            assert len(conns) == 1 + store_config(path).readers
            for db in conns:
                assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
                assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
                assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        header = path.read_bytes()[:20]
        assert header[:16] == b"SQLite format 3\x00"
        assert (header[18], header[19]) == (2, 2)  # file format 2 = WAL


async def test_sqlite_group_commit(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with ruled(open_sqlite_store(store_config(tmp_path / "t.db"))) as store:
            recv = store.subscribe(10_000)
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            drain(recv)
            batches, writes = store.batches, store.writes
            results: dict[int, Any] = {}

            async def post(i: int) -> None:
                results[i] = await store.post_message("bob" if i % 2 else "alice", g.id, f"c{i}", f"m{i}",
                                                      origin=i)

            async with trio.open_nursery() as n:
                for i in range(200):
                    n.start_soon(post, i)
            assert len(results) == 200 and all(r.created for r in results.values())
            assert store.writes - writes == 200
            assert store.batches - batches < 200
            assert store.batches < store.writes
            seqs = sorted(r.message.seq for r in results.values())
            assert seqs == list(range(seqs[0], seqs[0] + 200))  # no gaps, no duplicates
            got = drain(recv)
            assert [e.seq for e, _ in got] == seqs  # delivered in commit order
            assert all(results[o].message.seq == e.seq for e, o in got)  # each with its origin
            msgs, more = await store.history("alice", g.id, None, 200)
            assert not more and [m.seq for m in msgs] == seqs


class _Recorder:
    """Wraps a connection and records each statement a query function runs."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        self.calls.append((sql, params))
        return self.db.execute(sql, params)


def _plan(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> str:
    return " | ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params))


async def test_sqlite_hot_queries_use_indexes(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        path = tmp_path / "t.db"
        async with ruled(open_sqlite_store(store_config(path))) as store:
            await users(store, "alice", "bob")
            g = await store.create_group("alice", "G", ["bob"])
            for i in range(5):
                await store.post_message("alice", g.id, f"c{i}", "x")
        db = sqlite3.connect(path)
        try:
            rec = _Recorder(db)
            q.history(rec, "bob", g.id, 10, 50, permissions.may_read)  # type: ignore[arg-type]
            (sql, params), = [c for c in rec.calls if "FROM messages" in c[0]]
            plan = _plan(db, sql, params)
            assert "USING INDEX messages_by_room" in plan or "USING COVERING INDEX messages_by_room" in plan, plan
            assert "TEMP B-TREE" not in plan, plan

            rec = _Recorder(db)
            q.events_for_user(rec, "bob", 0, 50)  # type: ignore[arg-type]
            spans = [c for c in rec.calls if "FROM member_spans" in c[0]]
            evs = [c for c in rec.calls if "FROM events" in c[0]]
            assert len(spans) == 1 and len(evs) == 1
            plan = _plan(db, *spans[0])
            assert "SEARCH member_spans USING PRIMARY KEY (username=?)" in plan, plan
            plan = _plan(db, *evs[0])
            assert "SEARCH events USING INDEX events_by_room" in plan and "TEMP B-TREE" not in plan, plan

            rec = _Recorder(db)
            q.post_message(rec, "alice", g.id, "c0", "x", "2026-01-01T00:00:00.000Z",  # type: ignore[arg-type]
                           permissions.may_post)
            plan = _plan(db, *rec.calls[0])
            assert "USING INDEX sqlite_autoindex_messages" in plan, plan
        finally:
            db.close()


# -- property: visibility equals membership intervals --------------------------------

PROP_USERS = ("u1", "u2", "u3")
op_strategy = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "post", "post"]), st.integers(0, 2),
              st.sampled_from(PROP_USERS + ("own",))),
    min_size=1, max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=op_strategy, n_rooms=st.integers(2, 3))
def test_property_events_match_membership_intervals(ops: list[tuple[str, int, str]], n_rooms: int) -> None:
    async def body() -> None:
        with trio.fail_after(TIMEOUT):
            async with ruled(open_memory_store()) as store:
                recv = store.subscribe(10_000)
                await users(store, "own", *PROP_USERS)
                intervals: dict[str, list[tuple[str, int, int | None]]] = {u: [] for u in ("own", *PROP_USERS)}
                rooms = []
                for i in range(n_rooms):
                    room = await store.create_group("own", f"R{i}", [])
                    rooms.append(room.id)
                    intervals["own"].append((room.id, await store.head(), None))
                inside = {r: {"own"} for r in rooms}
                for n, (op, r, user) in enumerate(ops):
                    room = rooms[r % n_rooms]
                    if op == "add":
                        if user in inside[room]:
                            with pytest.raises(Conflict):
                                await store.add_member("own", room, user, "member")
                        else:
                            await store.add_member("own", room, user, "member")
                            inside[room].add(user)
                            intervals[user].append((room, await store.head(), None))
                    elif op == "remove":
                        if user == "own":
                            with pytest.raises(Forbidden):
                                await store.remove_member("own", room, user)
                        elif user not in inside[room]:
                            with pytest.raises(NotFound):
                                await store.remove_member("own", room, user)
                        else:
                            # alternate between being removed and leaving
                            await store.remove_member("own" if n % 2 else user, room, user)
                            inside[room].discard(user)
                            (rid, lo, hi), = [iv for iv in intervals[user] if iv[0] == room and iv[2] is None]
                            intervals[user].remove((rid, lo, hi))
                            intervals[user].append((rid, lo, await store.head()))
                    elif user in inside[room]:
                        await store.post_message(user, room, f"c{n}", f"m{n}")
                    else:
                        with pytest.raises(NotFound):
                            await store.post_message(user, room, f"c{n}", f"m{n}")
                everything = [e for e, _ in drain(recv)]
                head = await store.head()
                assert [e.seq for e in everything] == list(range(1, head + 1))
                for u, spans in intervals.items():
                    expected = [e for e in everything
                                if any(room == e.room and lo <= e.seq <= (head if hi is None else hi)
                                       for room, lo, hi in spans)]
                    page = await store.events_for_user(u, 0, BIG)
                    assert list(page.events) == expected, u
                    assert not page.has_more
                    # members_at agrees with the model after every event
                    for e in everything:
                        now_in = any(room == e.room and lo <= e.seq and (hi is None or e.seq < hi)
                                     for room, lo, hi in spans)
                        assert (u in await store.members_at(e.room, e.seq)) == now_in
                    # and paging in small pages gives the same sequence
                    got: list[EventRow] = []
                    since = 0
                    while True:
                        page = await store.events_for_user(u, since, 3)
                        got.extend(page.events)
                        if not page.has_more:
                            break
                        since = page.events[-1].seq
                    assert got == expected, u

    trio.run(body)


async def test_contacts_limited_to_small_rooms(kind: str, tmp_path: Path) -> None:
    """With max_room, only DMs and rooms of at most that many members make contacts."""
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            await users(store, "alice", "bob", "carol", "dave", "erin")
            await store.create_group("alice", "Big", ["bob", "carol", "dave"])  # 4 members
            await store.create_group("alice", "Small", ["bob"])  # 2 members
            await store.open_dm("erin", "carol")
            assert await store.contacts("alice", 3) == {"bob"}
            assert await store.contacts("alice", 4) == {"bob", "carol", "dave"}
            assert await store.contacts("carol", 3) == {"erin"}
            assert await store.contacts("carol", 1) == {"erin"}  # a DM always counts
            assert await store.contacts("carol") == {"alice", "bob", "dave", "erin"}
