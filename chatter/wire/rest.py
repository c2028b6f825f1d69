"""REST request and response bodies (PROTOCOL.md sections 1-3), each declared once.

Responses are built from these structs and encoded by msgspec, so what a
client receives is what is declared here; ``/openapi.json`` and the UI's
``ui/src/wire/generated.ts`` are both generated from them.

Requests are *described* here, not validated here: ``chatter.service.validation`` and
``chatter.http.wire`` check every body with the protocol's own error texts
(which tests and clients rely on).  The constraints below state the same
rules, so schemathesis generates meaningful requests and a client can check
its input before sending it.

``GET /api/events`` answers with socket events: its body, ``Events``, is
declared in ``socket.py`` next to them.

Field order is wire order: it is the order of the keys in each JSON object
(kept as it was when these bodies were hand-built dicts).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Username = Annotated[str, Meta(pattern="^[A-Za-z0-9_]{3,32}$")]


def _name_pattern() -> str:
    """``policy._text`` as a regex: something besides spaces, none of the characters names refuse.

    Only the Basic Multilingual Plane is listed (``\\uXXXX`` reads the same in
    Python, ECMA-262 and Rust regexes), and no surrogates (an ECMA regex
    without the u flag sees an emoji as two); the server also refuses the
    few astral format characters (and keeps emoji tag sequences).
    """
    bad = [cp for cp in range(0x10000) if unicodedata.category(chr(cp)) in ("Cc", "Zl", "Zp")
           or (unicodedata.category(chr(cp)) == "Cf" and cp not in (0x200C, 0x200D))]
    ranges: list[tuple[int, int]] = []
    for cp in bad:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    cls = "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return f"^[^{cls}]*[^\\s{cls}][^{cls}]*$"


NAME_PATTERN = _name_pattern()
Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=NAME_PATTERN,
                           description="no control, bidirectional or invisible format characters; not blank")]
RoomName = Annotated[str, Meta(min_length=1, max_length=100, pattern=NAME_PATTERN,
                               description="no control, bidirectional or invisible format characters; not blank")]
Password = Annotated[str, Meta(min_length=8, max_length=1024,
                               description="any Unicode; the most common passwords are refused (400)")]
Body = Annotated[str, Meta(min_length=1, max_length=4000, pattern="^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
                           description="not blank, no NUL; trailing whitespace is trimmed")]
ClientMsgId = Annotated[str, Meta(min_length=1, max_length=64)]
RoomId = Annotated[str, Meta(min_length=1, max_length=64, description="room id")]
PositiveInt = Annotated[int, Meta(ge=1, le=2**63 - 1)]
# Ids and positions the server sends: message ids and seq start at 1; a read
# cursor, an unread count or the head of an empty database may be 0.
Id = Annotated[int, Meta(ge=1)]
Count = Annotated[int, Meta(ge=0)]
Time = Annotated[str, Meta(description="RFC 3339 UTC with milliseconds")]
# A time a client sends (search filters): RFC 3339 with a zone, seconds and fraction optional.
QueryTime = Annotated[str, Meta(pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?"
                                        "([Zz]|[+-][0-9]{2}:[0-9]{2})$", description="RFC 3339")]
Role = Literal["owner", "admin", "member"]
RoomKind = Literal["group", "dm"]


# -- what the server sends -------------------------------------------------------


class User(msgspec.Struct):
    username: str
    name: str
    online: bool
    last_seen: Time | None


class Member(msgspec.Struct):
    username: str
    name: str
    role: Role
    read_up_to: Count


class Reaction(msgspec.Struct):
    """One emoji on a message and who reacted with it, in the order they did."""

    emoji: str
    users: list[str]


class File(msgspec.Struct):
    """An uploaded file (PROTOCOL section 12); no message carries one yet."""

    id: str
    name: str
    size: Count
    content_type: str
    width: Count | None
    height: Count | None


class Message(msgspec.Struct):
    """A message as it is now: edited body, or a tombstone (``deleted``, body "", no mentions or reactions)."""

    id: Id
    seq: Id
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


class Room(msgspec.Struct):
    id: str
    kind: RoomKind
    name: str
    members: list[Member]
    last_message: Message | None
    unread: Count
    created_at: Time
    mentions: Count  # unread messages (after your read_up_to) that mention you


class ErrorBody(msgspec.Struct):
    code: str
    message: str


class Error(msgspec.Struct):
    error: ErrorBody


class UserEnvelope(msgspec.Struct):
    user: User


class LoginResult(msgspec.Struct):
    user: User
    token: str
    expires_at: Time


class UserList(msgspec.Struct):
    users: list[User]


class RoomList(msgspec.Struct):
    rooms: list[Room]


class History(msgspec.Struct):
    messages: list[Message]
    has_more: bool


class HistoryAround(msgspec.Struct):
    """``GET /rooms/{id}/messages?around=``: the message with up to ``limit``/2 on each side."""

    messages: list[Message]
    has_more_before: bool
    has_more_after: bool


class MentionList(msgspec.Struct):
    """``GET /mentions``: the newest messages that mention you, in ascending id order (like ``History``)."""

    messages: list[Message]
    has_more: bool


# [text, matched]: a piece of the body as plain text, and whether it is part of a match.
SnippetPiece = Annotated[list[str | bool], Meta(min_length=2, max_length=2,
                                                description="[text, matched]: a string, then a boolean")]


class SearchResult(msgspec.Struct):
    """One match: the message as it is now, and the matched part of its body as plain-text pieces."""

    message: Message
    snippet: list[SnippetPiece]


class SearchResults(msgspec.Struct):
    """``GET /search``: newest first; ``next`` pages on (null: no more); ``indexing``: older matches may be missing."""

    # ``indexing`` is Chatter's addition (docs/PROTOCOL.md 5.9): the index of an upgraded database is still
    # being built, newest messages first.

    results: list[SearchResult]
    next: str | None
    indexing: bool


class Health(msgspec.Struct):
    status: str


# -- what clients send -----------------------------------------------------------


class Register(msgspec.Struct):
    username: Username
    name: Name
    password: Password


class Login(msgspec.Struct):
    username: Annotated[str, Meta(max_length=64)]
    password: Annotated[str, Meta(max_length=1024)]


class Rename(msgspec.Struct):
    name: Name


class ChangePassword(msgspec.Struct):
    current: Annotated[str, Meta(max_length=1024)]
    new: Password


class UserSearch(msgspec.Struct):
    q: Annotated[str, Meta(max_length=64)] = ""


class CreateRoom(msgspec.Struct):
    name: RoomName
    members: Annotated[list[Username], Meta(max_length=1000)] = []


class OpenDm(msgspec.Struct):
    username: Username


class RenameRoom(msgspec.Struct):
    name: RoomName


class AddMember(msgspec.Struct):
    username: Username
    role: Literal["member", "admin"] = "member"


class SetRole(msgspec.Struct):
    role: Role


class HistoryQuery(msgspec.Struct):
    before: Annotated[int, Meta(ge=1)] | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class AroundQuery(msgspec.Struct):
    """``GET /rooms/{id}/messages?around=``: instead of ``before``, a message and its context."""

    around: PositiveInt
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class PostMessage(msgspec.Struct):
    # PROTOCOL 10's optional ``reply_to`` (the store and the socket's SendFrame take it) joins this
    # body with the route that reads it: /openapi.json must not promise what the route ignores.
    client_msg_id: ClientMsgId
    body: Body


class EditMessage(msgspec.Struct):
    body: Body


class MentionsQuery(msgspec.Struct):
    before: Annotated[int, Meta(ge=1)] | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class SearchQuery(msgspec.Struct):
    """``GET /search``: words, "phrases" and the filters from:, in:#room, before:, after: (docs/PROTOCOL.md 5.9)."""

    q: Annotated[str, Meta(min_length=1, max_length=256)]
    room: RoomId | None = None
    from_: Username | None = msgspec.field(default=None, name="from")
    before: QueryTime | None = None
    after: QueryTime | None = None
    limit: Annotated[int, Meta(ge=1, le=100)] = 20
    cursor: Annotated[str, Meta(min_length=1, max_length=32, description="a next value")] | None = None


class MarkRead(msgspec.Struct):
    up_to: PositiveInt


class EventsQuery(msgspec.Struct):
    since: Annotated[int, Meta(ge=0)] = 0
    limit: Annotated[int, Meta(ge=1, le=1000)] = 500


class ResetPassword(msgspec.Struct):
    token: Annotated[str, Meta(min_length=1, max_length=256, description="the text after # in the reset link")]
    new: Password
