"""Messages and reads: send, history, read cursors, typing, and the event log's pages.

Messages people work with (PROTOCOL 10): edit, delete, react, replies
(``reply_to`` on send), the ``around`` page and the mentions page.  Each
write is one durable event through the one writer (none for a no-op); the
rules are ``chatter.service.permissions``'s, applied by the store inside the
write.  Input arrives clean (``validation.body`` for bodies; the store
normalises and checks emoji itself, since it compares them).

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
from chatter.store.models import AroundPage, EventPage, MessageRow, PostResult, Seq, Username


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
                   socket: Socket | None = None, started: float | None = None, reply_to: int | None = None
                   ) -> PostResult:
        """Store a message once; ``socket`` is the one it came from (acked after the commit).

        ``reply_to``: a message of the same room that is not deleted (else Invalid).
        """
        origin = Origin(socket, started if started is not None else trio.current_time()) if socket else None
        return await self.store.post_message(sender, room, client_msg_id, body, rule=permissions.may_post,
                                             origin=origin, reply_to=reply_to)

    async def edit(self, actor: Username, room: str, message_id: int, body: str) -> MessageRow:
        """The message with its new body (unchanged, and no event, if the body is the same); author only."""
        return await self.store.edit_message(actor, room, message_id, body, rule=permissions.may_edit_message)

    async def delete(self, actor: Username, room: str, message_id: int) -> bool:
        """Tombstone the message (author, owner or admin); False, and no event, if it already was."""
        return await self.store.delete_message(actor, room, message_id, rule=permissions.may_delete_message)

    async def react(self, actor: Username, room: str, message_id: int, emoji: str, on: bool) -> bool:
        """Set ``actor``'s ``emoji`` reaction on or off; False, and no event, if it already was so."""
        return await self.store.set_reaction(actor, room, message_id, emoji, on, rule=permissions.may_react)

    async def around(self, viewer: Username, room: str, message_id: int, limit: int) -> AroundPage:
        """The message with up to ``limit // 2`` messages on each side (jumping to a reply's original)."""
        return await self.store.messages_around(viewer, room, message_id, limit, rule=permissions.may_read)

    async def mentions(self, viewer: Username, before: int | None, limit: int) -> tuple[list[MessageRow], bool]:
        """The newest messages from others that mention ``viewer``, in rooms they are in; oldest first."""
        return await self.store.mentions(viewer, before, limit)

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


