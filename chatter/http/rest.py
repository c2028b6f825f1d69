"""REST resources of PROTOCOL.md sections 2 and 3 (all under ``/api``).

Each view: authenticate, parse and validate (``chatter.service.validation``),
call one use case (``chatter.service``), serialise.  No try/except here:
``app.py`` maps every ``ChatError`` to its status and JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Blueprint, Response, current_app, request
from quart_schema import document_querystring, document_request, document_response

from chatter import wire as s
from chatter.actors.system import ChatSystem
from chatter.config import Config
from chatter.errors import Invalid
from chatter.http.authn import Caller, check_browser_write, check_csrf, identify
from chatter.http.proxies import client
from chatter.http.wire import field, parse_object
from chatter.service import Service, search, validation
from chatter.store.models import MemberRow, RoomRow, Username, UserRow

api = Blueprint("api", __name__, url_prefix="/api")


@dataclass
class Deps:
    """What the views need, attached to the app as ``app.extensions['chatter']``."""

    cfg: Config  # the whole Config: views read server.* and auth.*
    system: ChatSystem  # the running actors: sockets and presence
    secret: str  # the JWT key (the use cases hold it too; tests sign tokens with it)
    service: Service  # every use case


def deps() -> Deps:
    return current_app.extensions["chatter"]  # type: ignore[no-any-return]


# -- helpers ------------------------------------------------------------------


def json(data: Any, status: int = 200) -> Response:
    """A JSON response of ``chatter.wire`` structs (or plain data holding them)."""
    return Response(s.encode(data), status=status, mimetype="application/json")


def no_content() -> Response:
    return Response("", status=204)


async def body() -> dict[str, Any]:
    raw = await request.get_data(cache=False, as_text=False)
    if not raw:
        raise Invalid("request body must be a JSON object")
    return parse_object(raw)


async def caller() -> Caller:
    d = deps()
    who = await identify(d.service.accounts, request.headers, request.cookies, d.cfg.auth.cookie_name)
    if who.via_cookie:
        check_csrf(request.method, request.headers, d.cfg.server.allowed_origins, scheme=request_scheme())
    return who


def client_ip() -> str:
    """The client's address, through trusted proxies (``chatter.http.proxies``)."""
    return client(request).address


def request_scheme() -> str:
    """``http`` or ``https``, as the client sees it (a trusted proxy's header counts)."""
    return client(request).scheme


def browser_write_check() -> None:
    """Register, login and reset must be JSON from our own origin, like cookie writes (login CSRF)."""
    check_browser_write(request.headers, deps().cfg.server.allowed_origins, scheme=request_scheme())


# Rows to their wire structs (declared in chatter.wire; the User needs presence, so the system builds it).


def user_json(row: UserRow) -> s.User:
    return deps().system.user_wire(row)


def member_json(m: MemberRow) -> s.Member:
    return m.wire()


def room_json(r: RoomRow) -> s.Room:
    return r.wire()


# -- accounts -----------------------------------------------------------------


@api.post("/users")
@document_request(s.Register)
@document_response(s.UserEnvelope, 201)
async def register() -> Response:
    accounts = deps().service.accounts
    browser_write_check()
    ip = client_ip()
    accounts.admit_registration(ip)
    data = await body()
    username = validation.username(field(data, "username"))
    name = validation.display_name(field(data, "name"))
    password = validation.password(field(data, "password"))
    user = await accounts.register(username, name, password, ip=ip)
    return json({"user": user_json(user)}, 201)


@api.post("/auth/login")
@document_request(s.Login)
@document_response(s.LoginResult, 200)
async def login() -> Response:
    accounts = deps().service.accounts
    browser_write_check()
    ip = client_ip()
    accounts.admit_login(ip)
    data = await body()
    username, password = validation.credentials(field(data, "username"), field(data, "password"))
    done = await accounts.login(username, password, ip=ip, via=request.path)
    resp = json({"user": user_json(done.user), "token": done.token, "expires_at": done.expires_at})
    set_session_cookie(resp, done.token)
    return resp


def set_session_cookie(resp: Response, token: str) -> None:
    d = deps()
    secure = not (d.cfg.server.dev and request_scheme() == "http")
    resp.set_cookie(d.cfg.auth.cookie_name, token, max_age=int(d.cfg.auth.token_ttl), httponly=True,
                    samesite="Strict", secure=secure, path="/")


@api.post("/auth/logout")
@document_response(None, 204)
async def logout() -> Response:
    who = await caller()
    await deps().service.accounts.logout(who.user.username)
    resp = no_content()
    resp.delete_cookie(deps().cfg.auth.cookie_name, path="/", httponly=True, samesite="Strict")
    return resp


@api.get("/me")
@document_response(s.User, 200)
async def me() -> Response:
    who = await caller()
    return json(user_json(who.user))


@api.patch("/me")
@document_request(s.Rename)
@document_response(s.User, 200)
async def rename_me() -> Response:
    who = await caller()
    name = validation.display_name(field(await body(), "name"))
    return json(user_json(await deps().service.accounts.rename(who.user.username, name)))


@api.post("/me/password")
@document_request(s.ChangePassword)
@document_response(None, 204)
async def change_password() -> Response:
    """Other sessions are logged out; a cookie session gets a fresh cookie and keeps its sockets.

    A bearer caller's token stops working too (it cannot be handed a new one
    in a 204): it logs in again. A wrong current password is 403, not 401:
    the caller's session is fine, the request is refused.  Guessing
    ``current`` is limited exactly like logging in (the same ``LoginGuard``
    budget), and one user's checks take one bcrypt thread at a time.
    """
    who = await caller()
    data = await body()
    current, new = field(data, "current"), field(data, "new")
    current = validation.current_password(current)
    new = validation.password(new, "new")
    keep = who.claims.sid if who.via_cookie and who.claims.sid else None
    token = await deps().service.accounts.change_password(who.session, current, new, keep_sid=keep, ip=client_ip(),
                                                          via=request.path)
    resp = no_content()
    if token is not None:
        set_session_cookie(resp, token)
    return resp


@api.get("/users")
@document_querystring(s.UserSearch)
@document_response(s.UserList, 200)
async def search_users() -> Response:
    await caller()
    q = request.args.get("q", "")
    if len(q) > 64:
        raise Invalid("q must be at most 64 characters")
    rows = await deps().service.accounts.search(q.strip().lower())
    return json({"users": [user_json(r) for r in rows]})


@api.get("/users/<username>")
@document_response(s.User, 200)
async def get_user(username: str) -> Response:
    await caller()
    return json(user_json(await deps().service.accounts.profile(username)))


# -- rooms --------------------------------------------------------------------


def _room_path(room: str) -> str:
    return validation.room_id(room)


@api.get("/rooms")
@document_response(s.RoomList, 200)
async def list_rooms() -> Response:
    who = await caller()
    rooms = await deps().service.rooms.of(who.user.username)
    return json({"rooms": [room_json(r) for r in rooms]})


@api.post("/rooms")
@document_request(s.CreateRoom)
@document_response(s.Room, 201)
async def create_room() -> Response:
    who = await caller()
    data = await body()
    name = validation.room_name(field(data, "name"))
    raw_members = data.get("members", [])
    if not isinstance(raw_members, list):
        raise Invalid("members must be a list of usernames")
    if len(raw_members) > validation.MAX_CREATE_MEMBERS:
        raise Invalid(f"at most {validation.MAX_CREATE_MEMBERS} members at creation")
    members = [validation.username(m, "members[]") for m in raw_members]
    room = await deps().service.rooms.create_group(who.user.username, name, members)
    return json(room_json(room), 201)


@api.post("/dms")
@document_request(s.OpenDm)
@document_response(s.Room, 200)
@document_response(s.Room, 201)
async def open_dm() -> Response:
    who = await caller()
    other = validation.username(field(await body(), "username"))
    room, created = await deps().service.rooms.open_dm(who.user.username, other)
    return json(room_json(room), 201 if created else 200)


@api.get("/rooms/<room>")
@document_response(s.Room, 200)
async def get_room(room: str) -> Response:
    who = await caller()
    return json(room_json(await deps().service.rooms.get(_room_path(room), who.user.username)))


@api.patch("/rooms/<room>")
@document_request(s.RenameRoom)
@document_response(s.Room, 200)
async def rename_room(room: str) -> Response:
    who = await caller()
    name = validation.room_name(field(await body(), "name"))
    return json(room_json(await deps().service.rooms.rename(who.user.username, _room_path(room), name)))


@api.delete("/rooms/<room>")
@document_response(None, 204)
async def delete_room(room: str) -> Response:
    who = await caller()
    await deps().service.rooms.delete(who.user.username, _room_path(room))
    return no_content()


@api.post("/rooms/<room>/members")
@document_request(s.AddMember)
@document_response(s.Member, 201)
async def add_member(room: str) -> Response:
    who = await caller()
    data = await body()
    username = validation.username(field(data, "username"))
    role = validation.role(data.get("role", "member"), ("member", "admin"))
    member = await deps().service.rooms.add_member(who.user.username, _room_path(room), username, role)
    return json(member_json(member), 201)


@api.patch("/rooms/<room>/members/<username>")
@document_request(s.SetRole)
@document_response(s.Member, 200)
async def set_role(room: str, username: str) -> Response:
    who = await caller()
    role = validation.role(field(await body(), "role"), ("owner", "admin", "member"))
    member = await deps().service.rooms.set_role(who.user.username, _room_path(room), validation.username(username),
                                                 role)
    return json(member_json(member))


@api.delete("/rooms/<room>/members/<username>")
@document_response(None, 204)
async def remove_member(room: str, username: str) -> Response:
    who = await caller()
    await deps().service.rooms.remove_member(who.user.username, _room_path(room), validation.username(username))
    return no_content()


@api.get("/rooms/<room>/messages")
@document_querystring(s.HistoryQuery)
@document_response(s.History, 200)
async def history(room: str) -> Response:
    who = await caller()
    before = validation.query_int(request.args.get("before"), "before", default=None, minimum=1, maximum=2**63 - 1)
    limit = validation.query_int(request.args.get("limit"), "limit", default=validation.HISTORY_DEFAULT, minimum=1,
                             maximum=validation.HISTORY_MAX)
    assert limit is not None
    messages, has_more = await deps().service.messages.history(who.user.username, _room_path(room), before, limit)
    return json({"messages": [m.wire() for m in messages], "has_more": has_more})


@api.post("/rooms/<room>/messages")
@document_request(s.PostMessage)
@document_response(s.Message, 201)
async def post_message(room: str) -> Response:
    """Same idempotency as the socket's send: a repeat returns the original (201 again)."""
    who = await caller()
    data = await body()
    cmid = validation.client_msg_id(field(data, "client_msg_id"))
    text = validation.body(field(data, "body"))
    result = await deps().service.messages.send(who.user.username, _room_path(room), cmid, text)
    return json(result.message.wire(), 201)


@api.post("/rooms/<room>/read")
@document_request(s.MarkRead)
@document_response(None, 204)
async def mark_read(room: str) -> Response:
    who = await caller()
    up_to = validation.positive_int(field(await body(), "up_to"), "up_to")
    await deps().service.messages.mark_read(who.user.username, _room_path(room), up_to)
    return no_content()


@api.get("/events")
@document_querystring(s.EventsQuery)
@document_response(s.Events, 200)
async def events() -> Response:
    who = await caller()
    since = validation.query_int(request.args.get("since"), "since", default=0, minimum=0, maximum=2**63 - 1)
    limit = validation.query_int(request.args.get("limit"), "limit", default=500, minimum=1, maximum=1000)
    assert since is not None and limit is not None
    got = await deps().service.messages.events(Username(who.user.username), since, limit)
    return json({"epoch": got.epoch, "events": [e.wire() for e in got.page.events], "next": got.next,
                 "has_more": got.page.has_more})


@api.get("/search")
@document_querystring(s.SearchQuery)
@document_response(s.SearchResults, 200)
async def search_messages() -> Response:
    """PROTOCOL 11; the query language and its 400s are ``chatter.service.search``'s."""
    who = await caller()
    args = request.args
    room = args.get("room") or None
    sender = args.get("from") or None
    before, after, cursor = args.get("before") or None, args.get("after") or None, args.get("cursor") or None
    limit = validation.query_int(args.get("limit"), "limit", default=search.LIMIT_DEFAULT, minimum=1,
                                 maximum=search.LIMIT_MAX)
    assert limit is not None
    found = await deps().service.search.search(
        who.user.username, args.get("q", ""), room=None if room is None else _room_path(room),
        sender=None if sender is None else validation.username(sender, "from"),
        before=None if before is None else search.parse_time(before, "before"),
        after=None if after is None else search.parse_time(after, "after"), limit=limit, cursor=cursor)
    return json(s.SearchResults(results=[s.SearchResult(message=m.wire(), snippet=[list(p) for p in snip])
                                         for m, snip in found.results], next=found.next, indexing=found.indexing))
