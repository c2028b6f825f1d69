"""One server per database file, seen from outside on real ``chatter serve`` processes.

- A second ``chatter serve`` (or ``bin/chatter``, or plain hypercorn with
  ``chatter.asgi:app``) on a file a running server holds is refused in one
  line naming the first one's pid; the first keeps serving.
- The lock goes with the process: after SIGKILL a new server starts at once.
- ``backup``, ``doctor`` and ``create-user`` work beside a running server;
  ``migrate`` and ``restore`` are refused while it runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trio
from helpers import kill_process_group
from ship.shipkit import PASSWORD, RUNNERS, chatter, clean_env, launch, login, make_user, rest, runner_cmd, server_cmd

pytestmark = pytest.mark.e2e


def refused_line(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatter: "), p.stderr
    assert "serving" not in p.stdout + p.stderr and "Running on" not in p.stdout + p.stderr
    return lines[0]


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_second_server_on_the_same_database_is_refused_naming_the_first(tmp_path, runner):
    db = tmp_path / "chatter.db"
    with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as first:
        with rest(first.url) as http:
            make_user(http, "alice")
        second = subprocess.run([*runner_cmd(runner), *server_cmd(db)[3:]], cwd=tmp_path, env=clean_env(),
                                capture_output=True, text=True, timeout=60, check=False)
        line = refused_line(second)
        assert line.startswith(f"chatter: database {db} is in use by another Chatter server "
                               f"(pid {first.proc.pid}, started "), line
        assert line.endswith("; stop it first or use another --db"), line
        with rest(first.url) as http:
            login(http, "alice")  # the first one is unharmed


async def test_after_sigkill_a_new_server_starts_on_the_same_database(tmp_path):
    db = tmp_path / "chatter.db"
    with trio.fail_after(60):
        with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as first:
            with rest(first.url) as http:
                make_user(http, "alice")
            first.signal(signal.SIGKILL)  # no chance to release anything itself
            assert await trio.to_thread.run_sync(first.wait) == -signal.SIGKILL
        with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as again, rest(again.url) as http:
            login(http, "alice")


def test_operator_commands_beside_a_running_server(tmp_path):
    db = tmp_path / "chatter.db"
    with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
        with rest(srv.url) as http:
            make_user(http, "alice")
        backup = chatter("backup", "--db", str(db), str(tmp_path / "b.db"), cwd=tmp_path)
        assert backup.returncode == 0 and "integrity ok" in backup.stdout, backup.stderr
        doctor = chatter("doctor", "--db", str(db), cwd=tmp_path)
        assert f"OK database: {db}" in doctor.stdout, doctor.stdout + doctor.stderr
        assert f"in use by a running server (pid {srv.proc.pid}, started " in doctor.stdout
        # Accounts: SQLite's locking serialises the two writers, and create-user emits no
        # event the running server would have to fan out.
        created = chatter("create-user", "bob", "--password-stdin", "--db", str(db), "--set", "auth.bcrypt_rounds=4",
                          cwd=tmp_path, stdin=PASSWORD + "\n")
        assert created.returncode == 0, created.stderr
        with rest(srv.url) as http:
            login(http, "bob")
        migrate = refused_line(chatter("migrate", "--db", str(db), cwd=tmp_path))
        assert f"in use by another Chatter server (pid {srv.proc.pid}" in migrate
        assert "a server migrates the database when it starts" in migrate
        restore = refused_line(chatter("restore", "--db", str(db), str(tmp_path / "b.db"), cwd=tmp_path))
        assert f"in use by another Chatter server (pid {srv.proc.pid}" in restore and "then restore" in restore
        with rest(srv.url) as http:
            login(http, "alice")
    assert chatter("migrate", "--db", str(db), cwd=tmp_path).returncode == 0  # free again once it stopped


@contextmanager
def plain_hypercorn(tmp_path: Path, db: Path) -> Iterator[subprocess.Popen[str]]:
    """``hypercorn -k trio chatter.asgi:app`` on a free port, running once it logged "Running on"."""
    env = clean_env(CHATTER_STORE_PATH=str(db), CHATTER_AUTH_BCRYPT_ROUNDS="4", CHATTER_SERVER_UI_DIR=str(tmp_path))
    proc = subprocess.Popen([str(Path(sys.executable).parent / "hypercorn"), "-k", "trio", "--bind",  # noqa: S603
                             "127.0.0.1:0", "chatter.asgi:app"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "Running on" in line:
                break
        else:
            raise AssertionError("hypercorn did not start: " + "".join(seen))
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        kill_process_group(proc)  # hypercorn's spawned worker too
        proc.wait()


def test_plain_hypercorn_takes_the_same_lock(tmp_path):
    db = tmp_path / "chatter.db"
    with plain_hypercorn(tmp_path, db):
        line = refused_line(subprocess.run([*runner_cmd(RUNNERS[0]), *server_cmd(db)[3:]], cwd=tmp_path,
                                           env=clean_env(), capture_output=True, text=True, timeout=60, check=False))
        assert f"database {db} is in use by another Chatter server (pid " in line
    with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
        env = clean_env(CHATTER_STORE_PATH=str(db))
        p = subprocess.run([str(Path(sys.executable).parent / "hypercorn"), "-w", "0", "-k", "trio",  # noqa: S603
                            "--bind", "127.0.0.1:0", "chatter.asgi:app"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60, check=False)
        assert f"in use by another Chatter server (pid {srv.proc.pid}, " in refused_line(p)
