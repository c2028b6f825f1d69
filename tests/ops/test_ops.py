"""Operator commands against real files and a real server subprocess:
backup while messages flow, restore refused while serving, restore ->
clients get ``reset``, doctor lines and exit codes, one-time reset links.

Commands run as ``python -m chatter ...`` subprocesses, as an operator
would; time is injected (``now=``) where expiry matters, never slept.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest
import trio
from ship.shipkit import (
    bearer,
    chatter,
    clean_env,
    history,
    launch,
    login,
    make_room,
    make_user,
    register,
    rest,
    server_cmd,
    socket,
)

from chatter.config import load_config
from chatter.service import operator, password_reset
from chatter.store import maintenance

pytestmark = pytest.mark.e2e

LINE = re.compile(r"^(OK|WARN|FAIL) [a-z]+: \S.*$")


def cfg_for(tmp_path: Path, **values: object):  # type: ignore[no-untyped-def]
    return load_config(env={}, use_file=False, overrides={"store.path": str(tmp_path / "chatter.db"), **values})


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


async def cli(tmp_path: Path, *args: str) -> trio.CompletedProcess[bytes]:
    return await trio.run_process([sys.executable, "-m", "chatter", *args], cwd=tmp_path, env=clean_env(),
                                  capture_stdout=True, capture_stderr=True, check=False)


def one_error_line(proc: object) -> str:
    err = proc.stderr.decode() if isinstance(proc.stderr, bytes) else proc.stderr  # type: ignore[attr-defined]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatter: "), err
    return lines[0]


# -- backup -------------------------------------------------------------------


async def test_backup_while_server_runs_and_messages_flow(tmp_path):
    db = tmp_path / "chatter.db"
    fast = server_cmd(db, "--set", "realtime.sends_per_second=100000")
    with trio.fail_after(90), launch(fast, cwd=tmp_path, env=clean_env()) as srv:
        with rest(srv.url) as http:
            alice = make_user(http, "alice")
            room = make_room(http, alice, "busy")
        acked: list[int] = []
        backup_done = trio.Event()
        twenty = trio.Event()

        async def sender() -> None:
            async with socket(srv.ws_url, alice) as ws:
                await ws.hello()
                i = 0
                while not backup_done.is_set() or i < 40:
                    ack = await ws.post(room, f"m{i}")
                    assert ack["type"] == "ack", ack
                    acked.append(ack["id"])
                    if len(acked) == 20:
                        twenty.set()
                    i += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await twenty.wait()
            before = len(acked)
            result = await cli(tmp_path, "backup", "--db", str(db), str(tmp_path / "b1.db"))
            backup_done.set()
        assert result.returncode == 0, result.stderr
        assert b"integrity ok" in result.stdout
        assert len(acked) > before, "messages kept flowing around the backup"
        copy = tmp_path / "b1.db"
        assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
        assert rows(copy, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
        in_copy = [r[0] for r in rows(copy, "SELECT id FROM messages ORDER BY id")]
        assert in_copy == acked[: len(in_copy)], "the copy is a prefix of the acked messages"
        assert len(in_copy) >= before
        assert copy.stat().st_mode & 0o077 == 0
        # The server noted it, and kept every acked message.
        last = rows(db, "SELECT value FROM meta WHERE key = 'last_backup'")
        assert last and operator.parse_rfc3339(str(last[0][0])) is not None
        with rest(srv.url) as http:
            assert [m["id"] for m in history(http, alice, room)] == acked[-200:]

        # Never overwrites unless told to.
        again = await cli(tmp_path, "backup", "--db", str(db), str(copy))
        assert again.returncode == 2
        assert "already exists" in one_error_line(again) and "--force" in one_error_line(again)
        forced = await cli(tmp_path, "backup", "--db", str(db), str(copy), "--force")
        assert forced.returncode == 0, forced.stderr
        assert len(rows(copy, "SELECT id FROM messages")) == len(acked)


def test_backup_errors_are_one_line(tmp_path):
    missing = chatter("backup", "--db", str(tmp_path / "nope.db"), str(tmp_path / "b.db"), cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in one_error_line(missing)
    assert not (tmp_path / "nope.db").exists(), "backup must not create the database"
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    junk = chatter("backup", "--db", str(tmp_path / "junk.db"), str(tmp_path / "b.db"), cwd=tmp_path)
    assert junk.returncode == 2 and "not" in one_error_line(junk)
    nodir = chatter("backup", "--db", str(tmp_path / "junk.db"), str(tmp_path / "x" / "b.db"), cwd=tmp_path)
    assert nodir.returncode == 2
    assert not list(tmp_path.glob(".*partial*")), "no temporary file is left behind"
    for cmd in ("backup", "restore", "doctor", "reset-password"):
        helped = chatter(cmd, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "usage: chatter " + cmd in helped.stdout


# -- restore ------------------------------------------------------------------


async def test_restore_refused_while_server_runs(tmp_path):
    db = tmp_path / "chatter.db"
    with trio.fail_after(60), launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
        with rest(srv.url) as http:
            make_user(http, "alice")
        assert (await cli(tmp_path, "backup", "--db", str(db), str(tmp_path / "b.db"))).returncode == 0
        assert maintenance.in_use(db)
        before = db.read_bytes()
        refused = await cli(tmp_path, "restore", "--db", str(db), str(tmp_path / "b.db"))
        assert refused.returncode == 2
        assert f"in use by another Chatter server (pid {srv.proc.pid}, " in one_error_line(refused)
        assert db.read_bytes() == before
        assert not list(tmp_path.glob("chatter.db.pre-restore-*"))
        with rest(srv.url) as http:
            login(http, "alice")  # still serving, unharmed
    assert not maintenance.in_use(db)


async def test_restore_then_clients_resuming_with_the_old_epoch_get_reset(tmp_path):
    db = tmp_path / "chatter.db"
    with trio.fail_after(90):
        with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
            with rest(srv.url) as http:
                alice = make_user(http, "alice")
                room = make_room(http, alice, "r")
            async with socket(srv.ws_url, alice) as ws:
                ready = await ws.hello()
                old_epoch = ready["epoch"]
                kept = [(await ws.post(room, f"kept {i}"))["id"] for i in range(3)]
                backed = await cli(tmp_path, "backup", "--db", str(db), str(tmp_path / "b.db"))
                assert backed.returncode == 0, backed.stderr
                lost = await ws.post(room, "after the backup")
                since = lost["seq"]
            assert srv.proc.send_signal(15) is None and srv.wait() == 0

        restored = await cli(tmp_path, "restore", "--db", str(db), str(tmp_path / "b.db"))
        assert restored.returncode == 0, restored.stderr
        assert b"new epoch" in restored.stdout
        aside = list(tmp_path.glob("chatter.db.pre-restore-*"))
        assert len(aside) == 1 and rows(aside[0], "SELECT count(*) FROM messages") == [(4,)]
        new_epoch = rows(db, "SELECT value FROM meta WHERE key = 'epoch'")[0][0]
        assert new_epoch != old_epoch

        with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
            with rest(srv.url) as http:
                alice = login(http, "alice")
                assert [m["id"] for m in history(http, alice, room)] == kept
            async with socket(srv.ws_url, alice) as ws:
                frame = await ws.hello(since=since, epoch=old_epoch)
                if frame["type"] == "ready":
                    frame = await ws.next("reset")
                assert frame["type"] == "reset", frame
                assert frame["epoch"] == new_epoch
            async with socket(srv.ws_url, alice) as ws:  # a client that took the reset resumes normally
                ready = await ws.hello(since=frame["seq"], epoch=new_epoch)
                assert ready["type"] == "ready" and ready["epoch"] == new_epoch


def test_restore_checks_the_backup(tmp_path):
    db = tmp_path / "chatter.db"
    assert chatter("migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    before = db.read_bytes()
    (tmp_path / "junk.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
    bad = chatter("restore", "--db", str(db), str(tmp_path / "junk.db"), cwd=tmp_path)
    assert bad.returncode == 2, bad.stderr
    one_error_line(bad)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (x)")
    foreign = chatter("restore", "--db", str(db), str(other), cwd=tmp_path)
    assert foreign.returncode == 2 and "not a Chatter database" in one_error_line(foreign)
    missing = chatter("restore", "--db", str(db), str(tmp_path / "nope.db"), cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in one_error_line(missing)
    assert db.read_bytes() == before
    assert not list(tmp_path.glob(".*restoring*"))


def test_exclusive_lock_keeps_others_out_while_held(tmp_path):
    db = tmp_path / "chatter.db"
    assert chatter("migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    with maintenance.exclusive(db):
        assert maintenance.in_use(db)
    assert not maintenance.in_use(db)
    idle = sqlite3.connect(db)  # an idle WAL connection, like a server between requests
    idle.execute("SELECT count(*) FROM users").fetchone()
    try:
        assert maintenance.in_use(db)
    finally:
        idle.close()


# -- doctor -------------------------------------------------------------------


def test_doctor_lines_and_exit_codes(tmp_path):
    fresh = chatter("doctor", cwd=tmp_path)
    assert fresh.returncode == 1, fresh.stdout + fresh.stderr
    lines = fresh.stdout.splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    assert any(line.startswith("WARN database:") for line in lines)

    db = tmp_path / "chatter.db"
    secret = tmp_path / "secret"
    env = clean_env(CHATTER_SERVER_DEV="false", CHATTER_AUTH_SECRET_FILE=str(secret),
                    CHATTER_STORE_PATH=str(db), CHATTER_SERVER_PORT="0")
    assert chatter("migrate", cwd=tmp_path, env=env).returncode == 0
    secret.write_text("k" * 48)
    secret.chmod(0o600)
    assert chatter("backup", str(tmp_path / "b.db"), cwd=tmp_path, env=env).returncode == 0
    healthy = chatter("doctor", cwd=tmp_path, env=env)
    low_disk = shutil.disk_usage(tmp_path).free < operator.DISK_WARN_BYTES  # some machines here run nearly full
    assert healthy.returncode == (1 if low_disk else 0), healthy.stdout
    whats = [line.split(":")[0] for line in healthy.stdout.splitlines()]
    assert whats == ["OK database", "OK integrity", "OK schema", "OK search", "OK backup", "OK wal", "OK secret",
                     "WARN disk" if low_disk else "OK disk", "OK listen"]

    secret.chmod(0o644)
    assert chatter("doctor", cwd=tmp_path, env=env).returncode == 1
    secret.write_text("short")
    weak = chatter("doctor", cwd=tmp_path, env=env)
    assert weak.returncode == 2 and any(line.startswith("FAIL secret:") for line in weak.stdout.splitlines())
    secret.write_text("k" * 48)
    secret.chmod(0o600)

    # A stale backup warns (time injected, no sleeping).
    cfg = load_config(env=env, use_file=False)
    later = time.time() + operator.BACKUP_WARN_AGE + 60
    stale = {c.what: c for c in operator.doctor(cfg, now=later)}
    assert stale["backup"].level == "WARN" and "ago" in stale["backup"].detail
    assert operator.exit_code(list(stale.values())) == 1

    # A damaged file fails.
    data = bytearray(db.read_bytes())
    for page in range(1, len(data) // 4096):  # every b-tree page but the first gets a bad page type
        data[page * 4096] = 0x55
    db.write_bytes(bytes(data))
    broken = chatter("doctor", cwd=tmp_path, env=env)
    assert broken.returncode == 2, broken.stdout
    assert any(line.startswith("FAIL") for line in broken.stdout.splitlines())


def test_doctor_flags_a_newer_schema_and_a_taken_port(tmp_path):
    import socket as so

    db = tmp_path / "chatter.db"
    assert chatter("migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    c = sqlite3.connect(db)
    with c:
        c.execute("INSERT INTO schema_version VALUES (999, 'x')")
    c.close()
    listener = so.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        port = listener.getsockname()[1]
        cfg = cfg_for(tmp_path, **{"server.dev": "false", "auth.secret": "s" * 40, "server.port": port})
        checks = {c.what: c for c in operator.doctor(cfg)}
    finally:
        listener.close()
    assert checks["schema"].level == "FAIL" and "newer" in checks["schema"].detail
    assert checks["listen"].level == "FAIL"
    assert operator.exit_code(list(checks.values())) == 2


# -- reset-password -----------------------------------------------------------


async def test_reset_link_works_once_and_expires(tmp_path):
    db = tmp_path / "chatter.db"
    with trio.fail_after(90), launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
        with rest(srv.url) as http:
            old_token = make_user(http, "alice")
            made = await cli(tmp_path, "reset-password", "--db", str(db), "--url", srv.url, "Alice")
            assert made.returncode == 0, made.stderr
            link = made.stdout.decode().strip()
            assert re.fullmatch(re.escape(srv.url) + r"/reset#[A-Za-z0-9_-]{40,}", link), link
            assert b"30 minutes" in made.stderr
            token = link.split("#", 1)[1]
            stored = rows(db, "SELECT key, value FROM meta WHERE key LIKE 'password_reset:%'")
            assert len(stored) == 1 and token not in str(stored), "only a hash of the token is stored"

            page = http.get("/reset")
            assert page.status_code == 200 and 'src="/reset.js"' in page.text
            assert http.get("/reset.js").status_code == 200

            async with socket(srv.ws_url, old_token) as ws:
                await ws.hello()
                r = http.post("/api/auth/reset", json={"token": token, "new": "a brand new password"})
                assert r.status_code == 204, r.text
                assert await ws.close_code() == 4001, "open sockets of the user end"
            assert http.get("/api/me", headers=bearer(old_token)).status_code == 401
            assert http.post("/api/auth/login", json={"username": "alice", "password": "correct horse battery"}
                             ).status_code == 401
            login(http, "alice", "a brand new password")

            again = http.post("/api/auth/reset", json={"token": token, "new": "yet another password"})
            assert again.status_code == 401
            assert again.json()["error"]["code"] == "UNAUTHENTICATED"
            assert "already been used" in again.json()["error"]["message"]

            # Expiry: links made "in the past" by injecting the creation time.
            cfg = cfg_for(tmp_path)
            nearly = password_reset.create_reset_link(cfg, "alice", now=time.time() - password_reset.RESET_TTL + 60, url=srv.url)
            expired = password_reset.create_reset_link(cfg, "alice", now=time.time() - password_reset.RESET_TTL - 1, url=srv.url)
            r = http.post("/api/auth/reset", json={"token": expired.url.split("#")[1], "new": "password three"})
            assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
            # The newer link voided the older one (made a moment before).
            r = http.post("/api/auth/reset", json={"token": nearly.url.split("#")[1], "new": "password three"})
            assert r.status_code == 401, r.text
            fresh = password_reset.create_reset_link(cfg, "alice", now=time.time() - password_reset.RESET_TTL + 60, url=srv.url)
            r = http.post("/api/auth/reset", json={"token": fresh.url.split("#")[1], "new": "password four!"})
            assert r.status_code == 204, r.text
            login(http, "alice", "password four!")

            # Errors in the protocol's format; never a 500.
            for bad in ({"token": "x"}, {"new": "password five"}, {"token": 5, "new": "password five"},
                        {"token": "x", "new": "short"}):
                r = http.post("/api/auth/reset", json=bad)
                assert r.status_code == 400, (bad, r.text)
                assert r.json()["error"]["code"] == "INVALID_INPUT"
            r = http.post("/api/auth/reset", content=b"{not json", headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_INPUT"
            r = http.post("/api/auth/reset", json={"token": "guess" * 8, "new": "password five"})
            assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"

        nobody = await cli(tmp_path, "reset-password", "--db", str(db), "bob")
        assert nobody.returncode == 2 and "not found" in one_error_line(nobody)
        invalid = await cli(tmp_path, "reset-password", "--db", str(db), "no such user!")
        assert invalid.returncode == 2
        one_error_line(invalid)


def test_reset_link_default_url_uses_the_listening_config(tmp_path):
    db = tmp_path / "chatter.db"
    env = clean_env(CHATTER_STORE_PATH=str(db), CHATTER_SERVER_PORT="9123")
    assert chatter("migrate", cwd=tmp_path, env=env).returncode == 0
    assert chatter("create-user", "carol", "--password-stdin", cwd=tmp_path, env=env,
                   stdin="correct horse battery\n").returncode == 0
    out = chatter("reset-password", "carol", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("http://localhost:9123/reset#")
    assert register  # imported for symmetry with the other tests


def test_restore_replaces_a_damaged_database(tmp_path):
    db = tmp_path / "chatter.db"
    assert chatter("migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    assert chatter("backup", "--db", str(db), str(tmp_path / "b.db"), cwd=tmp_path).returncode == 0
    db.write_bytes(b"garbage" * 1000)
    done = chatter("restore", "--db", str(db), str(tmp_path / "b.db"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert [p.read_bytes()[:7] for p in tmp_path.glob("chatter.db.pre-restore-*")] == [b"garbage"]
