"""The Store Protocol and the domain methods both stores share.

A store is opened as an async context manager.  Writers go through one
serial writer, so ``seq`` order is commit order; after each commit the
batch's events (each tagged with the ``origin`` its caller passed, e.g. the
socket that sent a message) go, in seq order, to the one subscriber of
``subscribe()``: the actor system's dispatcher.  When nobody subscribed
(CLI tools), events are only stored.

Each method that needs a permission check takes the caller's ``rule`` and
applies it to what it reads inside the transaction (``queries.py``).

Both implementations run the same SQL from ``queries.py``; they differ in
how it is executed (worker threads + group commit on a file, or inline on
an in-memory database for deterministic tests under trio's mock clock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import trio

from chatter.errors import Invalid
from chatter.store import queries as q
from chatter.store import search
from chatter.store.models import (
    AroundPage,
    EventPage,
    EventRow,
    MemberRow,
    MessageRow,
    PostResult,
    RoomId,
    RoomRow,
    Rule,
    Seq,
    Username,
    UserRow,
)

T = TypeVar("T")

# SQLite cannot store text holding an unpaired surrogate: such input is the
# caller's fault, whichever validator let it through.
UNENCODABLE = Invalid("text contains an unpaired surrogate (invalid Unicode)")
Committed = list[tuple[EventRow, object]]  # (event, origin) in seq order


def utc_now() -> str:
    """RFC 3339 UTC with millisecond precision, as PROTOCOL.md requires."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Store(Protocol):
    epoch: str

    def subscribe(self, capacity: int) -> trio.MemoryReceiveChannel[Committed]: ...
    async def head(self) -> Seq: ...
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...
    async def create_user(self, username: Username, name: str, password_hash: str) -> UserRow: ...
    async def get_user(self, username: str) -> UserRow | None: ...
    async def search_users(self, prefix: str, limit: int) -> list[UserRow]: ...
    async def rename_user(self, username: Username, name: str) -> UserRow: ...
    async def set_password(self, username: Username, password_hash: str) -> UserRow: ...
    async def bump_token_version(self, username: Username) -> int: ...
    async def set_last_seen_many(self, usernames: list[Username], when: str) -> None: ...
    async def contacts(self, username: Username, max_room: int | None = None) -> frozenset[Username]: ...
    async def create_group(self, owner: Username, name: str, members: list[Username]) -> RoomRow: ...
    async def open_dm(self, me: Username, other: Username) -> tuple[RoomRow, bool]: ...
    async def get_room(self, room: str, viewer: Username, *, rule: Rule) -> RoomRow: ...
    async def list_rooms(self, viewer: Username) -> list[RoomRow]: ...
    async def rename_room(self, actor: Username, room: str, name: str, *, rule: Rule) -> RoomRow: ...
    async def delete_room(self, actor: Username, room: str, *, rule: Rule) -> None: ...
    async def add_member(self, actor: Username, room: str, username: Username, role: str, *, rule: Rule
                         ) -> MemberRow: ...
    async def set_role(self, actor: Username, room: str, username: Username, role: str, *, rule: Rule
                       ) -> MemberRow: ...
    async def remove_member(self, actor: Username, room: str, username: Username, *, rule: Rule) -> None: ...
    async def history(self, viewer: Username, room: str, before: int | None, limit: int, *, rule: Rule
                      ) -> tuple[list[MessageRow], bool]: ...
    async def post_message(self, sender: Username, room: str, client_msg_id: str, body: str, *, rule: Rule,
                           origin: object = None, reply_to: int | None = None) -> PostResult: ...
    async def get_message(self, viewer: Username, room: str, message_id: int, *, rule: Rule) -> MessageRow: ...
    async def edit_message(self, actor: Username, room: str, message_id: int, body: str, *, rule: Rule,
                           origin: object = None) -> MessageRow: ...
    async def delete_message(self, actor: Username, room: str, message_id: int, *, rule: Rule,
                             origin: object = None) -> bool: ...
    async def set_reaction(self, actor: Username, room: str, message_id: int, emoji: str, on: bool, *,
                           rule: Rule, origin: object = None) -> bool: ...
    async def messages_around(self, viewer: Username, room: str, message_id: int, limit: int, *, rule: Rule
                              ) -> AroundPage: ...
    async def mentions(self, viewer: Username, before: int | None, limit: int) -> tuple[list[MessageRow], bool]: ...
    async def mark_read(self, username: Username, room: str, up_to: int, *, rule: Rule) -> int: ...
    async def events_for_user(self, username: Username, since: int, limit: int) -> EventPage: ...
    async def members_at(self, room: RoomId, seq: int) -> frozenset[Username]: ...
    async def role_of(self, room: str, username: Username) -> str | None: ...
    async def search_messages(self, viewer: Username, spec: search.SearchSpec, *, rule: Rule
                              ) -> search.SearchPage: ...
    async def search_index_batch(self, limit: int) -> int: ...
    async def reset_search_index(self) -> None: ...


class StoreBase:
    """Domain methods over two primitives that subclasses provide."""

    epoch: str
    _committed_send: trio.MemorySendChannel[Committed] | None = None

    def subscribe(self, capacity: int) -> trio.MemoryReceiveChannel[Committed]:
        """The channel of committed batches, in commit order; one subscriber only."""
        if self._committed_send is not None:
            raise RuntimeError("the store has one subscriber")
        send, recv = trio.open_memory_channel[Committed](capacity)
        self._committed_send = send
        return recv

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[..., tuple[T, list[EventRow]]], *args: Any, origin: object = None) -> T:
        raise NotImplementedError

    async def head(self) -> Seq:
        return await self._read(q.head)

    async def get_meta(self, key: str) -> str | None:
        return await self._read(q.get_meta, key)

    async def set_meta(self, key: str, value: str) -> None:
        def fn(db: Any) -> tuple[None, list[EventRow]]:
            q.set_meta(db, key, value)
            return None, []
        await self._write(fn)

    async def create_user(self, username: Username, name: str, password_hash: str) -> UserRow:
        return await self._write(q.create_user, username, name, password_hash, utc_now())

    async def get_user(self, username: str) -> UserRow | None:
        return await self._read(q.get_user, username)

    async def search_users(self, prefix: str, limit: int) -> list[UserRow]:
        return await self._read(q.search_users, prefix, limit)

    async def rename_user(self, username: Username, name: str) -> UserRow:
        return await self._write(q.rename_user, username, name)

    async def set_password(self, username: Username, password_hash: str) -> UserRow:
        return await self._write(q.set_password, username, password_hash)

    async def bump_token_version(self, username: Username) -> int:
        return await self._write(q.bump_token_version, username)

    async def set_last_seen_many(self, usernames: list[Username], when: str) -> None:
        await self._write(q.set_last_seen_many, usernames, when)

    async def contacts(self, username: Username, max_room: int | None = None) -> frozenset[Username]:
        return await self._read(q.contacts, username, max_room)

    async def create_group(self, owner: Username, name: str, members: list[Username]) -> RoomRow:
        return await self._write(q.create_group, owner, name, members, utc_now())

    async def open_dm(self, me: Username, other: Username) -> tuple[RoomRow, bool]:
        return await self._write(q.open_dm, me, other, utc_now())

    async def get_room(self, room: str, viewer: Username, *, rule: Rule) -> RoomRow:
        return await self._read(q.get_room, room, viewer, rule)

    async def list_rooms(self, viewer: Username) -> list[RoomRow]:
        return await self._read(q.list_rooms, viewer)

    async def rename_room(self, actor: Username, room: str, name: str, *, rule: Rule) -> RoomRow:
        return await self._write(q.rename_room, actor, room, name, rule)

    async def delete_room(self, actor: Username, room: str, *, rule: Rule) -> None:
        await self._write(q.delete_room, actor, room, rule)

    async def add_member(self, actor: Username, room: str, username: Username, role: str, *, rule: Rule
                         ) -> MemberRow:
        return await self._write(q.add_member, actor, room, username, role, rule)

    async def set_role(self, actor: Username, room: str, username: Username, role: str, *, rule: Rule
                       ) -> MemberRow:
        return await self._write(q.set_role, actor, room, username, role, rule)

    async def remove_member(self, actor: Username, room: str, username: Username, *, rule: Rule) -> None:
        await self._write(q.remove_member, actor, room, username, rule)

    async def history(self, viewer: Username, room: str, before: int | None, limit: int, *, rule: Rule
                      ) -> tuple[list[MessageRow], bool]:
        return await self._read(q.history, viewer, room, before, limit, rule)

    async def post_message(self, sender: Username, room: str, client_msg_id: str, body: str, *, rule: Rule,
                           origin: object = None, reply_to: int | None = None) -> PostResult:
        return await self._write(q.post_message, sender, room, client_msg_id, body, utc_now(), rule, reply_to,
                                 origin=origin)

    # -- working with messages (PROTOCOL 10).  ``rule`` sees the room's facts with the
    # message's ``author``; the store checks what the data says (unknown, other room, deleted).

    async def get_message(self, viewer: Username, room: str, message_id: int, *, rule: Rule) -> MessageRow:
        return await self._read(q.get_message, viewer, room, message_id, rule)

    async def edit_message(self, actor: Username, room: str, message_id: int, body: str, *, rule: Rule,
                           origin: object = None) -> MessageRow:
        """The message as edited (unchanged, with no event, when the body is the same)."""
        return await self._write(q.edit_message, actor, room, message_id, body, utc_now(), rule, origin=origin)

    async def delete_message(self, actor: Username, room: str, message_id: int, *, rule: Rule,
                             origin: object = None) -> bool:
        """Whether the message was deleted now (False: it already was; no event)."""
        return await self._write(q.delete_message, actor, room, message_id, rule, origin=origin)

    async def set_reaction(self, actor: Username, room: str, message_id: int, emoji: str, on: bool, *,
                           rule: Rule, origin: object = None) -> bool:
        """Whether the reaction changed (False: it already was in that state; no event)."""
        return await self._write(q.set_reaction, actor, room, message_id, emoji, on, rule, origin=origin)

    async def messages_around(self, viewer: Username, room: str, message_id: int, limit: int, *, rule: Rule
                              ) -> AroundPage:
        return await self._read(q.messages_around, viewer, room, message_id, limit, rule)

    async def mentions(self, viewer: Username, before: int | None, limit: int) -> tuple[list[MessageRow], bool]:
        """Only the viewer's own rooms: no rule to ask."""
        return await self._read(q.mentions_page, viewer, before, limit)

    async def mark_read(self, username: Username, room: str, up_to: int, *, rule: Rule) -> int:
        return await self._write(q.mark_read, username, room, up_to, rule)

    async def events_for_user(self, username: Username, since: int, limit: int) -> EventPage:
        return await self._read(q.events_for_user, username, since, limit)

    async def members_at(self, room: RoomId, seq: int) -> frozenset[Username]:
        return await self._read(q.members_at, room, seq)

    async def role_of(self, room: str, username: Username) -> str | None:
        return await self._read(q.role_of, room, username)

    # -- search (PROTOCOL 11; the planner and its SQL are ``chatter.store.search``)

    async def search_messages(self, viewer: Username, spec: search.SearchSpec, *, rule: Rule
                              ) -> search.SearchPage:
        """Matching messages in the viewer's rooms now, newest first; ``rule`` decides on ``spec.room``."""
        return await self._read(search.search_messages, viewer, spec, rule)

    async def search_index_batch(self, limit: int) -> int:
        """Index up to ``limit`` more of the messages the index does not hold yet; 0 when it is complete."""
        return await self._write(search.index_batch, limit)

    async def reset_search_index(self) -> None:
        """Empty the search index and mark every message pending (the background build refills it)."""
        await self._write(search.reset_index)
