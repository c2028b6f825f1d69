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
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, assert_never

import trio

from chatter.actors import frames
from chatter.actors.contacts import Contacts
from chatter.store.base import utc_now
from chatter.store.models import Username

if TYPE_CHECKING:
    from chatter.actors.registry import Sessions
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


class Presence:
    def __init__(self, cfg: Any, store: Store, sessions: Sessions, metrics: Metrics,
                 inbox: trio.MemoryReceiveChannel[_Command], contacts: Contacts,
                 now: Callable[[], str] = utc_now) -> None:
        self.cfg = cfg
        self.store = store
        self.contacts = contacts  # shared with ChatSystem.attach; the dispatcher invalidates it
        self.sessions = sessions
        self.metrics = metrics
        self._inbox = inbox
        self._now = now
        self.counts: dict[Username, int] = {}
        self.online: set[Username] = set()
        self.last_seen: dict[Username, str] = {}
        self._offline_at: dict[Username, float] = {}  # trio time when the grace ends
        self._announce: list[tuple[Username, bool]] = []

    def is_online(self, user: Username) -> bool:
        return user in self.online

    # -- state changes (sync) ----------------------------------------------

    def apply(self, cmd: _Command) -> None:
        match cmd:
            case _Connected(user=u):
                self.counts[u] = self.counts.get(u, 0) + 1
                self._offline_at.pop(u, None)
                if u not in self.online:
                    self.online.add(u)
                    self._announce.append((u, True))
            case _Disconnected(user=u):
                n = self.counts.get(u, 0) - 1
                if n > 0:
                    self.counts[u] = n
                else:
                    self.counts.pop(u, None)
                    if u in self.online:
                        self._offline_at[u] = trio.current_time() + self.cfg.presence_grace
            case _:
                assert_never(cmd)
        self.metrics.online_users.set(len(self.online))

    def _expire(self, now: float) -> None:
        for u, at in list(self._offline_at.items()):
            if at <= now:
                del self._offline_at[u]
                self.online.discard(u)
                self._announce.append((u, False))
        self.metrics.online_users.set(len(self.online))

    # -- the actor ---------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            deadline = min(self._offline_at.values(), default=float("inf"))
            with trio.move_on_at(deadline):
                try:
                    cmd = await self._inbox.receive()
                except trio.EndOfChannel:
                    return
                self.apply(cmd)
                self._apply_waiting()
            self._expire(trio.current_time())
            if self._announce:
                batch, self._announce = self._announce, []
                await self._publish(batch)

    def _apply_waiting(self) -> None:
        """Apply every command already queued, so one publish covers the burst."""
        while True:
            try:
                self.apply(self._inbox.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return

    async def _publish(self, batch: list[tuple[Username, bool]]) -> None:
        when = self._now()
        for user, _ in batch:
            self.last_seen[user] = when
        try:
            await self.store.set_last_seen_many(sorted({user for user, _ in batch}), when)
        except Exception:
            log.exception("saving last_seen of %d users failed", len(batch))
        for user, online in batch:
            if online != (user in self.online):
                continue  # changed again since; the newer change is in a later batch
            try:
                contacts = await self.contacts.of(user)
            except Exception:
                log.exception("presence update for %s failed", user)
                continue
            if online != (user in self.online):
                continue  # changed while we awaited
            frame = frames.presence(user, online, when)
            for other in contacts:
                session = self.sessions.get(other)
                if session is not None:
                    session.offer_ephemeral(frame)


class PresenceHandle:
    def __init__(self, presence: Presence, outlet: trio.MemorySendChannel[_Command]) -> None:
        self.presence = presence
        self._outlet = outlet

    def _send(self, cmd: _Command) -> None:
        try:
            self._outlet.send_nowait(cmd)
        except trio.WouldBlock:
            self.presence.apply(cmd)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # shutting down

    def connected(self, user: Username) -> None:
        self._send(_Connected(user=user))

    def disconnected(self, user: Username) -> None:
        self._send(_Disconnected(user=user))

    def is_online(self, user: Username) -> bool:
        # A user with a queued "connected" counts as online already.
        return self.presence.is_online(user) or self.presence.counts.get(user, 0) > 0

    def last_seen(self, user: Username) -> str | None:
        return self.presence.last_seen.get(user)
