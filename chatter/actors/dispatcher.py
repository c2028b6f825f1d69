"""The dispatcher: the single consumer of the store's committed batches.

It hands every committed event, in seq order, to its room's ``deliver``
(loading the room as of the seq before it), then flushes the batch to every
socket it touched in one pass.  ``Head`` is the last seq it has dispatched:
a socket that attaches without ``since`` starts live from there, and a room
(re)loads its members as of it.  The dispatcher is the only writer of
``Head``; sessions and rooms read it through ``ports.DispatchedHead``.

A room whose ``deliver`` raises is discarded (it restarts from the store
when next needed) and every member, plus the event's subject, is marked
behind, so their sockets resume from the database and lose nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from chatter.actors.contacts import MEMBERSHIP_EVENTS
from chatter.actors.ports import Flush, MembershipCache, Recipients, RoomLoader
from chatter.store.base import Committed
from chatter.store.models import EventRow, Username

if TYPE_CHECKING:
    from chatter.metrics import Metrics

log = logging.getLogger(__name__)


class Head:
    """The last seq dispatched (a ``ports.DispatchedHead``); starts at the store's head."""

    __slots__ = ("seq",)

    def __init__(self, seq: int) -> None:
        self.seq = seq


class Dispatcher:
    """Fans committed events out in seq order; see the module docstring."""

    def __init__(self, rooms: RoomLoader, sessions: Recipients, metrics: Metrics, head: Head,
                 committed: trio.MemoryReceiveChannel[Committed], flusher: Flush,
                 contacts: MembershipCache) -> None:
        self._rooms = rooms
        self._sessions = sessions
        self._metrics = metrics
        self._head = head
        self._committed = committed
        self._flusher = flusher
        self._contacts = contacts

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with self._committed:
            async for batch in self._committed:
                self._metrics.dispatch_queue.set(self._committed.statistics().current_buffer_used)
                for ev, origin in batch:
                    await self.dispatch(ev, origin)
                self._flusher.flush()  # write the batch to every socket it touched, in this pass

    async def dispatch(self, ev: EventRow, origin: object) -> None:
        if ev.type in MEMBERSHIP_EVENTS:
            self._contacts.invalidate()
        room = await self._rooms.loaded(ev.room, ev.seq - 1)
        try:
            room.deliver(ev, origin)
        except Exception:
            log.exception("fan-out of seq %d in room %s failed; its members resume from the database",
                          ev.seq, ev.room)
            self._metrics.room_restarts.inc()
            for user in list(room.members) + ([ev.data["username"]] if "username" in ev.data else []):
                session = self._sessions.get(Username(user))
                if session is not None:
                    session.mark_behind()
            self._rooms.discard(ev.room)
        else:
            if room.deleted:
                self._rooms.discard(ev.room)
        self._head.seq = ev.seq
