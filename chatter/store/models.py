"""Frozen rows returned by the Store.  Never sqlite3.Row or dicts.

``wire()`` turns a row into its ``chatter.wire`` struct: the one declaration
of what clients receive for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NewType

from chatter.errors import ChatError
from chatter.wire import Member, Message, MessageEvent, Reaction, Room

Username = NewType("Username", str)
RoomId = NewType("RoomId", str)
MessageId = NewType("MessageId", int)
Seq = NewType("Seq", int)

Role = Literal["owner", "admin", "member"]
RoomKind = Literal["group", "dm"]
ROLES: tuple[str, ...] = ("owner", "admin", "member")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomFacts:
    """What a permission rule decides on: the rows a store call read inside its own transaction.

    The store reads these and hands them to the caller's rule (``Rule``); it
    never decides itself who may do what (``chatter.service.permissions`` does).
    """

    actor: str  # who acts
    role: str | None  # the actor's role in the room; None when not a member, or no such room
    kind: str | None  # the room's kind, "group" or "dm"; None when ``role`` is None
    target: str | None = None  # the member acted on (role changes, removals)
    target_role: str | None = None  # that member's role; None when they are not in the room
    new_role: str | None = None  # the role being given (adding a member, changing a role)
    author: str | None = None  # the sender of the message acted on (edit, delete, react)

    @property
    def is_self(self) -> bool:
        return self.target == self.actor


# A permission rule: the facts in, None (allowed) or the error to raise out.  Pure; the store calls it
# inside the transaction of the write it guards, so the check and the write cannot race.
Rule = Callable[[RoomFacts], ChatError | None]



@dataclass(frozen=True, slots=True, kw_only=True)
class UserRow:
    username: Username
    name: str
    password_hash: str
    token_version: int
    created_at: str
    last_seen: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRow:
    username: Username
    name: str
    role: Role
    read_up_to: int

    def wire(self) -> Member:
        return Member(username=self.username, name=self.name, role=self.role, read_up_to=self.read_up_to)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionRow:
    emoji: str
    users: tuple[Username, ...]  # in the order they reacted


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRow:
    """A message as it is now.  A tombstone (``deleted``) has body "", no mentions and no reactions."""

    id: MessageId
    seq: Seq
    room: RoomId
    sender: Username
    body: str
    client_msg_id: str
    created_at: str
    edited_at: str | None = None
    deleted: bool = False
    reply_to: MessageId | None = None
    mentions: tuple[Username, ...] = ()  # in order of first appearance
    reactions: tuple[ReactionRow, ...] = ()  # in the order each emoji was first used

    def wire(self) -> Message:
        return Message(id=self.id, seq=self.seq, room=self.room, sender=self.sender, body=self.body,
                       client_msg_id=self.client_msg_id, created_at=self.created_at, edited_at=self.edited_at,
                       deleted=self.deleted, reply_to=self.reply_to, mentions=list(self.mentions),
                       reactions=[Reaction(emoji=r.emoji, users=list(r.users)) for r in self.reactions],
                       attachments=[])

    def event(self) -> MessageEvent:
        """The durable ``message`` event that announces this message (as stored; see ``queries._emit``)."""
        return MessageEvent(seq=self.seq, id=self.id, room=self.room, sender=self.sender, body=self.body,
                            client_msg_id=self.client_msg_id, created_at=self.created_at, edited_at=self.edited_at,
                            deleted=self.deleted, reply_to=self.reply_to, mentions=list(self.mentions),
                            reactions=[Reaction(emoji=r.emoji, users=list(r.users)) for r in self.reactions],
                            attachments=[])


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomRow:
    id: RoomId
    kind: RoomKind
    name: str
    created_at: str
    members: tuple[MemberRow, ...]
    last_message: MessageRow | None
    unread: int
    mentions: int = 0  # unread messages from others that mention the viewer

    def wire(self) -> Room:
        return Room(id=self.id, kind=self.kind, name=self.name, members=[m.wire() for m in self.members],
                    last_message=None if self.last_message is None else self.last_message.wire(),
                    unread=self.unread, created_at=self.created_at, mentions=self.mentions)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    """One durable event: ``data`` is the wire object without ``type`` and ``seq``.

    ``data`` stays a plain dict, as read from the events table: the stored
    format of existing databases, written from a ``chatter.wire`` struct
    (``queries._emit``).  ``wire()`` is the frame exactly as sent.
    ``raw``: the stored JSON text of ``data`` when the row came from (or went
    to) the table, so ``frames.encode_event`` splices the frame instead of
    re-encoding the dict (half the cost of serving a resume); not compared.
    """

    seq: Seq
    room: RoomId
    type: str
    data: dict[str, Any]
    raw: str | None = field(default=None, compare=False, repr=False)

    def wire(self) -> dict[str, Any]:
        return {"type": self.type, "seq": self.seq, **self.data}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage:
    events: tuple[EventRow, ...]
    head: Seq  # the database's last seq when the page was read
    has_more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AroundPage:
    """A message with up to ``limit // 2`` messages on each side, in ascending id order."""

    messages: tuple[MessageRow, ...]
    has_more_before: bool
    has_more_after: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PostResult:
    message: MessageRow
    created: bool  # False when an idempotent repeat returned the original

