"""Session actor: one per connected user, owning all of that user's sockets.

Owns: the set of the user's ``Socket``s and one catch-up task per socket
that is behind.  Fan-out reaches it through sync ``offer_*`` calls that
only queue (a room never awaits a client).  Commands (attach, detach, kick)
arrive over a bounded inbox from the socket endpoint.

Catch-up serves a socket from the database, in pages, from its cursor:

    read events visible to the user with seq > cursor   (+ the db head H)
    queue them (waiting for outbox space: only this task waits)
    when a page is short: cursor := max(cursor, H); if nothing newer than
    H was dropped meanwhile, go live -- synchronously, so no live event can
    slip between the check and the switch; otherwise read again.

Events in (cursor, H] arriving live afterwards are ignored as duplicates
(seq <= cursor), and nothing newer than H can have been dropped unseen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

import trio

from chatter.actors import frames
from chatter.actors.frames import encode_event
from chatter.actors.ports import DispatchedHead, PresenceSink
from chatter.actors.socket import Socket
from chatter.config import RealtimeConfig
from chatter.store.models import Username
from chatter.wire import User

if TYPE_CHECKING:
    from chatter.metrics import Metrics
    from chatter.store.base import Store

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True, kw_only=True)
class _Attach:
    socket: Socket
    since: int | None
    epoch: str | None
    user: User  # for the ready frame (with its epoch and head, read when it is queued)
    online: list[str]
    attached: trio.Event


@dataclass(frozen=True, slots=True, kw_only=True)
class _Detach:
    socket: Socket


@dataclass(frozen=True, slots=True, kw_only=True)
class _Kick:
    code: int
    reason: str
    below_version: int | None  # close only sockets whose token version is below this (None: all)
    keep_sid: str | None = None  # ...except this login session's, which moves to below_version


_Command = _Attach | _Detach | _Kick


class Session:
    """All sockets of one user.  Ends when its last socket detaches."""

    def __init__(self, cfg: RealtimeConfig, user: Username, store: Store, presence: PresenceSink, metrics: Metrics,
                 inbox: trio.MemoryReceiveChannel[_Command], outlet: trio.MemorySendChannel[_Command],
                 head: DispatchedHead) -> None:
        self._head = head
        self.cfg = cfg
        self.user = user
        self.store = store
        self.presence = presence
        self.metrics = metrics
        self.sockets: dict[int, Socket] = {}
        self._inbox = inbox
        self.outlet = outlet  # the send end, used by SessionHandle
        self._nursery: trio.Nursery | None = None
        self.ended = False

    # -- fan-out entry points (sync) -------------------------------------

    def offer_durable(self, seq: int, text: str) -> None:
        for socket in self.sockets.values():
            if not socket.offer_durable(seq, text) and not socket.catching_up:
                self._start_catchup(socket)

    def offer_ephemeral(self, text: str, *, exclude: Socket | None = None) -> None:
        for socket in self.sockets.values():
            if socket is not exclude:
                socket.offer_ephemeral(text)

    def mark_behind(self) -> None:
        """Something may have been missed (a room crashed mid-fan-out): re-read from the database."""
        for socket in self.sockets.values():
            if socket.live:
                socket.fall_behind()
                self._start_catchup(socket)

    # -- the actor -------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            async for cmd in self._inbox:
                match cmd:
                    case _Attach():
                        self._attach(cmd)
                    case _Detach():
                        self._detach(cmd.socket)
                        if not self.sockets and self._inbox.statistics().current_buffer_used == 0:
                            # Synchronously: a new socket of this user starts a new session.
                            self.ended = True
                            self._inbox.close()
                            break
                    case _Kick():
                        kick(list(self.sockets.values()), cmd)
                    case _:
                        assert_never(cmd)
                del cmd  # while idle, the last command (an attach holds its user) must not stay alive
            self.ended = True
            nursery.cancel_scope.cancel()

    def _attach(self, cmd: _Attach) -> None:
        """Queue ``ready`` (and ``reset`` for a foreign epoch or impossible cursor), then deliver.

        Reading the head, queueing ``ready`` and registering the socket
        happen in one synchronous step: no event can be dispatched between
        "already in the past for this socket" and "will be sent to it".
        """
        socket = cmd.socket
        cmd.attached.set()
        if socket.close_code is not None:
            return
        head = self._head.seq
        epoch = self.store.epoch
        since = cmd.since
        reset = since is not None and ((cmd.epoch is not None and cmd.epoch != epoch) or since > head)
        socket.offer_control(frames.ready(epoch=epoch, seq=head, user=cmd.user, online=cmd.online))
        if reset:
            socket.offer_control(frames.reset(epoch=epoch, seq=head))
            since = None
        self.sockets[socket.id] = socket
        self.presence.connected(self.user)
        if since is None:
            socket.cursor = socket.sent = head
            socket.live = True
        else:
            socket.cursor = socket.sent = since
            socket.live = False
            self._start_catchup(socket)

    def _detach(self, socket: Socket) -> None:
        if self.sockets.pop(socket.id, None) is not None:
            self.presence.disconnected(self.user)
        socket.discard()

    def _start_catchup(self, socket: Socket) -> None:
        if self._nursery is None or socket.catching_up or socket.close_code is not None:
            return
        socket.catching_up = True
        self._nursery.start_soon(self._catch_up, socket)

    async def _catch_up(self, socket: Socket) -> None:
        try:
            while not socket.live and socket.close_code is None:
                page = await self.store.events_for_user(self.user, socket.cursor, self.cfg.catchup_page)
                for ev in page.events:
                    if ev.seq <= socket.cursor:
                        continue
                    await socket.put_catchup(ev.seq, encode_event(ev))
                    if socket.close_code is not None:
                        return
                if not page.has_more:
                    socket.cursor = max(socket.cursor, page.head)
                    if socket.dropped_max <= socket.cursor:
                        socket.live = True
        except Exception:
            log.exception("catch-up for %s failed", self.user)
            socket.close(1011, "server error")
        finally:
            socket.catching_up = False


def kick(sockets: list[Socket], cmd: _Kick) -> None:
    for socket in sockets:
        if cmd.below_version is not None and socket.token_version >= cmd.below_version:
            continue
        if cmd.keep_sid and socket.sid == cmd.keep_sid and cmd.below_version is not None:
            socket.token_version = cmd.below_version  # the caller's own session carries on
            continue
        socket.close(cmd.code, cmd.reason)


class SessionHandle:
    """What the socket endpoint holds: sends commands to the session's inbox."""

    def __init__(self, session: Session) -> None:
        self._session = session  # for the inline fallbacks below; callers never see the actor

    async def attach(self, socket: Socket, since: int | None, epoch: str | None, user: User, online: list[str]) -> None:
        attached = trio.Event()
        await self._session.outlet.send(_Attach(socket=socket, since=since, epoch=epoch, user=user, online=online,
                                                attached=attached))
        await attached.wait()

    def detach_nowait(self, socket: Socket) -> None:
        """Sync so it can run in a ``finally``; the inbox is sized so it never blocks long."""
        try:
            self._session.outlet.send_nowait(_Detach(socket=socket))
        except trio.WouldBlock:
            # Inbox full: detach inline (same thread, same state) rather than leak the socket.
            self._session._detach(socket)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            socket.discard()

    def kick_nowait(self, code: int, reason: str, below_version: int | None = None,
                    keep_sid: str | None = None) -> None:
        cmd = _Kick(code=code, reason=reason, below_version=below_version, keep_sid=keep_sid)
        try:
            self._session.outlet.send_nowait(cmd)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            kick(list(self._session.sockets.values()), cmd)
