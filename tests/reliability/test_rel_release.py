"""The server lets go of every connection it is done with, against one real server.

Whatever ends a socket (1008, 1009, 4001, 4008, a protocol error, a client
that never answers the close), and whatever ends an HTTP exchange
(``Connection: close``, HTTP/1.0, keep-alive idle past
``server.keep_alive_timeout``), the server's end of the TCP connection must
be closed within a bounded time, even with frames still unread.  After each
case the test reads the server's own view: its socket file descriptors
(``/proc/<pid>/fd``) must be back to the count before the case, and
``/proc/net/tcp`` must show none of its connections ESTABLISHED or in
CLOSE-WAIT.

Waiting is a deadline loop that reads ``/proc`` (the condition itself);
nothing here sleeps to let the server "catch up".
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import trio
from fleet import Books, eof_within, http_response, live_server, server_log, shared_server
from rawws import CLOSE, TEXT, RawWS, bounded, close_payload, frame, hello, open_tcp, open_ws

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_path")]  # every test on both socket paths

server = shared_server(both_socket_paths=True)  # server.keep_alive_timeout 30 s: far longer than any wait here

async def _token(srv: Any, name: str) -> str:
    return await trio.to_thread.run_sync(srv.user, name)


async def _until_close_frame(ws: RawWS) -> int:
    """Read server frames, answering nothing, until its close frame; return the code."""
    for _ in bounded():
        _fin, _rsv, op, payload = await ws.recv_frame()
        if op == CLOSE:
            return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else 1005


PINGS = frame(TEXT, b'{"type":"ping"}')
FLOOD = PINGS * 100


async def _flood_then_answer(ws: RawWS) -> int:
    """After the server's close frame: 100 more frames and the close answer in one write, then go."""
    code = await _until_close_frame(ws)
    await ws.send_raw(FLOOD + frame(CLOSE, close_payload(code)))
    await ws.stream.aclose()
    return code


async def case_invalid_flood_1008(srv: Any, ws: RawWS) -> str:
    """The probe's case: hello, then 100 invalid frames in one write."""
    await ws.send_raw(frame(TEXT, b'{"type":"nope"}') * 100)
    c = await ws.expect_close()  # answers the close frame
    await ws.stream.aclose()
    assert c.code == 1008, c
    return "close 1008, answered"


async def case_invalid_flood_then_reset(srv: Any, ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"type":"nope"}') * 100)
    code = await _until_close_frame(ws)
    ws.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await ws.stream.aclose()  # a reset, nothing answered
    assert code == 1008
    return "close 1008, client reset"


async def case_too_big_1009_by_the_app(srv: Any, ws: RawWS) -> str:
    """40 000 two-byte characters (under hypercorn's character limit, over max_frame in bytes)
    and 100 frames behind it in one write; after the close frame, the answer."""
    big = json.dumps({"type": "ping", "pad": "é" * 40_000}, ensure_ascii=False).encode()
    await ws.send_raw(frame(TEXT, big) + FLOOD)
    c = await ws.expect_close()
    await ws.stream.aclose()
    assert c.code == 1009, c
    return "close 1009 (app) with 100 frames behind it, answered"


async def case_too_big_1009_never_answered(srv: Any, ws: RawWS) -> str:
    """65 KiB of ASCII: hypercorn closes 1009 itself; the client never answers and stays connected."""
    await ws.send_text(json.dumps({"type": "ping", "pad": "a" * (65 * 1024)}))
    code = await _until_close_frame(ws)
    assert code == 1009
    return "close 1009 (hypercorn), never answered"  # the caller waits with the socket still open


async def case_logged_out_4001(srv: Any, ws: RawWS) -> str:
    """2000 pings in one write, and a logout while the server is answering them."""
    token = ws.token  # type: ignore[attr-defined]
    await ws.send_raw(PINGS * 2000)
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as c:
        r = await c.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204, r.text
    code = await _flood_then_answer(ws)
    assert code == 4001
    return "close 4001 amid 2000 pings, 100 frames after it"


async def _too_slow_closes(url: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=10) as c:
        for line in (await c.get("/metrics")).text.splitlines():
            if line.startswith("chatter_sockets_closed_too_slow_total "):
                return float(line.split()[1])
    return 0.0


async def case_too_slow_4008(srv: Any, ws: RawWS) -> str:
    """10 000 pings and no reading (4 KiB receive buffer): the pongs pile up past control_frames."""
    before = await _too_slow_closes(srv.url)
    await ws.send_raw(PINGS * 10_000)
    for _ in bounded(500):
        if await _too_slow_closes(srv.url) > before:
            break
        await trio.sleep(0.02)  # the poll interval of a deadline loop on /metrics
    else:
        raise AssertionError("no 4008")
    ws.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await ws.stream.aclose()
    return "4008 counted, client reset"


async def case_protocol_error_1002(srv: Any, ws: RawWS) -> str:
    """100 frames, then an unmasked one, in one write."""
    await ws.send_raw(FLOOD + frame(TEXT, b'{"type":"ping"}', mask=False))
    c = await ws.expect_close()
    await ws.stream.aclose()
    assert c.code == 1002, c
    return "close 1002, answered"


async def case_no_hello_never_answered(srv: Any, ws: RawWS) -> str:
    await ws.send_text("not json")
    code = await _until_close_frame(ws)
    assert code == 1008
    return "close 1008, never answered"


Case = Callable[[Any, RawWS], Awaitable[str]]
SOCKET_CASES: list[tuple[Case, bool, int | None]] = [  # (case, says hello, receive buffer)
    (case_invalid_flood_1008, True, None),
    (case_invalid_flood_then_reset, True, None),
    (case_too_big_1009_by_the_app, True, None),
    (case_too_big_1009_never_answered, True, None),
    (case_logged_out_4001, True, None),
    (case_too_slow_4008, True, 4096),
    (case_protocol_error_1002, True, None),
    (case_no_hello_never_answered, False, None),
]


@pytest.mark.parametrize(("case", "says_hello", "rcvbuf"), SOCKET_CASES, ids=[c[0].__name__[5:] for c in SOCKET_CASES])
async def test_every_way_a_socket_ends_releases_its_connection(server, case, says_hello, rcvbuf):
    with trio.fail_after(30):
        books = Books(server.server.proc.pid, server.url)
        name = case.__name__[5:][:30]
        token = await _token(server, name)
        await books.settle()
        ws = await open_ws(server.url, token, rcvbuf=rcvbuf)
        ws.token = token  # type: ignore[attr-defined]
        if says_hello:
            await hello(ws)
        outcome = await case(server, ws)
        took = await books.released()
        await ws.stream.aclose()  # the never-answering cases kept their end open until now
    print(f"\nRESULT release {name}: {outcome}; server end closed and fds back to {books.baseline} in {took:.2f}s")


# -- HTTP ----------------------------------------------------------------------------------

GET = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize("request_bytes", [
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /healthz HTTP/1.0\r\n\r\n",
], ids=["connection-close", "http-1.0"])
async def test_a_response_that_ends_the_connection_closes_it(server, request_bytes):
    """50 such requests, the clients keeping their ends open: the server closes its ends."""
    with trio.fail_after(30):
        books = Books(server.server.proc.pid, server.url)
        await books.settle()
        streams = []
        for _ in range(50):
            stream = await open_tcp(server.url)
            await stream.send_all(request_bytes)
            buf = bytearray()
            assert b" 200 " in (await http_response(stream, buf)).split(b"\r\n", 1)[0]
            await eof_within(stream, 5)  # no more bytes, then EOF: the server closed
            streams.append(stream)
        took = await books.released()
        for stream in streams:
            await stream.aclose()
    first_line = request_bytes.split(b"\r\n")[0].decode()
    print(f"\nRESULT release http {first_line}: 50 closed by the server, "
          f"fds back to {books.baseline} {took:.2f}s after the last")


async def test_a_keep_alive_connection_the_client_closes_is_released_at_once(server):
    """Not when the server's idle timer (30 s) fires: hypercorn kept it in CLOSE-WAIT until then.

    20 times: whether the timer is running when the client's close arrives is a race.
    """
    with trio.fail_after(60):
        books = Books(server.server.proc.pid, server.url)
        await books.settle()
        slowest = 0.0
        for _ in range(20):
            stream = await open_tcp(server.url)
            buf = bytearray()
            for _ in range(3):
                await stream.send_all(GET)
                assert b" 200 " in (await http_response(stream, buf)).split(b"\r\n", 1)[0]
            await stream.aclose()
            slowest = max(slowest, await books.released())
    print(f"\nRESULT release http keep-alive closed by the client: 20 connections, each released within "
          f"{slowest:.2f}s (server.keep_alive_timeout=30)")


async def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(tmp_path):
    keep_alive = 1.0
    with trio.fail_after(60):
        async with live_server(tmp_path, "--set", f"server.keep_alive_timeout={keep_alive}") as srv:
            books = Books(srv.proc.pid, srv.url)
            await books.settle()
            stream = await open_tcp(srv.url)
            buf = bytearray()
            for _ in range(3):  # kept alive between requests
                await stream.send_all(GET)
                assert b" 200 " in (await http_response(stream, buf)).split(b"\r\n", 1)[0]
            idle_start = trio.current_time()
            await eof_within(stream, keep_alive + 4)
            idle = trio.current_time() - idle_start
            took = await books.released()
            await stream.aclose()
    assert idle >= keep_alive * 0.9, idle  # not before the timeout
    print(f"\nRESULT release http keep-alive idle: 3 requests on one connection, closed by the server after "
          f"{idle:.2f}s idle (server.keep_alive_timeout={keep_alive}), fds back {took:.2f}s later")


# -- no request logs a traceback ----------------------------------------------------------------

HUGE = (b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000000\r\nConnection: close\r\n\r\n")


async def test_a_huge_content_length_never_logs_a_traceback_or_stops_the_server(server):
    """Answered 413 while the body "arrives", then the client goes: the close and the answer race.

    Before transport.py's ``_close`` the reader's EOF handling and the 413 raced on the
    stream: "Error in ASGI Framework" with ``BusyResourceError`` in the log, and the same
    error in hypercorn's reader task ended the whole server.
    """
    log_before = len(server_log(server.tmp))
    answered = 0
    with trio.fail_after(60):
        for i in range(300):
            stream = await open_tcp(server.url)
            if i % 3 == 0:  # read the answer, then go
                await stream.send_all(HUGE)
                head = await http_response(stream, bytearray())
                answered += b" 413 " in head.split(b"\r\n", 1)[0]
            else:  # some body, and go at once (with a reset every other time)
                await stream.send_all(HUGE + b"{" * 5000)
                if i % 3 == 2:
                    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await stream.aclose()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            assert (await c.get("/healthz")).status_code == 200
        await Books(server.server.proc.pid, server.url).settle()  # nothing left open
    log = server_log(server.tmp)[log_before:]
    assert server.server.proc.poll() is None, "the server stopped"
    assert "Traceback" not in log and "Error in ASGI" not in log, log[-3000:]
    assert answered == 100
    print("\nRESULT huge content-length: 300 requests (100 read the 413, 200 left mid-body), "
          "0 tracebacks, server up")
