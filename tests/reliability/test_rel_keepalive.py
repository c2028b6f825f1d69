"""HTTP keep-alive after an early error response.

A request the server answers before reading its body (a cookie write refused
by the CSRF check, 403; or an unauthenticated POST, 401) must leave the
keep-alive connection usable: the next request on it gets an answer.
Measured here with httpx (a real client; browsers reuse connections the
same way): up to 1500 such requests on one connection, each with a 2 s
timeout, stopping at the first one that gets no answer.

(Found: about 1 request in 100 got no answer at all after such a response;
fixed in 13dda0a by reading the rest of the body before an early error.)
"""

from __future__ import annotations

import time

import httpx
import pytest
from fleet import shared_server, soak

pytestmark = [pytest.mark.e2e]

server = shared_server()


def _first_hang(url: str, cookies: dict[str, str], n: int = soak(1500, 10000)) -> tuple[int | None, int, float]:
    """(index of the first request with no answer, requests answered, slowest answered in s)."""
    slowest = 0.0
    with httpx.Client(base_url=url, timeout=2, cookies=cookies) as c:
        for i in range(n):
            t0 = time.monotonic()
            try:
                r = c.post(
                    "/api/rooms",
                    content="name=x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            except httpx.TimeoutException:
                return i, i, slowest
            assert r.status_code in (401, 403), r.status_code
            slowest = max(slowest, time.monotonic() - t0)
    return None, n, slowest


def test_control_fresh_connection_per_refused_request(server):
    """Control: the same refused requests on fresh connections are always answered."""
    token = server.user("kaliveb")
    for _ in range(50):
        with httpx.Client(base_url=server.url, timeout=5, cookies={"chatter_session": token}) as c:
            r = c.post(
                "/api/rooms",
                content="name=x",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert r.status_code == 403


@pytest.mark.parametrize("who", ["csrf-refused cookie", "unauthenticated"])
def test_keepalive_survives_early_error_responses(server, who):
    cookies = {"chatter_session": server.user("kalive")} if who == "csrf-refused cookie" else {}
    hang, answered, slowest = _first_hang(server.url, cookies)
    print(
        f"\nRESULT keep-alive ({who}): first unanswered request={hang}, answered={answered}, "
        f"slowest answered={slowest * 1000:.0f} ms"
    )
    assert hang is None
