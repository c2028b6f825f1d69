"""REST rooms, members and DMs (PROTOCOL.md section 3) and the permission rules of service/permissions.py.

Rooms you are not a member of answer exactly like rooms that do not exist
(404, never 403).  Every refused request leaves the store's head, every
user's room list and every user's event feed unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from apikit import JSON, TIME_RE, cfg, err
from helpers import bearer, cmid, register, running_app, system_of, user


def check_member(
    m: dict[str, Any], username: str, name: str, role: str, read_up_to: int = 0
) -> None:
    assert {"username", "name", "role", "read_up_to"} <= set(m), m
    assert (m["username"], m["name"], m["role"], m["read_up_to"]) == (
        username,
        name,
        role,
        read_up_to,
    )


def check_room(
    r: dict[str, Any],
    *,
    kind: str,
    name: str,
    members: dict[str, str],
    unread: int = 0,
    last_message: Any = None,
) -> None:
    """``members``: username -> role; display names are the helpers' ``username.title()``."""
    assert {"id", "kind", "name", "members", "last_message", "unread", "created_at"} <= set(r), r
    assert isinstance(r["id"], str) and r["id"]
    assert r["kind"] == kind
    assert r["name"] == name
    assert {m["username"]: m["role"] for m in r["members"]} == members
    assert len(r["members"]) == len(members)
    for m in r["members"]:
        assert {"username", "name", "role", "read_up_to"} <= set(m)
        assert m["name"] == m["username"].title()
        assert isinstance(m["read_up_to"], int) and m["read_up_to"] >= 0
    assert r["unread"] == unread
    assert r["last_message"] == last_message
    assert TIME_RE.match(r["created_at"]), r["created_at"]


class World:
    """alice owns group G with admin carl and member bob; dave and eve are outsiders."""

    def __init__(self, app: Any, c: Any, tokens: dict[str, str], room: dict[str, Any]) -> None:
        self.app, self.c, self.t, self.room = app, c, tokens, room
        self.rid = room["id"]

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.t[who])

    async def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"head": await system_of(self.app).store.head()}
        for who in self.t:
            r = await self.c.get("/api/rooms", headers=self.h(who))
            e = await self.c.get("/api/events?since=0", headers=self.h(who))
            out[who] = (await r.get_json(), await e.get_json())
        return out


async def world(app: Any) -> World:
    c = app.test_client(use_cookies=False)
    tokens = {name: await user(c, name) for name in ("alice", "bob", "carl", "dave", "eve")}
    r = await c.post(
        "/api/rooms",
        json={"name": "Garden", "members": ["bob", "carl"]},
        headers=bearer(tokens["alice"]),
    )
    assert r.status_code == 201
    room = await r.get_json()
    r = await c.patch(
        f"/api/rooms/{room['id']}/members/carl",
        json={"role": "admin"},
        headers=bearer(tokens["alice"]),
    )
    assert r.status_code == 200
    return World(app, c, tokens, room)


# -- create -------------------------------------------------------------------


async def test_create_group_shape(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            ta = await user(c, "alice")
            await register(c, "bob")
            r = await c.post(
                "/api/rooms",
                json={"name": "  Book club  ", "members": ["BOB", "bob", "alice"]},
                headers=bearer(ta),
            )
            assert r.status_code == 201
            room = await r.get_json()
            check_room(
                room, kind="group", name="Book club", members={"alice": "owner", "bob": "member"}
            )
            assert room["members"][0]["username"] == "alice"  # owner first
            r = await c.get(f"/api/rooms/{room['id']}", headers=bearer(ta))
            assert r.status_code == 200
            assert await r.get_json() == room
            r = await c.post("/api/rooms", json={"name": "Solo"}, headers=bearer(ta))
            assert r.status_code == 201
            check_room(await r.get_json(), kind="group", name="Solo", members={"alice": "owner"})
            r = await c.post(
                "/api/rooms", json={"name": "r" * 100, "members": []}, headers=bearer(ta)
            )
            assert r.status_code == 201
            assert (await r.get_json())["name"] == "r" * 100


async def test_create_group_sql_metacharacters_verbatim(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            ta = await user(c, "alice")
            evil = "x'); DROP TABLE rooms; -- \" % _ \\"
            r = await c.post("/api/rooms", json={"name": evil}, headers=bearer(ta))
            assert r.status_code == 201
            rid = (await r.get_json())["id"]
            assert (await (await c.get(f"/api/rooms/{rid}", headers=bearer(ta))).get_json())[
                "name"
            ] == evil
            rooms = (await (await c.get("/api/rooms", headers=bearer(ta))).get_json())["rooms"]
            assert [r["name"] for r in rooms] == [evil]


BAD_CREATE: list[tuple[str, Any, int, str]] = [
    ("name 101", {"name": "r" * 101}, 400, "INVALID_INPUT"),
    ("name empty", {"name": ""}, 400, "INVALID_INPUT"),
    ("name blank", {"name": " \t "}, 400, "INVALID_INPUT"),
    ("name int", {"name": 7}, 400, "INVALID_INPUT"),
    ("name null", {"name": None}, 400, "INVALID_INPUT"),
    ("name control", {"name": "a\x1bb"}, 400, "INVALID_INPUT"),
    ("missing name", {"members": ["bob"]}, 400, "INVALID_INPUT"),
    ("members string", {"name": "G", "members": "bob"}, 400, "INVALID_INPUT"),
    ("members object", {"name": "G", "members": {"bob": 1}}, 400, "INVALID_INPUT"),
    ("members null", {"name": "G", "members": None}, 400, "INVALID_INPUT"),
    ("member int", {"name": "G", "members": [1]}, 400, "INVALID_INPUT"),
    ("member invalid name", {"name": "G", "members": ["b"]}, 400, "INVALID_INPUT"),
    ("member 33 chars", {"name": "G", "members": ["b" * 33]}, 400, "INVALID_INPUT"),
    (
        "too many members",
        {"name": "G", "members": [f"u{i:04}" for i in range(1001)]},
        400,
        "INVALID_INPUT",
    ),
    ("unknown member", {"name": "G", "members": ["bob", "nobody"]}, 404, "NOT_FOUND"),
]


@pytest.mark.parametrize("case,payload,status,code", BAD_CREATE, ids=[c[0] for c in BAD_CREATE])
async def test_create_group_bad_input(tmp_path, case, payload, status, code):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            await err(
                await w.c.post("/api/rooms", json=payload, headers=w.h("alice")), status, code
            )
            assert await w.snapshot() == before


MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("garbage", b"{name}"),
    ("NaN", b'{"name": "G", "x": NaN}'),
    ("duplicate keys", b'{"name": "G", "name": "H"}'),
    ("100 deep", b'{"name": "G", "x":' + b"[" * 100 + b"]" * 100 + b"}"),
    ("array", b'["G"]'),
    ("null", b"null"),
    ("invalid utf-8", b'{"name": "\xc3\x28"}'),
]


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/rooms"),
        ("POST", "/api/dms"),
        ("PATCH", "/api/rooms/{rid}"),
        ("POST", "/api/rooms/{rid}/members"),
        ("PATCH", "/api/rooms/{rid}/members/bob"),
    ],
)
async def test_room_routes_malformed_json(tmp_path, method, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            for case, data in MALFORMED:
                r = await w.c.open(
                    path.format(rid=w.rid),
                    method=method,
                    data=data,
                    headers={**JSON, **w.h("alice")},
                )
                assert r.status_code == 400, case
                await err(r, 400, "INVALID_INPUT")
            assert await w.snapshot() == before


async def test_create_group_lone_surrogate_name_is_400(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            r = await w.c.post(
                "/api/rooms", data=b'{"name": "\\udfff"}', headers={**JSON, **w.h("alice")}
            )
            await err(r, 400, "INVALID_INPUT")
            assert await w.snapshot() == before


# -- list, get ----------------------------------------------------------------


async def test_room_list_ordered_by_activity_with_last_message_and_unread(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            ta, tb = await user(c, "alice"), await user(c, "bob")
            ids = []
            for name in ("one", "two", "three"):
                r = await c.post(
                    "/api/rooms", json={"name": name, "members": ["bob"]}, headers=bearer(ta)
                )
                ids.append((await r.get_json())["id"])
            rooms = (await (await c.get("/api/rooms", headers=bearer(tb))).get_json())["rooms"]
            assert [r["name"] for r in rooms] == ["three", "two", "one"]  # newest first
            for r in rooms:
                check_room(
                    r, kind="group", name=r["name"], members={"alice": "owner", "bob": "member"}
                )
            # A message moves "one" to the top, with last_message and unread for bob.
            m1 = await (
                await c.post(
                    f"/api/rooms/{ids[0]}/messages",
                    json={"client_msg_id": cmid(), "body": "a"},
                    headers=bearer(ta),
                )
            ).get_json()
            m2 = await (
                await c.post(
                    f"/api/rooms/{ids[0]}/messages",
                    json={"client_msg_id": cmid(), "body": "b"},
                    headers=bearer(ta),
                )
            ).get_json()
            rooms = (await (await c.get("/api/rooms", headers=bearer(tb))).get_json())["rooms"]
            assert [r["name"] for r in rooms] == ["one", "three", "two"]
            check_room(
                rooms[0],
                kind="group",
                name="one",
                members={"alice": "owner", "bob": "member"},
                unread=2,
                last_message=m2,
            )
            # The sender's own messages are not unread for them.
            rooms_a = (await (await c.get("/api/rooms", headers=bearer(ta))).get_json())["rooms"]
            assert rooms_a[0]["unread"] == 0 and rooms_a[0]["last_message"] == m2
            # bob replies in "two": it moves up; reading lowers unread.
            await c.post(
                f"/api/rooms/{ids[1]}/messages",
                json={"client_msg_id": cmid(), "body": "c"},
                headers=bearer(tb),
            )
            assert (
                await c.post(
                    f"/api/rooms/{ids[0]}/read", json={"up_to": m1["id"]}, headers=bearer(tb)
                )
            ).status_code == 204
            rooms = (await (await c.get("/api/rooms", headers=bearer(tb))).get_json())["rooms"]
            assert [r["name"] for r in rooms] == ["two", "one", "three"]
            assert rooms[1]["unread"] == 1
            bob = next(m for m in rooms[1]["members"] if m["username"] == "bob")
            check_member(bob, "bob", "Bob", "member", m1["id"])
            # Reading does not reorder (it is not activity).
            assert [
                r["name"]
                for r in (await (await c.get("/api/rooms", headers=bearer(ta))).get_json())["rooms"]
            ] == ["two", "one", "three"]


async def test_get_room_unknown_and_not_member_are_the_same_404(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            r = await w.c.get(f"/api/rooms/{w.rid}", headers=w.h("bob"))
            assert r.status_code == 200
            check_room(
                await r.get_json(),
                kind="group",
                name="Garden",
                members={"alice": "owner", "carl": "admin", "bob": "member"},
            )
            not_member = await err(
                await w.c.get(f"/api/rooms/{w.rid}", headers=w.h("dave")), 404, "NOT_FOUND"
            )
            unknown = await err(
                await w.c.get("/api/rooms/r_doesnotexist", headers=w.h("dave")), 404, "NOT_FOUND"
            )
            assert not_member == unknown


# Every room route, called by someone who is not a member: 404, like an unknown id.
ROOM_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/rooms/{rid}", None),
    ("PATCH", "/api/rooms/{rid}", {"name": "Hijacked"}),
    ("DELETE", "/api/rooms/{rid}", None),
    ("POST", "/api/rooms/{rid}/members", {"username": "dave"}),
    ("POST", "/api/rooms/{rid}/members", {"username": "eve", "role": "admin"}),
    ("PATCH", "/api/rooms/{rid}/members/bob", {"role": "admin"}),
    ("PATCH", "/api/rooms/{rid}/members/dave", {"role": "owner"}),
    ("DELETE", "/api/rooms/{rid}/members/bob", None),
    ("DELETE", "/api/rooms/{rid}/members/dave", None),
    ("GET", "/api/rooms/{rid}/messages", None),
    ("GET", "/api/rooms/{rid}/messages?before=5&limit=10", None),
    ("POST", "/api/rooms/{rid}/messages", {"client_msg_id": "x1", "body": "intruder"}),
    ("POST", "/api/rooms/{rid}/read", {"up_to": 1}),
]


@pytest.mark.parametrize(
    "method,path,payload", ROOM_ROUTES, ids=[f"{m} {p}" for m, p, _ in ROOM_ROUTES]
)
async def test_not_a_member_gets_404_everywhere(tmp_path, method, path, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            await w.c.post(
                f"/api/rooms/{w.rid}/messages",
                json={"client_msg_id": "m1", "body": "hi"},
                headers=w.h("alice"),
            )
            before = await w.snapshot()
            kw = {"json": payload} if payload is not None else {}
            member_of_nothing = await err(
                await w.c.open(path.format(rid=w.rid), method=method, headers=w.h("dave"), **kw),
                404,
                "NOT_FOUND",
            )
            unknown = await err(
                await w.c.open(
                    path.format(rid="r_nonexistent00"), method=method, headers=w.h("dave"), **kw
                ),
                404,
                "NOT_FOUND",
            )
            assert member_of_nothing == unknown
            # A former member is an outsider too.
            assert (
                await w.c.delete(f"/api/rooms/{w.rid}/members/bob", headers=w.h("bob"))
            ).status_code == 204
            before = await w.snapshot()
            former = await err(
                await w.c.open(path.format(rid=w.rid), method=method, headers=w.h("bob"), **kw),
                404,
                "NOT_FOUND",
            )
            assert former == unknown
            assert await w.snapshot() == before


# -- rename, delete -------------------------------------------------------------


async def test_rename_by_owner_and_admin(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            members = {"alice": "owner", "carl": "admin", "bob": "member"}
            for who, name in (("alice", "Orchard"), ("carl", "  Meadow ")):
                r = await w.c.patch(f"/api/rooms/{w.rid}", json={"name": name}, headers=w.h(who))
                assert r.status_code == 200
                check_room(await r.get_json(), kind="group", name=name.strip(), members=members)
            r = await w.c.get(f"/api/rooms/{w.rid}", headers=w.h("bob"))
            assert (await r.get_json())["name"] == "Meadow"
            ev = (await (await w.c.get("/api/events?since=0", headers=w.h("bob"))).get_json())[
                "events"
            ]
            assert [e["name"] for e in ev if e["type"] == "room_updated"] == ["Orchard", "Meadow"]


@pytest.mark.parametrize(
    "payload,status,code",
    [
        ({"name": "r" * 101}, 400, "INVALID_INPUT"),
        ({"name": ""}, 400, "INVALID_INPUT"),
        ({"name": 1}, 400, "INVALID_INPUT"),
        ({}, 400, "INVALID_INPUT"),
    ],
)
async def test_rename_bad_input(tmp_path, payload, status, code):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            await err(
                await w.c.patch(f"/api/rooms/{w.rid}", json=payload, headers=w.h("alice")),
                status,
                code,
            )
            assert await w.snapshot() == before


# (actor, method, path, payload): each is refused with 403 by service/permissions.py.
ROLE_VIOLATIONS: list[tuple[str, str, str, Any]] = [
    ("bob", "PATCH", "/api/rooms/{rid}", {"name": "Mine"}),  # member renames
    ("bob", "DELETE", "/api/rooms/{rid}", None),  # member deletes
    ("carl", "DELETE", "/api/rooms/{rid}", None),  # admin deletes
    ("bob", "POST", "/api/rooms/{rid}/members", {"username": "dave"}),  # member adds
    (
        "carl",
        "POST",
        "/api/rooms/{rid}/members",
        {"username": "dave", "role": "admin"},
    ),  # admin makes admin
    ("carl", "PATCH", "/api/rooms/{rid}/members/bob", {"role": "admin"}),  # admin sets roles
    ("bob", "PATCH", "/api/rooms/{rid}/members/bob", {"role": "admin"}),  # member promotes self
    ("carl", "PATCH", "/api/rooms/{rid}/members/carl", {"role": "owner"}),  # admin takes ownership
    ("alice", "PATCH", "/api/rooms/{rid}/members/alice", {"role": "member"}),  # owner demotes self
    ("bob", "DELETE", "/api/rooms/{rid}/members/carl", None),  # member removes admin
    ("carl", "DELETE", "/api/rooms/{rid}/members/alice", None),  # admin removes owner
    ("alice", "DELETE", "/api/rooms/{rid}/members/alice", None),  # owner leaves
]


@pytest.mark.parametrize(
    "actor,method,path,payload",
    ROLE_VIOLATIONS,
    ids=[f"{a} {m} {p.split('{rid}')[1] or '/'} {d}" for a, m, p, d in ROLE_VIOLATIONS],
)
async def test_role_violations_are_403_and_change_nothing(tmp_path, actor, method, path, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            kw = {"json": payload} if payload is not None else {}
            await err(
                await w.c.open(path.format(rid=w.rid), method=method, headers=w.h(actor), **kw),
                403,
                "FORBIDDEN",
            )
            assert await w.snapshot() == before


async def test_member_removes_member_is_403(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            r = await w.c.post(
                f"/api/rooms/{w.rid}/members", json={"username": "dave"}, headers=w.h("alice")
            )
            assert r.status_code == 201
            before = await w.snapshot()
            await err(
                await w.c.delete(f"/api/rooms/{w.rid}/members/dave", headers=w.h("bob")),
                403,
                "FORBIDDEN",
            )
            # An admin cannot remove another admin either.
            await w.c.patch(
                f"/api/rooms/{w.rid}/members/dave", json={"role": "admin"}, headers=w.h("alice")
            )
            before = await w.snapshot()
            await err(
                await w.c.delete(f"/api/rooms/{w.rid}/members/dave", headers=w.h("carl")),
                403,
                "FORBIDDEN",
            )
            assert await w.snapshot() == before


async def test_delete_room_by_owner(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            await w.c.post(
                f"/api/rooms/{w.rid}/messages",
                json={"client_msg_id": "m1", "body": "bye"},
                headers=w.h("bob"),
            )
            r = await w.c.delete(f"/api/rooms/{w.rid}", headers=w.h("alice"))
            assert r.status_code == 204
            assert await r.get_data() == b""
            for who in ("alice", "bob", "carl"):
                await err(await w.c.get(f"/api/rooms/{w.rid}", headers=w.h(who)), 404, "NOT_FOUND")
                await err(
                    await w.c.get(f"/api/rooms/{w.rid}/messages", headers=w.h(who)),
                    404,
                    "NOT_FOUND",
                )
                assert (await (await w.c.get("/api/rooms", headers=w.h(who))).get_json()) == {
                    "rooms": []
                }
                ev = (await (await w.c.get("/api/events?since=0", headers=w.h(who))).get_json())[
                    "events"
                ]
                assert ev[-1]["type"] == "room_deleted" and ev[-1]["room"] == w.rid
                assert not any(e["type"] == "message" for e in ev)  # deleting means deleting
            await err(
                await w.c.delete(f"/api/rooms/{w.rid}", headers=w.h("alice")), 404, "NOT_FOUND"
            )


# -- members --------------------------------------------------------------------


async def test_add_member_shape_by_owner_and_admin(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            r = await w.c.post(
                f"/api/rooms/{w.rid}/members",
                json={"username": "DAVE", "role": "admin"},
                headers=w.h("alice"),
            )
            assert r.status_code == 201
            check_member(await r.get_json(), "dave", "Dave", "admin")
            r = await w.c.post(
                f"/api/rooms/{w.rid}/members", json={"username": "eve"}, headers=w.h("carl")
            )
            assert r.status_code == 201
            check_member(await r.get_json(), "eve", "Eve", "member")
            room = await (await w.c.get(f"/api/rooms/{w.rid}", headers=w.h("eve"))).get_json()
            check_room(
                room,
                kind="group",
                name="Garden",
                members={
                    "alice": "owner",
                    "carl": "admin",
                    "dave": "admin",
                    "bob": "member",
                    "eve": "member",
                },
            )


BAD_ADD: list[tuple[str, Any, int, str]] = [
    ("already member", {"username": "bob"}, 409, "CONFLICT"),
    ("owner already member", {"username": "alice"}, 409, "CONFLICT"),
    ("unknown user", {"username": "nobody"}, 404, "NOT_FOUND"),
    ("role owner", {"username": "dave", "role": "owner"}, 400, "INVALID_INPUT"),
    ("role bogus", {"username": "dave", "role": "king"}, 400, "INVALID_INPUT"),
    ("role int", {"username": "dave", "role": 1}, 400, "INVALID_INPUT"),
    ("role list", {"username": "dave", "role": ["admin"]}, 400, "INVALID_INPUT"),
    ("username 33", {"username": "d" * 33}, 400, "INVALID_INPUT"),
    ("username int", {"username": 4}, 400, "INVALID_INPUT"),
    ("missing username", {"role": "member"}, 400, "INVALID_INPUT"),
]


@pytest.mark.parametrize("case,payload,status,code", BAD_ADD, ids=[c[0] for c in BAD_ADD])
async def test_add_member_bad_input(tmp_path, case, payload, status, code):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            await err(
                await w.c.post(f"/api/rooms/{w.rid}/members", json=payload, headers=w.h("alice")),
                status,
                code,
            )
            assert await w.snapshot() == before


async def test_set_role_and_transfer_ownership(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            r = await w.c.patch(
                f"/api/rooms/{w.rid}/members/BOB", json={"role": "admin"}, headers=w.h("alice")
            )
            assert r.status_code == 200
            check_member(await r.get_json(), "bob", "Bob", "admin")
            r = await w.c.patch(
                f"/api/rooms/{w.rid}/members/carl", json={"role": "member"}, headers=w.h("alice")
            )
            check_member(await r.get_json(), "carl", "Carl", "member")
            r = await w.c.patch(
                f"/api/rooms/{w.rid}/members/bob", json={"role": "owner"}, headers=w.h("alice")
            )
            assert r.status_code == 200
            check_member(await r.get_json(), "bob", "Bob", "owner")
            room = await (await w.c.get(f"/api/rooms/{w.rid}", headers=w.h("alice"))).get_json()
            check_room(
                room,
                kind="group",
                name="Garden",
                members={"bob": "owner", "alice": "admin", "carl": "member"},
            )
            # The old owner is now an admin: can no longer delete; the new owner can.
            await err(
                await w.c.delete(f"/api/rooms/{w.rid}", headers=w.h("alice")), 403, "FORBIDDEN"
            )
            assert (
                await w.c.delete(f"/api/rooms/{w.rid}/members/alice", headers=w.h("bob"))
            ).status_code == 204


@pytest.mark.parametrize(
    "target,payload,status,code",
    [
        ("dave", {"role": "admin"}, 404, "NOT_FOUND"),  # not a member
        ("nobody", {"role": "admin"}, 404, "NOT_FOUND"),  # no such user
        ("bob", {"role": "king"}, 400, "INVALID_INPUT"),
        ("bob", {"role": None}, 400, "INVALID_INPUT"),
        ("bob", {}, 400, "INVALID_INPUT"),
        ("b", {"role": "admin"}, 400, "INVALID_INPUT"),  # not a username
    ],
)
async def test_set_role_bad_input(tmp_path, target, payload, status, code):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            await err(
                await w.c.patch(
                    f"/api/rooms/{w.rid}/members/{target}", json=payload, headers=w.h("alice")
                ),
                status,
                code,
            )
            assert await w.snapshot() == before


async def test_remove_member_and_leave(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            await w.c.post(
                f"/api/rooms/{w.rid}/members", json={"username": "dave"}, headers=w.h("alice")
            )
            await w.c.post(
                f"/api/rooms/{w.rid}/members", json={"username": "eve"}, headers=w.h("alice")
            )
            # admin removes a member
            r = await w.c.delete(f"/api/rooms/{w.rid}/members/dave", headers=w.h("carl"))
            assert r.status_code == 204 and await r.get_data() == b""
            # a member leaves
            assert (
                await w.c.delete(f"/api/rooms/{w.rid}/members/EVE", headers=w.h("eve"))
            ).status_code == 204
            # the owner removes an admin
            assert (
                await w.c.delete(f"/api/rooms/{w.rid}/members/carl", headers=w.h("alice"))
            ).status_code == 204
            room = await (await w.c.get(f"/api/rooms/{w.rid}", headers=w.h("alice"))).get_json()
            check_room(
                room, kind="group", name="Garden", members={"alice": "owner", "bob": "member"}
            )
            for gone in ("dave", "eve", "carl"):
                await err(await w.c.get(f"/api/rooms/{w.rid}", headers=w.h(gone)), 404, "NOT_FOUND")
                assert (await (await w.c.get("/api/rooms", headers=w.h(gone))).get_json()) == {
                    "rooms": []
                }
            before = await w.snapshot()
            await err(
                await w.c.delete(f"/api/rooms/{w.rid}/members/dave", headers=w.h("alice")),
                404,
                "NOT_FOUND",
            )
            await err(
                await w.c.delete(f"/api/rooms/{w.rid}/members/nobody", headers=w.h("alice")),
                404,
                "NOT_FOUND",
            )
            await err(
                await w.c.delete(f"/api/rooms/{w.rid}/members/x", headers=w.h("alice")),
                400,
                "INVALID_INPUT",
            )
            assert await w.snapshot() == before


# -- DMs ------------------------------------------------------------------------


async def test_dm_idempotent_both_directions(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            ta, tb = await user(c, "alice"), await user(c, "bob")
            head0 = await system_of(app).store.head()
            r = await c.post("/api/dms", json={"username": "bob"}, headers=bearer(ta))
            assert r.status_code == 201
            dm = await r.get_json()
            check_room(dm, kind="dm", name="Bob", members={"alice": "member", "bob": "member"})
            head1 = await system_of(app).store.head()
            r = await c.post("/api/dms", json={"username": "BOB"}, headers=bearer(ta))
            assert r.status_code == 200
            assert await r.get_json() == dm
            r = await c.post("/api/dms", json={"username": "alice"}, headers=bearer(tb))
            assert r.status_code == 200
            dm_b = await r.get_json()
            assert dm_b["id"] == dm["id"]
            check_room(dm_b, kind="dm", name="Alice", members={"alice": "member", "bob": "member"})
            assert await system_of(app).store.head() == head1 > head0  # repeats emit nothing
            assert [
                r["id"]
                for r in (await (await c.get("/api/rooms", headers=bearer(tb))).get_json())["rooms"]
            ] == [dm["id"]]


async def test_concurrent_dm_opens_make_one_room(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path), memory=False) as app:
            c = app.test_client(use_cookies=False)
            ta, tb = await user(c, "alice"), await user(c, "bob")
            results: list[tuple[int, str]] = []

            async def open_dm(token: str, other: str) -> None:
                r = await c.post("/api/dms", json={"username": other}, headers=bearer(token))
                results.append((r.status_code, (await r.get_json())["id"]))

            async with trio.open_nursery() as n:
                for _ in range(3):
                    n.start_soon(open_dm, ta, "bob")
                    n.start_soon(open_dm, tb, "alice")
            assert sorted(s for s, _ in results) == [200] * 5 + [201]
            assert len({rid for _, rid in results}) == 1


@pytest.mark.parametrize(
    "payload,status,code",
    [
        ({"username": "alice"}, 400, "INVALID_INPUT"),  # yourself
        ({"username": "nobody"}, 404, "NOT_FOUND"),
        ({"username": "b"}, 400, "INVALID_INPUT"),
        ({"username": 5}, 400, "INVALID_INPUT"),
        ({}, 400, "INVALID_INPUT"),
    ],
)
async def test_dm_bad_input(tmp_path, payload, status, code):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            await err(await w.c.post("/api/dms", json=payload, headers=w.h("alice")), status, code)
            assert await w.snapshot() == before


@pytest.mark.parametrize(
    "method,path,payload",
    [
        ("PATCH", "/api/rooms/{rid}", {"name": "Ours"}),
        ("DELETE", "/api/rooms/{rid}", None),
        ("POST", "/api/rooms/{rid}/members", {"username": "carl"}),
        ("PATCH", "/api/rooms/{rid}/members/bob", {"role": "admin"}),
        ("DELETE", "/api/rooms/{rid}/members/bob", None),
        ("DELETE", "/api/rooms/{rid}/members/alice", None),
    ],
)
async def test_dm_cannot_be_changed(tmp_path, method, path, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            dm = await (
                await w.c.post("/api/dms", json={"username": "bob"}, headers=w.h("alice"))
            ).get_json()
            before = await w.snapshot()
            kw = {"json": payload} if payload is not None else {}
            await err(
                await w.c.open(
                    path.format(rid=dm["id"]), method=method, headers=w.h("alice"), **kw
                ),
                403,
                "FORBIDDEN",
            )
            assert await w.snapshot() == before


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/rooms"),
        ("POST", "/api/rooms"),
        ("POST", "/api/dms"),
        ("GET", "/api/rooms/{rid}"),
        ("PATCH", "/api/rooms/{rid}"),
        ("DELETE", "/api/rooms/{rid}"),
        ("POST", "/api/rooms/{rid}/members"),
        ("PATCH", "/api/rooms/{rid}/members/bob"),
        ("DELETE", "/api/rooms/{rid}/members/bob"),
    ],
)
async def test_room_routes_require_auth(tmp_path, method, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            w = await world(app)
            before = await w.snapshot()
            r = await w.c.open(
                path.format(rid=w.rid), method=method, json={"name": "X", "username": "dave"}
            )
            await err(r, 401, "UNAUTHENTICATED")
            assert await w.snapshot() == before
