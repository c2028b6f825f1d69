"""The registries: which session and room actors run, started on demand.

``Sessions``: the running session actor of each connected user (a
``ports.Recipients`` for fan-out).
``Rooms``: starts room actors on demand (state loaded from the store as of
a given seq), restarts one that crashed (within ``room_restarts`` per
minute), and forgets one that stopped itself for being idle (a
``ports.RoomLoader`` for the dispatcher, ``dispatcher.py``).

Both read the dispatcher's position through ``ports.DispatchedHead`` and
reach presence only through its ports.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import trio

from chatter.actors.ports import DispatchedHead, PresenceSink, PresenceView, Recipients
from chatter.actors.room import Room, RoomHandle
from chatter.actors.session import Session, SessionHandle
from chatter.config import RealtimeConfig
from chatter.errors import NotFound
from chatter.store.models import RoomId, Username

if TYPE_CHECKING:
    from chatter.actors.socket import Socket
    from chatter.metrics import Metrics
    from chatter.store.base import Store

log = logging.getLogger(__name__)


class Sessions:
    def __init__(self, cfg: RealtimeConfig, store: Store, metrics: Metrics, nursery: trio.Nursery,
                 presence: PresenceSink, head: DispatchedHead) -> None:
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self._nursery = nursery
        self._presence = presence
        self._head = head
        self._by_user: dict[Username, Session] = {}

    def get(self, user: Username) -> Session | None:
        return self._by_user.get(user)

    def __len__(self) -> int:
        return len(self._by_user)

    def handle(self, user: Username) -> SessionHandle:
        """The user's session, started now if there is none (sync: no await, no race)."""
        session = self._by_user.get(user)
        if session is None or session.ended:
            send, recv = trio.open_memory_channel[Any](self.cfg.inbox)
            session = Session(self.cfg, user, self.store, self._presence, self.metrics, recv, send, self._head)
            self._by_user[user] = session
            self.metrics.sessions_active.set(len(self._by_user))
            self._nursery.start_soon(self._run, session)
        return SessionHandle(session)

    async def _run(self, session: Session) -> None:
        try:
            await session.run()
        except Exception:
            log.exception("session actor of %s crashed; its sockets are closed", session.user)
            for socket in list(session.sockets.values()):
                socket.close(1011, "server error")
                socket.discard()
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

    def detach(self, socket: Socket) -> None:
        """The socket is gone: tell its session, or release it if no session holds it."""
        session = self._by_user.get(socket.user)
        if session is not None and socket.id in session.sockets:
            SessionHandle(session).detach_nowait(socket)
        else:
            socket.discard()

    def sockets(self) -> list[Socket]:
        """Every socket attached to a session."""
        return [c for s in list(self._by_user.values()) for c in s.sockets.values()]

    def close_all(self, code: int, reason: str) -> None:
        for session in list(self._by_user.values()):
            for socket in list(session.sockets.values()):
                socket.close(code, reason)


class _Entry:
    """A room's slot in the registry.  ``handle`` is None while (re)loading and once done."""

    def __init__(self) -> None:
        self.ready = trio.Event()
        self.handle: RoomHandle | None = None
        self.room: Room | None = None  # the actor behind ``handle``; only the registry sees it
        self.cancel = trio.CancelScope()
        self.crashes: deque[float] = deque()
        self.done = False


class Rooms:
    def __init__(self, cfg: RealtimeConfig, store: Store, sessions: Recipients, presence: PresenceView,
                 metrics: Metrics, nursery: trio.Nursery, head: DispatchedHead) -> None:
        self.cfg = cfg
        self.store = store
        self._sessions = sessions
        self._presence = presence
        self.metrics = metrics
        self._nursery = nursery
        self._head = head
        self._entries: dict[RoomId, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def running(self, room: RoomId) -> Room | None:
        entry = self._entries.get(room)
        return entry.room if entry is not None and entry.handle is not None else None

    async def _load(self, room: RoomId, as_of: int) -> tuple[RoomHandle, Room]:
        while True:
            entry = self._entries.get(room)
            if entry is None:
                entry = self._entries[room] = _Entry()
                self.metrics.rooms_active.set(len(self._entries))
                self._nursery.start_soon(self._supervise, room, entry, as_of)
            while entry.handle is None and not entry.done:
                await entry.ready.wait()
            if entry.handle is not None and entry.room is not None:
                return entry.handle, entry.room
            # That actor ended (idle, failed or discarded) while we waited: start another.

    async def get(self, room: RoomId, as_of: int) -> RoomHandle:
        """The room's actor, started with its members as of ``as_of`` if not running."""
        handle, _ = await self._load(room, as_of)
        return handle

    async def loaded(self, room: RoomId, as_of: int) -> Room:
        """Like ``get``, but the actor itself, for the dispatcher's synchronous ``deliver``."""
        entry = self._entries.get(room)
        if entry is not None and entry.handle is not None and entry.room is not None:
            return entry.room  # the hot path: once per committed event
        _, actor = await self._load(room, as_of)
        return actor

    async def for_user(self, room: RoomId, user: Username) -> RoomHandle:
        """The room's actor for a command from ``user``; NotFound unless they are a member.

        The membership check against the store comes first so that arbitrary
        room ids from clients never start actors.
        """
        if self.running(room) is None and await self.store.role_of(room, user) is None:
            raise NotFound("room not found")
        handle, actor = await self._load(room, self._head.seq)
        if user not in actor.members:
            raise NotFound("room not found")
        return handle

    async def _supervise(self, room_id: RoomId, entry: _Entry, as_of: int) -> None:
        try:
            with entry.cancel:
                while True:
                    members = await self.store.members_at(room_id, as_of)
                    send, recv = trio.open_memory_channel[Any](self.cfg.inbox)
                    room = Room(self.cfg, room_id, members, as_of, self._sessions, self._presence, self.metrics, recv)
                    entry.room = room
                    entry.handle = RoomHandle(send, self.cfg.handle_timeout)
                    entry.ready.set()
                    try:
                        await room.run()
                        return  # idle or deleted
                    except Exception:
                        log.exception("room actor %s crashed; restarting with state from the store", room_id)
                        self.metrics.room_restarts.inc()
                        # No await until the new state is loaded as of the
                        # dispatcher's head: callers wait for it meanwhile.
                        entry.handle = entry.room = None
                        entry.ready = trio.Event()
                        if not self._note_crash(entry):
                            return
                        as_of = self._head.seq
                    finally:
                        send.close()
        except Exception:
            log.exception("loading room %s failed", room_id)
        finally:
            entry.done = True
            entry.handle = entry.room = None
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
            entry.handle = entry.room = None
            entry.done = True
            entry.ready.set()
            entry.cancel.cancel()
            self.metrics.rooms_active.set(len(self._entries))

