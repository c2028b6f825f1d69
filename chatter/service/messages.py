"""Messages and reads: send, history, read cursors, typing, and the event log's pages.

A send is idempotent per (sender, ``client_msg_id``) and answered only
after the commit: for a socket, the dispatcher acks it on its way out
(``Origin``), in commit order; a repeat returns the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from chatter.actors.room import Origin
from chatter.actors.socket import Socket
from chatter.actors.system import ChatSystem
from chatter.service import permissions
from chatter.store.base import Store
from chatter.store.models import EventPage, MessageRow, PostResult, Seq, Username


@dataclass(frozen=True, slots=True)
class EventsSince:
    """A page of durable events, and the cursor to ask from next."""

    epoch: str
    page: EventPage
    next: Seq


class Messages:
    def __init__(self, store: Store, system: ChatSystem) -> None:
        self.store = store
        self.system = system

    async def send(self, sender: Username, room: str, client_msg_id: str, body: str,
                   socket: Socket | None = None, started: float | None = None) -> PostResult:
        """Store a message once; ``socket`` is the one it came from (acked after the commit)."""
        origin = Origin(socket, started if started is not None else trio.current_time()) if socket else None
        return await self.store.post_message(sender, room, client_msg_id, body, rule=permissions.may_post,
                                             origin=origin)

    async def history(self, viewer: Username, room: str, before: int | None, limit: int
                      ) -> tuple[list[MessageRow], bool]:
        """Up to ``limit`` messages older than id ``before``, oldest first, and whether there are more."""
        return await self.store.history(viewer, room, before, limit, rule=permissions.may_read)

    async def mark_read(self, user: Username, room: str, up_to: int) -> int:
        """Move ``user``'s read cursor forward to ``up_to`` (never back); the cursor now."""
        return await self.store.mark_read(user, room, up_to, rule=permissions.may_read)

    async def typing(self, user: Username, room: str, active: bool) -> None:
        """Tell the room's members (ephemeral: nothing is stored)."""
        await self.system.typing(user, room, active)

    async def events(self, user: Username, since: int, limit: int) -> EventsSince:
        """The durable events ``user`` may see after ``since`` (REST catch-up)."""
        page = await self.store.events_for_user(user, since, limit)
        nxt = page.events[-1].seq if page.has_more else Seq(max(since, page.head))
        return EventsSince(epoch=self.store.epoch, page=page, next=nxt)


