"""REST accounts (PROTOCOL.md sections 1-3): register, login, logout, /me, password, users.

Every bad case asserts the documented status and error code, that the answer
is never a 500, and that nothing changed (the user row, the store's head).
Systems start inside each test under ``trio.fail_after``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import trio
from apikit import JSON, TIME_RE, cfg, err
from helpers import PASSWORD, bearer, login, register, running_app, system_of, user

# Tests below create many accounts from the one test-client address; the
# rate-limit tests set their own limits.


def check_user(u: dict[str, Any], username: str, name: str) -> None:
    assert {"username", "name", "online", "last_seen"} <= set(u), u
    assert u["username"] == username
    assert u["name"] == name
    assert isinstance(u["online"], bool)
    assert u["last_seen"] is None or (isinstance(u["last_seen"], str) and TIME_RE.match(u["last_seen"]))
    assert "password" not in u and "password_hash" not in u and "token_version" not in u


async def raw_post(client: Any, path: str, data: bytes | str, headers: dict[str, str] | None = None) -> Any:
    return await client.post(path, data=data, headers={**JSON, **(headers or {})})


# -- register -------------------------------------------------------------------


async def test_register_success_shape(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            r = await c.post(
                "/api/users",
                json={"username": "Alice_1", "name": "  Alice A  ", "password": PASSWORD},
            )
            assert r.status_code == 201
            assert r.mimetype == "application/json"
            body = await r.get_json()
            assert set(body) >= {"user"}
            check_user(body["user"], "alice_1", "Alice A")  # lower-cased, name trimmed
            assert body["user"]["online"] is False and body["user"]["last_seen"] is None
            assert "token" not in body
            row = await system_of(app).store.get_user("alice_1")
            assert row is not None and row.password_hash != PASSWORD


@pytest.mark.parametrize("username", ["abc", "a" * 32, "x_0_9", "ABC"])
async def test_register_username_bounds_ok(tmp_path, username):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            user_json = await register(c, username)
            assert user_json["username"] == username.lower()


BAD_REGISTER: list[tuple[str, Any]] = [
    ("username too short", {"username": "ab", "name": "N", "password": PASSWORD}),
    ("username 33 chars", {"username": "a" * 33, "name": "N", "password": PASSWORD}),
    ("username with dash", {"username": "a-b-c", "name": "N", "password": PASSWORD}),
    ("username with space", {"username": "abc ", "name": "N", "password": PASSWORD}),
    ("username unicode", {"username": "ålice", "name": "N", "password": PASSWORD}),
    ("username SQL", {"username": "'; DROP TABLE users; --", "name": "N", "password": PASSWORD}),
    ("username int", {"username": 123, "name": "N", "password": PASSWORD}),
    ("username null", {"username": None, "name": "N", "password": PASSWORD}),
    ("username list", {"username": ["abc"], "name": "N", "password": PASSWORD}),
    ("name 65 chars", {"username": "carol", "name": "n" * 65, "password": PASSWORD}),
    ("name empty", {"username": "carol", "name": "", "password": PASSWORD}),
    ("name blank", {"username": "carol", "name": "   ", "password": PASSWORD}),
    ("name int", {"username": "carol", "name": 5, "password": PASSWORD}),
    ("name control char", {"username": "carol", "name": "a\x00b", "password": PASSWORD}),
    ("name newline", {"username": "carol", "name": "a\nb", "password": PASSWORD}),
    ("password 7 chars", {"username": "carol", "name": "N", "password": "1234567"}),
    ("password 1025 chars", {"username": "carol", "name": "N", "password": "p" * 1025}),
    ("password int", {"username": "carol", "name": "N", "password": 12345678}),
    ("password null", {"username": "carol", "name": "N", "password": None}),
    ("missing username", {"name": "N", "password": PASSWORD}),
    ("missing name", {"username": "carol", "password": PASSWORD}),
    ("missing password", {"username": "carol", "name": "N"}),
    ("empty object", {}),
]


@pytest.mark.parametrize("case,payload", BAD_REGISTER, ids=[c for c, _ in BAD_REGISTER])
async def test_register_bad_input(tmp_path, case, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            store = system_of(app).store
            c = app.test_client(use_cookies=False)
            head = await store.head()
            r = await c.post("/api/users", json=payload)
            await err(r, 400, "INVALID_INPUT")
            assert await store.get_user("carol") is None
            assert await store.head() == head
            assert await store.search_users("a", 20) == []


MALFORMED: list[tuple[str, bytes]] = [
    ("empty body", b""),
    ("not json", b"hello"),
    ("truncated", b'{"username": "carol"'),
    ("NaN", b'{"username": "carol", "name": "N", "password": "correct horse", "x": NaN}'),
    (
        "Infinity",
        b'{"username": "carol", "name": "N", "password": "correct horse", "x": -Infinity}',
    ),
    (
        "duplicate keys",
        b'{"username": "carol", "name": "N", "password": "correct horse", "username": "dave"}',
    ),
    ("100-deep nesting", b'{"username": "carol", "x": ' + b"[" * 100 + b"]" * 100 + b"}"),
    ("100-deep objects", b'{"a":' * 100 + b"1" + b"}" * 100),
    ("array", b'[{"username": "carol", "name": "N", "password": "correct horse"}]'),
    ("string", b'"carol"'),
    ("number", b"42"),
    ("null", b"null"),
    ("invalid utf-8", b'{"username": "carol", "name": "\xff\xfe", "password": "correct horse"}'),
    ("utf-16", '{"username": "carol", "name": "N", "password": "correct horse"}'.encode("utf-16")),
    ("trailing garbage", b'{"username": "carol", "name": "N", "password": "correct horse"} x'),
]


@pytest.mark.parametrize("case,data", MALFORMED, ids=[c for c, _ in MALFORMED])
async def test_register_malformed_json(tmp_path, case, data):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            store = system_of(app).store
            c = app.test_client(use_cookies=False)
            r = await raw_post(c, "/api/users", data)
            await err(r, 400, "INVALID_INPUT")
            assert await store.get_user("carol") is None
            assert await store.get_user("dave") is None


@pytest.mark.parametrize("path", ["/api/users", "/api/auth/login"])
async def test_deep_nesting_within_limit_is_still_400_not_500(tmp_path, path):
    """Deep but below any parser limit: wrong types, so 400; 10 000 deep: 400 too."""
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            for depth in (20, 10_000):
                r = await raw_post(c, path, b'{"username":' + b"[" * depth + b"]" * depth + b"}")
                await err(r, 400, "INVALID_INPUT")


async def test_register_lone_surrogate_name_is_400(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            r = await raw_post(c, "/api/users", b'{"username":"carol","name":"\\ud800","password":"correct horse"}')
            await err(r, 400, "INVALID_INPUT")
            assert await system_of(app).store.get_user("carol") is None


async def test_register_duplicate_username_409_case_insensitive(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            store = system_of(app).store
            c = app.test_client(use_cookies=False)
            await register(c, "alice", "First")
            before = await store.get_user("alice")
            for name in ("alice", "ALICE", "Alice"):
                r = await c.post(
                    "/api/users",
                    json={"username": name, "name": "Second", "password": "other password"},
                )
                await err(r, 409, "CONFLICT")
            assert await store.get_user("alice") == before
            await login(c, "alice")  # the first password still works


async def test_concurrent_registrations_exactly_one_wins(tmp_path):
    with trio.fail_after(15):
        async with running_app(cfg(tmp_path), memory=False) as app:
            c = app.test_client(use_cookies=False)
            results: list[tuple[int, Any]] = []

            async def attempt(i: int) -> None:
                r = await c.post(
                    "/api/users",
                    json={"username": "racer", "name": f"R{i}", "password": f"password {i}"},
                )
                results.append((r.status_code, await r.get_json()))

            async with trio.open_nursery() as nursery:
                for i in range(4):
                    nursery.start_soon(attempt, i)
            statuses = sorted(s for s, _ in results)
            assert statuses == [201, 409, 409, 409], results
            winner = next(b for s, b in results if s == 201)["user"]["name"]
            for s, b in results:
                if s == 409:
                    assert b["error"]["code"] == "CONFLICT"
            row = await system_of(app).store.get_user("racer")
            assert row is not None and row.name == winner
            i = int(winner[1:])
            await login(c, "racer", f"password {i}")


async def test_register_body_over_max_body_is_413(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path, server__max_body=2048)) as app:
            c = app.test_client(use_cookies=False)
            r = await c.post("/api/users", json={"username": "carol", "name": "N", "password": "p" * 3000})
            await err(r, 413, "PAYLOAD_TOO_LARGE")
            assert await system_of(app).store.get_user("carol") is None


async def test_register_rate_limited_per_ip(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path, auth__register_per_ip_per_minute=2)) as app:
            c = app.test_client(use_cookies=False)
            ip = {"client": ("10.0.0.9", 1000)}
            for name in ("user_a", "user_b"):
                r = await c.post(
                    "/api/users",
                    json={"username": name, "name": "N", "password": PASSWORD},
                    scope_base=ip,
                )
                assert r.status_code == 201
            r = await c.post(
                "/api/users",
                json={"username": "user_c", "name": "N", "password": PASSWORD},
                scope_base=ip,
            )
            await err(r, 429, "RATE_LIMITED")
            assert int(r.headers["Retry-After"]) >= 1
            assert await system_of(app).store.get_user("user_c") is None
            other = {"client": ("10.0.0.10", 1000)}
            r = await c.post(
                "/api/users",
                json={"username": "user_c", "name": "N", "password": PASSWORD},
                scope_base=other,
            )
            assert r.status_code == 201


@pytest.mark.parametrize(
    "password",
    [
        "a" * 73,
        "é" * 64,
        "x" * 1024,
        "é" * 1024,
        "p" * 8,
        "пароль🔑🔑🔑 \t 密码",
        "'; DROP TABLE users; --",
        "pass\x00word with a NUL",
    ],
)
async def test_password_lengths_and_unicode_work(tmp_path, password):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "carol", password=password)
            token = await login(c, "carol", password)
            assert (await c.get("/api/me", headers=bearer(token))).status_code == 200
            # No truncation (at 72 bytes or at a NUL): a prefix does not log in.
            prefixes = {password[:-1], password.encode()[:72].decode(errors="ignore")}
            prefixes.add(password.split("\x00")[0])  # what a C string would keep
            for prefix in prefixes - {password}:
                r = await c.post("/api/auth/login", json={"username": "carol", "password": prefix})
                await err(r, 401, "UNAUTHENTICATED")


async def test_one_mib_password_is_refused_not_500(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            big = "p" * (1 << 20)
            r = await c.post("/api/users", json={"username": "carol", "name": "N", "password": big})
            assert r.status_code in (400, 413)
            await err(r, r.status_code, {400: "INVALID_INPUT", 413: "PAYLOAD_TOO_LARGE"}[r.status_code])
            await register(c, "dave")
            r = await c.post("/api/auth/login", json={"username": "dave", "password": big})
            assert r.status_code in (400, 413)
            await err(r, r.status_code, {400: "INVALID_INPUT", 413: "PAYLOAD_TOO_LARGE"}[r.status_code])
            assert await system_of(app).store.get_user("carol") is None


async def test_sql_metacharacters_in_name_stored_verbatim(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            evil = "Robert'); DROP TABLE users; --"
            u = await register(c, "bobby", evil)
            assert u["name"] == evil
            token = await login(c, "bobby")
            me = await (await c.get("/api/me", headers=bearer(token))).get_json()
            assert me["name"] == evil
            await register(c, "alice")  # the users table is still there
            r = await c.get("/api/users?q=%25", headers=bearer(token))  # '%' is not a wildcard
            assert (await r.get_json())["users"] == []
            r = await c.get("/api/users?q=_", headers=bearer(token))  # nor is '_'
            assert (await r.get_json())["users"] == []


# -- login ----------------------------------------------------------------------


async def test_login_success_shape_and_cookie_flags(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice", "Alice")
            r = await c.post("/api/auth/login", json={"username": "ALICE", "password": PASSWORD})
            assert r.status_code == 200
            body = await r.get_json()
            assert set(body) >= {"user", "token", "expires_at"}
            check_user(body["user"], "alice", "Alice")
            assert isinstance(body["token"], str) and body["token"].count(".") == 2
            assert TIME_RE.match(body["expires_at"]), body["expires_at"]
            claims = jwt.decode(body["token"], options={"verify_signature": False})
            ttl = app.extensions["chatter"].cfg.auth.token_ttl
            assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == int(ttl)
            assert body["expires_at"] == datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            cookies = r.headers.get_all("Set-Cookie")
            assert len(cookies) == 1
            parts = [p.strip() for p in cookies[0].split(";")]
            name, _, value = parts[0].partition("=")
            assert name == app.extensions["chatter"].cfg.auth.cookie_name
            assert value == body["token"]
            flags = {p.split("=")[0].lower(): p for p in parts[1:]}
            assert "httponly" in flags
            assert flags["samesite"].lower() == "samesite=strict"
            assert flags["path"] == "Path=/"
            assert "secure" not in flags  # dev mode on plain HTTP
            assert flags["max-age"] == f"Max-Age={int(ttl)}"
            # The token in the body and the cookie both authenticate.
            assert (await c.get("/api/me", headers=bearer(body["token"]))).status_code == 200


async def test_login_cookie_is_secure_over_https_and_outside_dev(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}, scheme="https")
            assert "secure" in r.headers["Set-Cookie"].lower()
        async with running_app(cfg(tmp_path, server__dev=False, auth__secret="s" * 40)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
            assert r.status_code == 200
            assert "secure" in [p.strip().lower() for p in r.headers["Set-Cookie"].split(";")]


async def test_unknown_user_and_wrong_password_same_401(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            answers = []
            for payload in (
                {"username": "alice", "password": "wrong password"},
                {"username": "nobody", "password": "wrong password"},
                {"username": "no", "password": "wrong password"},
            ):
                r = await c.post("/api/auth/login", json=payload)
                answers.append(await err(r, 401, "UNAUTHENTICATED"))
                assert "Set-Cookie" not in r.headers
            assert answers[0] == answers[1] == answers[2]


BAD_LOGIN: list[tuple[str, Any]] = [
    ("missing password", {"username": "alice"}),
    ("missing username", {"password": PASSWORD}),
    ("username int", {"username": 1, "password": PASSWORD}),
    ("password list", {"username": "alice", "password": [PASSWORD]}),
    ("password null", {"username": "alice", "password": None}),
    ("password 1025", {"username": "alice", "password": "p" * 1025}),
]


@pytest.mark.parametrize("case,payload", BAD_LOGIN, ids=[c for c, _ in BAD_LOGIN])
async def test_login_bad_input_400(tmp_path, case, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            r = await c.post("/api/auth/login", json=payload)
            await err(r, 400, "INVALID_INPUT")
            assert "Set-Cookie" not in r.headers


@pytest.mark.parametrize("case,data", MALFORMED, ids=[c for c, _ in MALFORMED])
async def test_login_malformed_json_400(tmp_path, case, data):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            r = await raw_post(c, "/api/auth/login", data)
            await err(r, 400, "INVALID_INPUT")


async def test_login_rate_limit_per_ip(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path, auth__login_per_ip_per_minute=3)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            ip = {"client": ("10.0.0.1", 1234)}
            for _ in range(3):
                r = await c.post(
                    "/api/auth/login",
                    json={"username": "alice", "password": "bad password"},
                    scope_base=ip,
                )
                await err(r, 401, "UNAUTHENTICATED")
            # Over the limit: even the right password is refused from this address.
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}, scope_base=ip)
            await err(r, 429, "RATE_LIMITED")
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            assert "Set-Cookie" not in r.headers
            # Another address is not affected.
            r = await c.post(
                "/api/auth/login",
                json={"username": "alice", "password": PASSWORD},
                scope_base={"client": ("10.0.0.2", 1234)},
            )
            assert r.status_code == 200


async def test_login_brute_force_per_account_does_not_lock_out_owner(tmp_path):
    with trio.fail_after(15):
        async with running_app(cfg(tmp_path, auth__login_per_account_per_minute=3)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            attacker = {"client": ("10.0.0.1", 1234)}
            for i in range(3):
                r = await c.post(
                    "/api/auth/login",
                    json={"username": "alice", "password": f"guess {i:04}"},
                    scope_base=attacker,
                )
                await err(r, 401, "UNAUTHENTICATED")
            r = await c.post(
                "/api/auth/login",
                json={"username": "alice", "password": "guess 9999"},
                scope_base=attacker,
            )
            await err(r, 429, "RATE_LIMITED")
            assert int(r.headers["Retry-After"]) >= 1
            r = await c.post(
                "/api/auth/login",
                json={"username": "alice", "password": PASSWORD},
                scope_base=attacker,
            )
            await err(r, 429, "RATE_LIMITED")
            # The owner, from elsewhere, still gets in.
            r = await c.post(
                "/api/auth/login",
                json={"username": "alice", "password": PASSWORD},
                scope_base={"client": ("192.0.2.7", 4321)},
            )
            assert r.status_code == 200
            # Another account from the attacker's address is not blocked by alice's lock.
            await register(c, "bob")
            r = await c.post(
                "/api/auth/login",
                json={"username": "bob", "password": PASSWORD},
                scope_base=attacker,
            )
            assert r.status_code == 200


async def test_login_distributed_brute_force_is_slowed_never_locked(tmp_path):
    """Issue #13 item 5: account-wide failures delay the guessers; they never refuse a fresh address.

    (Before, 10x the per-account limit from any addresses locked the owner out everywhere.)
    """
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path, auth__login_per_account_per_minute=1,
                                   auth__login_delay_max=0.05)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            metrics = system_of(app).metrics
            statuses = []
            for i in range(40):
                r = await c.post(
                    "/api/auth/login",
                    json={"username": "alice", "password": f"guess {i:04}"},
                    scope_base={"client": (f"10.1.0.{i}", 1)},
                )
                statuses.append(r.status_code)
            assert statuses == [401] * 40  # one failure per address: nothing refused...
            assert metrics.login_delayed.get() == 0  # ...nor slowed: none of them had failed before
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD},
                             scope_base={"client": ("10.1.0.0", 1)})
            await err(r, 429, "RATE_LIMITED")  # that address used its one failure for alice
            assert metrics.login_refused.get(limit="account_address") == 1
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD},
                             scope_base={"client": ("10.9.9.9", 1)})
            assert r.status_code == 200  # the owner, from an address with no failures
            assert metrics.login_delayed.get() == 0


# -- logout, /me, password ----------------------------------------------------


async def test_logout_revokes_every_earlier_token(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t1 = await user(c, "alice")
            t2 = await login(c, "alice")
            other = await user(c, "bob")
            r = await c.post("/api/auth/logout", headers=bearer(t1))
            assert r.status_code == 204
            assert await r.get_data() == b""
            set_cookie = r.headers.get("Set-Cookie", "")
            assert set_cookie.startswith("chatter_session=;") or "Max-Age=0" in set_cookie or "expires=" in set_cookie
            for t in (t1, t2):
                await err(await c.get("/api/me", headers=bearer(t)), 401, "UNAUTHENTICATED")
                await err(await c.get("/api/rooms", headers=bearer(t)), 401, "UNAUTHENTICATED")
                await err(await c.post("/api/auth/logout", headers=bearer(t)), 401, "UNAUTHENTICATED")
            assert (await c.get("/api/me", headers=bearer(other))).status_code == 200
            t3 = await login(c, "alice")  # a new login works
            assert (await c.get("/api/me", headers=bearer(t3))).status_code == 200


async def test_me_get_and_patch(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            r = await c.get("/api/me", headers=bearer(t))
            check_user(await r.get_json(), "alice", "Alice")
            r = await c.patch("/api/me", json={"name": "  Alice Liddell 🐇 "}, headers=bearer(t))
            assert r.status_code == 200
            check_user(await r.get_json(), "alice", "Alice Liddell 🐇")
            r = await c.patch("/api/me", json={"name": "n" * 64}, headers=bearer(t))
            assert r.status_code == 200
            check_user(await r.get_json(), "alice", "n" * 64)
            check_user(await (await c.get("/api/me", headers=bearer(t))).get_json(), "alice", "n" * 64)


BAD_NAME = [
    ("65 chars", {"name": "n" * 65}),
    ("empty", {"name": ""}),
    ("int", {"name": 3}),
    ("null", {"name": None}),
    ("missing", {}),
    ("control", {"name": "a\x07"}),
    ("list", {"name": ["a"]}),
]


@pytest.mark.parametrize("case,payload", BAD_NAME, ids=[c for c, _ in BAD_NAME])
async def test_patch_me_bad_input(tmp_path, case, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            await err(await c.patch("/api/me", json=payload, headers=bearer(t)), 400, "INVALID_INPUT")
            for data in (b"", b"[]", b'{"name": NaN}', b'{"name":"a","name":"b"}', b"\xff"):
                await err(
                    await c.patch("/api/me", data=data, headers={**JSON, **bearer(t)}),
                    400,
                    "INVALID_INPUT",
                )
            check_user(await (await c.get("/api/me", headers=bearer(t))).get_json(), "alice", "Alice")


async def test_change_password_bearer(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t1 = await user(c, "alice")
            t2 = await login(c, "alice")
            r = await c.post(
                "/api/me/password",
                json={"current": PASSWORD, "new": "new password é" * 10},
                headers=bearer(t1),
            )
            assert r.status_code == 204
            for t in (t1, t2):
                await err(await c.get("/api/me", headers=bearer(t)), 401, "UNAUTHENTICATED")
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
            await err(r, 401, "UNAUTHENTICATED")
            t3 = await login(c, "alice", "new password é" * 10)
            assert (await c.get("/api/me", headers=bearer(t3))).status_code == 200


async def test_change_password_cookie_flow_gets_fresh_cookie(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            other = app.test_client(use_cookies=False)
            await register(other, "alice")
            old_token = await login(other, "alice")
            c = app.test_client()  # a browser: cookie jar
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
            assert r.status_code == 200
            old_cookie = r.headers["Set-Cookie"]
            r = await c.post("/api/me/password", json={"current": PASSWORD, "new": "brand new password"})
            assert r.status_code == 204
            new_cookie = r.headers.get("Set-Cookie")
            assert new_cookie is not None and new_cookie != old_cookie
            assert "httponly" in new_cookie.lower() and "samesite=strict" in new_cookie.lower()
            # The browser stays logged in with the fresh cookie ...
            r = await c.get("/api/me")
            assert r.status_code == 200
            # ... and every other session ended.
            await err(await other.get("/api/me", headers=bearer(old_token)), 401, "UNAUTHENTICATED")


BAD_PASSWORD_CHANGE: list[tuple[str, Any]] = [
    ("new too short", {"current": PASSWORD, "new": "short"}),
    ("new 1025", {"current": PASSWORD, "new": "n" * 1025}),
    ("new int", {"current": PASSWORD, "new": 12345678}),
    ("current int", {"current": 5, "new": "long enough new"}),
    ("missing new", {"current": PASSWORD}),
    ("missing current", {"new": "long enough new"}),
]


@pytest.mark.parametrize("case,payload", BAD_PASSWORD_CHANGE, ids=[c for c, _ in BAD_PASSWORD_CHANGE])
async def test_change_password_bad_input_changes_nothing(tmp_path, case, payload):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            before = await system_of(app).store.get_user("alice")
            await err(
                await c.post("/api/me/password", json=payload, headers=bearer(t)),
                400,
                "INVALID_INPUT",
            )
            assert await system_of(app).store.get_user("alice") == before
            assert (await c.get("/api/me", headers=bearer(t))).status_code == 200


async def test_change_password_wrong_current_changes_nothing(tmp_path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            before = await system_of(app).store.get_user("alice")
            r = await c.post(
                "/api/me/password",
                json={"current": "not my password", "new": "long enough new"},
                headers=bearer(t),
            )
            # 403, not 401: the caller's session is fine (a 401 would send a client to the login screen)
            await err(r, 403, "FORBIDDEN")
            assert await system_of(app).store.get_user("alice") == before
            await login(c, "alice")


# -- users --------------------------------------------------------------------


async def test_user_search_prefix_max_20_and_get_user(tmp_path):
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            for i in range(22):
                await register(c, f"zed_{i:02}", f"Zed {i}")
            await register(c, "bob", "Zara Bob")
            r = await c.get("/api/users?q=zed", headers=bearer(t))
            assert r.status_code == 200
            users = (await r.get_json())["users"]
            assert len(users) == 20
            assert all(u["username"].startswith("zed_") for u in users)
            for u in users:
                check_user(u, u["username"], "Zed " + str(int(u["username"][4:])))
            names = {
                u["username"] for u in (await (await c.get("/api/users?q=ZA", headers=bearer(t))).get_json())["users"]
            }
            assert names == {"bob"}  # display-name prefix, case-insensitive
            names = {
                u["username"] for u in (await (await c.get("/api/users?q=ed", headers=bearer(t))).get_json())["users"]
            }
            assert names == set()  # prefix, not substring
            assert (await (await c.get("/api/users", headers=bearer(t))).get_json()) == {"users": []}
            r = await c.get("/api/users/BOB", headers=bearer(t))
            assert r.status_code == 200
            check_user(await r.get_json(), "bob", "Zara Bob")
            await err(await c.get("/api/users/nobody", headers=bearer(t)), 404, "NOT_FOUND")
            await err(await c.get("/api/users/" + "x" * 300, headers=bearer(t)), 404, "NOT_FOUND")
            await err(await c.get("/api/users?q=" + "x" * 65, headers=bearer(t)), 400, "INVALID_INPUT")


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/me"),
        ("PATCH", "/api/me"),
        ("POST", "/api/me/password"),
        ("GET", "/api/users?q=a"),
        ("GET", "/api/users/alice"),
        ("POST", "/api/auth/logout"),
    ],
)
async def test_account_routes_require_auth(tmp_path, method, path):
    with trio.fail_after(10):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            await register(c, "alice")
            r = await c.open(path, method=method, json={"name": "X", "current": PASSWORD, "new": "whatever12"})
            await err(r, 401, "UNAUTHENTICATED")
            r = await c.open(path, method=method, headers={"Authorization": "Basic YWxpY2U6eA=="}, json={})
            await err(r, 401, "UNAUTHENTICATED")
            r = await c.open(path, method=method, headers={"Authorization": "Bearer "}, json={})
            await err(r, 401, "UNAUTHENTICATED")
            r = await c.open(path, method=method, headers={"Authorization": "Bearer not.a.jwt"}, json={})
            await err(r, 401, "UNAUTHENTICATED")
            check_user(
                await (await c.get("/api/users/alice", headers=bearer(await login(c, "alice")))).get_json(),
                "alice",
                "Alice",
            )
