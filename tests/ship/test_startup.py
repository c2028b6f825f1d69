"""Every start-up failure an operator can cause: one line, exit 2, nothing claims to run.

Run as a user runs Chatter: ``python -m chatter serve`` and ``bin/chatter
serve`` (the binary when ``binary_skip_reason()`` allows it), and plain
``hypercorn -k trio chatter.asgi:app``.  Each case asserts exit code 2,
stderr exactly one line ``chatter: ...`` naming the setting and the path,
and neither "serving" nor "Running on" anywhere in the output.

The permission and read-only cases need what root has here: a read-only
bind mount inside a private mount namespace (``unshare --mount``), and
running the command as uid 65534 (``setpriv``), since permission bits do
not stop root.  Where those are missing the cases skip, saying why.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ship.shipkit import RUNNERS, clean_env, runner_cmd

from chatter.config import EXAMPLE_SECRET
from chatter.store.sqlite import migrate_file

pytestmark = pytest.mark.e2e

NOBODY = 65534
GOOD_KEY = "k" * 48


@functools.cache
def _mount_namespaces() -> str | None:
    """None if a private mount namespace with a read-only bind mount works here, else why not."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare(1) for a read-only bind mount"
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp"],
                           capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else f"unshare --mount failed here: {probe.stderr.strip()}"


def read_only(directory: Path) -> list[str]:
    """A command prefix that runs the command with ``directory`` mounted read-only (only for it)."""
    reason = _mount_namespaces()
    if reason:
        pytest.skip(reason)
    script = 'd="$1"; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh", str(directory)]


def as_nobody() -> list[str]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to run the command as another uid")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@dataclass
class Run:
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    prefix: list[str] = field(default_factory=list)
    keep: list[object] = field(default_factory=list)  # held open while the command runs


def serve(db: Path | str, *more: str) -> list[str]:
    return ["serve", "--host", "127.0.0.1", "--port", "0", "--db", str(db), "--set", "auth.bcrypt_rounds=4", *more]


def production(d: Path, **env: str) -> dict[str, str]:
    """The container image's settings: production mode with auth.secret_file set."""
    return {"CHATTER_SERVER_DEV": "false", "CHATTER_AUTH_SECRET_FILE": str(d / "secret"), **env}


def data_dir(d: Path, mode: int = 0o755) -> Path:
    path = d / "data"
    path.mkdir(exist_ok=True)
    path.chmod(mode)
    return path


def secret_file(d: Path, text: str, mode: int = 0o600) -> Path:
    path = d / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def _busy_port() -> tuple[socket.socket, int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def _address_in_use(d: Path) -> Run:
    held, port = _busy_port()
    return Run(["serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(d / "x.db")], keep=[held])


def _newer_schema(d: Path) -> Run:
    db = d / "x.db"
    migrate_file(str(db))
    with sqlite3.connect(db) as c:
        c.execute("INSERT INTO schema_version (version, applied_at) VALUES (999, 'later')")
    return Run(serve(db))


def _existing_db_read_only(d: Path) -> Run:
    db = data_dir(d) / "x.db"
    migrate_file(str(db))
    return Run(serve(db), prefix=read_only(db.parent))


def _db_file_not_writable(d: Path) -> Run:
    db = data_dir(d, 0o777) / "x.db"
    migrate_file(str(db))
    db.chmod(0o644)
    return Run(serve(db), prefix=as_nobody())


def _junk_db(d: Path) -> Run:
    (d / "junk.db").write_bytes(b"not a database at all " * 200)
    return Run(serve(d / "junk.db"))


def _key_file(text: str) -> Callable[[Path], Run]:
    def setup(d: Path) -> Run:
        secret_file(d, text)
        return Run(serve(d / "x.db"), env=production(d))
    return setup


def _secret_file_is_a_directory(d: Path) -> Run:
    (d / "secret").mkdir()
    return Run(serve(d / "x.db"), env=production(d))


def _secret_file_unreadable(d: Path) -> Run:
    secret_file(d, GOOD_KEY, 0o600)
    return Run(serve(data_dir(d, 0o777) / "x.db"), env=production(d), prefix=as_nobody())


def _config_unreadable(d: Path) -> Run:
    (d / "c.yml").write_text("server:\n  port: 0\n")
    (d / "c.yml").chmod(0o600)
    return Run([*serve(data_dir(d, 0o777) / "x.db"), "--config", str(d / "c.yml")], prefix=as_nobody())


def _config_yaml_error(d: Path) -> Run:
    (d / "c.yml").write_text("server:\n  port: 1\n\thost: x\n")  # a tab at line 3, column 1
    return Run([*serve(d / "x.db"), "--config", str(d / "c.yml")])


# id -> (set-up in a fresh directory, fragments the one line must contain)
CASES: dict[str, tuple[Callable[[Path], Run], tuple[str, ...]]] = {
    "db in a missing directory": (
        lambda d: Run(serve(d / "no" / "such" / "x.db")), ("store.path", "no/such/x.db", "does not exist", "mkdir -p")),
    "db is a directory": (lambda d: Run(serve(d)), ("store.path", "is a directory", "chatter.db")),
    "db directory read-only": (
        lambda d: Run(serve(data_dir(d) / "x.db"), prefix=read_only(d / "data")),
        ("store.path", "data/x.db", "read-only file system")),
    "existing db on a read-only file system": (_existing_db_read_only, ("store.path", "read-only file system")),
    "db directory not writable by the uid": (
        lambda d: Run(serve(data_dir(d) / "x.db"), prefix=as_nobody()),
        ("store.path", "data/x.db", f"not writable by uid {NOBODY}", f"chown {NOBODY}")),
    "db file not writable by the uid": (_db_file_not_writable, (f"not readable and writable by uid {NOBODY}",)),
    "db file is not a database": (_junk_db, ("store.path", "junk.db", "not a usable SQLite database")),
    "db schema newer than the program": (_newer_schema, ("store.path", "newer than this program", "upgrade")),
    "short CHATTER_AUTH_SECRET with secret_file set (the image)": (
        lambda d: Run(serve(d / "x.db"), env=production(d, CHATTER_AUTH_SECRET="short")),
        ("auth.secret", "shorter than 32 bytes")),
    "example CHATTER_AUTH_SECRET with secret_file set": (
        lambda d: Run(serve(d / "x.db"), env=production(d, CHATTER_AUTH_SECRET=EXAMPLE_SECRET)),
        ("auth.secret", "example value")),
    "short key in secret_file": (_key_file("short\n"), ("auth.secret_file", "secret", "shorter than 32 bytes")),
    "example key in secret_file": (_key_file(EXAMPLE_SECRET), ("auth.secret_file", "example value")),
    "empty secret_file": (_key_file(""), ("auth.secret_file", "empty")),
    "secret_file is a directory": (_secret_file_is_a_directory, ("auth.secret_file", "is a directory")),
    "secret_file to be created on a read-only file system": (
        lambda d: Run(serve(d / "x.db"), env=production(data_dir(d)), prefix=read_only(d / "data")),
        ("auth.secret_file", "read-only file system")),
    "secret_file not readable by the uid": (_secret_file_unreadable, ("auth.secret_file", f"not readable by uid {NOBODY}")),
    "config file missing": (
        lambda d: Run([*serve(d / "x.db"), "--config", str(d / "nope.yml")]), ("config file", "nope.yml", "does not exist")),
    "config file is a directory": (
        lambda d: Run([*serve(d / "x.db"), "--config", str(d)]), ("config file", "is a directory")),
    "config file not readable by the uid": (_config_unreadable, ("config file", "c.yml", f"uid {NOBODY}")),
    "config file with a YAML error": (_config_yaml_error, ("c.yml line 3, column 1: not valid YAML", "tab")),
    "port out of range": (
        lambda d: Run(serve(d / "x.db", "--port", "99999")),
        ("server.port must be a port number between 0 and 65535, got 99999",)),
    "address in use": (_address_in_use, ("cannot listen on 127.0.0.1:", "address already in use", "--port")),
    "host not on this machine": (
        lambda d: Run(serve(d / "x.db", "--host", "192.0.2.1")), ("cannot listen on 192.0.2.1:0", "server.host")),
    "ui_dir missing": (
        lambda d: Run(serve(d / "x.db", "--set", f"server.ui_dir={d / 'dist'}")), ("server.ui_dir", "does not exist")),
}


@pytest.fixture
def box() -> Iterator[Path]:
    """A fresh directory that uid 65534 can reach (pytest's tmp_path is inside a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="chatter-startup-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def refused(p: subprocess.CompletedProcess[str], *fragments: str, code: int | None = 2) -> str:
    """The one ``chatter: `` line of a start that was refused as it must be (exit ``code`` unless None)."""
    out = p.stdout + p.stderr
    assert code is None or p.returncode == code, (p.returncode, out[-3000:])
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatter: "), p.stderr[-3000:]
    assert "serving" not in out and "Running on" not in out, out
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{cmd} did not exit (it started?): {e.stdout!r} {e.stderr!r}") from None


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_start_is_one_line_and_exit_2(box, runner, case):
    setup, fragments = CASES[case]
    cmd = runner_cmd(runner)
    spec = setup(box)
    try:
        p = run([*spec.prefix, *cmd, *spec.args], box, clean_env(**spec.env))
    finally:
        for held in spec.keep:
            held.close()  # type: ignore[attr-defined]
    refused(p, *fragments)


# -- the other commands' paths --------------------------------------------------


BACKUP_CASES: dict[str, tuple[Callable[[Path], Run], tuple[str, ...]]] = {
    "target in a missing directory": (lambda d: Run([str(d / "no" / "b.db")]), ("backup", "does not exist")),
    "target is a directory": (lambda d: Run([str(d)]), ("is a directory",)),
    "target directory read-only": (
        lambda d: Run([str(data_dir(d) / "b.db")], prefix=read_only(d / "data")), ("backup", "read-only file system")),
    "target directory not writable by the uid": (
        lambda d: Run([str(data_dir(d) / "b.db")], prefix=as_nobody()), ("backup", f"not writable by uid {NOBODY}")),
}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("case", list(BACKUP_CASES))
def test_backup_target_problems_are_one_line(box, runner, case):
    setup, fragments = BACKUP_CASES[case]
    db = box / "x.db"
    migrate_file(str(db))
    db.chmod(0o644)
    spec = setup(box)
    p = run([*spec.prefix, *runner_cmd(runner), "backup", "--db", str(db), *spec.args], box, clean_env())
    refused(p, *fragments)


@pytest.mark.parametrize("runner", RUNNERS)
def test_migrate_and_create_user_path_problems_are_one_line(box, runner):
    cmd = runner_cmd(runner)
    create = [*cmd, "create-user", "alice", "--password-stdin", "--set", "auth.bcrypt_rounds=4", "--db"]
    p = subprocess.run([*create, str(box)], cwd=box, env=clean_env(), input="a long enough password\n",
                       capture_output=True, text=True, timeout=60, check=False)
    refused(p, "store.path", "is a directory")
    refused(run([*cmd, "migrate", "--db", str(box)], box, clean_env()), "store.path", "is a directory")
    refused(run([*cmd, "migrate", "--db", str(box / "no" / "x.db")], box, clean_env()), "does not exist")
    refused(run([*read_only(data_dir(box)), *cmd, "migrate", "--db", str(box / "data" / "x.db")], box, clean_env()),
            "read-only file system")


# -- plain hypercorn -------------------------------------------------------------


def hypercorn(*more: str) -> list[str]:
    return [str(Path(sys.executable).parent / "hypercorn"), "-k", "trio", "--bind", "127.0.0.1:0", *more,
            "chatter.asgi:app"]


@pytest.mark.parametrize("case", ["db is a directory", "short key in secret_file", "db file is not a database",
                                  "db directory read-only"])
def test_plain_hypercorn_refuses_in_one_line(box, case):
    """The preflight runs at import (before hypercorn's worker serves); a store that fails to open
    inside the lifespan ends the process too, before hypercorn can log "Running on"."""
    setup, fragments = CASES[case]
    spec = setup(box)
    env = clean_env(CHATTER_AUTH_BCRYPT_ROUNDS="4", **spec.env)
    args = spec.args
    env["CHATTER_STORE_PATH"] = args[args.index("--db") + 1]
    # -w 0 serves in this process: hypercorn 0.18's multi-process runner reports 0 whatever
    # its worker's exit status (its final _join_exited() over no workers resets it).
    p = run([*spec.prefix, *hypercorn("-w", "0")], box, env)
    refused(p, *fragments)
    # With the default worker process: the same single line, and nothing claims to run.
    refused(run([*spec.prefix, *hypercorn()], box, env), *fragments, code=None)
