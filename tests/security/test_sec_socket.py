"""Security of the socket: cross-site handshakes, the JWT matrix, logout, IDOR.

Each check runs against a real server (subprocess) with a known secret, so
tokens can be forged here exactly as an attacker who guessed nothing could
not: expired, without exp, alg=none, HS512, tampered, wrong key.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from typing import Any

import httpx
import jwt
import pytest
import trio
from fleet import shared_server
from rawws import connect, hello, open_ws, roundtrip_ok

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_path")]  # every test on both socket paths

SECRET = "s3cr3t-for-tests-only-0123456789-abcdefghijklmnop"  # noqa: S105 - a test-only key
server = shared_server("--set", f"auth.secret={SECRET}", both_socket_paths=True)


def _forge(claims: dict[str, Any], key: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def _status(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    hs, ws = await connect(url, headers=headers)
    await ws.stream.aclose()
    return hs.status, hs.body


async def test_cross_site_socket_handshake_with_cookie_is_refused(server):
    token = server.user("xsite")
    host = server.url.split("//")[1]
    cookie = {"Cookie": f"chatter_session={token}"}
    with trio.fail_after(20):
        foreign = await _status(server.url, {**cookie, "Origin": "http://evil.example"})
        lookalike = await _status(server.url, {**cookie, "Origin": f"http://{host}.evil.example"})
        null_origin = await _status(server.url, {**cookie, "Origin": "null"})
        same = await _status(server.url, {**cookie, "Origin": f"http://{host}"})
    print(f"\nRESULT cross-site: foreign={foreign[0]} lookalike={lookalike[0]} null={null_origin[0]} same={same[0]}")
    assert foreign[0] == 403 and b"FORBIDDEN" in foreign[1]
    assert lookalike[0] == 403
    assert null_origin[0] == 403
    assert same[0] == 101  # control: the same cookie from the same origin is accepted


async def test_jwt_matrix_on_the_socket_handshake(server):
    good = server.user("jwtuser")
    now = int(time.time())
    base = {"sub": "jwtuser", "ver": 0, "iat": now, "exp": now + 3600}
    header, payload, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered_payload = _b64({**claims, "sub": "admin0"})
    cases = {
        "expired": _forge({**base, "iat": now - 7200, "exp": now - 3600}),
        "no exp": _forge({k: v for k, v in base.items() if k != "exp"}),
        "no iat": _forge({k: v for k, v in base.items() if k != "iat"}),
        "alg=none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(base) + ".",
        "HS512 right key": _forge(base, alg="HS512"),
        "tampered payload": f"{header}.{tampered_payload}.{sig}",
        "tampered signature": f"{header}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}",
        "wrong key": _forge(base, key="another-secret-of-sufficient-length-0123456789"),
        "unknown user": _forge({**base, "sub": "nobody_here"}),
        "garbage": "not.a.jwt",
        "empty bearer": "",
    }
    results = {}
    with trio.fail_after(30):
        assert (await _status(server.url, {"Authorization": f"Bearer {good}"}))[0] == 101  # control
        for name, tok in cases.items():
            results[name] = (await _status(server.url, {"Authorization": f"Bearer {tok}"}))[0]
        # After logout the same (once valid) token is refused too.
        async with httpx.AsyncClient(base_url=server.url) as c:
            r = await c.post("/api/auth/logout", headers={"Authorization": f"Bearer {good}"})
            assert r.status_code == 204
        results["after logout"] = (await _status(server.url, {"Authorization": f"Bearer {good}"}))[0]
        results["after logout (cookie)"] = (await _status(server.url, {"Cookie": f"chatter_session={good}"}))[0]
        results["no credentials"] = (await _status(server.url, {}))[0]
    print(f"\nRESULT jwt-matrix: {results}")
    assert results == {k: 401 for k in results}


async def test_logout_closes_an_open_socket_with_4001(server):
    token = server.user("leaver")
    with trio.fail_after(20):
        ws = await open_ws(server.url, token)
        await hello(ws)
        await roundtrip_ok(ws)
        async with httpx.AsyncClient(base_url=server.url) as c:
            r = await c.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 204
        closed = await ws.expect_close()
    print(f"\nRESULT logout: open socket closed with {closed.code}")
    assert closed.code == 4001


def _count(db: Any, sql: str, *args: Any) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute(sql, args).fetchone()[0])
    finally:
        con.close()


async def test_idor_on_every_socket_event(server):
    owner, member, outsider = (server.user(n) for n in ("idorowner", "idormember", "idorout"))
    db = server.server.db
    async with httpx.AsyncClient(base_url=server.url) as c:
        r = await c.post(
            "/api/rooms",
            json={"name": "private", "members": ["idormember"]},
            headers={"Authorization": f"Bearer {owner}"},
        )
        assert r.status_code == 201
        room = r.json()["id"]
        r = await c.post(
            f"/api/rooms/{room}/messages",
            json={"client_msg_id": "m1", "body": "private"},
            headers={"Authorization": f"Bearer {owner}"},
        )
        assert r.status_code == 201
        msg_id = r.json()["id"]
    messages_before = _count(db, "SELECT COUNT(*) FROM messages")
    events_before = _count(db, "SELECT COUNT(*) FROM events")
    answers: dict[str, tuple[str, str]] = {}
    with trio.fail_after(30):
        watcher = await open_ws(server.url, member)
        await hello(watcher)
        ws = await open_ws(server.url, outsider)
        await hello(ws)
        for target_name, target in (
            ("existing room", room),
            ("no such room", "r_doesnotexist0000"),
        ):
            frames = {
                "send": {
                    "type": "send",
                    "room": target,
                    "client_msg_id": f"x-{target_name}",
                    "body": "sneaky",
                },
                "typing": {"type": "typing", "room": target, "active": True},
                "read": {"type": "read", "room": target, "up_to": msg_id},
            }
            for kind, f in frames.items():
                await ws.send_json(f)
                err = await ws.recv_until(lambda o: o.get("type") in ("error", "ack"))
                answers[f"{kind} / {target_name}"] = (
                    err.get("code", err.get("type")),
                    err.get("message", ""),
                )
        # Nothing reached the member: the owner's later typing is the first they see.
        owner_ws = await open_ws(server.url, owner)
        await hello(owner_ws)
        await owner_ws.send_json({"type": "typing", "room": room, "active": True})
        first_typing = await watcher.recv_until(lambda o: o.get("type") == "typing")
        for s in (ws, watcher, owner_ws):
            await s.aclose()
    messages_after = _count(db, "SELECT COUNT(*) FROM messages")
    events_after = _count(db, "SELECT COUNT(*) FROM events")
    outsider_read = _count(db, "SELECT COUNT(*) FROM members WHERE username = 'idorout'")
    print(
        f"\nRESULT idor: {answers}; messages {messages_before}->{messages_after}, "
        f"events {events_before}->"
        f"{events_after}; first typing seen by member from {first_typing.get('user')}"
    )
    assert all(code == "NOT_FOUND" for code, _ in answers.values()), answers
    assert messages_after == messages_before
    assert events_after == events_before
    assert outsider_read == 0
    assert first_typing.get("user") == "idorowner"
    # The error must not reveal whether the room exists.
    for kind in ("send", "typing", "read"):
        assert answers[f"{kind} / existing room"] == answers[f"{kind} / no such room"], kind
