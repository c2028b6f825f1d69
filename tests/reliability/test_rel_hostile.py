"""Hostile frames from a raw client (PROTOCOL.md 4.4), against one real server.

Each case runs on a fresh socket of user ``evil`` while user ``good``
keeps a socket open and must get a pong after every case (the server keeps
serving).  Server VmRSS is measured before and after all cases (< 10 MiB
growth).  Results are collected per case and printed as one table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from fleet import rss_kib, shared_server
from rawws import BINARY, TEXT, Closed, RawWS, bounded, connect, frame, hello, open_ws, roundtrip_ok

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_path")]  # every test on both socket paths

server = shared_server(both_socket_paths=True)


async def _fresh(srv: Any) -> RawWS:
    ws = await open_ws(srv.url, srv.user("evil"))
    await hello(ws)
    return ws


async def _error_then_alive(ws: RawWS, raw: str | bytes) -> str:
    """Send one text frame; expect an error frame (INVALID_INPUT) and the socket still open."""
    if isinstance(raw, str):
        await ws.send_text(raw)
    else:
        await ws.send_raw(frame(TEXT, raw))
    err = await ws.recv_until(lambda o: o.get("type") in ("error", "pong"))
    assert err.get("type") == "error", err
    await roundtrip_ok(ws)
    return str(err.get("code"))


async def case_oversize(srv: Any) -> str:
    ws = await _fresh(srv)
    body = json.dumps({"type": "ping", "pad": "a" * (65 * 1024)})
    await ws.send_text(body)
    c = await ws.expect_close()
    assert c.code == 1009, c
    return f"close {c.code}"


async def case_deflate_offer(srv: Any) -> str:
    hs, ws = await connect(
        srv.url,
        srv.user("evil"),
        headers={"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"},
    )
    assert hs.status == 101
    assert "sec-websocket-extensions" not in hs.headers, hs.headers
    await hello(ws)
    # A compressed (RSV1) frame is now a protocol error, and nothing is inflated.
    await ws.send_raw(frame(TEXT, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=4))
    c = await ws.expect_close()
    assert c.code == 1002, c  # the connection is failed with a close frame (transport.py)
    return f"101 without extension; RSV1 frame -> close {c.code}"


async def case_deep_json(srv: Any) -> str:
    ws = await _fresh(srv)
    code = await _error_then_alive(ws, '{"type":"ping","x":' + "[" * 1000 + "]" * 1000 + "}")
    assert code == "INVALID_INPUT"
    await ws.aclose()
    return f"error {code}, open"


async def case_nan(srv: Any) -> str:
    ws = await _fresh(srv)
    code = await _error_then_alive(ws, '{"type":"read","room":"r","up_to":NaN}')
    assert code == "INVALID_INPUT"
    code2 = await _error_then_alive(ws, '{"type":"read","room":"r","up_to":Infinity}')
    assert code2 == "INVALID_INPUT"
    await ws.aclose()
    return f"error {code}, open"


async def case_duplicate_keys(srv: Any) -> str:
    ws = await _fresh(srv)
    code = await _error_then_alive(ws, '{"type":"ping","type":"send"}')
    assert code == "INVALID_INPUT"
    await ws.aclose()
    return f"error {code}, open"


async def case_invalid_utf8(srv: Any) -> str:
    ws = await _fresh(srv)
    await ws.send_raw(frame(TEXT, b'{"type":"ping","x":"\xff\xfe"}'))
    c = await ws.expect_close()
    assert c.code == 1007, c  # RFC 6455 8.1: fail the connection with 1007
    return f"close {c.code}"


async def case_binary(srv: Any) -> str:
    ws = await _fresh(srv)
    await ws.send_raw(frame(BINARY, b'{"type":"ping"}'))
    c = await ws.expect_close()
    assert c.code in (1003, 1008), c
    return f"close {c.code}"


async def case_flood(srv: Any) -> str:
    """1000 sends in about a second: RATE_LIMITED errors, at most ~20 per second stored."""
    room = await srv_room(srv)
    ws = await _fresh(srv)
    acks = limited = other = 0
    async with trio.open_nursery() as n:

        async def reader() -> None:
            nonlocal acks, limited, other
            while acks + limited + other < 1000:
                for o in await ws.recv_objects():
                    if o.get("type") == "ack":
                        acks += 1
                    elif o.get("type") == "error" and o.get("code") == "RATE_LIMITED":
                        limited += 1
                    elif o.get("type") == "error":
                        other += 1

        n.start_soon(reader)
        t0 = trio.current_time()
        for i in range(1000):
            await ws.send_json({"type": "send", "room": room, "client_msg_id": f"flood-{i}", "body": f"flood {i}"})
        sent_in = trio.current_time() - t0
    await roundtrip_ok(ws)  # still open
    await ws.aclose()
    assert limited >= 900 and other == 0, (acks, limited, other)
    assert 1 <= acks <= 20 * (int(sent_in) + 2), (acks, sent_in)
    return f"{acks} acked, {limited} RATE_LIMITED in {sent_in:.2f}s, open"


async def case_garbage_before_hello(srv: Any) -> str:
    ws = await open_ws(srv.url, srv.user("evil"))
    await ws.send_text("GET / HTTP/1.1 not json at all")
    c = await ws.expect_close()
    assert c.code == 1008, c
    return f"close {c.code}"


async def case_send_before_hello(srv: Any) -> str:
    ws = await open_ws(srv.url, srv.user("evil"))
    await ws.send_json({"type": "ping"})
    c = await ws.expect_close()
    assert c.code == 1008, c
    return f"close {c.code}"


async def case_many_invalid(srv: Any) -> str:
    """More than 20 INVALID_INPUT errors in a minute -> 1008."""
    ws = await _fresh(srv)
    errors = 0
    for i in range(25):
        try:
            await ws.send_text(f'{{"type":"nope{i}"}}')
        except (trio.BrokenResourceError, OSError):
            break
    try:
        for _ in bounded():
            for o in await ws.recv_objects():
                errors += o.get("type") == "error"
    except Closed as c:
        assert c.code == 1008, c
        assert errors >= 20, errors
        return f"{errors} errors then close {c.code}"


_room: dict[Path, str] = {}  # server temp directory -> room id


async def srv_room(srv: Any) -> str:
    """The flood room of this server (one per socket path: keyed by its own temp directory)."""
    if srv.tmp not in _room:
        async with httpx.AsyncClient(base_url=srv.url, timeout=10) as c:
            r = await c.post(
                "/api/rooms",
                json={"name": "flood", "members": ["good"]},
                headers={"Authorization": f"Bearer {srv.user('evil')}"},
            )
            assert r.status_code == 201, r.text
            _room[srv.tmp] = r.json()["id"]
    return _room[srv.tmp]


CASES = [
    case_oversize,
    case_deflate_offer,
    case_deep_json,
    case_nan,
    case_duplicate_keys,
    case_invalid_utf8,
    case_binary,
    case_flood,
    case_garbage_before_hello,
    case_send_before_hello,
    case_many_invalid,
]


async def test_hostile_frames(server):
    server.user("good")
    server.user("evil")
    pid = server.server.proc.pid
    results: dict[str, str] = {}
    with trio.fail_after(90):
        good = await open_ws(server.url, server.user("good"))
        await hello(good)
        await srv_room(server)
        # Warm-up so the measurement excludes first-use allocations.
        await case_deep_json(server)
        rss0 = rss_kib(pid)
        for case in CASES:
            try:
                with trio.fail_after(20):
                    results[case.__name__] = "ok: " + await case(server)
            except (AssertionError, Closed, trio.TooSlowError) as e:
                results[case.__name__] = f"FAIL: {e!r}"[:300]
            with trio.fail_after(5):
                await roundtrip_ok(good)  # the other client is served throughout
        rss1 = rss_kib(pid)
        await good.aclose()
    growth = (rss1 - rss0) / 1024
    print(
        f"\nRESULT hostile: RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB (+{growth:.2f} MiB); "
        f"good client served after every case"
    )
    for name, outcome in results.items():
        print(f"  {name}: {outcome}")
    assert growth < 10
    assert all(v.startswith("ok") for v in results.values()), {
        k: v for k, v in results.items() if not v.startswith("ok")
    }
