"""REST messages, history paging, read cursors and the event feed (PROTOCOL.md section 3, 4.3).

Refused requests leave the store's head, the room's history and everyone's
event feed unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from apikit import JSON, TIME_RE, cfg, err
from helpers import bearer, cmid, running_app, system_of, user


def check_message(
    m: dict[str, Any], *, room: str, sender: str, body: str, client_msg_id: str
) -> None:
    assert {"id", "seq", "room", "sender", "body", "client_msg_id", "created_at"} <= set(m), m
    for k in ("id", "seq"):
        assert isinstance(m[k], int) and not isinstance(m[k], bool) and m[k] > 0
    assert (m["room"], m["sender"], m["body"], m["client_msg_id"]) == (
        room,
        sender,
        body,
        client_msg_id,
    )
    assert TIME_RE.match(m["created_at"]), m["created_at"]


class Chat:
    """alice and bob in room G; dave is an outsider."""

    def __init__(self, app: Any, c: Any, t: dict[str, str], rid: str) -> None:
        self.app, self.c, self.t, self.rid = app, c, t, rid

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.t[who])

    async def post(
        self, who: str, body: str, client_msg_id: str | None = None, rid: str | None = None
    ) -> Any:
        return await self.c.post(
            f"/api/rooms/{rid or self.rid}/messages",
            json={"client_msg_id": client_msg_id or cmid(), "body": body},
            headers=self.h(who),
        )

    async def send(self, who: str, body: str, client_msg_id: str | None = None) -> dict[str, Any]:
        r = await self.post(who, body, client_msg_id)
        assert r.status_code == 201, await r.get_data(as_text=True)
        return await r.get_json()  # type: ignore[no-any-return]

    async def history(self, who: str, query: str = "") -> Any:
        return await self.c.get(f"/api/rooms/{self.rid}/messages{query}", headers=self.h(who))

    async def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"head": await system_of(self.app).store.head()}
        for who in self.t:
            rooms = await (await self.c.get("/api/rooms", headers=self.h(who))).get_json()
            events = await (await self.c.get("/api/events?since=0", headers=self.h(who))).get_json()
            out[who] = (rooms, events)
        out["history"] = await (await self.history("alice", "?limit=200")).get_json()
        return out


async def chat(app: Any) -> Chat:
    c = app.test_client(use_cookies=False)
    t = {n: await user(c, n) for n in ("alice", "bob", "dave")}
    r = await c.post(
        "/api/rooms", json={"name": "G", "members": ["bob"]}, headers=bearer(t["alice"])
    )
    return Chat(app, c, t, (await r.get_json())["id"])


# -- posting --------------------------------------------------------------------


async def test_post_message_shape_and_trim(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            head = await system_of(app).store.head()
            r = await ch.post("alice", "  hello <b>world</b> 👋 \n\t ", "cm-1")
            assert r.status_code == 201
            m = await r.get_json()
            check_message(
                m, room=ch.rid, sender="alice", body="  hello <b>world</b> 👋", client_msg_id="cm-1"
            )
            assert m["seq"] == head + 1
            h = await (await ch.history("bob")).get_json()
            assert h == {"messages": [m], "has_more": False}
            ev = (
                await (await ch.c.get(f"/api/events?since={head}", headers=ch.h("bob"))).get_json()
            )["events"]
            assert ev == [{"type": "message", **m}]


async def test_body_limits(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            m = await ch.send("alice", "x" * 4000)
            assert m["body"] == "x" * 4000
            m = await ch.send(
                "alice", "é" * 4000 + " \n\t" * 50
            )  # 4001+ before trimming, 4000 after
            assert m["body"] == "é" * 4000
            m = await ch.send("alice", "a")
            assert m["body"] == "a"
            m = await ch.send("alice", "multi\nline\n\nbody")
            assert m["body"] == "multi\nline\n\nbody"


async def test_sql_and_html_bodies_stored_verbatim(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            bodies = [
                "'; DROP TABLE messages; --",
                "<script>alert(1)</script>",
                "%_\\'\"",
                "\u202eevil",
                "\x00nul",
            ]
            sent = []
            for b in bodies:
                r = await ch.post("alice", b)
                if b.startswith("\x00"):
                    # Control characters in a body: either stored verbatim or refused cleanly.
                    assert r.status_code in (201, 400)
                    if r.status_code == 400:
                        await err(r, 400, "INVALID_INPUT")
                        continue
                assert r.status_code == 201
                sent.append(await r.get_json())
            h = await (await ch.history("bob")).get_json()
            assert h["messages"] == sent
            assert [m["body"] for m in h["messages"]] == [
                b for b in bodies if any(b == m["body"] for m in sent)
            ]
            assert (
                len((await (await ch.c.get("/api/rooms", headers=ch.h("bob"))).get_json())["rooms"])
                == 1
            )


BAD_POST: list[tuple[str, Any, int, str]] = [
    ("body 4001", {"client_msg_id": "c1", "body": "x" * 4001}, 400, "INVALID_INPUT"),
    (
        "body 4001 then spaces",
        {"client_msg_id": "c1", "body": "x" * 4001 + "   "},
        400,
        "INVALID_INPUT",
    ),
    ("body empty", {"client_msg_id": "c1", "body": ""}, 400, "INVALID_INPUT"),
    ("body whitespace", {"client_msg_id": "c1", "body": " \n\t "}, 400, "INVALID_INPUT"),
    ("body int", {"client_msg_id": "c1", "body": 5}, 400, "INVALID_INPUT"),
    ("body null", {"client_msg_id": "c1", "body": None}, 400, "INVALID_INPUT"),
    ("body object", {"client_msg_id": "c1", "body": {"text": "hi"}}, 400, "INVALID_INPUT"),
    ("missing body", {"client_msg_id": "c1"}, 400, "INVALID_INPUT"),
    ("cmid empty", {"client_msg_id": "", "body": "hi"}, 400, "INVALID_INPUT"),
    ("cmid 65", {"client_msg_id": "c" * 65, "body": "hi"}, 400, "INVALID_INPUT"),
    ("cmid int", {"client_msg_id": 1, "body": "hi"}, 400, "INVALID_INPUT"),
    ("cmid null", {"client_msg_id": None, "body": "hi"}, 400, "INVALID_INPUT"),
    ("missing cmid", {"body": "hi"}, 400, "INVALID_INPUT"),
    ("empty object", {}, 400, "INVALID_INPUT"),
]


@pytest.mark.parametrize("case,payload,status,code", BAD_POST, ids=[c[0] for c in BAD_POST])
async def test_post_bad_input(tmp_path, case, payload, status, code):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            await ch.send("alice", "first")
            before = await ch.snapshot()
            r = await ch.c.post(
                f"/api/rooms/{ch.rid}/messages", json=payload, headers=ch.h("alice")
            )
            await err(r, status, code)
            assert await ch.snapshot() == before


MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("garbage", b"body=hi"),
    ("NaN", b'{"client_msg_id": "c", "body": "hi", "n": NaN}'),
    ("duplicate keys", b'{"client_msg_id": "c", "body": "hi", "body": "other"}'),
    ("100 deep", b'{"client_msg_id": "c", "body": ' + b"[" * 100 + b"]" * 100 + b"}"),
    ("array", b'[{"client_msg_id": "c", "body": "hi"}]'),
    ("string", b'"hi"'),
    ("invalid utf-8", b'{"client_msg_id": "c", "body": "\xed\xa0\x80"}'),
]


@pytest.mark.parametrize("path", ["/api/rooms/{rid}/messages", "/api/rooms/{rid}/read"])
async def test_message_routes_malformed_json(tmp_path, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            await ch.send("alice", "first")
            before = await ch.snapshot()
            for case, data in MALFORMED:
                r = await ch.c.post(
                    path.format(rid=ch.rid), data=data, headers={**JSON, **ch.h("bob")}
                )
                assert r.status_code == 400, case
                await err(r, 400, "INVALID_INPUT")
            assert await ch.snapshot() == before


@pytest.mark.parametrize(
    "data",
    [b'{"client_msg_id": "c1", "body": "\\ud800"}', b'{"client_msg_id": "\\ud800", "body": "hi"}'],
)
async def test_post_lone_surrogate_is_400(tmp_path, data):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            before = await ch.snapshot()
            r = await ch.c.post(
                f"/api/rooms/{ch.rid}/messages", data=data, headers={**JSON, **ch.h("alice")}
            )
            await err(r, 400, "INVALID_INPUT")
            assert await ch.snapshot() == before


async def test_post_body_over_max_body_is_413(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path, server__max_body=1024)) as app:
            ch = await chat(app)
            before = await ch.snapshot()
            r = await ch.post("alice", "x" * 2000)
            await err(r, 413, "PAYLOAD_TOO_LARGE")
            assert await ch.snapshot() == before
            await ch.send("alice", "x" * 900)


async def test_post_to_unknown_room_404(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            before = await ch.snapshot()
            await err(await ch.post("alice", "hi", rid="r_nope"), 404, "NOT_FOUND")
            await err(await ch.post("dave", "hi"), 404, "NOT_FOUND")
            assert await ch.snapshot() == before


async def test_idempotent_post(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            first = await ch.send("alice", "once", "same-id")
            before = await ch.snapshot()
            r = await ch.post("alice", "once", "same-id")
            assert r.status_code == 201
            assert await r.get_json() == first  # same id, seq, created_at
            r = await ch.post("alice", "once   ", "same-id")  # equal after trimming
            assert await r.get_json() == first
            assert await ch.snapshot() == before  # no second message, no event
            # Same id, different body or room: CONFLICT, nothing changes.
            await err(await ch.post("alice", "twice", "same-id"), 409, "CONFLICT")
            other = await (
                await ch.c.post("/api/rooms", json={"name": "H"}, headers=ch.h("alice"))
            ).get_json()
            before = await ch.snapshot()
            await err(await ch.post("alice", "once", "same-id", rid=other["id"]), 409, "CONFLICT")
            assert await ch.snapshot() == before
            # The key is (sender, client_msg_id): bob may use the same id.
            m = await ch.send("bob", "once", "same-id")
            assert m["id"] != first["id"] and m["sender"] == "bob"


async def test_concurrent_identical_posts_create_one_message(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path), memory=False) as app:
            ch = await chat(app)
            results: list[Any] = []

            async def go() -> None:
                r = await ch.post("alice", "racing", "race-1")
                results.append((r.status_code, await r.get_json()))

            async with trio.open_nursery() as n:
                for _ in range(5):
                    n.start_soon(go)
            assert {s for s, _ in results} == {201}
            assert len({b["id"] for _, b in results}) == 1
            h = await (await ch.history("bob")).get_json()
            assert len(h["messages"]) == 1


# -- history --------------------------------------------------------------------


async def test_history_keyset_paging(tmp_path):
    with trio.fail_after(15):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            other = await (
                await ch.c.post(
                    "/api/rooms", json={"name": "noise", "members": ["bob"]}, headers=ch.h("alice")
                )
            ).get_json()
            sent = []
            for i in range(9):
                sent.append(await ch.send("alice" if i % 2 else "bob", f"m{i}"))
                await ch.post("alice", f"noise {i}", rid=other["id"])
            ids = [m["id"] for m in sent]
            assert ids == sorted(ids)
            # Newest page first, ascending inside; has_more exact.
            page = await (await ch.history("bob", "?limit=4")).get_json()
            assert page == {"messages": sent[5:], "has_more": True}
            page = await (await ch.history("bob", f"?limit=4&before={ids[5]}")).get_json()
            assert page == {"messages": sent[1:5], "has_more": True}
            page = await (await ch.history("bob", f"?limit=4&before={ids[1]}")).get_json()
            assert page == {"messages": sent[:1], "has_more": False}
            # Exactly limit messages left: has_more is false.
            page = await (await ch.history("bob", f"?limit=3&before={ids[3]}")).get_json()
            assert page == {"messages": sent[:3], "has_more": False}
            page = await (await ch.history("bob", "?limit=9")).get_json()
            assert page == {"messages": sent, "has_more": False}
            page = await (await ch.history("bob", f"?before={ids[0]}")).get_json()
            assert page == {"messages": [], "has_more": False}
            page = await (await ch.history("bob", "?before=999999999")).get_json()
            assert page == {"messages": sent, "has_more": False}
            # before need not be an id of this room.
            noise_ids = [
                m["id"]
                for m in (
                    await (
                        await ch.c.get(f"/api/rooms/{other['id']}/messages", headers=ch.h("bob"))
                    ).get_json()
                )["messages"]
            ]
            page = await (await ch.history("bob", f"?before={noise_ids[4]}")).get_json()
            assert page["messages"] == [m for m in sent if m["id"] < noise_ids[4]]
            assert page["has_more"] is False
            for m in page["messages"]:
                check_message(
                    m,
                    room=ch.rid,
                    sender=m["sender"],
                    body=m["body"],
                    client_msg_id=m["client_msg_id"],
                )


async def test_history_default_50_and_max_200(tmp_path):
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            sent = [await ch.send("alice", f"n{i}") for i in range(205)]
            page = await (await ch.history("alice")).get_json()
            assert page["messages"] == sent[-50:] and page["has_more"] is True
            page = await (await ch.history("alice", "?limit=200")).get_json()
            assert page["messages"] == sent[-200:] and page["has_more"] is True
            page = await (await ch.history("alice", "?limit=1")).get_json()
            assert page["messages"] == sent[-1:] and page["has_more"] is True
            page = await (
                await ch.history("alice", f"?limit=200&before={sent[5]['id']}")
            ).get_json()
            assert page["messages"] == sent[:5] and page["has_more"] is False


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=201",
        "?limit=abc",
        "?limit=-1",
        "?limit=1.5",
        "?limit=%201",
        "?limit=1e2",
        "?limit=99999999999999999999999",
        "?before=0",
        "?before=-5",
        "?before=abc",
        "?before=1.0",
        "?before=99999999999999999999",
        "?before=0x10",
    ],
)
async def test_history_bad_query_is_400(tmp_path, query):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            await ch.send("alice", "x")
            await err(await ch.history("alice", query), 400, "INVALID_INPUT")


@pytest.mark.parametrize("query", ["?limit=%C2%B2", "?before=%C2%B2"])
async def test_history_superscript_digit_is_400(tmp_path, query):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            await err(await ch.history("alice", query), 400, "INVALID_INPUT")


# -- read cursor ----------------------------------------------------------------


def _me(room: dict[str, Any], who: str) -> dict[str, Any]:
    return next(m for m in room["members"] if m["username"] == who)


async def test_read_cursor_moves_forward_only(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            m = [await ch.send("alice", f"m{i}") for i in range(4)]
            room = await (await ch.c.get(f"/api/rooms/{ch.rid}", headers=ch.h("bob"))).get_json()
            assert room["unread"] == 4 and _me(room, "bob")["read_up_to"] == 0
            head = await system_of(app).store.head()
            r = await ch.c.post(
                f"/api/rooms/{ch.rid}/read", json={"up_to": m[2]["id"]}, headers=ch.h("bob")
            )
            assert r.status_code == 204 and await r.get_data() == b""
            room = await (await ch.c.get(f"/api/rooms/{ch.rid}", headers=ch.h("alice"))).get_json()
            assert _me(room, "bob")["read_up_to"] == m[2]["id"]
            ev = (
                await (
                    await ch.c.get(f"/api/events?since={head}", headers=ch.h("alice"))
                ).get_json()
            )["events"]
            assert [(e["type"], e["room"], e["user"], e["up_to"]) for e in ev] == [
                ("read", ch.rid, "bob", m[2]["id"])
            ]
            assert isinstance(ev[0]["seq"], int) and ev[0]["seq"] > head
            # Backwards and repeats: 204, nothing changes, no event.
            before = await ch.snapshot()
            for up_to in (m[0]["id"], m[2]["id"]):
                r = await ch.c.post(
                    f"/api/rooms/{ch.rid}/read", json={"up_to": up_to}, headers=ch.h("bob")
                )
                assert r.status_code == 204
            assert await ch.snapshot() == before
            room = await (await ch.c.get(f"/api/rooms/{ch.rid}", headers=ch.h("bob"))).get_json()
            assert room["unread"] == 1
            # Far beyond the newest message: everything read, never a cursor past it.
            r = await ch.c.post(
                f"/api/rooms/{ch.rid}/read", json={"up_to": 2**62}, headers=ch.h("bob")
            )
            assert r.status_code == 204
            room = await (await ch.c.get(f"/api/rooms/{ch.rid}", headers=ch.h("bob"))).get_json()
            assert room["unread"] == 0
            assert m[3]["id"] <= _me(room, "bob")["read_up_to"] <= 2**62
            # New messages after the cursor are unread again.
            await ch.send("alice", "later")
            room = await (await ch.c.get(f"/api/rooms/{ch.rid}", headers=ch.h("bob"))).get_json()
            assert room["unread"] == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"up_to": 0},
        {"up_to": -1},
        {"up_to": "5"},
        {"up_to": 1.5},
        {"up_to": True},
        {"up_to": None},
        {"up_to": 2**63},
        {"up_to": [1]},
        {},
    ],
)
async def test_read_bad_input(tmp_path, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            await ch.send("alice", "x")
            before = await ch.snapshot()
            r = await ch.c.post(f"/api/rooms/{ch.rid}/read", json=payload, headers=ch.h("bob"))
            await err(r, 400, "INVALID_INPUT")
            assert await ch.snapshot() == before


# -- events ---------------------------------------------------------------------


async def test_events_paging(tmp_path):
    with trio.fail_after(15):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            store = system_of(app).store
            sent = [await ch.send("alice", f"e{i}") for i in range(7)]
            await ch.c.post(
                f"/api/rooms/{ch.rid}/read", json={"up_to": sent[3]["id"]}, headers=ch.h("bob")
            )
            # Something bob must not see.
            await ch.c.post(
                "/api/rooms", json={"name": "secret", "members": ["dave"]}, headers=ch.h("alice")
            )
            head = await store.head()
            full = await (await ch.c.get("/api/events?since=0", headers=ch.h("bob"))).get_json()
            assert set(full) >= {"epoch", "events", "next", "has_more"}
            assert full["epoch"] == store.epoch and isinstance(full["epoch"], str) and full["epoch"]
            assert full["has_more"] is False and full["next"] == head
            seqs = [e["seq"] for e in full["events"]]
            assert seqs == sorted(set(seqs)) and all(isinstance(s, int) and s > 0 for s in seqs)
            assert all(e["room"] == ch.rid for e in full["events"])  # nothing from "secret"
            msgs = [e for e in full["events"] if e["type"] == "message"]
            assert [{k: v for k, v in e.items() if k != "type"} for e in msgs] == sent
            types = [e["type"] for e in full["events"]]
            # bob's feed starts at his own joining (earlier events of the room are not his).
            assert types[0] == "member_added" and full["events"][0]["username"] == "bob"
            assert types.count("read") == 1
            # Paging with limit=3 yields the same sequence with exact has_more and next.
            got, since, pages = [], 0, 0
            while True:
                page = await (
                    await ch.c.get(f"/api/events?since={since}&limit=3", headers=ch.h("bob"))
                ).get_json()
                pages += 1
                assert page["epoch"] == full["epoch"]
                assert len(page["events"]) <= 3
                got += page["events"]
                if page["events"]:
                    assert page["events"][0]["seq"] > since
                if not page["has_more"]:
                    assert page["next"] == head
                    break
                assert len(page["events"]) == 3 and page["next"] == page["events"][-1]["seq"]
                since = page["next"]
            assert got == full["events"]
            assert pages >= len(full["events"]) // 3
            # At or past the head: nothing, and next does not go backwards.
            page = await (
                await ch.c.get(f"/api/events?since={head}", headers=ch.h("bob"))
            ).get_json()
            assert page["events"] == [] and page["has_more"] is False and page["next"] == head
            page = await (
                await ch.c.get(f"/api/events?since={head + 100}", headers=ch.h("bob"))
            ).get_json()
            assert page["events"] == [] and page["next"] >= head
            # dave sees his own room but none of G.
            dave = await (await ch.c.get("/api/events", headers=ch.h("dave"))).get_json()
            assert dave["events"] and all(e["room"] != ch.rid for e in dave["events"])


@pytest.mark.parametrize(
    "query",
    [
        "?since=-1",
        "?since=abc",
        "?since=1.5",
        "?limit=0",
        "?limit=1001",
        "?limit=x",
        "?since=99999999999999999999",
    ],
)
async def test_events_bad_query(tmp_path, query):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            await err(
                await ch.c.get(f"/api/events{query}", headers=ch.h("alice")), 400, "INVALID_INPUT"
            )


async def test_events_superscript_digit_is_400(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            await err(
                await ch.c.get("/api/events?since=%C2%B2", headers=ch.h("alice")),
                400,
                "INVALID_INPUT",
            )


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/rooms/{rid}/messages"),
        ("POST", "/api/rooms/{rid}/messages"),
        ("POST", "/api/rooms/{rid}/read"),
        ("GET", "/api/events?since=0"),
    ],
)
async def test_message_routes_require_auth(tmp_path, method, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            before = await ch.snapshot()
            r = await ch.c.open(
                path.format(rid=ch.rid),
                method=method,
                json={"client_msg_id": "c", "body": "b", "up_to": 1},
            )
            await err(r, 401, "UNAUTHENTICATED")
            assert await ch.snapshot() == before


async def test_events_stop_at_leaving_and_resume_on_rejoin(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            ch = await chat(app)
            store = system_of(app).store
            await ch.send("alice", "before")
            head = await store.head()
            assert (
                await ch.c.delete(f"/api/rooms/{ch.rid}/members/bob", headers=ch.h("bob"))
            ).status_code == 204
            away = await ch.send("alice", "while bob is away")
            page = await (
                await ch.c.get(f"/api/events?since={head}", headers=ch.h("bob"))
            ).get_json()
            assert [(e["type"], e["username"]) for e in page["events"]] == [
                ("member_removed", "bob")
            ]
            assert page["has_more"] is False
            await err(await ch.history("bob"), 404, "NOT_FOUND")
            r = await ch.c.post(
                f"/api/rooms/{ch.rid}/members", json={"username": "bob"}, headers=ch.h("alice")
            )
            assert r.status_code == 201
            back = await ch.send("alice", "welcome back")
            page = await (
                await ch.c.get(f"/api/events?since={head}", headers=ch.h("bob"))
            ).get_json()
            assert [e["type"] for e in page["events"]] == [
                "member_removed",
                "member_added",
                "message",
            ]
            assert away["seq"] not in [e["seq"] for e in page["events"]]
            assert page["events"][-1]["id"] == back["id"]
