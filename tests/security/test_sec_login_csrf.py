"""Login CSRF and scheme-aware origins, against a real server (issue #13 item 4).

``POST /api/auth/login`` and ``POST /api/users`` (and the reset link's
``POST /api/auth/reset``) take no session, so the cookie CSRF rule did not
cover them: an HTML form on another site could post ``text/plain`` JSON and
log the victim's browser into the attacker's account.  They now need
``application/json`` and, when the browser sends one, our own ``Origin``,
where "our own" includes the scheme: ``https://host:port`` is not the
origin of a server reached over ``http``.
"""

from __future__ import annotations

import json

import httpx
import pytest
import trio
from fleet import shared_server
from helpers import PASSWORD
from rawws import connect

pytestmark = [pytest.mark.e2e]

server = shared_server()

EVIL = "http://evil.example"


def _post(url: str, path: str, body: dict[str, str], **headers: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as c:  # a fresh connection per refused request
        return c.post(path, content=json.dumps(body), headers=headers)


def test_login_register_and_reset_refuse_what_a_foreign_form_can_send(server):
    server.user("victim_src")  # an existing account to log into
    host = server.url.split("//")[1]
    login = {"username": "victim_src", "password": PASSWORD}
    register = {"username": "csrf_new", "name": "N", "password": PASSWORD}
    reset = {"token": "x" * 40, "new": "a brand new password"}
    forms = {
        "text/plain, foreign origin": {"Content-Type": "text/plain", "Origin": EVIL},
        "text/plain, no origin": {"Content-Type": "text/plain"},
        "form, foreign origin": {"Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL},
        "json, foreign origin": {"Content-Type": "application/json", "Origin": EVIL},
        "json, https origin on an http server": {"Content-Type": "application/json", "Origin": f"https://{host}"},
        "json, null origin": {"Content-Type": "application/json", "Origin": "null"},
    }
    results = {}
    for what, headers in forms.items():
        for path, body in (("/api/auth/login", login), ("/api/users", register), ("/api/auth/reset", reset)):
            r = _post(server.url, path, body, **headers)
            results[f"{path} {what}"] = (r.status_code, r.json()["error"]["code"], "set-cookie" in r.headers)
    ok_login = _post(server.url, "/api/auth/login", login, **{"Content-Type": "application/json",
                                                              "Origin": f"http://{host}"})
    api_client = _post(server.url, "/api/auth/login", login, **{"Content-Type": "application/json"})
    print(f"\nRESULT login csrf: {len(results)} refused as {set(results.values())}; "
          f"same-origin {ok_login.status_code}, no Origin (API client) {api_client.status_code}")
    assert set(results.values()) == {(403, "FORBIDDEN", False)}, results
    assert ok_login.status_code == 200 and "set-cookie" in ok_login.headers
    assert api_client.status_code == 200  # bots and the CLI send no Origin
    with httpx.Client(base_url=server.url, timeout=30) as c:  # nothing was created
        assert c.post("/api/auth/login", json={"username": "csrf_new", "password": PASSWORD}).status_code == 401


def test_cookie_write_from_the_https_origin_of_an_http_server_is_refused(server):
    token = server.user("scheme_w")
    host = server.url.split("//")[1]
    with httpx.Client(base_url=server.url, timeout=30, cookies={"chatter_session": token}) as c:
        r = c.post("/api/rooms", json={"name": "x"}, headers={"Origin": f"https://{host}"})
    with httpx.Client(base_url=server.url, timeout=30, cookies={"chatter_session": token}) as c:
        same = c.post("/api/rooms", json={"name": "x"}, headers={"Origin": f"http://{host}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert same.status_code == 201


async def test_socket_handshake_compares_the_scheme_too(server):
    token = server.user("scheme_ws")
    host = server.url.split("//")[1]
    cookie = {"Cookie": f"chatter_session={token}"}
    results = {}
    with trio.fail_after(20):
        for origin in (f"https://{host}", f"http://{host}", f"http://{host.split(':')[0]}:1"):
            hs, ws = await connect(server.url, headers={**cookie, "Origin": origin})
            await ws.stream.aclose()
            results[origin] = hs.status
    print(f"\nRESULT ws origin scheme: {results}")
    assert results[f"https://{host}"] == 403
    assert results[f"http://{host.split(':')[0]}:1"] == 403
    assert results[f"http://{host}"] == 101
