"""What each actor needs from the others: small protocols (ports), nothing more.

An actor module imports this module, never another actor's module, so the
actors form no import cycle (``tests/test_import_graph.py`` checks).
``open_actor_system`` (``system.py``) builds everything in one order and
passes each part the ports it needs into its constructor:

    Contacts, Flusher           -- need nothing of the actors
    Head                        -- the dispatcher's cursor, a plain cell
    PresenceState + inbox       -- presence's state and the channel to its task
    PresenceHandle              -- a PresenceSink for sessions, a PresenceView for rooms
    Sessions(presence, head)    -- a Recipients for rooms, presence and the dispatcher
    Rooms(sessions, presence, head)   -- a RoomLoader for the dispatcher
    Presence(state, inbox, sessions)  -- the task that announces changes
    Dispatcher(rooms, sessions, head) -- writes Head; the one consumer of commits

The two parts that need each other are split, not patched after
construction: sessions and rooms read the dispatcher's position through
``Head``, which the dispatcher only writes, and sessions tell presence of
sockets through its inbox, which presence's task reads.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from chatter.store.models import EventRow, RoomId, Username


class DispatchedHead(Protocol):
    """The last seq the dispatcher has handed to rooms: a socket attaching without ``since`` starts
    live from it, and a room loads its members as of it."""

    @property
    def seq(self) -> int: ...


class PresenceSink(Protocol):
    """What a session tells presence: one of the user's sockets opened or closed (sync, never waits)."""

    def connected(self, user: Username) -> None: ...

    def disconnected(self, user: Username) -> None: ...


class PresenceView(Protocol):
    """What rooms (and the facade) read of presence."""

    def is_online(self, user: Username) -> bool: ...

    def last_seen(self, user: Username) -> str | None: ...


class Recipient(Protocol):
    """One user's sockets as fan-out sees them (a session).  Every call only queues."""

    def offer_durable(self, seq: int, text: str) -> None: ...

    def offer_ephemeral(self, text: str) -> None: ...

    def mark_behind(self) -> None:
        """Something may have been missed: serve every live socket from the database again."""


class Recipients(Protocol):
    """The running sessions, by user: None when the user has no socket open."""

    def get(self, user: Username) -> Recipient | None: ...


class Contacts(Protocol):
    """Who shares a DM or a small room with a user (``contacts.py``, cached)."""

    async def of(self, user: Username) -> frozenset[Username]: ...


class MembershipCache(Protocol):
    """What the dispatcher tells the contacts cache: membership changed."""

    def invalidate(self) -> None: ...


class FanOut(Protocol):
    """A loaded room as the dispatcher sees it: deliver each committed event, in seq order."""

    @property
    def members(self) -> Collection[Username]: ...

    @property
    def deleted(self) -> bool: ...

    def deliver(self, ev: EventRow, origin: object) -> None: ...


class RoomLoader(Protocol):
    """The room registry as the dispatcher sees it."""

    async def loaded(self, room: RoomId, as_of: int) -> FanOut:
        """The room's actor, started with its members as of ``as_of`` if it is not running."""

    def discard(self, room: RoomId) -> None:
        """Stop the room's actor now; it restarts, reloaded from the store, when next needed."""


class Flush(Protocol):
    """Write what fan-out queued to every socket it touched (``Flusher``)."""

    def flush(self) -> None: ...
