"""Socket protocol tests (PROTOCOL.md section 4) through the Quart test client.

Every client event, every server event and every error case of 4.4.
"""

from __future__ import annotations

import json
from collections import deque
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from helpers import bearer, cmid, make_config, running_app, system_of, user
from quart.testing.connections import WebsocketDisconnectError

from chatter.wire import ServerEvent

TIMEOUT = 10


class Ws:
    """A test-client socket that flattens array frames and finds frames by type."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.buffer: deque[dict[str, Any]] = deque()
        self.frames_received = 0

    async def send(self, obj: Any) -> None:
        await self.raw.send(obj if isinstance(obj, str | bytes) else json.dumps(obj))

    async def _fill(self) -> None:
        text = await self.raw.receive()
        data = json.loads(text)
        self.frames_received += 1
        # Every frame the server sends is one its schema declares (chatter.wire.ServerEvent).
        msgspec.json.decode(text, type=list[ServerEvent] if isinstance(data, list) else ServerEvent)
        self.buffer.extend(data if isinstance(data, list) else [data])

    async def next(self, *types: str) -> dict[str, Any]:
        """The next frame (of one of ``types`` if given; others are skipped)."""
        while True:
            while not self.buffer:
                await self._fill()
            f = self.buffer.popleft()
            if not types or f["type"] in types:
                return f

    async def closed(self) -> int:
        """Read until the server closes; return the close code."""
        with pytest.raises(WebsocketDisconnectError) as info:
            while True:
                await self._fill()
        return int(info.value.args[0])

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "hello", **fields})
        return await self.next("ready")


@asynccontextmanager
async def socket(client: Any, token: str | None = None, headers: dict[str, str] | None = None) -> Any:
    h = dict(headers or {})
    if token:
        h.update(bearer(token))
    async with client.websocket("/ws", headers=h) as raw:
        yield Ws(raw)


@asynccontextmanager
async def world(tmp_path: Any, **overrides: Any) -> Any:
    """An app with ana (owner) and ben in a group room; cid outside it."""
    async with running_app(make_config(tmp_path, **overrides)) as app:
        client = app.test_client()
        tokens = {u: await user(client, u) for u in ("ana", "ben", "cid")}
        r = await client.post("/api/rooms", json={"name": "Team", "members": ["ben"]}, headers=bearer(tokens["ana"]))
        room = (await r.get_json())["id"]
        yield app, client, tokens, room


# -- handshake ------------------------------------------------------------------


async def test_cookie_handshake_from_the_same_origin_is_accepted(tmp_path: Any) -> None:
    # Refusals (401, cross-origin 403) are tested against real hypercorn in tests/e2e/test_ws_e2e.py:
    # the test client cannot tear down a rejected handshake cleanly.
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            cookie = {"Cookie": f"chatter_session={tokens['ana']}", "Host": "chat.example"}
            async with socket(client, headers={**cookie, "Origin": "http://chat.example"}) as ws:
                assert (await ws.hello())["user"]["username"] == "ana"


# -- hello / ready / resume / reset -------------------------------------------


async def test_ready_carries_epoch_head_user_and_online_contacts(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            store = system_of(app).store
            async with socket(client, tokens["ben"]) as ben:
                await ben.hello()
                async with socket(client, tokens["ana"]) as ana:
                    ready = await ana.hello()
                    assert ready == {"type": "ready", "epoch": store.epoch, "seq": await store.head(),
                                     "user": {"username": "ana", "name": "Ana", "online": True,
                                              "last_seen": ready["user"]["last_seen"]},
                                     "online": ["ben"]}


async def test_first_frame_must_be_hello(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            for first in ({"type": "ping"}, "garbage", b"\x00\x01"):
                async with socket(client, tokens["ana"]) as ws:
                    await ws.send(first)
                    assert await ws.closed() == 1008


async def test_a_socket_that_never_says_hello_is_closed_after_ten_seconds(
        tmp_path: Any, autojump_clock: trio.testing.MockClock) -> None:
    autojump_clock.autojump_threshold = float("inf")  # set-up runs bcrypt in threads: virtual time stands still
    with trio.fail_after(60):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as silent, socket(client, tokens["ben"]) as talker:
                opened = trio.current_time()
                await talker.send({"type": "hello"})
                autojump_clock.autojump_threshold = 0
                assert (await talker.next("ready"))["type"] == "ready"
                assert await silent.closed() == 1008
                assert 10 <= trio.current_time() - opened <= 11  # the sweeper ticks each second
                await talker.send({"type": "ping"})
                assert await talker.next("pong") == {"type": "pong"}  # the one that said hello stays


async def test_resume_delivers_every_event_after_cursor_in_order(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            ready = None
            async with socket(client, tokens["ben"]) as ben:
                ready = await ben.hello()
            sent = []
            for i in range(30):
                r = await client.post(f"/api/rooms/{room}/messages", json={"client_msg_id": f"r{i}", "body": f"#{i}"},
                                      headers=bearer(tokens["ana"]))
                sent.append((await r.get_json())["seq"])
            async with socket(client, tokens["ben"]) as ben:
                await ben.hello(since=ready["seq"], epoch=ready["epoch"])
                got = [(await ben.next("message"))["seq"] for _ in sent]
                assert got == sent


async def test_foreign_epoch_or_future_cursor_gets_reset(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            store = system_of(app).store
            head = await store.head()
            for fields in ({"since": 1, "epoch": "someone-elses"}, {"since": head + 1000, "epoch": store.epoch}):
                async with socket(client, tokens["ben"]) as ben:
                    await ben.hello(**fields)
                    assert await ben.next() == {"type": "reset", "epoch": store.epoch, "seq": head}
                    # ...and the socket is live from the head on
                    await client.post(f"/api/rooms/{room}/messages", json={"client_msg_id": cmid(), "body": "x"},
                                      headers=bearer(tokens["ana"]))
                    assert (await ben.next("message"))["seq"] > head
                    head = await store.head()


async def test_hello_twice_is_an_error(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ws:
                await ws.hello()
                await ws.send({"type": "hello"})
                err = await ws.next("error")
                assert err["code"] == "INVALID_INPUT" and err["ref"] == "hello"


# -- send / ack / message -----------------------------------------------------------


async def test_send_acks_then_delivers_to_every_socket_of_every_member(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana, socket(client, tokens["ana"]) as ana2, \
                    socket(client, tokens["ben"]) as ben, socket(client, tokens["cid"]) as cid:
                for ws in (ana, ana2, ben, cid):
                    await ws.hello()
                await ana.send({"type": "send", "room": room, "client_msg_id": "m-1", "body": "hi  \n "})
                ack = await ana.next("ack", "message")
                assert ack["type"] == "ack"  # the ack comes before the message on the sender's socket
                assert set(ack) == {"type", "client_msg_id", "id", "seq", "room", "created_at"}
                msg = await ana.next("message")
                assert msg == {"type": "message", "id": ack["id"], "seq": ack["seq"], "room": room, "sender": "ana",
                               "body": "hi", "client_msg_id": "m-1", "created_at": ack["created_at"],
                               "edited_at": None, "deleted": False, "reply_to": None, "mentions": [], "reactions": [],
                               "attachments": []}
                assert await ana2.next("message") == msg  # second tab
                assert await ben.next("message") == msg
                await cid.send({"type": "ping"})
                assert (await cid.next("pong", "message"))["type"] == "pong"  # not a member: nothing


async def test_duplicate_client_msg_id(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            store = system_of(app).store
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                frame = {"type": "send", "room": room, "client_msg_id": "dup", "body": "same"}
                await ana.send(frame)
                first = await ana.next("ack")
                head = await store.head()
                await ana.send(frame)
                assert await ana.next("ack") == first
                assert await store.head() == head  # no second message or event
                await ana.send({**frame, "body": "different"})
                err = await ana.next("error")
                assert err["code"] == "CONFLICT" and err["ref"] == "dup"
                assert await store.head() == head


async def test_send_errors_leave_the_socket_open(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            store = system_of(app).store
            cases = [
                ("{not json", "INVALID_INPUT", None),
                ('{"type": "send", "room": 1, "client_msg_id": "a", "body": "x"}', "INVALID_INPUT", "a"),
                ({"type": "send", "room": room, "client_msg_id": "b"}, "INVALID_INPUT", "b"),
                ({"type": "send", "room": room, "client_msg_id": "c", "body": 5}, "INVALID_INPUT", "c"),
                ({"type": "send", "room": room, "client_msg_id": "", "body": "x"}, "INVALID_INPUT", "send"),
                ({"type": "send", "room": room, "client_msg_id": "x" * 65, "body": "x"}, "INVALID_INPUT", "send"),
                ({"type": "send", "room": room, "client_msg_id": "d", "body": "y" * 4001}, "INVALID_INPUT", "d"),
                ({"type": "send", "room": room, "client_msg_id": "e", "body": "   "}, "INVALID_INPUT", "e"),
                ({"type": "send", "room": "r_nope", "client_msg_id": "f", "body": "x"}, "NOT_FOUND", "f"),
                ({"type": "typing", "room": room, "active": "yes"}, "INVALID_INPUT", "typing"),
                ({"type": "read", "room": room, "up_to": -1}, "INVALID_INPUT", "read"),
                ({"type": "read", "room": room, "up_to": True}, "INVALID_INPUT", "read"),
                ({"type": "dance"}, "INVALID_INPUT", "dance"),
                ({"kind": "send"}, "INVALID_INPUT", None),
                ("[1, 2]", "INVALID_INPUT", None),
                ('{"type": "ping", "type": "send"}', "INVALID_INPUT", None),
                ('{"type": "read", "room": "x", "up_to": NaN}', "INVALID_INPUT", None),
                ("[" * 1000 + "]" * 1000, "INVALID_INPUT", None),
            ]
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                head = await store.head()
                for frame, code, ref in cases:
                    await ana.send(frame)
                    err = await ana.next("error")
                    assert (err["code"], err["ref"]) == (code, ref), frame
                    assert isinstance(err["message"], str) and err["message"]
                assert await store.head() == head  # nothing changed
                await ana.send({"type": "ping"})
                assert (await ana.next("pong"))["type"] == "pong"


async def test_acting_on_a_room_you_are_not_in_is_not_found(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            store = system_of(app).store
            async with socket(client, tokens["cid"]) as cid:
                await cid.hello()
                head = await store.head()
                for frame in ({"type": "send", "room": room, "client_msg_id": "z", "body": "x"},
                              {"type": "typing", "room": room, "active": True},
                              {"type": "read", "room": room, "up_to": 1}):
                    await cid.send(frame)
                    assert (await cid.next("error"))["code"] == "NOT_FOUND"
                assert await store.head() == head


async def test_oversize_frame_closes_1009(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                await ana.send({"type": "send", "room": room, "client_msg_id": "big", "body": "x" * (65 * 1024)})
                assert await ana.closed() == 1009


async def test_binary_frame_closes_1008(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                await ana.send(b'{"type": "ping"}')
                assert await ana.closed() == 1008


async def test_more_than_20_sends_a_second_are_rate_limited(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                for i in range(25):
                    await ana.send({"type": "send", "room": room, "client_msg_id": f"q{i}", "body": "x"})
                answers = [await ana.next("ack", "error") for _ in range(25)]
                acks = [a for a in answers if a["type"] == "ack"]
                limited = [a for a in answers if a["type"] == "error"]
                assert len(acks) == 20
                assert len(limited) == 5 and all(e["code"] == "RATE_LIMITED" for e in limited)


async def test_more_than_20_invalid_frames_a_minute_close_1008(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                for _ in range(20):
                    await ana.send("nope")
                    assert (await ana.next("error"))["code"] == "INVALID_INPUT"
                await ana.send("nope")
                assert await ana.closed() == 1008


# -- typing / read / ping --------------------------------------------------------


async def test_typing_reaches_the_other_members_only(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana, socket(client, tokens["ben"]) as ben:
                await ana.hello()
                await ben.hello()
                await ana.send({"type": "typing", "room": room, "active": True})
                assert await ben.next("typing") == {"type": "typing", "room": room, "user": "ana", "active": True}
                await ana.send({"type": "ping"})
                assert (await ana.next("typing", "pong"))["type"] == "pong"  # not echoed to the typist


async def test_read_is_durable_and_reaches_all_members(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana, socket(client, tokens["ben"]) as ben:
                await ana.hello()
                await ben.hello()
                await ana.send({"type": "send", "room": room, "client_msg_id": "r1", "body": "read me"})
                ack = await ana.next("ack")
                await ben.send({"type": "read", "room": room, "up_to": ack["id"]})
                for ws in (ana, ben):
                    ev = await ws.next("read")
                    assert ev == {"type": "read", "seq": ev["seq"], "room": room, "user": "ben", "up_to": ack["id"]}
                    assert ev["seq"] > ack["seq"]
                r = await client.get(f"/api/rooms/{room}", headers=bearer(tokens["ben"]))
                members = {m["username"]: m for m in (await r.get_json())["members"]}
                assert members["ben"]["read_up_to"] == ack["id"]


async def test_ping_pong(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                await ana.send({"type": "ping"})
                assert await ana.next("pong") == {"type": "pong"}


# -- membership and room events, live ---------------------------------------------


async def test_membership_and_room_changes_reach_affected_users_live(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ben"]) as ben, socket(client, tokens["cid"]) as cid:
                await ben.hello()
                await cid.hello()
                ana_h = bearer(tokens["ana"])
                await client.post(f"/api/rooms/{room}/members", json={"username": "cid"}, headers=ana_h)
                added = await cid.next("member_added")
                assert (added["room"], added["username"], added["role"]) == (room, "cid", "member")
                assert (await ben.next("member_added"))["username"] == "cid"
                await client.patch(f"/api/rooms/{room}", json={"name": "Renamed"}, headers=ana_h)
                upd = await cid.next("room_updated")
                assert upd["room"] == room and upd["name"] == "Renamed"
                await client.delete(f"/api/rooms/{room}/members/cid", json={}, headers=ana_h)
                removed = await cid.next("member_removed")
                assert (removed["room"], removed["username"]) == (room, "cid")
                await cid.send({"type": "send", "room": room, "client_msg_id": "after", "body": "x"})
                assert (await cid.next("error"))["code"] == "NOT_FOUND"
                await client.delete(f"/api/rooms/{room}", json={}, headers=ana_h)
                assert (await ben.next("room_deleted"))["room"] == room


async def test_presence_reaches_users_who_share_a_room(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ben"]) as ben, socket(client, tokens["cid"]) as cid:
                await ben.hello()
                await cid.hello()
                async with socket(client, tokens["ana"]) as ana:
                    await ana.hello()
                    p = await ben.next("presence")
                    assert (p["user"], p["online"]) == ("ana", True) and isinstance(p["last_seen"], str)
                await cid.send({"type": "ping"})
                assert (await cid.next("presence", "pong"))["type"] == "pong"  # shares no room with ana


async def test_logout_closes_open_sockets_with_4001_and_refuses_new_ones(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as tab1, socket(client, tokens["ana"]) as tab2:
                await tab1.hello()
                await tab2.hello()
                r = await client.post("/api/auth/logout", headers=bearer(tokens["ana"]))
                assert r.status_code == 204
                assert await tab1.closed() == 4001
                assert await tab2.closed() == 4001


async def test_ack_latency_and_socket_metrics_are_exported(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                await ana.send({"type": "send", "room": room, "client_msg_id": "m", "body": "x"})
                await ana.next("ack")
                text = await (await client.get("/metrics")).get_data(as_text=True)
                for name in ("chatter_sockets_open 1", "chatter_send_ack_seconds_count 1",
                             "chatter_events_delivered_total", "chatter_sockets_fell_behind_total",
                             "chatter_sockets_closed_too_slow_total", "chatter_dispatch_queue_batches",
                             "chatter_outbox_frames"):
                    assert name in text, name


async def test_password_change_ends_other_sessions_but_keeps_the_callers(tmp_path: Any) -> None:
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            r = await client.post("/api/auth/login", json={"username": "ana", "password": "correct horse battery"})
            cookie_token = (await r.get_json())["token"]
            mine = {"Cookie": f"chatter_session={cookie_token}", "Host": "chat.example",
                    "Origin": "http://chat.example"}
            async with socket(client, headers=mine) as this_tab, socket(client, tokens["ana"]) as other_session:
                await this_tab.hello()
                await other_session.hello()
                r = await client.post("/api/me/password", headers={**mine, "Content-Type": "application/json"},
                                      json={"current": "correct horse battery", "new": "a brand new secret"})
                assert r.status_code == 204
                fresh = r.headers.get("Set-Cookie", "")
                assert fresh.startswith("chatter_session=") and cookie_token not in fresh
                assert await other_session.closed() == 4001
                await this_tab.send({"type": "ping"})
                assert await this_tab.next("pong") == {"type": "pong"}  # still open
                await client.post(f"/api/rooms/{room}/messages", headers=bearer(tokens["ben"]),
                                  json={"client_msg_id": "after", "body": "still delivered"})
                assert (await this_tab.next("message"))["body"] == "still delivered"


async def test_frames_bypass_quarts_per_send_wrapper(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer sends the ASGI message itself (hypercorn_seam, reach 3): Quart's send_data is not on the hot path."""
    from quart.asgi import ASGIWebsocketConnection

    calls = {"n": 0}
    original = ASGIWebsocketConnection.send_data

    async def counting(self: Any, send: Any, data: Any) -> None:
        calls["n"] += 1
        await original(self, send, data)

    monkeypatch.setattr(ASGIWebsocketConnection, "send_data", counting)
    with trio.fail_after(TIMEOUT):
        async with world(tmp_path) as (app, client, tokens, room):
            async with socket(client, tokens["ana"]) as ana:
                await ana.hello()
                for _ in range(3):
                    await ana.send({"type": "ping"})
                    await ana.next("pong")
    assert ana.frames_received >= 2
    assert calls["n"] == 0
