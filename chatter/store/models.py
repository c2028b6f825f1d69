"""Frozen rows returned by the Store.  Never sqlite3.Row or dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NewType

Username = NewType("Username", str)
RoomId = NewType("RoomId", str)
MessageId = NewType("MessageId", int)
Seq = NewType("Seq", int)

Role = Literal["owner", "admin", "member"]
RoomKind = Literal["group", "dm"]
ROLES: tuple[str, ...] = ("owner", "admin", "member")



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


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRow:
    id: MessageId
    seq: Seq
    room: RoomId
    sender: Username
    body: str
    client_msg_id: str
    created_at: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id, "seq": self.seq, "room": self.room, "sender": self.sender,
            "body": self.body, "client_msg_id": self.client_msg_id, "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomRow:
    id: RoomId
    kind: RoomKind
    name: str
    created_at: str
    members: tuple[MemberRow, ...]
    last_message: MessageRow | None
    unread: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    """One durable event: ``data`` is the wire object without ``type`` and ``seq``."""

    seq: Seq
    room: RoomId
    type: str
    data: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        return {"type": self.type, "seq": self.seq, **self.data}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage:
    events: tuple[EventRow, ...]
    head: Seq  # the database's last seq when the page was read
    has_more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PostResult:
    message: MessageRow
    created: bool  # False when an idempotent repeat returned the original
