"""Property tests (hypothesis): the frame parser, a stateful model of the
socket protocol whose invariants are the PROTOCOL.md 4.3 guarantees, and
membership filtering on every read path.

The stateful machine drives an in-process app (SqliteStore in a temp dir,
quart test client) that runs in its own trio thread; rules reach it with
``trio.from_thread.run``.  Each socket lives in one task of that thread
(the test client's nursery must be entered and left by the same task).

Sizes: few examples in the smoke run; ``CHATTER_SOAK=1`` runs many more.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
import trio
from fleet import soak
from helpers import bearer, make_config, running_app, user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from rawws import bounded

from chatter.errors import Invalid
from chatter.http.wire import parse_json, parse_object

# -- 1. the parser ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4),
    max_leaves=20,
)


def _mutations(text: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(text),
        st.integers(0, max(0, len(text))).map(lambda i: text[:i]),
        st.tuples(st.integers(0, len(text)), st.text(max_size=8)).map(lambda p: text[: p[0]] + p[1] + text[p[0] :]),
        st.integers(1, 2000).map(lambda n: "[" * n + text + "]" * n),
        st.sampled_from(["NaN", "-Infinity", "Infinity", '{"a":1,"a":2}', "\ud800", '"\\ud800"', "1e99999"]).map(
            lambda s: text[:1] + s + text[1:]
        ),
    )


@settings(max_examples=soak(300, 20000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), json_values.map(json.dumps).flatmap(_mutations)))
def test_parser_raises_only_invalid_on_text(text):
    for fn in (parse_json, parse_object):
        try:
            fn(text)
        except Invalid:
            pass


@settings(max_examples=soak(200, 10000), deadline=None)
@given(st.binary())
def test_parser_raises_only_invalid_on_bytes(data):
    for fn in (parse_json, parse_object):
        try:
            fn(data)
        except Invalid:
            pass


# -- 2. a stateful model of the socket protocol ------------------------------------


class Tab:
    """One socket of a user, served by one task in the app thread."""

    def __init__(self, user: str, index: int) -> None:
        self.user, self.index = user, index
        self.open = False
        self.cursor: int | None = None  # None until the first hello
        self.start: int | None = None
        self.epoch: str | None = None
        self.seen: list[tuple[int, str, str, dict[str, Any]]] = []  # (seq, room, type, event)
        self.replies: list[dict[str, Any]] = []
        self.changed = trio.Event()
        self.cmd: trio.MemorySendChannel[Any] | None = None
        self.done = trio.Event()
        self.problems: list[str] = []

    def on(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind in ("ack", "error", "ready", "reset", "pong"):
            self.replies.append(obj)
        elif "seq" in obj and kind not in ("typing", "presence"):
            seq = obj["seq"]
            if self.cursor is not None and seq <= self.cursor:
                self.problems.append(f"seq {seq} after cursor {self.cursor} (duplicate or out of order)")
            self.cursor = seq
            self.seen.append((seq, obj.get("room", ""), kind, obj))
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, pred: Any, seconds: float = 5) -> dict[str, Any]:
        with trio.fail_after(seconds):
            for _ in bounded():
                for r in self.replies:
                    if pred(r):
                        self.replies.remove(r)
                        return r
                await self.changed.wait()


class App:
    """The app, its users and rooms, living in a trio thread."""

    def __init__(self) -> None:
        self.token: trio.lowlevel.TrioToken | None = None
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.tmp = tempfile.TemporaryDirectory()
        self.tokens: dict[str, str] = {}
        self.rooms: dict[str, str] = {}
        self.stop: trio.Event | None = None
        self.thread = threading.Thread(target=self._thread, daemon=True)
        self.thread.start()
        if not self.started.wait(60):
            raise AssertionError("app thread did not start")
        if self.error is not None:
            raise self.error

    def _thread(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as e:  # noqa: BLE001 - reported to the hypothesis thread
            self.error = e
            self.started.set()

    async def _main(self) -> None:
        cfg = make_config(Path(self.tmp.name), realtime__presence_grace=0)
        async with running_app(cfg, memory=False) as app:
            self.app = app
            self.client = app.test_client()
            for name in ("alice", "bob"):
                self.tokens[name] = await user(self.client, name)
            for name, members in (("r1", ["bob"]), ("r2", ["bob"])):
                r = await self.client.post(
                    "/api/rooms",
                    json={"name": name, "members": members},
                    headers=bearer(self.tokens["alice"]),
                )
                assert r.status_code == 201
                self.rooms[name] = (await r.get_json())["id"]
            self.token = trio.lowlevel.current_trio_token()
            self.stop = trio.Event()
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                self.started.set()
                await self.stop.wait()
                nursery.cancel_scope.cancel()

    def run(self, fn: Any, *args: Any) -> Any:
        try:
            return trio.from_thread.run(fn, *args, trio_token=self.token)
        except (trio.Cancelled, trio.RunFinishedError):
            self.thread.join(10)
            raise AssertionError(f"the app thread ended: {self.error!r}") from self.error

    def close(self) -> None:
        if self.stop is not None:
            trio.from_thread.run_sync(self.stop.set, trio_token=self.token)
        self.thread.join(30)
        self.tmp.cleanup()

    # -- executed in the app thread --

    async def open_tab(self, tab: Tab) -> None:
        send, recv = trio.open_memory_channel[Any](16)
        tab.cmd = send
        opened = trio.Event()

        done = tab.done = trio.Event()

        async def serve() -> None:
            # Ends when the command channel closes; never cancelled from outside (the test
            # client's nursery must be left by the task that entered it, uncancelled).
            try:
                async with self.client.websocket("/ws", headers=bearer(self.tokens[tab.user])) as ws:

                    async def reader() -> None:
                        for _ in bounded():
                            data = json.loads(await ws.receive())
                            for obj in data if isinstance(data, list) else [data]:
                                tab.on(obj)

                    async with trio.open_nursery() as n:
                        n.start_soon(reader)
                        opened.set()
                        async for text in recv:
                            await ws.send(text)
                        n.cancel_scope.cancel()
            finally:
                tab.open = False
                done.set()

        self.nursery.start_soon(serve)
        await opened.wait()
        tab.open = True
        hello: dict[str, Any] = {"type": "hello"}
        if tab.cursor is not None:
            hello.update(since=tab.cursor, epoch=tab.epoch)
        await send.send(json.dumps(hello))
        ready = await tab.wait_for(lambda o: o["type"] == "ready")
        if tab.epoch is not None and ready["epoch"] != tab.epoch:
            tab.problems.append("epoch changed")
        tab.epoch = ready["epoch"]
        if tab.cursor is None:
            tab.cursor = tab.start = ready["seq"]

    async def close_tab(self, tab: Tab) -> None:
        assert tab.cmd is not None
        await tab.cmd.aclose()
        with trio.fail_after(5):
            await tab.done.wait()
        tab.replies.clear()

    async def close_all(self, tabs: list[Tab]) -> None:
        for tab in tabs:
            if tab.open:
                await self.close_tab(tab)

    async def send(self, tab: Tab, room: str, cmid: str, body: str, wait: bool) -> dict[str, Any] | None:
        assert tab.cmd is not None
        await tab.cmd.send(json.dumps({"type": "send", "room": room, "client_msg_id": cmid, "body": body}))
        if not wait:
            return None
        return await tab.wait_for(
            lambda o: o["type"] in ("ack", "error") and (o.get("client_msg_id") == cmid or o.get("ref") == cmid)
        )

    async def rest(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        r = await self.client.open(path, method=method, json=body, headers=bearer(self.tokens[who]))
        text = await r.get_data(as_text=True)
        return r.status_code, (json.loads(text) if text else None)

    async def events_of(self, who: str, since: int) -> list[tuple[int, str, str, dict[str, Any]]]:
        return (await self.events_and_head(who, since))[0]

    async def events_and_head(self, who: str, since: int) -> tuple[list[tuple[int, str, str, dict[str, Any]]], int]:
        out = []
        for _ in range(1000):
            status, page = await self.rest("GET", f"/api/events?since={since}&limit=200", who)
            assert status == 200, page
            out += [(e["seq"], e.get("room", ""), e["type"], e) for e in page["events"]]
            since = page["next"]
            if not page["has_more"]:
                return out, since
        raise AssertionError("too many pages")

    async def sync(self, tab: Tab) -> tuple[list[tuple[int, str, str, dict[str, Any]]], int]:
        """The REST view of the tab's user up to the head, once the tab has received all of it.

        Events committed after the REST read (e.g. a send whose ack was "lost") may already have
        reached the socket: compare up to the head the REST answer was read at.
        """
        assert tab.start is not None
        want, head = await self.events_and_head(tab.user, tab.start)
        last = want[-1][0] if want else tab.start
        with trio.fail_after(5):
            while (tab.cursor or 0) < last:
                await tab.changed.wait()
        return want, head


class SocketProtocol(RuleBasedStateMachine):
    """Rules: send, lost ack, disconnect, reconnect with since, second tab, membership change."""

    def __init__(self) -> None:
        super().__init__()
        self.app = App()
        self.tabs = {(u, i): Tab(u, i) for u in ("alice", "bob") for i in (0, 1)}
        self.acks: dict[tuple[str, str], tuple[int, int, str, str]] = {}  # (user, cmid) -> (id, seq, room, body)
        self.pending: dict[tuple[str, str], tuple[str, str]] = {}  # sent, ack lost: (room, body)
        self.bob_in_r2 = True
        self.bob_spans: list[list[int | None]] = [[0, None]]  # bob's membership of r2 by seq
        self.ids = itertools.count()

    def teardown(self) -> None:
        try:
            if self.app.error is None:
                self.app.run(self.app.close_all, list(self.tabs.values()))
        finally:
            self.app.close()

    @initialize()
    def first_tabs(self) -> None:
        self.app.run(self.app.open_tab, self.tabs[("alice", 0)])
        self.app.run(self.app.open_tab, self.tabs[("bob", 0)])

    def _open(self) -> list[Tab]:
        return [t for t in self.tabs.values() if t.open]

    @precondition(lambda self: any(t.open for t in self.tabs.values()))
    @rule(data=st.data(), room=st.sampled_from(["r1", "r2"]))
    def send(self, data: st.DataObject, room: str) -> None:
        tab = data.draw(st.sampled_from(self._open()))
        cmid = f"c{next(self.ids)}"
        body = f"{tab.user} says {cmid}"
        reply = self.app.run(self.app.send, tab, self.app.rooms[room], cmid, body, True)
        member = tab.user == "alice" or room == "r1" or self.bob_in_r2
        if member:
            assert reply["type"] == "ack", reply
            self.acks[(tab.user, cmid)] = (reply["id"], reply["seq"], room, body)
        else:
            assert reply["type"] == "error" and reply["code"] == "NOT_FOUND", reply

    @precondition(lambda self: any(t.open for t in self.tabs.values()))
    @rule(data=st.data())
    def send_then_lose_the_ack(self, data: st.DataObject) -> None:
        """Send to r1 (permanent membership) and drop the socket before the ack can be read."""
        tab = data.draw(st.sampled_from(self._open()))
        cmid = f"c{next(self.ids)}"
        body = f"{tab.user} lost {cmid}"
        self.app.run(self.app.send, tab, self.app.rooms["r1"], cmid, body, False)
        self.app.run(self.app.close_tab, tab)
        self.pending[(tab.user, cmid)] = ("r1", body)

    @precondition(lambda self: any(t.open for t in self.tabs.values()) and bool(self.pending or self.acks))
    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        """Repeat a send (lost or acked): the original ack, never a second message."""
        tab = data.draw(st.sampled_from(self._open()))
        mine = sorted(k for k in [*self.pending, *self.acks] if k[0] == tab.user)
        if not mine:
            return
        key = data.draw(st.sampled_from(mine))
        room, body = self.pending[key] if key in self.pending else self.acks[key][2:]
        if room == "r2" and tab.user == "bob" and not self.bob_in_r2:
            return  # no longer a member: NOT_FOUND is right (the IDOR tests check it)
        reply = self.app.run(self.app.send, tab, self.app.rooms[room], key[1], body, True)
        assert reply["type"] == "ack", reply
        got = (reply["id"], reply["seq"], room, body)
        if key in self.acks:
            assert self.acks[key] == got, (
                "a repeat must return the original ack",
                self.acks[key],
                got,
            )
        self.acks[key] = got
        self.pending.pop(key, None)

    @precondition(lambda self: any(t.open for t in self.tabs.values()))
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        self.app.run(self.app.close_tab, data.draw(st.sampled_from(self._open())))

    @precondition(lambda self: any(not t.open for t in self.tabs.values()))
    @rule(data=st.data())
    def connect(self, data: st.DataObject) -> None:
        """Reconnect with since/epoch, or open a second tab (its first hello has no since)."""
        tab = data.draw(st.sampled_from([t for t in self.tabs.values() if not t.open]))
        self.app.run(self.app.open_tab, tab)

    @rule()
    def toggle_bob_in_r2(self) -> None:
        r2 = self.app.rooms["r2"]
        if self.bob_in_r2:
            status, _ = self.app.run(self.app.rest, "DELETE", f"/api/rooms/{r2}/members/bob", "alice")
            assert status == 204
        else:
            status, _ = self.app.run(self.app.rest, "POST", f"/api/rooms/{r2}/members", "alice", {"username": "bob"})
            assert status == 201
        self.bob_in_r2 = not self.bob_in_r2
        # The seq of that membership event, from alice's (always a member) view.
        events = self.app.run(self.app.events_of, "alice", 0)
        seq = max(
            s for s, room, t, e in events if room == r2 and t.startswith("member_") and e.get("username") == "bob"
        )
        if self.bob_in_r2:
            self.bob_spans.append([seq, None])
        else:
            self.bob_spans[-1][1] = seq

    @invariant()
    def guarantees_hold(self) -> None:
        r2 = self.app.rooms.get("r2")
        for tab in self.tabs.values():
            assert not tab.problems, tab.problems
            if tab.start is None:
                continue
            if tab.open:
                # Resume: the socket's stream equals the durable log the user may see, in seq order,
                # no gaps, no duplicates (REST /events is the oracle).
                want, head = self.app.run(self.app.sync, tab)
                got = [s for s, *_ in tab.seen if s <= head]
                assert got == [s for s, *_ in want], (
                    tab.user,
                    tab.index,
                    got,
                    [s for s, *_ in want],
                )
            if tab.user == "bob":
                for seq, room, kind, _e in tab.seen:
                    if room == r2:
                        assert any(lo <= seq and (hi is None or seq <= hi) for lo, hi in self.bob_spans), (
                            f"bob saw {kind} seq {seq} of r2 outside his membership {self.bob_spans}"
                        )
        # Idempotent send: each acked (sender, client_msg_id) exactly once in its room's history.
        for (who, cmid), (mid, seq, room, body) in self.acks.items():
            status, page = self.app.run(
                self.app.rest,
                "GET",
                f"/api/rooms/{self.app.rooms[room]}/messages?limit=200",
                "alice",
            )
            assert status == 200
            same = [m for m in page["messages"] if m["sender"] == who and m["client_msg_id"] == cmid]
            assert [(m["id"], m["seq"], m["body"]) for m in same] == [(mid, seq, body)], same


SocketProtocol.TestCase.settings = settings(
    max_examples=soak(6, 100),
    stateful_step_count=soak(15, 40),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
test_socket_protocol_model = pytest.mark.slow(SocketProtocol.TestCase)


# -- 3. membership filtering on every read path ------------------------------------

USERS = ["ann", "ben", "cat", "dan"]

scenario = st.tuples(
    # rooms: (owner index, member indexes)
    st.lists(st.tuples(st.integers(0, 3), st.sets(st.integers(0, 3))), min_size=1, max_size=3),
    # operations: ("post" | "toggle", room index, user index)
    st.lists(
        st.tuples(st.sampled_from(["post", "post", "toggle"]), st.integers(0, 2), st.integers(0, 3)),
        max_size=12,
    ),
)


@settings(max_examples=soak(5, 150), deadline=None, suppress_health_check=list(HealthCheck))
@given(scenario)
async def test_no_read_path_leaks_a_room(tmp_path_factory, spec):
    rooms_spec, ops = spec
    with trio.fail_after(60):
        async with running_app(make_config(tmp_path_factory.mktemp("m"), realtime__presence_grace=0)) as app:
            client = app.test_client()
            tokens = {u: await user(client, u) for u in USERS}

            async def call(method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
                r = await client.open(path, method=method, json=body, headers=bearer(tokens[who]))
                text = await r.get_data(as_text=True)
                return r.status_code, (json.loads(text) if text else None)

            async def owner_events(owner: str) -> list[dict[str, Any]]:
                status, page = await call("GET", "/api/events?since=0&limit=1000", owner)
                assert status == 200 and not page["has_more"]
                return page["events"]

            rooms: list[tuple[str, str]] = []  # (id, owner)
            members: dict[str, set[str]] = {}
            spans: dict[tuple[str, str], list[list[int | None]]] = {}

            def note(room: str, who: str, seq: int, joined: bool) -> None:
                if joined:
                    spans.setdefault((who, room), []).append([seq, None])
                else:
                    spans[(who, room)][-1][1] = seq

            async def last_member_event(room: str, owner: str, who: str) -> int:
                return max(
                    e["seq"]
                    for e in await owner_events(owner)
                    if e.get("room") == room and e["type"].startswith("member_") and e.get("username") == who
                )

            for i, (owner_i, member_is) in enumerate(rooms_spec):
                owner = USERS[owner_i]
                others = sorted(USERS[m] for m in member_is if m != owner_i)
                status, room = await call("POST", "/api/rooms", owner, {"name": f"room{i}", "members": others})
                assert status == 201, room
                rooms.append((room["id"], owner))
                members[room["id"]] = {owner, *others}
                for who in (owner, *others):
                    note(room["id"], who, await last_member_event(room["id"], owner, who), True)
            for n, (kind, room_i, user_i) in enumerate(ops):
                room, owner = rooms[room_i % len(rooms)]
                who = USERS[user_i]
                if kind == "post":
                    status, _ = await call(
                        "POST",
                        f"/api/rooms/{room}/messages",
                        who,
                        {"client_msg_id": f"m{n}", "body": f"secret of {room} #{n}"},
                    )
                    assert status == (201 if who in members[room] else 404), (
                        status,
                        who,
                        members[room],
                    )
                elif who != owner:
                    if who in members[room]:
                        status, _ = await call("DELETE", f"/api/rooms/{room}/members/{who}", owner)
                        assert status == 204
                        note(room, who, await last_member_event(room, owner, who), False)
                        members[room].discard(who)
                    else:
                        status, _ = await call("POST", f"/api/rooms/{room}/members", owner, {"username": who})
                        assert status == 201
                        members[room].add(who)
                        note(room, who, await last_member_event(room, owner, who), True)

            def visible(who: str, room: str, seq: int) -> bool:
                return any(lo <= seq and (hi is None or seq <= hi) for lo, hi in spans.get((who, room), []))

            for who in USERS:
                # REST /events
                status, page = await call("GET", "/api/events?since=0&limit=1000", who)
                assert status == 200
                leaked = [e for e in page["events"] if not visible(who, e.get("room", ""), e["seq"])]
                assert leaked == [], (who, leaked, spans)
                # Socket resume from 0
                async with client.websocket("/ws", headers=bearer(tokens[who])) as ws:
                    await ws.send(json.dumps({"type": "hello", "since": 0, "epoch": page["epoch"]}))
                    got: list[dict[str, Any]] = []
                    ready = None
                    for _ in range(10000):  # until ready and the whole catch-up have arrived
                        data = json.loads(await ws.receive())
                        objs = data if isinstance(data, list) else [data]
                        got += [o for o in objs if "seq" in o and o["type"] not in ("ready", "ack", "reset")]
                        ready = ready or next((o for o in objs if o["type"] == "ready"), None)
                        if ready and (not page["events"] or (got and got[-1]["seq"] >= page["events"][-1]["seq"])):
                            break
                    else:
                        raise AssertionError("catch-up never completed")
                    assert [e["seq"] for e in got] == [e["seq"] for e in page["events"]]
                # Room list, room, history: only rooms the user is in now
                status, listing = await call("GET", "/api/rooms", who)
                assert status == 200
                assert {r["id"] for r in listing["rooms"]} == {r for r, _ in rooms if who in members[r]}
                for room, _owner in rooms:
                    want = 200 if who in members[room] else 404
                    for path in (f"/api/rooms/{room}", f"/api/rooms/{room}/messages"):
                        status, body = await call("GET", path, who)
                        assert status == want, (path, who, status, body)
                        if want == 404:
                            assert "secret" not in json.dumps(body)
