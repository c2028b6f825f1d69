"""A whole REST session against real servers: ``chatter serve`` and plain hypercorn.

Checked field by field against PROTOCOL.md sections 2-3 over real HTTP
(httpx), then the data is looked up in the SQLite file after a clean SIGTERM.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import PASSWORD, chatter_server, kill_process_group

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def check_user(u: dict[str, Any], username: str, name: str) -> None:
    assert {"username", "name", "online", "last_seen"} <= set(u), u
    assert (u["username"], u["name"]) == (username, name)
    assert isinstance(u["online"], bool)
    assert u["last_seen"] is None or TIME_RE.match(u["last_seen"])


def check_message(m: dict[str, Any], room: str, sender: str, body: str) -> None:
    assert {"id", "seq", "room", "sender", "body", "client_msg_id", "created_at"} <= set(m), m
    assert isinstance(m["id"], int) and m["id"] > 0 and isinstance(m["seq"], int) and m["seq"] > 0
    assert (m["room"], m["sender"], m["body"]) == (room, sender, body)
    assert isinstance(m["client_msg_id"], str) and 1 <= len(m["client_msg_id"]) <= 64
    assert TIME_RE.match(m["created_at"]), m["created_at"]


def check_room(r: dict[str, Any], kind: str, name: str, roles: dict[str, str]) -> None:
    assert {"id", "kind", "name", "members", "last_message", "unread", "created_at"} <= set(r), r
    assert (r["kind"], r["name"]) == (kind, name)
    assert {m["username"]: m["role"] for m in r["members"]} == roles
    for m in r["members"]:
        assert {"username", "name", "role", "read_up_to"} <= set(m)
        assert isinstance(m["read_up_to"], int) and m["read_up_to"] >= 0
    assert isinstance(r["unread"], int) and r["unread"] >= 0
    assert TIME_RE.match(r["created_at"])
    if r["last_message"] is not None:
        check_message(
            r["last_message"], r["id"], r["last_message"]["sender"], r["last_message"]["body"]
        )


def error_code(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]["code"]  # type: ignore[no-any-return]


def session(http: httpx.Client) -> dict[str, Any]:
    """The PROTOCOL.md walk-through; returns what the caller checks in the db."""
    names = {"ana": "Ana Real", "ben": "Ben Real", "cyd": "Cyd Real"}
    tokens: dict[str, str] = {}
    for username, name in names.items():
        r = http.post("/api/users", json={"username": username, "name": name, "password": PASSWORD})
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith("application/json")
        check_user(r.json()["user"], username, name)
        r = http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        body = r.json()
        check_user(body["user"], username, name)
        assert TIME_RE.match(body["expires_at"])
        cookie = r.headers["set-cookie"]
        flags = [p.strip().lower() for p in cookie.split(";")]
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
        assert "secure" not in flags  # dev mode on plain http
        tokens[username] = body["token"]
    http.cookies.clear()  # bearer only from here on
    assert (
        error_code(
            http.post("/api/users", json={"username": "ana", "name": "X", "password": PASSWORD})
        )
        == "CONFLICT"
    )
    assert (
        error_code(
            http.post("/api/auth/login", json={"username": "ana", "password": "wrong password"})
        )
        == "UNAUTHENTICATED"
    )

    r = http.get("/api/me", headers=auth(tokens["ana"]))
    check_user(r.json(), "ana", "Ana Real")
    r = http.get("/api/users", params={"q": "b"}, headers=auth(tokens["ana"]))
    assert [u["username"] for u in r.json()["users"]] == ["ben"]
    check_user(http.get("/api/users/cyd", headers=auth(tokens["ana"])).json(), "cyd", "Cyd Real")

    # A group and a DM.
    r = http.post(
        "/api/rooms", json={"name": "Trio", "members": ["ben", "cyd"]}, headers=auth(tokens["ana"])
    )
    assert r.status_code == 201, r.text
    group = r.json()
    check_room(group, "group", "Trio", {"ana": "owner", "ben": "member", "cyd": "member"})
    assert group["last_message"] is None and group["unread"] == 0
    r = http.post("/api/dms", json={"username": "ben"}, headers=auth(tokens["ana"]))
    assert r.status_code == 201
    dm = r.json()
    check_room(dm, "dm", "Ben Real", {"ana": "member", "ben": "member"})
    r = http.post("/api/dms", json={"username": "ana"}, headers=auth(tokens["ben"]))
    assert r.status_code == 200 and r.json()["id"] == dm["id"] and r.json()["name"] == "Ana Real"
    assert (
        error_code(http.get(f"/api/rooms/{dm['id']}", headers=auth(tokens["cyd"]))) == "NOT_FOUND"
    )

    # Messages, with one idempotent repeat.
    sent: list[dict[str, Any]] = []
    for i in range(7):
        who = ("ana", "ben", "cyd")[i % 3]
        cm = uuid.uuid4().hex
        r = http.post(
            f"/api/rooms/{group['id']}/messages",
            json={"client_msg_id": cm, "body": f"msg {i}  "},
            headers=auth(tokens[who]),
        )
        assert r.status_code == 201, r.text
        m = r.json()
        check_message(m, group["id"], who, f"msg {i}")
        assert m["client_msg_id"] == cm
        assert not sent or (m["id"] > sent[-1]["id"] and m["seq"] > sent[-1]["seq"])
        sent.append(m)
    r = http.post(
        f"/api/rooms/{group['id']}/messages",
        json={"client_msg_id": sent[0]["client_msg_id"], "body": "msg 0"},
        headers=auth(tokens["ana"]),
    )
    assert r.status_code == 201 and r.json() == sent[0]
    r = http.post(
        f"/api/rooms/{dm['id']}/messages",
        json={"client_msg_id": "dm-1", "body": "psst"},
        headers=auth(tokens["ben"]),
    )
    assert r.status_code == 201
    dm_msg = r.json()
    check_message(dm_msg, dm["id"], "ben", "psst")

    # History pages: newest first page, ascending inside, exact has_more.
    r = http.get(
        f"/api/rooms/{group['id']}/messages", params={"limit": 3}, headers=auth(tokens["cyd"])
    )
    assert r.json() == {"messages": sent[4:], "has_more": True}
    r = http.get(
        f"/api/rooms/{group['id']}/messages",
        params={"limit": 3, "before": sent[4]["id"]},
        headers=auth(tokens["cyd"]),
    )
    assert r.json() == {"messages": sent[1:4], "has_more": True}
    r = http.get(
        f"/api/rooms/{group['id']}/messages",
        params={"limit": 3, "before": sent[1]["id"]},
        headers=auth(tokens["cyd"]),
    )
    assert r.json() == {"messages": sent[:1], "has_more": False}
    assert (
        error_code(
            http.get(
                f"/api/rooms/{group['id']}/messages",
                params={"limit": 201},
                headers=auth(tokens["cyd"]),
            )
        )
        == "INVALID_INPUT"
    )

    # Room list: most recent activity first, with last_message and unread.
    rooms = http.get("/api/rooms", headers=auth(tokens["ana"])).json()["rooms"]
    assert [x["id"] for x in rooms] == [dm["id"], group["id"]]
    assert rooms[0]["last_message"] == dm_msg and rooms[0]["unread"] == 1
    assert rooms[1]["last_message"] == sent[-1]
    assert rooms[1]["unread"] == len([m for m in sent if m["sender"] != "ana"])

    # Reads: forward only.
    assert (
        http.post(
            f"/api/rooms/{group['id']}/read",
            json={"up_to": sent[-1]["id"]},
            headers=auth(tokens["ana"]),
        ).status_code
        == 204
    )
    assert (
        http.post(
            f"/api/rooms/{group['id']}/read",
            json={"up_to": sent[0]["id"]},
            headers=auth(tokens["ana"]),
        ).status_code
        == 204
    )
    room = http.get(f"/api/rooms/{group['id']}", headers=auth(tokens["ben"])).json()
    check_room(room, "group", "Trio", {"ana": "owner", "ben": "member", "cyd": "member"})
    assert (
        next(m for m in room["members"] if m["username"] == "ana")["read_up_to"] == sent[-1]["id"]
    )
    assert http.get(f"/api/rooms/{group['id']}", headers=auth(tokens["ana"])).json()["unread"] == 0

    # The event feed, paged.
    full = http.get("/api/events", params={"since": 0}, headers=auth(tokens["ben"])).json()
    assert set(full) >= {"epoch", "events", "next", "has_more"} and full["has_more"] is False
    seqs = [e["seq"] for e in full["events"]]
    assert seqs == sorted(set(seqs))
    assert [e["id"] for e in full["events"] if e["type"] == "message"] == [
        m["id"] for m in sent
    ] + [dm_msg["id"]]
    got, since = [], 0
    while True:
        page = http.get(
            "/api/events", params={"since": since, "limit": 4}, headers=auth(tokens["ben"])
        ).json()
        assert page["epoch"] == full["epoch"]
        got += page["events"]
        if not page["has_more"]:
            break
        since = page["next"]
    assert got == full["events"]

    # Log out: every token of ben's stops working, others do not.
    assert http.post("/api/auth/logout", headers=auth(tokens["ben"])).status_code == 204
    assert error_code(http.get("/api/me", headers=auth(tokens["ben"]))) == "UNAUTHENTICATED"
    assert http.get("/api/me", headers=auth(tokens["ana"])).status_code == 200
    return {"group": group["id"], "messages": len(sent) + 1, "users": sorted(names)}


def assert_in_db(db: Path, expected: dict[str, Any]) -> None:
    with sqlite3.connect(db) as conn:
        users = [r[0] for r in conn.execute("SELECT username FROM users ORDER BY username")]
        messages = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        rooms = [r[0] for r in conn.execute("SELECT id FROM rooms")]
    assert users == expected["users"]
    assert messages == expected["messages"]
    assert expected["group"] in rooms


def test_rest_session_against_chatter_serve(tmp_path: Path) -> None:
    with chatter_server(tmp_path) as server:
        with httpx.Client(base_url=server.url, timeout=15) as http:
            r = http.get("/healthz")
            assert r.status_code == 200 and r.json() == {"status": "ok"}
            assert "default-src 'self'" in r.headers["content-security-policy"]
            expected = session(http)
            # Over real HTTP: a chunked body (no Content-Length) over max_body; malformed JSON.
            token = http.post(
                "/api/auth/login", json={"username": "ana", "password": PASSWORD}
            ).json()["token"]
            http.cookies.clear()
            r = http.post(
                "/api/rooms",
                content=iter([b'{"name": "', b"x" * 70_000, b'"}']),
                headers={**auth(token), "Content-Type": "application/json"},
            )
            assert r.status_code == 413 and error_code(r) == "PAYLOAD_TOO_LARGE", r.text
            for bad in (b'{"name": NaN}', b"\xff", b"[" * 10_000, b""):
                r = http.post(
                    "/api/rooms",
                    content=bad,
                    headers={**auth(token), "Content-Type": "application/json"},
                )
                assert r.status_code == 400 and error_code(r) == "INVALID_INPUT", (bad[:10], r.text)
            assert [
                x["name"] for x in http.get("/api/rooms", headers=auth(token)).json()["rooms"]
            ] == ["Ben Real", "Trio"]
            metrics = http.get("/metrics").text
            assert "chatter_http_requests_total" in metrics
        assert server.stop(signal.SIGTERM) == 0
    assert_in_db(server.db, expected)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_plain_hypercorn_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "plain.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
    env.update(
        {
            "CHATTER_STORE_PATH": str(db),
            "CHATTER_AUTH_BCRYPT_ROUNDS": "4",
            "CHATTER_SERVER_UI_DIR": str(tmp_path),
            "PYTHONPATH": str(ROOT),
        }
    )
    hypercorn = Path(sys.executable).parent / "hypercorn"
    proc = subprocess.Popen(  # noqa: S603 (our own venv's hypercorn)
        [str(hypercorn), "-k", "trio", "--bind", f"127.0.0.1:{port}", "chatter.asgi:app"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # hypercorn serves from a worker process it spawns: kill the group,
        # or the worker outlives the test holding stderr open.
        start_new_session=True,
    )
    log: list[str] = []
    try:
        assert proc.stderr is not None

        def wait_running() -> bool:
            assert proc.stderr is not None
            for line in proc.stderr:
                log.append(line)
                if "Running on" in line:
                    return True
            return False

        # Not a `with` block: leaving it waits for the reader threads, which only
        # end when the server's stderr closes, so a failed assertion below would
        # hang here forever.  `finally` kills the server first, then shuts down.
        pool = concurrent.futures.ThreadPoolExecutor(1)
        try:
            running = pool.submit(wait_running).result(timeout=30)
            assert running, "".join(log)
            # Keep draining stderr so the server never blocks on a full pipe.
            drain = pool.submit(lambda: log.extend(proc.stderr or []))
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as http:
                r = http.get("/healthz")
                assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text
                r = http.post(
                    "/api/users", json={"username": "plain", "name": "Plain", "password": PASSWORD}
                )
                assert r.status_code == 201, r.text
                check_user(r.json()["user"], "plain", "Plain")
                r = http.post("/api/auth/login", json={"username": "plain", "password": PASSWORD})
                assert r.status_code == 200, r.text
                token = r.json()["token"]
                rid = http.post("/api/rooms", json={"name": "P"}, headers=auth(token)).json()["id"]
                r = http.post(
                    f"/api/rooms/{rid}/messages",
                    json={"client_msg_id": "p1", "body": "durable"},
                    headers=auth(token),
                )
                assert r.status_code == 201
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, "".join(log)
            drain.result(timeout=5)
        finally:
            kill_process_group(proc)
            pool.shutdown(wait=True)
        text = "".join(log)
        assert "Traceback" not in text, text
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT username, name FROM users").fetchall() == [
                ("plain", "Plain")
            ]
            assert conn.execute("SELECT body FROM messages").fetchall() == [("durable",)]
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        kill_process_group(proc)
        proc.wait()

