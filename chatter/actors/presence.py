"""Presence actor: who is online, with a grace period before going offline.

Owns: per-user socket counts, the set of online users, and the deadlines of
users whose last socket closed.  A user goes online on their first socket;
offline only ``presence_grace`` seconds after the last one closed with none
reopened (so a page reload does not flap).  Going offline persists
``last_seen``.  Presence events are ephemeral and go only to users who
share a DM or a room of at most ``presence_room_limit`` members with the
subject (``Store.contacts``): in larger rooms live presence would cost N^2
events when N members connect.

Inbox: bounded; connected/disconnected are sent with ``send_nowait`` by
sessions.  If it is ever full, the count is applied inline rather than
lost (the actor's state lives on the trio thread, so this is safe).

The actor applies everything waiting in its inbox before it publishes, so
a burst of connects (a storm, a restart) costs one ``last_seen`` write for
the whole burst, not one per user.

Three parts, built in this order by ``open_actor_system``: ``PresenceState``
(the counts and the online set), ``PresenceHandle`` (what sessions and
rooms hold: the state to read, the inbox to write) and ``Presence`` (the
task that expires and announces).  So sessions can be built before the
task that reaches them, with no setter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

import trio

from chatter.actors import frames
from chatter.actors.ports import Contacts, Recipients
from chatter.config import RealtimeConfig
from chatter.store.base import utc_now
from chatter.store.models import Username

if TYPE_CHECKING:
    from chatter.metrics import Metrics
    from chatter.store.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Connected:
    user: Username


@dataclass(frozen=True, slots=True, kw_only=True)
class _Disconnected:
    user: Username


_Command = _Connected | _Disconnected


class PresenceState:
    """Socket counts, the online set and pending offline deadlines.

    Mutated only on the trio thread: by the actor, or inline by the handle
    when the inbox is full.  ``announce`` collects the changes the actor has
    yet to publish.
    """

    def __init__(self, cfg: RealtimeConfig, metrics: Metrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.counts: dict[Username, int] = {}
        self.online: set[Username] = set()
        self.last_seen: dict[Username, str] = {}
        self.offline_at: dict[Username, float] = {}  # trio time when the grace ends
        self.announce: list[tuple[Username, bool]] = []

    def is_online(self, user: Username) -> bool:
        return user in self.online

    def apply(self, cmd: _Command) -> None:
        match cmd:
            case _Connected(user=u):
                self.counts[u] = self.counts.get(u, 0) + 1
                self.offline_at.pop(u, None)
                if u not in self.online:
                    self.online.add(u)
                    self.announce.append((u, True))
            case _Disconnected(user=u):
                n = self.counts.get(u, 0) - 1
                if n > 0:
                    self.counts[u] = n
                else:
                    self.counts.pop(u, None)
                    if u in self.online:
                        self.offline_at[u] = trio.current_time() + self.cfg.presence_grace
            case _:
                assert_never(cmd)
        self.metrics.online_users.set(len(self.online))

    def expire(self, now: float) -> None:
        for u, at in list(self.offline_at.items()):
            if at <= now:
                del self.offline_at[u]
                self.online.discard(u)
                self.announce.append((u, False))
        self.metrics.online_users.set(len(self.online))


class Presence:
    """The presence task: applies commands, expires the grace, announces changes to contacts."""

    def __init__(self, state: PresenceState, store: Store, sessions: Recipients,
                 inbox: trio.MemoryReceiveChannel[_Command], contacts: Contacts,
                 now: Callable[[], str] = utc_now) -> None:
        self._state = state
        self.store = store
        self.contacts = contacts  # shared with ChatSystem.attach; the dispatcher invalidates it
        self._sessions = sessions
        self._inbox = inbox
        self._now = now

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        state = self._state
        while True:
            deadline = min(state.offline_at.values(), default=float("inf"))
            with trio.move_on_at(deadline):
                try:
                    cmd = await self._inbox.receive()
                except trio.EndOfChannel:
                    return
                state.apply(cmd)
                self._apply_waiting()
            state.expire(trio.current_time())
            if state.announce:
                batch, state.announce = state.announce, []
                await self._publish(batch)

    def _apply_waiting(self) -> None:
        """Apply every command already queued, so one publish covers the burst."""
        while True:
            try:
                self._state.apply(self._inbox.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return

    async def _publish(self, batch: list[tuple[Username, bool]]) -> None:
        state = self._state
        when = self._now()
        for user, _ in batch:
            state.last_seen[user] = when
        try:
            await self.store.set_last_seen_many(sorted({user for user, _ in batch}), when)
        except Exception:
            log.exception("saving last_seen of %d users failed", len(batch))
        for user, online in batch:
            if online != (user in state.online):
                continue  # changed again since; the newer change is in a later batch
            try:
                contacts = await self.contacts.of(user)
            except Exception:
                log.exception("presence update for %s failed", user)
                continue
            if online != (user in state.online):
                continue  # changed while we awaited
            frame = frames.presence(user, online, when)
            for other in contacts:
                session = self._sessions.get(other)
                if session is not None:
                    session.offer_ephemeral(frame)


class PresenceHandle:
    """A ``ports.PresenceSink`` (for sessions) and ``ports.PresenceView`` (for rooms and the facade)."""

    def __init__(self, state: PresenceState, outlet: trio.MemorySendChannel[_Command]) -> None:
        self._state = state
        self._outlet = outlet

    def _send(self, cmd: _Command) -> None:
        try:
            self._outlet.send_nowait(cmd)
        except trio.WouldBlock:
            self._state.apply(cmd)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # shutting down

    def connected(self, user: Username) -> None:
        self._send(_Connected(user=user))

    def disconnected(self, user: Username) -> None:
        self._send(_Disconnected(user=user))

    def is_online(self, user: Username) -> bool:
        # A user with a queued "connected" counts as online already.
        return self._state.is_online(user) or self._state.counts.get(user, 0) > 0

    def last_seen(self, user: Username) -> str | None:
        return self._state.last_seen.get(user)
