"""The frames of ``GET /ws`` (PROTOCOL.md section 4), each declared once.

Every frame is a msgspec Struct tagged on ``"type"``, so ``ServerEvent`` and
``ClientFrame`` are discriminated unions: in ``/openapi.json`` (components
``ServerEvent`` and ``ClientFrame``) and in ``ui/src/wire/generated.ts``.

Server -> client: ``chatter.actors.frames`` builds and encodes every frame
from these structs, except durable events on their way out.  Those are
stored in the events table as JSON (``data``: the frame without ``type``
and ``seq``; the format of existing databases), written from these structs
by the store and sent as stored: ``EventRow.wire()`` is exactly the frame.

Client -> server: the structs describe the frames; ``chatter.http.ws``
parses them with the strict JSON parser and ``chatter.service.validation``, whose error
texts are part of the protocol (a msgspec decode would word them its own
way).  The constraints below say the same as those rules.

Field order is wire order (the keys' order in the JSON object).
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec
from msgspec import Meta

from chatter.wire.rest import (
    Body,
    ClientMsgId,
    Count,
    File,
    Id,
    PositiveInt,
    Reaction,
    Role,
    RoomId,
    RoomKind,
    Time,
    User,
)

# A reaction: exactly one emoji sequence (checked by the server against the Unicode emoji data).
Emoji = Annotated[str, Meta(min_length=1, max_length=32, description="exactly one emoji")]

# -- client -> server ----------------------------------------------------------


class HelloFrame(msgspec.Struct, tag_field="type", tag="hello"):
    """Must be the first frame. With ``since`` (and the ``epoch`` it belongs to) the socket resumes."""

    since: Count | None = None
    epoch: Annotated[str, Meta(max_length=64)] | None = None


class SendFrame(msgspec.Struct, tag_field="type", tag="send"):
    """Post a message; answered by ``ack`` once it is committed (idempotent per ``client_msg_id``)."""

    room: RoomId
    client_msg_id: ClientMsgId
    body: Body
    reply_to: Annotated[PositiveInt, Meta(description="a message of the same room that is not deleted")] | None = None


class EditFrame(msgspec.Struct, tag_field="type", tag="edit"):
    """Change the body of your message; answered by the durable ``message_updated`` (nothing if unchanged)."""

    room: RoomId
    id: PositiveInt
    body: Body


class DeleteFrame(msgspec.Struct, tag_field="type", tag="delete"):
    """Delete a message (yours, or any as the room's owner or an admin); answered by ``message_deleted``."""

    room: RoomId
    id: PositiveInt


class ReactFrame(msgspec.Struct, tag_field="type", tag="react"):
    """Add (``on``) or remove your reaction; answered by ``reaction`` (nothing if already so)."""

    room: RoomId
    id: PositiveInt
    emoji: Emoji
    on: bool


class TypingFrame(msgspec.Struct, tag_field="type", tag="typing"):
    room: RoomId
    active: bool


class ReadFrame(msgspec.Struct, tag_field="type", tag="read"):
    """Move your read cursor forward to ``up_to`` (clamped to the newest message)."""

    room: RoomId
    up_to: PositiveInt


class PingFrame(msgspec.Struct, tag_field="type", tag="ping"):
    """Answered by ``pong``."""


ClientFrame: TypeAlias = (HelloFrame | SendFrame | TypingFrame | ReadFrame | PingFrame | EditFrame | DeleteFrame
                          | ReactFrame)


# -- server -> client: answers and ephemeral events ----------------------------


class ReadyEvent(msgspec.Struct, tag_field="type", tag="ready"):
    """The answer to ``hello``: the database's epoch and head, you, and who of your contacts is online."""

    epoch: str
    seq: Count
    user: User
    online: list[str]


class AckEvent(msgspec.Struct, tag_field="type", tag="ack"):
    """Your ``send`` is committed (also the answer to a repeated ``send``: the original's id and seq)."""

    client_msg_id: str
    id: Id
    seq: Id
    room: str
    created_at: Time


class TypingEvent(msgspec.Struct, tag_field="type", tag="typing"):
    room: str
    user: str
    active: bool


class PresenceEvent(msgspec.Struct, tag_field="type", tag="presence"):
    user: str
    online: bool
    last_seen: Time | None


class ResetEvent(msgspec.Struct, tag_field="type", tag="reset"):
    """Drop every cache, reload over REST and carry on from ``seq``."""

    epoch: str
    seq: Count


class ErrorEvent(msgspec.Struct, tag_field="type", tag="error"):
    """A refused frame. ``ref``: the ``client_msg_id`` of a ``send`` when valid, else the frame's type."""

    code: str
    message: str
    ref: str | None


class PongEvent(msgspec.Struct, tag_field="type", tag="pong"):
    """The answer to ``ping``."""


# -- server -> client: durable events (stored, with a seq) ----------------------


class _Durable(msgspec.Struct, tag_field="type"):
    """A durable event: ``seq`` is its position in the database, strictly increasing in commit order."""

    seq: Id


class MessageEvent(_Durable, tag="message"):
    """A new message: all of ``Message``.  Stored as sent; a deleted message's is rewritten as its tombstone."""

    id: Id
    room: str
    sender: str
    body: str
    client_msg_id: str
    created_at: Time
    edited_at: Time | None
    deleted: bool
    reply_to: Id | None
    mentions: list[str]
    reactions: list[Reaction]
    attachments: list[File]


class MessageUpdatedEvent(_Durable, tag="message_updated"):
    """A message's body was edited; ``mentions`` are recomputed from it."""

    room: str
    id: Id
    body: str
    edited_at: Time
    mentions: list[str]


class MessageDeletedEvent(_Durable, tag="message_deleted"):
    """The message is now a tombstone: body "", no mentions, reactions or attachments."""

    room: str
    id: Id


class ReactionEvent(_Durable, tag="reaction"):
    """``user`` added (``on``) or removed their ``emoji`` on message ``id``."""

    room: str
    id: Id
    emoji: str
    user: str
    on: bool


class ReadEvent(_Durable, tag="read"):
    room: str
    user: str
    up_to: Count


class MemberAddedEvent(_Durable, tag="member_added"):
    """Also about yourself (a room you were added to); ``name`` is the member's, ``room_name`` the room's."""

    room: str
    username: str
    role: Role
    name: str
    room_name: str
    kind: RoomKind


class MemberRemovedEvent(_Durable, tag="member_removed"):
    room: str
    username: str


class MemberUpdatedEvent(_Durable, tag="member_updated"):
    """A member's role changed (also both sides of an ownership transfer)."""

    room: str
    username: str
    role: Role


class RoomUpdatedEvent(_Durable, tag="room_updated"):
    room: str
    id: str
    kind: RoomKind
    name: str
    created_at: Time


class RoomDeletedEvent(_Durable, tag="room_deleted"):
    room: str


DurableEvent: TypeAlias = (MessageEvent | ReadEvent | MemberAddedEvent | MemberRemovedEvent | MemberUpdatedEvent
                           | RoomUpdatedEvent | RoomDeletedEvent | MessageUpdatedEvent | MessageDeletedEvent
                           | ReactionEvent)
ServerEvent: TypeAlias = (ReadyEvent | AckEvent | DurableEvent | TypingEvent | PresenceEvent | ResetEvent
                          | ErrorEvent | PongEvent)


def tag(frame: msgspec.Struct) -> str:
    """A frame's ``type``."""
    return str(frame.__struct_config__.tag)


DURABLE_TYPES: frozenset[str] = frozenset(str(t.__struct_config__.tag) for t in DurableEvent.__args__)


class Events(msgspec.Struct):
    """``GET /api/events``: the durable events after ``since``, as the socket would have sent them."""

    epoch: str
    events: list[DurableEvent]
    next: Count
    has_more: bool
