"""Room actor: one per active room.

Owns: the member set (exact as of ``applied_seq``), typing state with its
server-side expiry, and the room's idle timer.

Durable fan-out happens in ``deliver``, which the dispatcher calls
synchronously, in commit (seq) order, for every committed event of the
room.  Routing durable events through each room's own task instead would
let trio's scheduler run two rooms' tasks in either order and break the
per-socket seq order that PROTOCOL 4.3 guarantees; membership changes are
applied in the same ordered stream, so the member set used for an event is
the one right before it.  ``deliver`` only queues (``offer_*``): a room
never awaits a client.

The task (``run``) serves typing commands and expiry, and stops the actor
after ``room_idle`` seconds without activity.  Inbox: bounded
(``realtime.inbox``); callers use ``RoomHandle``, which waits for the reply
under ``handle_timeout``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, assert_never

import trio

from chatter.actors import frames
from chatter.actors.frames import encode_event
from chatter.actors.ports import PresenceView, Recipients
from chatter.config import RealtimeConfig
from chatter.errors import ChatError, NotFound, Unavailable
from chatter.store.models import EventRow, RoomId, Username

if TYPE_CHECKING:
    from chatter.actors.socket import Socket
    from chatter.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Reply:
    """A one-shot reply slot."""

    done: trio.Event = field(default_factory=trio.Event)
    error: BaseException | None = None

    def ok(self) -> None:
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()

    async def wait(self) -> None:
        await self.done.wait()
        if self.error is not None:
            raise self.error


@dataclass(frozen=True, slots=True, kw_only=True)
class _Typing:
    user: Username
    active: bool
    reply: Reply


_Command = _Typing


@dataclass(frozen=True, slots=True)
class Origin:
    """Who caused a write: the socket to ack, and when its send arrived."""

    socket: Socket
    started: float


class Room:
    def __init__(self, cfg: RealtimeConfig, room_id: RoomId, members: frozenset[Username], applied_seq: int,
                 sessions: Recipients, presence: PresenceView, metrics: Metrics,
                 inbox: trio.MemoryReceiveChannel[_Command]) -> None:
        self.cfg = cfg
        self.id = room_id
        self.members: set[Username] = set(members)
        self.applied_seq = applied_seq
        self.sessions = sessions
        self.presence = presence
        self.metrics = metrics
        self._inbox = inbox
        self.typing: dict[Username, float] = {}  # user -> trio time it expires
        self._typing_sent: dict[Username, float] = {}  # user -> when active:true was last fanned out
        self.last_active = trio.current_time()
        self.deleted = False

    # -- durable fan-out (sync, called by the dispatcher in seq order) ------

    def deliver(self, ev: EventRow, origin: object) -> None:
        self.last_active = trio.current_time()
        text = encode_event(ev)
        kind = ev.type
        subject = ev.data.get("username")
        if kind == "member_added" and isinstance(subject, str):
            self.members.add(Username(subject))
        if kind == "message" and isinstance(origin, Origin):
            d = ev.data
            origin.socket.offer_control(frames.ack(client_msg_id=d["client_msg_id"], id=d["id"], seq=ev.seq,
                                                   room=ev.room, created_at=d["created_at"]))
            self.metrics.send_ack.observe(trio.current_time() - origin.started)
        sessions = self.sessions
        for user in self.members:
            session = sessions.get(user)
            if session is not None:
                session.offer_durable(ev.seq, text)
        if kind == "member_removed" and isinstance(subject, str):
            self.members.discard(Username(subject))
            self.typing.pop(Username(subject), None)
        elif kind == "room_deleted":
            self.members.clear()
            self.typing.clear()
            self.deleted = True
        elif kind == "member_added" and isinstance(subject, str):
            self._introduce(Username(subject))
        elif kind == "message":
            sender = Username(ev.data["sender"])
            if self.typing.pop(sender, None) is not None:
                self._fan_typing(sender, False)
        self.applied_seq = ev.seq

    def _introduce(self, newcomer: Username) -> None:
        """Presence across a new membership: the newcomer and the others learn who is online."""
        if len(self.members) > self.cfg.presence_room_limit:
            return  # no live presence in large rooms (see presence.py)
        new_session = self.sessions.get(newcomer)
        newcomer_online = self.presence.is_online(newcomer)
        for user in self.members:
            if user == newcomer:
                continue
            if newcomer_online and (s := self.sessions.get(user)) is not None:
                s.offer_ephemeral(frames.presence(newcomer, True, self.presence.last_seen(newcomer)))
            if new_session is not None and self.presence.is_online(user):
                new_session.offer_ephemeral(frames.presence(user, True, self.presence.last_seen(user)))

    # -- typing ---------------------------------------------------------

    def _fan_typing(self, user: Username, active: bool) -> None:
        frame = frames.typing(self.id, user, active)
        for member in self.members:
            if member != user and (s := self.sessions.get(member)) is not None:
                s.offer_ephemeral(frame)

    def handle(self, cmd: _Command) -> None:
        match cmd:
            case _Typing(user=user, active=active, reply=reply):
                if user not in self.members:
                    reply.fail(NotFound("room not found"))
                    return
                now = trio.current_time()
                self.last_active = now
                if active:
                    self.typing[user] = now + self.cfg.typing_ttl
                    # Re-announce a continuing burst at most every ttl/2 so that
                    # clients' own expiry never fires while the user still types.
                    if now - self._typing_sent.get(user, -1e18) >= self.cfg.typing_ttl / 2:
                        self._typing_sent[user] = now
                        self._fan_typing(user, True)
                elif self.typing.pop(user, None) is not None:
                    self._typing_sent.pop(user, None)
                    self._fan_typing(user, False)
                reply.ok()
            case _:
                assert_never(cmd)

    def expire_typing(self, now: float) -> None:
        for user, at in list(self.typing.items()):
            if at <= now:
                del self.typing[user]
                self._typing_sent.pop(user, None)
                self._fan_typing(user, False)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve commands until idle or deleted; raises only on a bug (the registry restarts it)."""
        task_status.started()
        while not self.deleted:
            deadline = min(min(self.typing.values(), default=float("inf")),
                           self.last_active + self.cfg.room_idle)
            with trio.move_on_at(deadline):
                cmd = await self._inbox.receive()
                try:
                    self.handle(cmd)
                except ChatError as e:
                    cmd.reply.fail(e)
                except BaseException:
                    cmd.reply.fail(Unavailable("room temporarily unavailable; retry"))
                    raise
            now = trio.current_time()
            self.expire_typing(now)
            if not self.typing and now >= self.last_active + self.cfg.room_idle:
                return


class RoomHandle:
    """What callers hold: sends commands to the room's inbox and waits for the reply."""

    def __init__(self, outlet: trio.MemorySendChannel[_Command], timeout: float) -> None:
        self._outlet = outlet
        self._timeout = timeout

    async def typing(self, user: Username, active: bool) -> None:
        reply = Reply()
        try:
            self._outlet.send_nowait(_Typing(user=user, active=active, reply=reply))
        except trio.WouldBlock:
            return  # typing is ephemeral: dropped under pressure
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise Unavailable("room restarting; retry") from None
        with trio.fail_after(self._timeout):
            await reply.wait()
