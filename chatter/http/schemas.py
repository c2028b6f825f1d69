"""Request and response shapes, for the generated ``/openapi.json`` only.

Validation does not go through these (``policy`` + ``wire`` do it, with the
protocol's error format); they describe the same rules, so schemathesis can
generate meaningful requests and check our responses against them.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from quart_schema.openapi import OpenAPIProvider

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


class ResetPassword(msgspec.Struct):
    token: Annotated[str, Meta(min_length=1, max_length=256, description="the text after # in the reset link")]
    new: Password


# Statuses every /api operation may answer with an Error body (PROTOCOL.md section 1).
_ERRORS = {400: "Invalid input", 401: "Not authenticated", 403: "Forbidden (role or CSRF rule)",
           404: "Not found (also: a room you are not in)", 409: "Conflict", 413: "Body too large",
           429: "Rate limited (see Retry-After)", 503: "Unavailable"}
# Operations that need no session; they answer 401 only for wrong credentials.
_PUBLIC = {("/api/users", "post"), ("/api/auth/login", "post"), ("/api/auth/reset", "post")}
_REF = "#/components/schemas/{name}"
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "room": {"type": "string", "minLength": 1, "maxLength": 64, "description": "room id"},
    "username": {"type": "string", "pattern": "^[A-Za-z0-9_]{3,32}$"},
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}


class ChatterOpenAPI(OpenAPIProvider):
    """quart-schema's generator with every shape in ``components.schemas``.

    quart-schema 0.25 with msgspec keeps only the top-level schema of each
    model and drops the ones it refers to, so its document had 176 dangling
    ``$ref``s.  Here every body is a ``$ref`` and ``components.schemas`` is
    built once by ``msgspec.json.schema_components`` from every model the
    routes use (plus ``Error``).  Also added: bodyless responses, the
    protocol's error responses (with ``Retry-After`` on 429), path parameter
    constraints, and ``security: []`` on the operations that need no session.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._models: set[type] = {Error}

    def _ref(self, model: type) -> dict[str, str]:
        self._models.add(model)
        return {"$ref": _REF.format(name=model.__name__)}

    def build_path_parameter(self, name: str, converter: Any) -> dict[str, Any]:
        param = super().build_path_parameter(name, converter)
        if name in _PATH_PARAMETERS:
            param["schema"] = dict(_PATH_PARAMETERS[name])
        return param

    def build_request_body(self, model: Any, source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"required": True, "content": {"application/json": {"schema": self._ref(model)}}}, {}

    def build_response_object(self, model: Any, headers_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if model is None:
            return {"description": "No content"}, {}
        doc = (model.__doc__ or "").strip()
        return {"description": doc or model.__name__,
                "content": {"application/json": {"schema": self._ref(model)}}}, {}

    def schema(self) -> dict[str, Any]:
        doc: dict[str, Any] = super().schema()
        error = {"content": {"application/json": {"schema": self._ref(Error)}}}
        doc["paths"]["/metrics"] = {"get": {
            "operationId": "get_metrics", "summary": "Prometheus metrics (text exposition format)",
            "description": "Open in dev mode; otherwise needs metrics.token as a bearer token, or metrics.public.",
            "security": [{"metrics": []}, {}],
            "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                          "401": {"description": "metrics.token is set and was not given", **error},
                          "403": {"description": "not public outside dev mode", **error}}}}
        doc["components"].setdefault("securitySchemes", {})["metrics"] = {
            "type": "http", "scheme": "bearer", "description": "the metrics.token setting"}
        for path, ops in doc.get("paths", {}).items():
            for method, op in ops.items():
                op["responses"] = responses = {str(k): v for k, v in op.get("responses", {}).items()}
                if path.startswith("/api/"):
                    for status, text in _ERRORS.items():
                        responses.setdefault(str(status), {"description": text, **error})
                    responses["429"]["headers"] = _RETRY_AFTER
                if (path, method) in _PUBLIC or path == "/healthz":
                    op["security"] = []
        _, components = msgspec.json.schema_components(sorted(self._models, key=lambda m: m.__name__),
                                                        ref_template=_REF)
        doc.setdefault("components", {})["schemas"] = dict(sorted(components.items()))
        return doc
