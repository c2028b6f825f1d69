"""REST resources of PROTOCOL.md sections 2 and 3 (all under ``/api``).

Each view: authenticate, parse and validate, call one ``ChatSystem`` (or
store read) method, serialise.  No try/except here: ``app.py`` maps every
``ChatError`` to its status and JSON body.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import trio
from quart import Blueprint, Response, current_app, request
from quart_schema import document_querystring, document_request, document_response

from chatter import auth, policy
from chatter import wire as s
from chatter.actors.system import ChatSystem
from chatter.config import Config
from chatter.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthenticated
from chatter.http.authn import Caller, check_browser_write, check_csrf, identify
from chatter.http.proxies import client
from chatter.http.wire import field, parse_object
from chatter.ratelimit import LoginGuard, RateLimiter, Verdict
from chatter.store.models import MemberRow, RoomRow, Username, UserRow

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api")


@dataclass
class Deps:
    """What the views need, attached to the app as ``app.extensions['chatter']``."""

    cfg: Config  # the whole tree: views read server.* and auth.*
    system: ChatSystem
    secret: str
    passwords: auth.Passwords
    guard: LoginGuard  # every password check: login and POST /me/password
    register_ip: RateLimiter


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
    who = await identify(d.system.store, d.secret, request.headers, request.cookies, d.cfg.auth.cookie_name)
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


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _limited(limiter: RateLimiter, key: object, now: float, what: str) -> None:
    wait = limiter.retry_after(key, now)
    if wait is not None:
        raise RateLimited(f"too many {what}; try again in {int(wait) + 1} s", retry_after=wait)


def _refuse(verdict: Verdict) -> None:
    wait = verdict.retry_after
    if wait is None:
        return
    deps().system.metrics.login_refused.inc(limit=verdict.limit)
    what = ("attempts from this address" if verdict.limit == "address"
            else "failed attempts for this account from this address")
    raise RateLimited(f"too many {what}; try again in {int(wait) + 1} s", retry_after=wait)


async def verify_password(account: str, password: str, hashed: str | None, *, fair_key: object) -> bool:
    """Check a password under ``LoginGuard``: refused (429), delayed, then bcrypt in a fair slot.

    The delay is slept before taking a bcrypt slot, so a slowed guesser holds
    no thread.  The pair limit is checked again inside the slot: failures
    recorded while this request queued (parallel guesses) count.
    """
    d = deps()
    ip = client_ip()
    verdict = d.guard.attempt(account, ip, time.monotonic())
    _refuse(verdict)
    if verdict.delay > 0:
        d.system.metrics.login_delayed.inc()
        await trio.sleep(verdict.delay)
    ok = await d.passwords.check(password, hashed, key=fair_key,
                                 gate=lambda: _refuse(d.guard.pair_verdict(account, ip, time.monotonic())))
    if ok:
        d.guard.succeeded(account, ip)
    else:
        d.guard.failed(account, ip, time.monotonic())
        log.info("wrong password for %r from %s (%s)", account[:64], ip, request.path)
    return ok


# -- accounts -----------------------------------------------------------------


@api.post("/users")
@document_request(s.Register)
@document_response(s.UserEnvelope, 201)
async def register() -> Response:
    d = deps()
    browser_write_check()
    ip = client_ip()
    now = time.monotonic()
    _limited(d.register_ip, ip, now, "registrations from this address")
    data = await body()
    username = policy.username(field(data, "username"))
    name = policy.display_name(field(data, "name"))
    password = policy.password(field(data, "password"))
    if await d.system.store.get_user(username) is not None:
        raise Conflict(f"username {username!r} is taken")
    d.register_ip.hit(ip, now)
    hashed = await d.passwords.hash(password, key=("address", ip))
    user = await d.system.store.create_user(username, name, hashed)
    return json({"user": user_json(user)}, 201)


@api.post("/auth/login")
@document_request(s.Login)
@document_response(s.LoginResult, 200)
async def login() -> Response:
    d = deps()
    browser_write_check()
    ip = client_ip()
    _refuse(d.guard.address_verdict(ip, time.monotonic()))
    data = await body()
    raw_name, password = field(data, "username"), field(data, "password")
    if not isinstance(raw_name, str) or not isinstance(password, str):
        raise Invalid("username and password must be strings")
    if len(password) > policy.MAX_PASSWORD or len(raw_name) > 64:
        raise Invalid("username or password too long")
    username = raw_name.lower()
    user = await d.system.store.get_user(username) if policy.USERNAME_RE.fullmatch(username) else None
    ok = await verify_password(username, password, user.password_hash if user else None, fair_key=("address", ip))
    if not ok or user is None:
        raise Unauthenticated("wrong username or password")
    token, exp = auth.issue_token(d.secret, user.username, user.token_version, time.time(), d.cfg.auth.token_ttl)
    resp = json({"user": user_json(user), "token": token, "expires_at": _rfc3339(exp)})
    set_session_cookie(resp, token)
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
    await deps().system.logout(who.user.username)
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
    name = policy.display_name(field(await body(), "name"))
    return json(user_json(await deps().system.store.rename_user(who.user.username, name)))


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
    d = deps()
    who = await caller()
    data = await body()
    current, new = field(data, "current"), field(data, "new")
    if not isinstance(current, str) or len(current) > policy.MAX_PASSWORD:
        raise Invalid("current must be a string")
    new = policy.password(new, "new")
    fair_key = ("user", who.user.username)
    if not await verify_password(who.user.username, current, who.user.password_hash, fair_key=fair_key):
        raise Forbidden("current password is wrong")
    user = await d.system.store.set_password(who.user.username, await d.passwords.hash(new, key=fair_key))
    keep = who.claims.sid if who.via_cookie and who.claims.sid else None
    await d.system.sessions_revoked(user.username, user.token_version, keep_sid=keep)
    resp = no_content()
    if keep:
        token, _ = auth.issue_token(d.secret, user.username, user.token_version, time.time(), d.cfg.auth.token_ttl,
                                    sid=keep)
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
    q = q.strip().lower()
    rows = await deps().system.store.search_users(q, 20) if q else []
    return json({"users": [user_json(r) for r in rows]})


@api.get("/users/<username>")
@document_response(s.User, 200)
async def get_user(username: str) -> Response:
    await caller()
    row = await deps().system.store.get_user(username.lower()) if len(username) <= 64 else None
    if row is None:
        raise NotFound(f"user {username[:64]!r} not found")
    return json(user_json(row))


# -- rooms --------------------------------------------------------------------


def _room_path(room: str) -> str:
    return policy.room_id(room)


@api.get("/rooms")
@document_response(s.RoomList, 200)
async def list_rooms() -> Response:
    who = await caller()
    rooms = await deps().system.store.list_rooms(who.user.username)
    return json({"rooms": [room_json(r) for r in rooms]})


@api.post("/rooms")
@document_request(s.CreateRoom)
@document_response(s.Room, 201)
async def create_room() -> Response:
    who = await caller()
    data = await body()
    name = policy.room_name(field(data, "name"))
    raw_members = data.get("members", [])
    if not isinstance(raw_members, list):
        raise Invalid("members must be a list of usernames")
    if len(raw_members) > policy.MAX_CREATE_MEMBERS:
        raise Invalid(f"at most {policy.MAX_CREATE_MEMBERS} members at creation")
    members = [policy.username(m, "members[]") for m in raw_members]
    room = await deps().system.create_group(who.user.username, name, members)
    return json(room_json(room), 201)


@api.post("/dms")
@document_request(s.OpenDm)
@document_response(s.Room, 200)
@document_response(s.Room, 201)
async def open_dm() -> Response:
    who = await caller()
    other = policy.username(field(await body(), "username"))
    room, created = await deps().system.open_dm(who.user.username, other)
    return json(room_json(room), 201 if created else 200)


@api.get("/rooms/<room>")
@document_response(s.Room, 200)
async def get_room(room: str) -> Response:
    who = await caller()
    return json(room_json(await deps().system.store.get_room(_room_path(room), who.user.username)))


@api.patch("/rooms/<room>")
@document_request(s.RenameRoom)
@document_response(s.Room, 200)
async def rename_room(room: str) -> Response:
    who = await caller()
    name = policy.room_name(field(await body(), "name"))
    return json(room_json(await deps().system.rename_room(who.user.username, _room_path(room), name)))


@api.delete("/rooms/<room>")
@document_response(None, 204)
async def delete_room(room: str) -> Response:
    who = await caller()
    await deps().system.delete_room(who.user.username, _room_path(room))
    return no_content()


@api.post("/rooms/<room>/members")
@document_request(s.AddMember)
@document_response(s.Member, 201)
async def add_member(room: str) -> Response:
    who = await caller()
    data = await body()
    username = policy.username(field(data, "username"))
    role = policy.role(data.get("role", "member"), ("member", "admin"))
    member = await deps().system.add_member(who.user.username, _room_path(room), username, role)
    return json(member_json(member), 201)


@api.patch("/rooms/<room>/members/<username>")
@document_request(s.SetRole)
@document_response(s.Member, 200)
async def set_role(room: str, username: str) -> Response:
    who = await caller()
    role = policy.role(field(await body(), "role"), ("owner", "admin", "member"))
    member = await deps().system.set_role(who.user.username, _room_path(room), policy.username(username), role)
    return json(member_json(member))


@api.delete("/rooms/<room>/members/<username>")
@document_response(None, 204)
async def remove_member(room: str, username: str) -> Response:
    who = await caller()
    await deps().system.remove_member(who.user.username, _room_path(room), policy.username(username))
    return no_content()


@api.get("/rooms/<room>/messages")
@document_querystring(s.HistoryQuery)
@document_response(s.History, 200)
async def history(room: str) -> Response:
    who = await caller()
    before = policy.query_int(request.args.get("before"), "before", default=None, minimum=1, maximum=2**63 - 1)
    limit = policy.query_int(request.args.get("limit"), "limit", default=policy.HISTORY_DEFAULT, minimum=1,
                             maximum=policy.HISTORY_MAX)
    assert limit is not None
    messages, has_more = await deps().system.store.history(who.user.username, _room_path(room), before, limit)
    return json({"messages": [m.wire() for m in messages], "has_more": has_more})


@api.post("/rooms/<room>/messages")
@document_request(s.PostMessage)
@document_response(s.Message, 201)
async def post_message(room: str) -> Response:
    """Same idempotency as the socket's send: a repeat returns the original (201 again)."""
    who = await caller()
    data = await body()
    cmid = policy.client_msg_id(field(data, "client_msg_id"))
    text = policy.body(field(data, "body"))
    result = await deps().system.post(who.user.username, _room_path(room), cmid, text)
    return json(result.message.wire(), 201)


@api.post("/rooms/<room>/read")
@document_request(s.MarkRead)
@document_response(None, 204)
async def mark_read(room: str) -> Response:
    who = await caller()
    up_to = policy.positive_int(field(await body(), "up_to"), "up_to")
    await deps().system.read(who.user.username, _room_path(room), up_to)
    return no_content()


@api.get("/events")
@document_querystring(s.EventsQuery)
@document_response(s.Events, 200)
async def events() -> Response:
    who = await caller()
    since = policy.query_int(request.args.get("since"), "since", default=0, minimum=0, maximum=2**63 - 1)
    limit = policy.query_int(request.args.get("limit"), "limit", default=500, minimum=1, maximum=1000)
    assert since is not None and limit is not None
    store = deps().system.store
    page = await store.events_for_user(Username(who.user.username), since, limit)
    nxt = page.events[-1].seq if page.has_more else max(since, page.head)
    return json({"epoch": store.epoch, "events": [e.wire() for e in page.events], "next": nxt,
                 "has_more": page.has_more})
