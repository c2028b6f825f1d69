"""Shared machinery for the reliability tests: a real server that can be
killed and restarted on the same database, REST set-up, and ledger clients
that check PROTOCOL.md 4.3 from the outside.

A ``LedgerClient`` sends messages with ``client_msg_id``s, records every
ack, resends what was not acked after a reconnect, resumes with
``hello{since, epoch}`` and records every durable ``seq`` it receives
(counting any seen twice or out of order).  At the end the test compares
ledgers and views with the database read directly with ``sqlite3``.

Waits are on real events (socket frames, acks, process exit, /healthz);
the only ``trio.sleep`` is send pacing, to stay under the protocol's 20
sends per second per socket.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from helpers import PASSWORD, chatter_server
from rawws import Closed, RawWS, bounded, connect, hello

SOAK = os.environ.get("CHATTER_SOAK", "") not in ("", "0")

# Set-up makes many accounts from one address: lift the per-IP limits.
FAST_SETUP = (
    "--set",
    "auth.register_per_ip_per_minute=100000",
    "--set",
    "auth.login_per_ip_per_minute=100000",
)


def soak(smoke: Any, long: Any) -> Any:
    return long if SOAK else smoke


# -- the server process -------------------------------------------------------


@asynccontextmanager
async def live_server(tmp_path: Path, *args: str, db: Path | None = None) -> AsyncIterator[Any]:
    """``helpers.chatter_server`` entered off the event loop (its start-up read blocks)."""
    cm = chatter_server(tmp_path, *FAST_SETUP, *args, db=db)
    server = await trio.to_thread.run_sync(cm.__enter__)
    try:
        await wait_healthy(server.url)
        yield server
    finally:
        await trio.to_thread.run_sync(cm.__exit__, None, None, None)


async def wait_healthy(url: str, attempts: int = 100) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as c:
        for _ in range(attempts):
            try:
                if (await c.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await trio.sleep(0.05)  # bounded /healthz poll (allowed: detects that the server is up)
    raise AssertionError(f"{url} never became healthy")


async def kill(server: Any, sig: int = signal.SIGKILL) -> float:
    """Signal the server and wait for it to exit; returns seconds until exit."""
    t0 = trio.current_time()
    server.proc.send_signal(sig)
    await trio.to_thread.run_sync(server.proc.wait, 60)
    return trio.current_time() - t0


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
}


def tcp_state(server_port: int, client_port: int) -> tuple[str, int] | None:
    """(state, unsent bytes) of the server's end of a loopback connection, from /proc/net/tcp."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, remote, state, queues = parts[1], parts[2], parts[3], parts[4]
            if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
                return TCP_STATES.get(int(state, 16), state), int(queues.split(":")[0], 16)
    return None


def server_log(tmp_path: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("server-*.log")))


# -- what the server process holds (file descriptors, TCP states) ----------------------------------

# A closing socket is gone within the sweeper's CLOSE_GRACE + TICK (3 s) whatever the client
# does; a client that answers the close frame or closes its end is let go at once.
RELEASE_BOUND = 6.0

HELD = {"ESTABLISHED", "CLOSE_WAIT"}  # states in which the server still holds the connection


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def socket_fds(pid: int) -> int:
    """The server process's open socket descriptors."""
    n = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:")
        except OSError:
            continue  # closed while we looked
    return n


def describe_sockets(pid: int) -> list[str]:
    """Each socket descriptor of the process with its /proc/net/tcp entry (for failure messages)."""
    by_inode = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                by_inode[parts[9]] = f"{parts[1]}->{parts[2]} {TCP_STATES.get(int(parts[3], 16), parts[3])}"
    out = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if link.startswith("socket:"):
            out.append(f"fd {name}: {by_inode.get(link[8:-1], 'not TCP (or no longer in the table)')}")
    return out


def held_connections(server_port: int) -> list[tuple[int, str]]:
    """(client port, state) of every connection whose server end is ESTABLISHED or CLOSE-WAIT."""
    out = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, remote, state = parts[1], parts[2], TCP_STATES.get(int(parts[3], 16), parts[3])
            if int(local.split(":")[1], 16) == server_port and state in HELD:
                out.append((int(remote.split(":")[1], 16), state))
    return out


class Books:
    """What a server process holds: its socket descriptors and its connections' TCP states."""

    def __init__(self, pid: int, url: str) -> None:
        self.pid = pid
        self.port = _port(url)
        self.baseline: int | None = None  # socket descriptors with no connection open

    async def settle(self) -> float:
        """Wait until no connection is held (set-up ones included); then take the baseline."""
        took = await self._until(lambda held, fds: not held, RELEASE_BOUND)
        self.baseline = socket_fds(self.pid)
        return took

    async def released(self, *, still_open: int = 0, bound: float = RELEASE_BOUND) -> float:
        """Seconds until at most ``still_open`` connections are held and the socket descriptors are
        back to the baseline plus those; fails after ``bound``."""
        assert self.baseline is not None, "settle() first"
        base = self.baseline
        return await self._until(lambda held, fds: len(held) <= still_open and fds <= base + still_open, bound)

    async def _until(self, done: Any, bound: float) -> float:
        start = trio.current_time()
        for _ in bounded():
            held, fds = held_connections(self.port), socket_fds(self.pid)
            if done(held, fds):
                return trio.current_time() - start
            if trio.current_time() - start > bound:
                raise AssertionError(f"after {bound} s the server still holds {held}, {fds} socket fds "
                                     f"(baseline {self.baseline}): {describe_sockets(self.pid)}")
            await trio.sleep(0.02)  # the poll interval of a deadline loop on /proc, not synchronisation
        raise AssertionError("unreachable")


async def http_response(stream: trio.SocketStream, buf: bytearray) -> bytes:
    """One whole response (this server always sends content-length) from ``stream``."""
    for _ in bounded():
        head, sep, rest = bytes(buf).partition(b"\r\n\r\n")
        if sep:
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            if len(rest) >= length:
                del buf[: len(head) + 4 + length]
                return head + sep + rest[:length]
        data = await stream.receive_some(65536)
        assert data, f"the connection closed before a whole response: {bytes(buf)[:200]!r}"
        buf += data
    raise AssertionError("unreachable")


async def eof_within(stream: trio.SocketStream, seconds: float) -> float:
    """Seconds until the server closes its end (EOF); fails after ``seconds``."""
    start = trio.current_time()
    with trio.fail_after(seconds):
        for _ in bounded():
            try:
                if not await stream.receive_some(65536):
                    break
            except trio.BrokenResourceError:
                break
    return trio.current_time() - start


# -- REST set-up ---------------------------------------------------------------


async def make_users(url: str, names: list[str]) -> dict[str, str]:
    """Register and log in each user; return name -> bearer token."""
    tokens: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:

        async def one(name: str) -> None:
            r = await c.post("/api/users", json={"username": name, "name": name.title(), "password": PASSWORD})
            assert r.status_code == 201, r.text
            r = await c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["token"]

        async with trio.open_nursery() as n:
            for name in names:
                n.start_soon(one, name)
    return tokens


async def make_room(url: str, owner_token: str, name: str, members: list[str]) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        r = await c.post(
            "/api/rooms",
            json={"name": name, "members": members},
            headers={"Authorization": f"Bearer {owner_token}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


# -- reading the database directly ----------------------------------------------


def db_messages(db: Path) -> dict[tuple[str, str], list[tuple[int, int, str, str]]]:
    """(sender, client_msg_id) -> [(id, seq, room, body)] straight from the file."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out: dict[tuple[str, str], list[tuple[int, int, str, str]]] = {}
        for mid, seq, room, sender, body, cmid in con.execute(
            "SELECT id, seq, room, sender, body, client_msg_id FROM messages ORDER BY seq"
        ):
            out.setdefault((sender, cmid), []).append((mid, seq, room, body))
        return out
    finally:
        con.close()


def db_events_after(db: Path, after: int) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(seq, room, type, data) of every durable event with seq > after, in seq order."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [
            (s, r, t, json.loads(d))
            for s, r, t, d in con.execute(
                "SELECT seq, room, type, data FROM events WHERE seq > ? ORDER BY seq", (after,)
            )
        ]
    finally:
        con.close()


def db_head(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
    finally:
        con.close()


# -- the fleet of clients ----------------------------------------------------------


class Target:
    """Where the server currently is; bumps a generation on every restart."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.gen = 0
        self._changed = trio.Event()
        self.stopping = False

    def move(self, url: str) -> None:
        self.url = url
        self.gen += 1
        self._changed.set()
        self._changed = trio.Event()

    async def wait_after(self, gen: int) -> None:
        while self.gen <= gen and not self.stopping:
            await self._changed.wait()

    def stop(self) -> None:
        self.stopping = True
        self._changed.set()


class Counter:
    """A count that tasks can wait on reaching a threshold."""

    def __init__(self) -> None:
        self.value = 0
        self._waiters: list[tuple[int, trio.Event]] = []

    def add(self, n: int = 1) -> None:
        self.value += n
        keep = []
        for threshold, ev in self._waiters:
            if self.value >= threshold:
                ev.set()
            else:
                keep.append((threshold, ev))
        self._waiters = keep

    async def reach(self, threshold: int) -> None:
        if self.value >= threshold:
            return
        ev = trio.Event()
        self._waiters.append((threshold, ev))
        await ev.wait()


@dataclass
class Sent:
    room: str
    body: str
    ack: tuple[int, int] | None = None  # (id, seq)


@dataclass
class LedgerClient:
    name: str
    token: str
    rooms: list[str]
    plan: list[tuple[str, str, str]]  # (room, client_msg_id, body), sent in this order
    acks: Counter
    rate: float = 8.0  # sends per second per socket (protocol limit 20)
    ledger: dict[str, Sent] = field(default_factory=dict)
    seen: list[int] = field(default_factory=list)
    seen_set: set[int] = field(default_factory=set)
    retry: list[str] = field(default_factory=list)  # client_msg_ids refused with RATE_LIMITED
    bodies: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (client_msg_id, body) of messages
    cursor: int = 0
    epoch: str | None = None
    duplicates: int = 0
    out_of_order: int = 0
    conflicting_acks: int = 0
    resets: int = 0
    sessions: int = 0
    resent: int = 0
    close_codes: list[int | None] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    next_plan: int = 0
    progress: trio.Event = field(default_factory=trio.Event)

    @property
    def all_acked(self) -> bool:
        return self.next_plan == len(self.plan) and all(s.ack is not None for s in self.ledger.values())

    def _on(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "ack":
            s = self.ledger.get(obj["client_msg_id"])
            if s is None:
                self.errors.append({"unexpected_ack": obj})
                return
            got = (int(obj["id"]), int(obj["seq"]))
            if s.ack is None:
                s.ack = got
                self.acks.add()
            elif s.ack != got:
                self.conflicting_acks += 1
        elif kind == "error":
            self.errors.append(obj)
            ref = obj.get("ref")
            if obj.get("code") == "RATE_LIMITED" and ref in self.ledger and self.ledger[ref].ack is None:
                self.retry.append(ref)
        elif kind == "reset":
            self.resets += 1
        elif kind not in ("ready", "pong", "typing", "presence") and "seq" in obj:
            seq = int(obj["seq"])
            if seq in self.seen_set:
                self.duplicates += 1
                return
            if seq <= self.cursor:
                self.out_of_order += 1
                return
            self.seen.append(seq)
            self.seen_set.add(seq)
            self.cursor = seq
            if kind == "message":
                self.bodies[seq] = (obj["client_msg_id"], obj["body"])
        self.progress.set()
        self.progress = trio.Event()

    async def _reader(self, ws: RawWS) -> None:
        for _ in bounded():
            for obj in await ws.recv_objects():
                self._on(obj)

    async def _sender(self, ws: RawWS) -> None:
        # Resend what the previous connection never got an ack for: same id, same body.
        for cmid, s in list(self.ledger.items()):
            if s.ack is None:
                self.resent += 1
                await ws.send_json({"type": "send", "room": s.room, "client_msg_id": cmid, "body": s.body})
                await trio.sleep(1 / self.rate)  # pacing under the rate limit, not synchronisation
        while self.next_plan < len(self.plan):
            room, cmid, body = self.plan[self.next_plan]
            self.ledger[cmid] = Sent(room, body)
            self.next_plan += 1
            await ws.send_json({"type": "send", "room": room, "client_msg_id": cmid, "body": body})
            await trio.sleep(1 / self.rate)  # pacing under the rate limit, not synchronisation
        for _ in bounded():  # keep reading until the socket closes or the test stops us; retry refused sends
            while self.retry:
                cmid = self.retry.pop(0)
                s = self.ledger[cmid]
                if s.ack is None:
                    self.resent += 1
                    await ws.send_json({"type": "send", "room": s.room, "client_msg_id": cmid, "body": s.body})
                    await trio.sleep(1 / self.rate)  # pacing under the rate limit, not synchronisation
            await self.progress.wait()

    async def session(self, url: str) -> None:
        """One connection: hello with the cursor, then send and read until it drops."""
        try:
            hs, ws = await connect(url, self.token)
        except (OSError, trio.BrokenResourceError, Closed):
            return
        if hs.status != 101:
            await ws.stream.aclose()
            return
        self.sessions += 1
        try:
            try:
                ready = await hello(ws, since=self.cursor, epoch=self.epoch)
            except (Closed, trio.BrokenResourceError, OSError) as e:
                self.close_codes.append(getattr(e, "code", None))
                return
            if self.epoch is not None and ready["epoch"] != self.epoch:
                self.resets += 1
            self.epoch = ready["epoch"]
            async with trio.open_nursery() as n:

                async def reader() -> None:
                    try:
                        await self._reader(ws)
                    except Closed as c:
                        self.close_codes.append(c.code)
                    except (trio.BrokenResourceError, OSError):
                        self.close_codes.append(None)
                    n.cancel_scope.cancel()

                async def sender() -> None:
                    try:
                        await self._sender(ws)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        pass  # the reader sees the end too

                n.start_soon(reader)
                n.start_soon(sender)
        finally:
            with trio.CancelScope(shield=True):
                await ws.stream.aclose()

    async def run(self, target: Target, *, max_sessions: int = 200) -> None:
        for _ in range(max_sessions):
            if target.stopping:
                return
            gen = target.gen
            await self.session(target.url)
            if target.stopping:
                return
            await target.wait_after(gen)
        raise AssertionError(f"{self.name}: more than {max_sessions} sessions")

    async def wait_cursor(self, seq: int) -> None:
        while self.cursor < seq:
            await self.progress.wait()


def make_plan(rng: random.Random, name: str, rooms: list[str], n: int) -> list[tuple[str, str, str]]:
    return [
        (
            rng.choice(rooms),
            uuid.UUID(int=rng.getrandbits(128)).hex,
            f"{name} #{i} {rng.getrandbits(32):08x}",
        )
        for i in range(n)
    ]


def check_fleet(
    clients: list[LedgerClient], db: Path, start_seq: int, membership: dict[str, set[str]]
) -> dict[str, int]:
    """Compare every ledger and every client's view with the database; return the figures."""
    stored = db_messages(db)
    acked = lost = duplicated = wrong = 0
    for c in clients:
        for cmid, s in c.ledger.items():
            rows = stored.get((c.name, cmid), [])
            if len(rows) > 1:
                duplicated += len(rows) - 1
            if s.ack is None:
                continue
            acked += 1
            if not rows:
                lost += 1
            elif (rows[0][0], rows[0][1]) != s.ack or rows[0][2] != s.room or rows[0][3] != s.body:
                wrong += 1
    events = db_events_after(db, start_seq)
    view_mismatch = 0
    for c in clients:
        expected = [seq for seq, room, _t, _d in events if room in membership[c.name]]
        if c.seen != expected:
            view_mismatch += 1
        for seq, room, t, d in events:
            if t == "message" and room in membership[c.name]:
                if c.bodies.get(seq) != (d.get("client_msg_id"), d.get("body")):
                    view_mismatch += 1
                    break
    return {
        "acked": acked,
        "lost": lost,
        "duplicated": duplicated,
        "wrong_ack": wrong,
        "view_mismatch": view_mismatch,
        "seen_twice": sum(c.duplicates for c in clients),
        "out_of_order": sum(c.out_of_order for c in clients),
        "conflicting_acks": sum(c.conflicting_acks for c in clients),
        "resets": sum(c.resets for c in clients),
        "resent": sum(c.resent for c in clients),
        "events": len(events),
    }


# -- one server per test module (sync fixture: no pytest-trio fixture pitfalls) ----------------


class Shared:
    def __init__(self, server: Any, tmp: Path) -> None:
        self.server = server
        self.url: str = server.url
        self.tmp = tmp
        self.tokens: dict[str, str] = {}

    def user(self, name: str) -> str:
        if name not in self.tokens:
            with httpx.Client(base_url=self.url, timeout=30) as c:
                r = c.post(
                    "/api/users",
                    json={"username": name, "name": name.title(), "password": PASSWORD},
                )
                assert r.status_code == 201, r.text
                r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
                assert r.status_code == 200, r.text
                self.tokens[name] = r.json()["token"]
        return self.tokens[name]


def shared_server(*extra: str, both_socket_paths: bool = False) -> Any:
    """A module's one server; with ``both_socket_paths`` one per socket path (the ``socket_path`` fixture)."""
    if both_socket_paths:
        @pytest.fixture(scope="module")
        def on_each_path(tmp_path_factory: pytest.TempPathFactory, socket_path: str) -> Iterator[Shared]:
            tmp = tmp_path_factory.mktemp(f"srv-{socket_path}")
            with chatter_server(tmp, *FAST_SETUP, *extra) as server:
                yield Shared(server, tmp)

        return on_each_path

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
        tmp = tmp_path_factory.mktemp("srv")
        with chatter_server(tmp, *FAST_SETUP, *extra) as server:
            yield Shared(server, tmp)

    return fixture
