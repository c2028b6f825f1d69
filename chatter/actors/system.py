"""The actor system and the one handle the HTTP layer holds.

``open_actor_system(cfg, store, metrics)`` builds every part in one order,
handing each the ports it needs (``ports.py``) and its config section, and
starts, under one supervising nursery: the dispatcher (the store's only
subscriber), the presence actor, and the registries that start session and
room actors on demand.  Leaving the context closes every socket with 1001
and stops the actors.

``ChatSystem`` is the handle on the running actors: sockets (``new_socket``,
``attach``, ``detach``, shutdown), presence, typing, and ending sessions.
The use cases (``chatter.service``) call it; it does no store writes of its
own.  Writes that produce durable events reach sockets through the
dispatcher, never from here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from chatter.actors.contacts import Contacts
from chatter.actors.dispatcher import Dispatcher, Head
from chatter.actors.presence import Presence, PresenceHandle, PresenceState
from chatter.actors.registry import Rooms, Sessions
from chatter.actors.socket import Flusher, Socket
from chatter.config import RealtimeConfig
from chatter.errors import RateLimited
from chatter.metrics import Metrics
from chatter.store.base import Store
from chatter.store.models import RoomId, Username, UserRow
from chatter.wire import User

log = logging.getLogger(__name__)

# Retry-After for a refused socket: a hint only, as a slot frees when one of the user's sockets closes.
SOCKET_SLOT_RETRY = 10.0


class ChatSystem:
    def __init__(self, cfg: RealtimeConfig, store: Store, metrics: Metrics, sessions: Sessions, rooms: Rooms,
                 presence: PresenceHandle, dispatcher: Dispatcher, flusher: Flusher, contacts: Contacts) -> None:
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self.sessions = sessions
        self.rooms = rooms
        self.presence = presence
        self.dispatcher = dispatcher
        self.flusher = flusher
        self.contacts = contacts
        self.accepting = True
        self._drained = trio.Event()  # set once closing started and the last socket is gone
        self._sockets_of: dict[Username, int] = {}  # open sockets per user (new_socket .. detach); no zeros kept

    # -- users ------------------------------------------------------------

    def user_wire(self, row: UserRow) -> User:
        """What clients see of a user: the row plus live presence."""
        return User(username=row.username, name=row.name, online=self.presence.is_online(row.username),
                    last_seen=self.presence.last_seen(row.username) or row.last_seen)

    async def sessions_revoked(self, user: Username, version: int, keep_sid: str | None = None) -> None:
        """Close the sockets of every session but ``keep_sid`` (the caller's, re-issued)."""
        self.sessions.kick(user, 4001, "session ended (password changed)", below_version=version, keep_sid=keep_sid)

    # -- rooms ----------------------------------------------------------------

    async def typing(self, user: Username, room: str, active: bool) -> None:
        handle = await self.rooms.for_user(RoomId(room), user)
        await handle.typing(user, active)

    # -- sockets ------------------------------------------------------------

    def new_socket(self, user: Username, token_version: int, sid: str = "") -> Socket:
        """A socket's state; RateLimited when ``user`` already has ``sockets_per_user`` open.

        Every Socket this returns must be passed to ``detach`` once (it frees the user's slot).
        """
        open_now = self._sockets_of.get(user, 0)
        if open_now >= self.cfg.sockets_per_user:
            self.metrics.sockets_refused.inc()
            raise RateLimited(f"more than {self.cfg.sockets_per_user} open sockets for this user",
                              retry_after=SOCKET_SLOT_RETRY)
        self._sockets_of[user] = open_now + 1
        self.metrics.sockets_open.inc()
        self.metrics.sockets_total.inc()
        return Socket(user, token_version, capacity=self.cfg.outbox_frames,
                      control_capacity=self.cfg.control_frames, metrics=self.metrics, sid=sid,
                      flusher=self.flusher, coalesce_max=self.cfg.coalesce_max)

    async def attach(self, socket: Socket, user_row: UserRow, since: int | None, epoch: str | None) -> None:
        """Register the socket with its user's session; it queues ``ready`` then delivers.

        ``user_row`` is the row the handshake authenticated with (not read again here).
        """
        contacts = await self.contacts.of(socket.user)
        online: list[str] = sorted(u for u in contacts if self.presence.is_online(u))
        me = msgspec.structs.replace(self.user_wire(user_row), online=True)
        for _ in range(3):  # a session that just ended refuses: start the next one
            try:
                await self.sessions.handle(socket.user).attach(socket, since, epoch, me, online)
                return
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                continue
        raise RuntimeError("could not attach the socket to a session")

    def detach(self, socket: Socket) -> None:
        left = self._sockets_of.pop(socket.user, 0) - 1
        if left > 0:
            self._sockets_of[socket.user] = left
        self.metrics.sockets_open.dec()
        if not self.accepting and self.open_sockets() <= 0:
            self._drained.set()
        self.sessions.detach(socket)

    def close_all_sockets(self, code: int = 1001, reason: str = "server shutting down") -> None:
        self.accepting = False
        self.sessions.close_all(code, reason)
        if self.open_sockets() <= 0:
            self._drained.set()

    async def sockets_drained(self) -> None:
        """Wait until every socket has gone after ``close_all_sockets``."""
        await self._drained.wait()

    def all_sockets(self) -> list[Socket]:
        return self.sessions.sockets()

    def open_sockets(self) -> int:
        return int(self.metrics.sockets_open.value)


@asynccontextmanager
async def open_actor_system(cfg: RealtimeConfig, store: Store,
                            metrics: Metrics | None = None) -> AsyncIterator[ChatSystem]:
    """Start the actors; on exit close sockets (1001) and stop everything.

    The one place the parts are built, each after what it needs (the order
    ``ports.py`` draws); nothing is patched in after construction.
    """
    metrics = metrics or Metrics()
    committed = store.subscribe(cfg.dispatch_queue)
    head = Head(await store.head())
    async with trio.open_nursery() as nursery:
        contacts = Contacts(store, cfg)
        flusher = Flusher()
        presence_state = PresenceState(cfg, metrics)
        presence_send, presence_recv = trio.open_memory_channel[Any](cfg.inbox)
        presence_handle = PresenceHandle(presence_state, presence_send)
        sessions = Sessions(cfg, store, metrics, nursery, presence_handle, head)
        rooms = Rooms(cfg, store, sessions, presence_handle, metrics, nursery, head)
        presence = Presence(presence_state, store, sessions, presence_recv, contacts)
        dispatcher = Dispatcher(rooms, sessions, metrics, head, committed, flusher, contacts)
        await nursery.start(dispatcher.run)
        await nursery.start(presence.run)
        await nursery.start(flusher.run)
        system = ChatSystem(cfg, store, metrics, sessions, rooms, presence_handle, dispatcher, flusher, contacts)
        try:
            yield system
        finally:
            system.close_all_sockets()
            presence_send.close()
            nursery.cancel_scope.cancel()
