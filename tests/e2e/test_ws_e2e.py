"""End-to-end socket tests against a real ``chatter serve`` on a loopback port."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import trio
import wsproto
import wsproto.events as wse
from helpers import chatter_server
from trio_websocket import ConnectionRejected, open_websocket_url
from wsclient import auth, connect, make_user, rest

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_path")]  # every test on both socket paths


def group(http: Any, owner_token: str, *members: str) -> str:
    r = http.post("/api/rooms", json={"name": "E2E", "members": list(members)}, headers=auth(owner_token))
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


async def test_handshake_refusals_happen_before_upgrade(tmp_path: Path) -> None:
    with chatter_server(tmp_path) as server, rest(server.url) as http:
        token = make_user(http, "ana")
        with trio.fail_after(20):
            for headers, status in (
                ([], 401),
                ([("Authorization", "Bearer forged.token.value")], 401),
                ([("Cookie", f"chatter_session={token}"), ("Origin", "https://evil.example")], 403),
            ):
                with pytest.raises(ConnectionRejected) as info:
                    async with open_websocket_url(server.ws_url, extra_headers=headers):
                        pass
                assert info.value.status_code == status
            async with open_websocket_url(server.ws_url, extra_headers=[
                    ("Cookie", f"chatter_session={token}"),
                    ("Origin", server.url.replace("127.0.0.1", "127.0.0.1"))]) as ws:
                await ws.send_message('{"type":"hello"}')
                assert json.loads(await ws.get_message())["type"] == "ready"


def _raw_handshake(url: str, token: str, extra: list[tuple[bytes, bytes]]) -> tuple[socket.socket, Any, bytes]:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    sock.sendall(conn.send(wse.Request(host=host, target="/ws", extra_headers=[
        (b"authorization", f"Bearer {token}".encode()), *extra])))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    conn.receive_data(head)
    return sock, conn, head


def test_permessage_deflate_offer_is_declined(tmp_path: Path) -> None:
    with chatter_server(tmp_path) as server, rest(server.url) as http:
        token = make_user(http, "ana")
        sock, conn, head = _raw_handshake(server.url, token, [
            (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits")])
        try:
            assert head.startswith(b"HTTP/1.1 101")
            assert b"sec-websocket-extensions" not in head.lower()
        finally:
            sock.close()


async def test_resume_after_dropped_connection_with_1000_missed_messages(tmp_path: Path) -> None:
    with chatter_server(tmp_path) as server, rest(server.url) as http:
        ana_t, ben_t = make_user(http, "ana"), make_user(http, "ben")
        room = group(http, ana_t, "ben")
        with trio.fail_after(60):
            async with connect(server.ws_url, ben_t) as ben:
                ready = await ben.hello()
            # ben is gone; 1000 messages arrive meanwhile (REST has no per-socket rate limit)
            sent = []
            for i in range(1000):
                r = http.post(f"/api/rooms/{room}/messages", json={"client_msg_id": f"m{i}", "body": f"n{i}"},
                              headers=auth(ana_t))
                sent.append(r.json()["seq"])
            async with connect(server.ws_url, ben_t) as ben:
                await ben.hello(since=ready["seq"], epoch=ready["epoch"])
                got = [(await ben.next("message"))["seq"] for _ in range(1000)]
                assert got == sent  # every one, in order, no duplicates
                r = http.post(f"/api/rooms/{room}/messages", json={"client_msg_id": "live", "body": "live"},
                              headers=auth(ana_t))
                assert (await ben.next("message"))["seq"] == r.json()["seq"]
                assert len(ben.seen_seqs) == len(set(ben.seen_seqs))


async def test_fan_out_takes_the_configured_path_and_keeps_order_with_pings_between(
        tmp_path: Path, socket_path: str) -> None:
    """The path asked for is live on the pinned hypercorn (log line, metric, frames), and its frames
    interleave safely with hypercorn's pongs."""
    with chatter_server(tmp_path) as server, rest(server.url) as http:
        ana_t, ben_t, cy_t = make_user(http, "ana"), make_user(http, "ben"), make_user(http, "cyd")
        room = group(http, ana_t, "ben", "cyd")
        with trio.fail_after(60):
            async with connect(server.ws_url, ben_t) as ben, connect(server.ws_url, cy_t) as cy:
                await ben.hello()
                await cy.hello()
                pongs = 0

                async def pinger() -> None:  # hypercorn answers pings through the same send gate
                    nonlocal pongs
                    while True:
                        await ben.ws.ping()
                        pongs += 1

                sent = []
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(pinger)
                    for i in range(300):
                        r = http.post(f"/api/rooms/{room}/messages",
                                      json={"client_msg_id": f"m{i}", "body": f"n{i}"}, headers=auth(ana_t))
                        sent.append(r.json()["seq"])
                    for client in (ben, cy):
                        got = [(await client.next("message"))["seq"] for _ in range(300)]
                        assert got == sent
                    nursery.cancel_scope.cancel()
                assert pongs > 0
        metrics = http.get("/metrics").text
    direct = _metric(metrics, 'chatter_frames_sent_total{path="direct"}')
    by_writer = _metric(metrics, 'chatter_frames_sent_total{path="writer"}')
    live = {p: _metric(metrics, f'chatter_transport_path{{path="{p}"}}') for p in ("direct", "writer_task")}
    log = "".join(p.read_text() for p in tmp_path.glob("server-*.log"))  # noqa: ASYNC240 - the server has exited
    if socket_path == "direct":
        assert direct > 0, metrics
        assert live == {"direct": 1, "writer_task": 0}, metrics
        assert "socket writes: direct" in log, log
    else:
        assert direct == 0 and by_writer > 0, metrics
        assert live == {"direct": 0, "writer_task": 1}, metrics
        assert "socket writes: writer task (fallback): realtime.direct_writes is off" in log, log
    assert log.count("socket writes:") == 1, log


async def test_resume_after_server_restart_on_the_same_database(tmp_path: Path) -> None:
    db = tmp_path / "keep.db"
    with chatter_server(tmp_path, db=db) as server, rest(server.url) as http:
        ana_t, ben_t = make_user(http, "ana"), make_user(http, "ben")
        room = group(http, ana_t, "ben")
        with trio.fail_after(30):
            async with connect(server.ws_url, ben_t) as ben:
                ready = await ben.hello()
        before = [http.post(f"/api/rooms/{room}/messages", json={"client_msg_id": f"b{i}", "body": "x"},
                            headers=auth(ana_t)).json()["seq"] for i in range(5)]
        assert server.stop() == 0
    with chatter_server(tmp_path, db=db) as server, rest(server.url) as http:
        ana_t = make_user(http, "ana")  # tokens survive too, but a fresh login is what a client does
        after = http.post(f"/api/rooms/{room}/messages", json={"client_msg_id": "after", "body": "x"},
                          headers=auth(ana_t)).json()["seq"]
        with trio.fail_after(30):
            async with connect(server.ws_url, ben_t) as ben:  # ben's old token still valid
                r = await ben.hello(since=ready["seq"], epoch=ready["epoch"])
                assert r["epoch"] == ready["epoch"]
                got = [(await ben.next("message"))["seq"] for _ in range(6)]
                assert got == [*before, after]


async def test_replaced_database_gets_reset(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with chatter_server(tmp_path, db=db) as server, rest(server.url) as http:
        ben_t = make_user(http, "ben")
        with trio.fail_after(30):
            async with connect(server.ws_url, ben_t) as ben:
                ready = await ben.hello()
    db.unlink()
    with chatter_server(tmp_path, db=db) as server, rest(server.url) as http:
        ben_t = make_user(http, "ben")
        with trio.fail_after(30):
            async with connect(server.ws_url, ben_t) as ben:
                new_ready = await ben.hello(since=ready["seq"], epoch=ready["epoch"])
                assert new_ready["epoch"] != ready["epoch"]
                reset = await ben.next()
                assert reset == {"type": "reset", "epoch": new_ready["epoch"], "seq": new_ready["seq"]}


async def test_message_acked_before_sigkill_survives(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    with chatter_server(tmp_path, db=db) as server, rest(server.url) as http:
        ana_t = make_user(http, "ana")
        room = group(http, ana_t)
        with trio.fail_after(30):
            async with connect(server.ws_url, ana_t) as ana:
                await ana.hello()
                ack = await ana.post(room, "durable before the kill")
                server.proc.send_signal(signal.SIGKILL)  # right after the ack, no grace
        server.proc.wait(timeout=10)
    rows = sqlite3.connect(db).execute("SELECT id, seq, body FROM messages").fetchall()
    assert (ack["id"], ack["seq"], "durable before the kill") in rows
    with chatter_server(tmp_path, db=db) as server, rest(server.url) as http:
        ana_t = make_user(http, "ana")
        msgs = http.get(f"/api/rooms/{room}/messages", headers=auth(ana_t)).json()["messages"]
        assert [m["id"] for m in msgs] == [ack["id"]]


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_client_that_never_reads_is_closed_and_does_not_slow_others(tmp_path: Path) -> None:
    args = ("--set", "realtime.stall_timeout=2", "--set", "server.tcp_user_timeout=3",
            "--set", "realtime.outbox_frames=64")
    with chatter_server(tmp_path, *args) as server, rest(server.url) as http:
        ana_t, ben_t, cid_t = make_user(http, "ana"), make_user(http, "ben"), make_user(http, "cid")
        room = group(http, ana_t, "ben", "cid")
        stuck, conn, _ = _raw_handshake(server.url, cid_t, [])
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(conn.send(wse.TextMessage(data='{"type":"hello"}')))
        body = "x" * 4000
        latencies: list[float] = []
        with trio.fail_after(90):
            async with connect(server.ws_url, ben_t) as ben:
                await ben.hello()
                n = 0
                deadline = trio.current_time() + 45
                while trio.current_time() < deadline:
                    t0 = time.perf_counter()
                    r = await trio.to_thread.run_sync(lambda i=n: http.post(
                        f"/api/rooms/{room}/messages", json={"client_msg_id": f"s{i}", "body": body},
                        headers=auth(ana_t)))
                    seq = r.json()["seq"]
                    while (await ben.next("message"))["seq"] != seq:
                        pass
                    latencies.append(time.perf_counter() - t0)
                    n += 1
                    metrics = http.get("/metrics").text
                    if n >= 300 and _metric(metrics, "chatter_sockets_open") == 1:
                        break
                metrics = http.get("/metrics").text
        stuck.close()
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"never-reading client: closed after {n} messages of 4000 chars; the reading client's "
              f"post->receive p50 {latencies[len(latencies) // 2] * 1000:.1f} ms p99 {p99 * 1000:.1f} ms")
        assert _metric(metrics, "chatter_sockets_open") == 1  # only ben is left: the stuck socket was closed
        # How it was closed depends on where the bytes piled up: frames are written straight into
        # the kernel's send buffer (http/hypercorn_seam.py), which can hold all 300 of them, so here the
        # kernel's TCP_USER_TIMEOUT usually ends it before the outbox overflows (fall-behind and
        # 4008 are tested in tests/actors and tests/reliability/test_rel_slow_consumers.py).
        assert n >= 300  # ben received every one of them meanwhile
