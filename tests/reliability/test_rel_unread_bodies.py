"""A body the server has no use for is still read, so the keep-alive connection stays usable.

Found by schemathesis (tests/reliability/test_rel_openapi.py): a GET, an
automatic OPTIONS answer, a 405 or the /api catch-all's 404, sent with a
body, left the body unread, and the next request on the same keep-alive
connection got no answer at all (the client timed out).  Also: a known path
with a method it does not have is 405 with an ``Allow`` listing exactly its
methods, an unknown /api path is 404 whatever the method.
"""

from __future__ import annotations

import httpx
import pytest
from fleet import shared_server

pytestmark = [pytest.mark.e2e]

server = shared_server()

CASES = [
    ("GET", "/api/me"), ("GET", "/api/me/password"), ("OPTIONS", "/api/me/password"), ("OPTIONS", "/api/rooms"),
    ("PUT", "/api/me"), ("PATCH", "/api/rooms/r_x/read"), ("DELETE", "/api/nope"), ("QUERY", "/api/me"),
    ("GET", "/healthz"), ("PUT", "/healthz"), ("POST", "/api/nope/deeper"),
]


def test_unread_bodies_do_not_stall_the_next_request(server):
    token = server.user("bodies")
    results = {}
    with httpx.Client(base_url=server.url, timeout=3, headers={"Authorization": f"Bearer {token}"}) as c:
        for method, path in CASES:
            first = c.request(method, path, content=b'{"current": "", "new": "00000000"}' * 50,
                              headers={"Content-Type": "application/json"})
            after = c.get("/healthz")  # same connection: answered, not stalled
            results[(method, path)] = (first.status_code, first.headers.get("allow"), after.status_code)
    print(f"\nRESULT unread bodies: {results}")
    assert {after for _, _, after in results.values()} == {200}
    assert results[("PUT", "/api/me")][:2] == (405, "GET, HEAD, OPTIONS, PATCH")
    assert results[("GET", "/api/me/password")][:2] == (405, "OPTIONS, POST")
    assert results[("QUERY", "/api/me")][:2] == (405, "GET, HEAD, OPTIONS, PATCH")
    assert results[("OPTIONS", "/api/me/password")][:2] == (200, "OPTIONS, POST")
    assert results[("OPTIONS", "/api/rooms")][:2] == (200, "GET, HEAD, OPTIONS, POST")
    assert results[("PATCH", "/api/rooms/r_x/read")][:2] == (405, "OPTIONS, POST")
    assert results[("DELETE", "/api/nope")][0] == 404
    assert results[("POST", "/api/nope/deeper")][0] == 404
    assert results[("PUT", "/healthz")][:2] == (405, "GET, HEAD, OPTIONS")
