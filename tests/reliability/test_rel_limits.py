"""Caps on what one client address and one account may hold open, against real servers.

- ``server.max_connections_per_ip``: past it a new TCP connection gets
  ``429 RATE_LIMITED`` (with ``Retry-After``) before its request is read, and
  is closed; closing one of the open connections makes room again.
- ``realtime.sockets_per_user``: past it the socket handshake gets ``429
  RATE_LIMITED`` with ``Retry-After`` and a JSON error (PROTOCOL.md 5.3);
  other users are not affected, and closing a socket frees a slot.

Waits are on sockets or deadline loops on ``/proc`` and ``/metrics`` (the
conditions themselves).
"""

from __future__ import annotations

import json

import httpx
import pytest
import trio
from fleet import Books, eof_within, http_response, live_server, make_users
from rawws import bounded, connect, hello, open_tcp, open_ws

pytestmark = [pytest.mark.e2e]

GET = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _status(head: bytes) -> int:
    return int(head.split(b"\r\n", 1)[0].split()[1])


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


async def test_connections_past_the_per_address_cap_get_429_and_are_closed(tmp_path):
    cap = 4
    with trio.fail_after(60):
        async with live_server(tmp_path, "--set", f"server.max_connections_per_ip={cap}") as srv:
            books = Books(srv.proc.pid, srv.url)
            await books.settle()
            held = [await open_tcp(srv.url) for _ in range(cap)]  # idle: no request yet
            await held[0].send_all(GET)  # and they are served
            assert _status(await http_response(held[0], bytearray())) == 200
            refused = []
            for _ in range(3):
                extra = await open_tcp(srv.url)
                await extra.send_all(GET)
                answer = await http_response(extra, bytearray())
                await eof_within(extra, 5)  # then closed
                await extra.aclose()
                refused.append(answer)
            for answer in refused:
                head, _, body = answer.partition(b"\r\n\r\n")
                assert _status(head) == 429, answer
                assert _header(head, b"retry-after") == b"10"
                assert json.loads(body)["error"]["code"] == "RATE_LIMITED"
            await held.pop().aclose()  # room for one again, once the server has let it go
            await books.released(still_open=len(held))
            again = await open_tcp(srv.url)
            await again.send_all(GET)
            assert _status(await http_response(again, bytearray())) == 200
            for stream in [*held, again]:
                await stream.aclose()
    print(f"\nRESULT limits per address: cap {cap}: {cap} open, 3 more refused 429 RATE_LIMITED and closed; "
          "one closed, the next served")


async def _sockets_open(url: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=10) as c:
        for line in (await c.get("/metrics")).text.splitlines():
            if line.startswith("chatter_sockets_open "):
                return float(line.split()[1])
    raise AssertionError("no chatter_sockets_open")


async def test_sockets_past_the_per_user_cap_are_refused_429_at_the_handshake(tmp_path):
    cap = 3
    with trio.fail_after(60):
        async with live_server(tmp_path, "--set", f"realtime.sockets_per_user={cap}") as srv:
            tokens = await make_users(srv.url, ["tabs", "other"])
            tabs = [await open_ws(srv.url, tokens["tabs"]) for _ in range(cap - 1)]
            tabs.append(await open_ws(srv.url, tokens["tabs"]))  # not said hello yet: it counts too
            for ws in tabs[:-1]:
                await hello(ws)
            hs, refused = await connect(srv.url, tokens["tabs"])
            await refused.stream.aclose()
            assert hs.status == 429, hs
            assert int(hs.headers["retry-after"]) >= 1
            assert json.loads(hs.body)["error"]["code"] == "RATE_LIMITED"
            other = await open_ws(srv.url, tokens["other"])  # another user is not affected
            await hello(other)
            await tabs.pop().aclose()
            for _ in bounded(500):  # the slot frees when the server has let that socket go
                if await _sockets_open(srv.url) == cap:  # (cap - 1) tabs + other
                    break
                await trio.sleep(0.02)  # the poll interval of a deadline loop on /metrics
            again = await open_ws(srv.url, tokens["tabs"])
            await hello(again)
            for ws in [*tabs, other, again]:
                await ws.aclose()
    print(f"\nRESULT limits per user: cap {cap}: socket {cap + 1} refused 429 RATE_LIMITED "
          f"(Retry-After {hs.headers['retry-after']}); another user served; one closed, the next accepted")
