"""Request and response shapes, for the generated ``/openapi.json`` only.

Validation does not go through these (``policy`` + ``wire`` do it, with the
protocol's error format); they describe the same rules, so schemathesis can
generate meaningful requests and check our responses against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from quart_schema.openapi import OpenAPIProvider

Username = Annotated[str, Meta(pattern="^[A-Za-z0-9_]{3,32}$")]
Name = Annotated[str, Meta(min_length=1, max_length=64)]
RoomName = Annotated[str, Meta(min_length=1, max_length=100)]
Password = Annotated[str, Meta(min_length=8, max_length=1024)]
Body = Annotated[str, Meta(min_length=1, max_length=4000)]
ClientMsgId = Annotated[str, Meta(min_length=1, max_length=64)]
PositiveInt = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Time = Annotated[str, Meta(description="RFC 3339 UTC with milliseconds")]
Role = Literal["owner", "admin", "member"]


class User(msgspec.Struct):
    username: str
    name: str
    online: bool
    last_seen: Time | None


class Member(msgspec.Struct):
    username: str
    name: str
    role: Role
    read_up_to: int


class Message(msgspec.Struct):
    id: int
    seq: int
    room: str
    sender: str
    body: str
    client_msg_id: str
    created_at: Time


class Room(msgspec.Struct):
    id: str
    kind: Literal["group", "dm"]
    name: str
    members: list[Member]
    last_message: Message | None
    unread: int
    created_at: Time


class ErrorBody(msgspec.Struct):
    code: str
    message: str


class Error(msgspec.Struct):
    error: ErrorBody


class Register(msgspec.Struct):
    username: Username
    name: Name
    password: Password


class UserEnvelope(msgspec.Struct):
    user: User


class Login(msgspec.Struct):
    username: Annotated[str, Meta(max_length=64)]
    password: Annotated[str, Meta(max_length=1024)]


class LoginResult(msgspec.Struct):
    user: User
    token: str
    expires_at: Time


class Rename(msgspec.Struct):
    name: Name


class ChangePassword(msgspec.Struct):
    current: Annotated[str, Meta(max_length=1024)]
    new: Password


class UserSearch(msgspec.Struct):
    q: Annotated[str, Meta(max_length=64)] = ""


class UserList(msgspec.Struct):
    users: list[User]


class RoomList(msgspec.Struct):
    rooms: list[Room]


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


class History(msgspec.Struct):
    messages: list[Message]
    has_more: bool


class PostMessage(msgspec.Struct):
    client_msg_id: ClientMsgId
    body: Body


class MarkRead(msgspec.Struct):
    up_to: PositiveInt


class EventsQuery(msgspec.Struct):
    since: Annotated[int, Meta(ge=0)] = 0
    limit: Annotated[int, Meta(ge=1, le=1000)] = 500


class Event(msgspec.Struct, forbid_unknown_fields=False):
    type: str
    seq: int


class Events(msgspec.Struct):
    epoch: str
    events: list[Event]
    next: int
    has_more: bool


class Health(msgspec.Struct):
    status: str


# Statuses every authenticated /api operation may answer with an Error body.
_ERRORS = {400: "Invalid input", 401: "Not authenticated", 403: "Forbidden (role or CSRF rule)",
           404: "Not found (also: a room you are not in)", 409: "Conflict", 413: "Body too large",
           429: "Rate limited (see Retry-After)", 503: "Unavailable"}
_PUBLIC = {("/api/users", "post"), ("/api/auth/login", "post")}


class ChatterOpenAPI(OpenAPIProvider):
    """quart-schema's generator, plus bodyless responses and the protocol's error responses."""

    def build_response_object(self, model: Any, headers_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if model is None:
            return {"description": "No content"}, {}
        return super().build_response_object(model, headers_model)

    def schema(self) -> dict[str, Any]:
        doc: dict[str, Any] = super().schema()
        error_response, defs = super().build_response_object(Error, None)
        doc.setdefault("components", {}).setdefault("schemas", {}).update(defs)
        error_ref = {"content": error_response["content"]}
        for path, ops in doc.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for method, op in ops.items():
                responses = op.setdefault("responses", {})
                for status, text in _ERRORS.items():
                    responses.setdefault(status, {"description": text, **error_ref})
                if (path, method) in _PUBLIC:
                    op["security"] = []
        return doc
