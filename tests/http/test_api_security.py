"""Tokens, cookies, CSRF, size limits, secrets in responses, ops routes and headers.

PROTOCOL.md sections 1-3: no request, however malformed, produces a 500;
tokens never travel in a URL; cookie writes need JSON and a same-origin
``Origin``; bearer writes are exempt.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from typing import Any

import jwt
import pytest
import trio
from apikit import JSON, cfg, err
from helpers import (
    PASSWORD,
    bearer,
    cmid,
    login,
    register,
    running_app,
    system_of,
    user,
)

from chatter import auth


def secret_of(app: Any) -> str:
    return app.extensions["chatter"].secret  # type: ignore[no-any-return]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- tokens ---------------------------------------------------------------------


async def test_bad_tokens_are_401(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            good = await user(c, "alice")
            secret = secret_of(app)
            ver = (await system_of(app).store.get_user("alice")).token_version
            now = int(time.time())
            claims = {"sub": "alice", "ver": ver, "iat": now, "exp": now + 3600}
            assert jwt.encode(claims, secret, algorithm="HS256")  # the reference token works:
            assert (
                await c.get(
                    "/api/me", headers=bearer(jwt.encode(claims, secret, algorithm="HS256"))
                )
            ).status_code == 200
            head, payload, sig = good.split(".")
            flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
            none_token = (
                _b64(b'{"alg":"none","typ":"JWT"}') + "." + _b64(json.dumps(claims).encode()) + "."
            )
            forged_payload = _b64(json.dumps({**claims, "sub": "bob"}).encode())
            expired, _ = auth.issue_token(secret, "alice", ver, now=time.time() - 10_000, ttl=1)
            bad = {
                "expired": expired,
                "tampered signature": f"{head}.{payload}.{flipped}",
                "payload swapped": f"{head}.{forged_payload}.{sig}",
                "alg none": none_token,
                "alg none with signature": none_token + sig,
                "HS512 right key": jwt.encode(claims, secret, algorithm="HS512"),
                "HS384 right key": jwt.encode(claims, secret, algorithm="HS384"),
                "no exp": jwt.encode(
                    {k: v for k, v in claims.items() if k != "exp"}, secret, algorithm="HS256"
                ),
                "no iat": jwt.encode(
                    {k: v for k, v in claims.items() if k != "iat"}, secret, algorithm="HS256"
                ),
                "no sub": jwt.encode(
                    {k: v for k, v in claims.items() if k != "sub"}, secret, algorithm="HS256"
                ),
                "sub not a string": jwt.encode({**claims, "sub": 5}, secret, algorithm="HS256"),
                "ver not an int": jwt.encode({**claims, "ver": "0"}, secret, algorithm="HS256"),
                "old ver": jwt.encode({**claims, "ver": ver - 1}, secret, algorithm="HS256"),
                "future ver": jwt.encode({**claims, "ver": ver + 1}, secret, algorithm="HS256"),
                "unknown user": jwt.encode({**claims, "sub": "ghost"}, secret, algorithm="HS256"),
                "wrong key": jwt.encode(
                    claims, "another-secret-that-is-long-enough-xxxx", algorithm="HS256"
                ),
                "garbage": "not-a-token",
                "empty segments": "..",
                "huge": "a" * 10_000,
                "non-ascii": "tøken",
            }
            for case, token in bad.items():
                r = await c.get("/api/me", headers={"Authorization": f"Bearer {token}"})
                body = await err(r, 401, "UNAUTHENTICATED")
                assert token not in json.dumps(body), case
                r = await c.post(
                    "/api/rooms", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
                )
                await err(r, 401, "UNAUTHENTICATED")
            assert (await (await c.get("/api/rooms", headers=bearer(good))).get_json()) == {
                "rooms": []
            }


@pytest.mark.parametrize(
    "header", ["Basic YWxpY2U6cGFzc3dvcmQ=", "Bearer", "Token abc", "bearer", "Bearer  "]
)
async def test_malformed_authorization_header_is_401(tmp_path, header):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            await user(c, "alice")
            await err(
                await c.get("/api/me", headers={"Authorization": header}), 401, "UNAUTHENTICATED"
            )


async def test_tokens_never_accepted_in_url(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            for q in ("token", "access_token", "jwt", "auth", "chatter_session"):
                await err(await c.get(f"/api/me?{q}={t}"), 401, "UNAUTHENTICATED")


async def test_token_after_logout_and_password_change(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t1 = await user(c, "alice")
            assert (await c.post("/api/auth/logout", headers=bearer(t1))).status_code == 204
            await err(await c.get("/api/me", headers=bearer(t1)), 401, "UNAUTHENTICATED")
            t2 = await login(c, "alice")
            r = await c.post(
                "/api/me/password",
                json={"current": PASSWORD, "new": "another password"},
                headers=bearer(t2),
            )
            assert r.status_code == 204
            await err(await c.get("/api/me", headers=bearer(t2)), 401, "UNAUTHENTICATED")
            # Even a token issued "now" with the old version is refused.
            old = jwt.encode(
                {"sub": "alice", "ver": 0, "iat": int(time.time()), "exp": int(time.time()) + 99},
                secret_of(app),
                algorithm="HS256",
            )
            await err(await c.get("/api/me", headers=bearer(old)), 401, "UNAUTHENTICATED")
            t3 = await login(c, "alice", "another password")
            assert (await c.get("/api/me", headers=bearer(t3))).status_code == 200


# -- cookies and CSRF -----------------------------------------------------------


async def _cookie_client(app: Any, name: str = "alice") -> Any:
    c = app.test_client()  # keeps the session cookie like a browser
    await register(c, name)
    r = await c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200
    return c


async def _rooms_of(app: Any, name: str) -> Any:
    c = app.test_client(use_cookies=False)
    return await (await c.get("/api/rooms", headers=bearer(await login(c, name)))).get_json()


async def test_cookie_authenticates_reads_and_json_writes(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = await _cookie_client(app)
            r = await c.get("/api/me")
            assert r.status_code == 200 and (await r.get_json())["username"] == "alice"
            r = await c.post("/api/rooms", json={"name": "by cookie"})
            assert r.status_code == 201
            r = await c.post(
                "/api/rooms", json={"name": "same origin"}, headers={"Origin": "http://localhost"}
            )
            assert r.status_code == 201
            r = await c.post(
                "/api/rooms",
                data=json.dumps({"name": "charset"}),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            assert r.status_code == 201
            names = [x["name"] for x in (await _rooms_of(app, "alice"))["rooms"]]
            assert sorted(names) == ["by cookie", "charset", "same origin"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Content-Type
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "application/json", "Origin": "http://evil.example"},
        {"Content-Type": "application/json", "Origin": "http://localhost.evil.example"},
        {"Content-Type": "application/json", "Origin": "https://localhost:8443"},
        {"Content-Type": "application/json", "Origin": "null"},
    ],
)
async def test_cookie_writes_without_json_or_cross_origin_are_403(tmp_path, headers):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = await _cookie_client(app)
            other = app.test_client(use_cookies=False)
            tb = await user(other, "bob")
            room = await (
                await other.post(
                    "/api/rooms", json={"name": "B", "members": ["alice"]}, headers=bearer(tb)
                )
            ).get_json()
            head = await system_of(app).store.head()
            body = json.dumps({"name": "csrf"})
            for method, path, data in (
                ("POST", "/api/rooms", body),
                ("PATCH", "/api/me", body),
                ("POST", "/api/dms", json.dumps({"username": "bob"})),
                (
                    "POST",
                    f"/api/rooms/{room['id']}/messages",
                    json.dumps({"client_msg_id": "c", "body": "x"}),
                ),
                ("POST", f"/api/rooms/{room['id']}/read", json.dumps({"up_to": 1})),
                ("DELETE", f"/api/rooms/{room['id']}/members/alice", None),
                (
                    "POST",
                    "/api/me/password",
                    json.dumps({"current": PASSWORD, "new": "pwned password"}),
                ),
                ("POST", "/api/auth/logout", None),
            ):
                r = await c.open(path, method=method, data=data, headers=headers)
                await err(r, 403, "FORBIDDEN")
            assert await system_of(app).store.head() == head
            me = await (await c.get("/api/me")).get_json()
            assert me["name"] == "Alice"  # not renamed, still logged in
            assert [x["name"] for x in (await _rooms_of(app, "alice"))["rooms"]] == ["B"]


@pytest.mark.parametrize("origin", ["http://[::1", "http://["])
async def test_cookie_write_with_malformed_origin_is_403(tmp_path, origin):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = await _cookie_client(app)
            head = await system_of(app).store.head()
            await err(
                await c.post("/api/rooms", json={"name": "x"}, headers={"Origin": origin}),
                403,
                "FORBIDDEN",
            )
            assert await system_of(app).store.head() == head


async def test_allowed_origins_setting_admits_a_listed_origin(tmp_path):
    with trio.fail_after(10):
        async with running_app(
            cfg(tmp_path, server__allowed_origins="https://chat.example.org")
        ) as app:
            c = await _cookie_client(app)
            r = await c.post(
                "/api/rooms", json={"name": "ok"}, headers={"Origin": "https://chat.example.org"}
            )
            assert r.status_code == 201
            r = await c.post(
                "/api/rooms", json={"name": "no"}, headers={"Origin": "https://evil.example.org"}
            )
            await err(r, 403, "FORBIDDEN")


async def test_bearer_writes_are_exempt_from_csrf_checks(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            r = await c.post(
                "/api/rooms",
                data=json.dumps({"name": "bot"}),
                headers={
                    **bearer(t),
                    "Origin": "http://evil.example",
                    "Content-Type": "text/plain",
                },
            )
            assert r.status_code == 201
            r = await c.post("/api/rooms", data=json.dumps({"name": "bot2"}), headers=bearer(t))
            assert r.status_code == 201


async def test_cookie_logout_clears_cookie_and_revokes(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = await _cookie_client(app)
            token = next(ck.value for ck in c.cookie_jar if ck.name == "chatter_session")
            r = await c.post("/api/auth/logout", headers=JSON)
            assert r.status_code == 204
            cleared = r.headers["Set-Cookie"]
            assert cleared.startswith("chatter_session=") and (
                "Max-Age=0" in cleared or "expires=Thu, 01 Jan 1970" in cleared
            )
            await err(await c.get("/api/me"), 401, "UNAUTHENTICATED")
            c2 = app.test_client(use_cookies=False)
            await err(
                await c2.get("/api/me", headers={"Cookie": f"chatter_session={token}"}),
                401,
                "UNAUTHENTICATED",
            )


# -- sizes, fuzz, secrets ---------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/users"),
        ("POST", "/api/auth/login"),
        ("PATCH", "/api/me"),
        ("POST", "/api/me/password"),
        ("POST", "/api/rooms"),
        ("POST", "/api/dms"),
        ("PATCH", "/api/rooms/{rid}"),
        ("POST", "/api/rooms/{rid}/members"),
        ("PATCH", "/api/rooms/{rid}/members/bob"),
        ("POST", "/api/rooms/{rid}/messages"),
        ("POST", "/api/rooms/{rid}/read"),
    ],
)
async def test_body_over_max_body_is_413_everywhere(tmp_path, method, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path, server__max_body=4096)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            await register(c, "bob")
            rid = (
                await (
                    await c.post(
                        "/api/rooms", json={"name": "G", "members": ["bob"]}, headers=bearer(t)
                    )
                ).get_json()
            )["id"]
            head = await system_of(app).store.head()
            big = {
                "username": "carol",
                "name": "n" * 5000,
                "password": "p" * 5000,
                "current": PASSWORD,
                "new": "x",
                "client_msg_id": "c",
                "body": "b" * 5000,
                "up_to": 1,
                "role": "admin",
            }
            r = await c.open(path.format(rid=rid), method=method, json=big, headers=bearer(t))
            await err(r, 413, "PAYLOAD_TOO_LARGE")
            # A raw (non-JSON-encoded) body over the limit too.
            r = await c.open(
                path.format(rid=rid),
                method=method,
                data=b"{" + b" " * 8000 + b"}",
                headers={**bearer(t), **JSON},
            )
            await err(r, 413, "PAYLOAD_TOO_LARGE")
            assert await system_of(app).store.head() == head
            assert await system_of(app).store.get_user("carol") is None


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    return [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.random() * 1e308,
        lambda: "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(40))),
        lambda: rng.choice(
            ["", "alice", "bob", "owner", "admin", "r_x", "'; --", "%", "\x00", "a" * 5000]
        ),
        lambda: [_junk(rng, depth + 1) for _ in range(rng.randrange(4))],
        lambda: {
            rng.choice(
                [
                    "username",
                    "name",
                    "password",
                    "members",
                    "role",
                    "body",
                    "client_msg_id",
                    "up_to",
                    "current",
                    "new",
                    "x",
                ]
            ): _junk(rng, depth + 1)
            for _ in range(rng.randrange(5))
        },
        lambda: {
            "username": "bob",
            "name": _junk(rng, depth + 1),
            "body": _junk(rng, depth + 1),
            "client_msg_id": _junk(rng, depth + 1),
            "up_to": _junk(rng, depth + 1),
            "role": _junk(rng, depth + 1),
        },
    ][kind]()


async def test_fuzzed_requests_never_500(tmp_path):
    routes = [
        ("POST", "/api/users"),
        ("POST", "/api/auth/login"),
        ("PATCH", "/api/me"),
        ("POST", "/api/me/password"),
        ("POST", "/api/rooms"),
        ("POST", "/api/dms"),
        ("PATCH", "/api/rooms/{rid}"),
        ("POST", "/api/rooms/{rid}/members"),
        ("PATCH", "/api/rooms/{rid}/members/bob"),
        ("DELETE", "/api/rooms/{rid}/members/{junk}"),
        ("POST", "/api/rooms/{rid}/messages"),
        ("POST", "/api/rooms/{rid}/read"),
        ("GET", "/api/rooms/{rid}/messages?before={junk}&limit={junk}"),
        ("GET", "/api/events?since={junk}&limit={junk}"),
        ("GET", "/api/users?q={junk}"),
        ("GET", "/api/users/{junk}"),
        ("GET", "/api/rooms/{junk}"),
    ]
    rng = random.Random(20261125)  # noqa: S311 (a reproducible fuzz, not crypto)
    with trio.fail_after(40):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            await register(c, "bob")
            rid = (
                await (
                    await c.post(
                        "/api/rooms", json={"name": "G", "members": ["bob"]}, headers=bearer(t)
                    )
                ).get_json()
            )["id"]
            seen = set()
            for _ in range(600):
                method, path = rng.choice(routes)
                junk = rng.choice(
                    [
                        "",
                        "-1",
                        "0",
                        "1",
                        "abc",
                        "%00",
                        "%FF",
                        "%ED%A0%80",
                        "9" * 30,
                        "..",
                        "%2F",
                        "a" * 70,
                        "1e3",
                        "+1",
                        " 1",
                    ]
                )
                url = path.format(rid=rid, junk=junk)
                if rng.random() < 0.2:
                    data: Any = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
                    r = await c.open(url, method=method, data=data, headers={**bearer(t), **JSON})
                else:
                    r = await c.open(url, method=method, json=_junk(rng), headers=bearer(t))
                assert r.status_code < 500, (
                    method,
                    url,
                    r.status_code,
                    await r.get_data(as_text=True),
                )
                assert r.mimetype == "application/json" or r.status_code == 204, (
                    method,
                    url,
                    r.status_code,
                )
                seen.add(r.status_code)
            assert {200, 400} <= seen


async def test_no_response_leaks_hashes_or_other_tokens(tmp_path):
    with trio.fail_after(15):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            responses: list[tuple[str, str]] = []

            async def call(method: str, path: str, token: str | None = None, **kw: Any) -> Any:
                r = await c.open(path, method=method, headers=bearer(token) if token else {}, **kw)
                responses.append((path, await r.get_data(as_text=True) + str(r.headers)))
                return r

            await call(
                "POST", "/api/users", json={"username": "alice", "name": "A", "password": PASSWORD}
            )
            await call(
                "POST", "/api/users", json={"username": "bob", "name": "B", "password": PASSWORD}
            )
            ta = (
                await (
                    await call(
                        "POST", "/api/auth/login", json={"username": "alice", "password": PASSWORD}
                    )
                ).get_json()
            )["token"]
            tb = await login(c, "bob")
            rid = (
                await (
                    await call("POST", "/api/rooms", ta, json={"name": "G", "members": ["bob"]})
                ).get_json()
            )["id"]
            await call("POST", "/api/dms", ta, json={"username": "bob"})
            await call(
                "POST",
                f"/api/rooms/{rid}/messages",
                ta,
                json={"client_msg_id": cmid(), "body": "hello"},
            )
            for path in (
                "/api/me",
                "/api/users?q=b",
                "/api/users/bob",
                "/api/rooms",
                f"/api/rooms/{rid}",
                f"/api/rooms/{rid}/messages",
                "/api/events?since=0",
                "/metrics",
                "/healthz",
            ):
                await call("GET", path, ta)
            await call(
                "POST", "/api/users", json={"username": "bob", "name": "B", "password": PASSWORD}
            )
            await call(
                "POST", "/api/auth/login", json={"username": "bob", "password": "wrong password"}
            )
            await call("POST", f"/api/rooms/{rid}/members", ta, json={"username": "bob"})
            await call(
                "POST",
                "/api/me/password",
                ta,
                json={"current": PASSWORD, "new": "alice's new password"},
            )
            hashes = [
                (await system_of(app).store.get_user(u)).password_hash for u in ("alice", "bob")
            ]
            for path, text in responses:
                assert "$2b$" not in text and "$2a$" not in text, path
                assert not any(h in text for h in hashes), path
                assert PASSWORD not in text, path
                assert "password_hash" not in text and "token_version" not in text, path
                assert tb not in text, path  # alice's calls never show bob's token


# -- ops routes, 404s, headers ----------------------------------------------------


async def test_healthz_and_metrics(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            r = await c.get("/healthz")
            assert r.status_code == 200 and await r.get_json() == {"status": "ok"}
            await user(c, "alice")
            r = await c.get("/metrics")
            assert r.status_code == 200
            assert r.mimetype == "text/plain"
            text = await r.get_data(as_text=True)
            assert "# TYPE chatter_http_requests_total counter" in text
            lines = [
                ln for ln in text.splitlines() if ln.startswith("chatter_http_requests_total{")
            ]
            assert any(
                'route="/api/users"' in ln and 'status="201"' in ln and 'method="POST"' in ln
                for ln in lines
            )
            sample = re.compile(
                r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+(\.[0-9]+)?$|^[a-zA-Z_:]"
            )
            for ln in text.splitlines():
                if ln and not ln.startswith("#"):
                    assert sample.match(ln) and re.search(r" (-?[0-9.eE+-]+|NaN|[+-]Inf)$", ln), ln


PROTOCOL_PATHS = [
    ("post", "/api/users"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/me"),
    ("patch", "/api/me"),
    ("post", "/api/me/password"),
    ("get", "/api/users"),
    ("get", "/api/users/{}"),
    ("get", "/api/rooms"),
    ("post", "/api/rooms"),
    ("post", "/api/dms"),
    ("get", "/api/rooms/{}"),
    ("patch", "/api/rooms/{}"),
    ("delete", "/api/rooms/{}"),
    ("post", "/api/rooms/{}/members"),
    ("patch", "/api/rooms/{}/members/{}"),
    ("delete", "/api/rooms/{}/members/{}"),
    ("get", "/api/rooms/{}/messages"),
    ("post", "/api/rooms/{}/messages"),
    ("post", "/api/rooms/{}/read"),
    ("get", "/api/events"),
]


async def test_openapi_lists_every_protocol_route(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            r = await c.get("/openapi.json")
            assert r.status_code == 200, (await r.get_data(as_text=True))[:300]
            doc = await r.get_json()
            assert re.match(r"^3\.\d+\.\d+$", doc["openapi"])
            assert doc["info"]["title"] and doc["info"]["version"]
            paths = {re.sub(r"\{[^}]+\}", "{}", p): ops for p, ops in doc["paths"].items()}
            for method, path in PROTOCOL_PATHS:
                assert path in paths, (path, sorted(paths))
                assert method in paths[path], (method, path)
                assert "responses" in paths[path][method]
            assert not any(p.startswith("/api/{") for p in paths)  # the catch-all is hidden


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/nope"),
        ("POST", "/api/nope"),
        ("GET", "/api/"),
        ("GET", "/api/rooms/x/y/z"),
        ("DELETE", "/api/me"),
        ("PUT", "/api/rooms"),
        ("GET", "/api/users/a/b"),
    ],
)
async def test_unknown_api_routes_are_json_errors(tmp_path, method, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            for headers in ({}, bearer(t)):
                r = await c.open(path, method=method, headers=headers)
                assert r.status_code in (404, 405), r.status_code
                await err(
                    r, r.status_code, {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}[r.status_code]
                )
                assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/api", "/api?x=1"])
async def test_bare_api_path_is_a_json_404(tmp_path, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            r = await app.test_client(use_cookies=False).get(path)
            await err(r, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "path", ["/api/me", "/api/nope", "/healthz", "/metrics", "/", "/some/page"]
)
async def test_security_headers(tmp_path, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            r = await c.get(path)
            csp = r.headers.get("Content-Security-Policy", "")
            directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
            assert directives.get("default-src") == "default-src 'self'", csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert r.headers.get("X-Content-Type-Options") == "nosniff"
            assert "Access-Control-Allow-Origin" not in r.headers
            if path.startswith("/api/"):
                assert r.headers.get("Cache-Control") == "no-store"


async def test_ui_fallback_serves_index_but_not_outside_files(tmp_path):
    with trio.fail_after(10):
        (tmp_path / "ui").mkdir()
        (tmp_path / "ui" / "index.html").write_text("<!doctype html><title>Chatter UI</title>")
        (tmp_path / "secret.txt").write_text("do not serve")
        async with running_app(cfg(tmp_path, server__ui_dir=str(tmp_path / "ui"))) as app:
            c = app.test_client(use_cookies=False)
            for path in ("/", "/rooms/r_abc", "/login"):
                r = await c.get(path)
                assert r.status_code == 200 and "Chatter UI" in await r.get_data(as_text=True), path
            for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2Fsecret.txt"):
                r = await c.get(path)
                assert "do not serve" not in await r.get_data(as_text=True), path
