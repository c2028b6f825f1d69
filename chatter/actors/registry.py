"""Registries and the dispatcher.

``Sessions``: the running session actor of each connected user.
``Rooms``: starts room actors on demand (state loaded from the store as of
a given seq), restarts one that crashed (within ``room_restarts`` per
minute), and forgets one that stopped itself for being idle.
``Dispatcher``: the single consumer of the store's committed batches; it
hands every event, in seq order, to its room's ``deliver``.  ``head`` is
the last seq it has dispatched: a socket that attaches without ``since``
starts live from there.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import trio

from chatter.actors.conn import Flusher
from chatter.actors.contacts import MEMBERSHIP_EVENTS, Contacts
from chatter.actors.presence import PresenceHandle
from chatter.actors.room import Room, RoomHandle
from chatter.actors.session import Session, SessionHandle
from chatter.errors import NotFound
from chatter.store.base import Committed
from chatter.store.models import EventRow, RoomId, Username

if TYPE_CHECKING:
    from chatter.metrics import Metrics
    from chatter.store.base import Store

log = logging.getLogger(__name__)


class Sessions:
    def __init__(self, cfg: Any, store: Store, metrics: Metrics, nursery: trio.Nursery) -> None:
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self._nursery = nursery
        self._by_user: dict[Username, Session] = {}
        self.presence: PresenceHandle | None = None  # set by the system once presence runs
        self.dispatcher: Dispatcher | None = None  # likewise

    def get(self, user: Username) -> Session | None:
        return self._by_user.get(user)

    def __len__(self) -> int:
        return len(self._by_user)

    def users(self) -> list[Username]:
        return list(self._by_user)

    def handle(self, user: Username) -> SessionHandle:
        """The user's session, started now if there is none (sync: no await, no race)."""
        session = self._by_user.get(user)
        if session is None or session.ended:
            assert self.presence is not None
            send, recv = trio.open_memory_channel[Any](self.cfg.inbox)
            session = Session(self.cfg, user, self.store, self.presence, self.metrics, recv, send,
                              head=lambda: self.dispatcher.head if self.dispatcher else 0)
            self._by_user[user] = session
            self.metrics.sessions_active.set(len(self._by_user))
            self._nursery.start_soon(self._run, session)
        return SessionHandle(session)

    async def _run(self, session: Session) -> None:
        try:
            await session.run()
        except Exception:
            log.exception("session actor of %s crashed; its sockets are closed", session.user)
            for conn in list(session.conns.values()):
                conn.close(1011, "server error")
                conn.discard()
        finally:
            session.ended = True
            if self._by_user.get(session.user) is session:
                del self._by_user[session.user]
            self.metrics.sessions_active.set(len(self._by_user))

    def kick(self, user: Username, code: int, reason: str, below_version: int | None = None,
             keep_sid: str | None = None) -> None:
        session = self._by_user.get(user)
        if session is not None:
            SessionHandle(session).kick_nowait(code, reason, below_version, keep_sid)

    def close_all(self, code: int, reason: str) -> None:
        for session in list(self._by_user.values()):
            for conn in list(session.conns.values()):
                conn.close(code, reason)


class _Entry:
    """A room's slot in the registry.  ``handle`` is None while (re)loading and once done."""

    def __init__(self) -> None:
        self.ready = trio.Event()
        self.handle: RoomHandle | None = None
        self.cancel = trio.CancelScope()
        self.crashes: deque[float] = deque()
        self.done = False


class Rooms:
    def __init__(self, cfg: Any, store: Store, sessions: Sessions, presence: PresenceHandle, metrics: Metrics,
                 nursery: trio.Nursery) -> None:
        self.cfg = cfg
        self.store = store
        self.sessions = sessions
        self.presence = presence
        self.metrics = metrics
        self._nursery = nursery
        self._entries: dict[RoomId, _Entry] = {}
        self.dispatcher: Dispatcher | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def running(self, room: RoomId) -> Room | None:
        entry = self._entries.get(room)
        return entry.handle.room if entry is not None and entry.handle is not None else None

    async def get(self, room: RoomId, as_of: int) -> RoomHandle:
        """The room's actor, started with its members as of ``as_of`` if not running."""
        while True:
            entry = self._entries.get(room)
            if entry is None:
                entry = self._entries[room] = _Entry()
                self.metrics.rooms_active.set(len(self._entries))
                self._nursery.start_soon(self._supervise, room, entry, as_of)
            while entry.handle is None and not entry.done:
                await entry.ready.wait()
            if entry.handle is not None:
                return entry.handle
            # That actor ended (idle, failed or discarded) while we waited: start another.

    async def for_user(self, room: RoomId, user: Username) -> RoomHandle:
        """The room's actor for a command from ``user``; NotFound unless they are a member.

        The membership check against the store comes first so that arbitrary
        room ids from clients never start actors.
        """
        if self.running(room) is None and await self.store.role_of(room, user) is None:
            raise NotFound("room not found")
        assert self.dispatcher is not None
        handle = await self.get(room, self.dispatcher.head)
        if user not in handle.room.members:
            raise NotFound("room not found")
        return handle

    async def _supervise(self, room_id: RoomId, entry: _Entry, as_of: int) -> None:
        try:
            with entry.cancel:
                while True:
                    members = await self.store.members_at(room_id, as_of)
                    send, recv = trio.open_memory_channel[Any](self.cfg.inbox)
                    room = Room(self.cfg, room_id, members, as_of, self.sessions, self.presence, self.metrics, recv)
                    entry.handle = RoomHandle(room, send, self.cfg.handle_timeout)
                    entry.ready.set()
                    try:
                        await room.run()
                        return  # idle or deleted
                    except Exception:
                        log.exception("room actor %s crashed; restarting with state from the store", room_id)
                        self.metrics.room_restarts.inc()
                        # No await until the new state is loaded as of the
                        # dispatcher's head: callers wait for it meanwhile.
                        entry.handle = None
                        entry.ready = trio.Event()
                        if not self._note_crash(entry):
                            return
                        assert self.dispatcher is not None
                        as_of = self.dispatcher.head
                    finally:
                        send.close()
        except Exception:
            log.exception("loading room %s failed", room_id)
        finally:
            entry.done = True
            entry.handle = None
            entry.ready.set()
            if self._entries.get(room_id) is entry:
                del self._entries[room_id]
            self.metrics.rooms_active.set(len(self._entries))

    def _note_crash(self, entry: _Entry) -> bool:
        """Record a crash; False when the room is over its restart budget."""
        now = trio.current_time()
        entry.crashes.append(now)
        while entry.crashes and entry.crashes[0] < now - 60:
            entry.crashes.popleft()
        if len(entry.crashes) > self.cfg.room_restarts:
            log.error("room actor crashed %d times in a minute; stopping it until next needed",
                      len(entry.crashes))
            return False
        return True

    def discard(self, room: RoomId) -> None:
        """Stop a room's actor now (after a crash in deliver, or deletion); it restarts on demand."""
        entry = self._entries.pop(room, None)
        if entry is not None:
            entry.handle = None
            entry.done = True
            entry.ready.set()
            entry.cancel.cancel()
            self.metrics.rooms_active.set(len(self._entries))


class Dispatcher:
    """Fans committed events out in seq order; see the module docstring."""

    def __init__(self, rooms: Rooms, sessions: Sessions, metrics: Metrics, head: int,
                 committed: trio.MemoryReceiveChannel[Committed], flusher: Flusher, contacts: Contacts) -> None:
        self.rooms = rooms
        self.flusher = flusher
        self.contacts = contacts
        self.sessions = sessions
        self.metrics = metrics
        self.head = head
        self._committed = committed

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with self._committed:
            async for batch in self._committed:
                self.metrics.dispatch_queue.set(self._committed.statistics().current_buffer_used)
                for ev, origin in batch:
                    await self.dispatch(ev, origin)
                self.flusher.flush()  # write the batch to every socket it touched, in this pass

    async def dispatch(self, ev: EventRow, origin: object) -> None:
        if ev.type in MEMBERSHIP_EVENTS:
            self.contacts.invalidate()
        handle = await self.rooms.get(ev.room, ev.seq - 1)
        room = handle.room
        try:
            room.deliver(ev, origin)
        except Exception:
            log.exception("fan-out of seq %d in room %s failed; its members resume from the database",
                          ev.seq, ev.room)
            self.metrics.room_restarts.inc()
            for user in list(room.members) + ([ev.data["username"]] if "username" in ev.data else []):
                session = self.sessions.get(Username(user))
                if session is not None:
                    session.mark_behind()
            self.rooms.discard(ev.room)
        else:
            if room.deleted:
                self.rooms.discard(ev.room)
        self.head = ev.seq
