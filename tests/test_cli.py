"""``python -m chatter`` as a user runs it: subprocesses in a temp directory.

Every failure the user can cause exits 2 with one line ``chatter: <reason>``.
"""

from __future__ import annotations

import concurrent.futures
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from chatter.config import EXAMPLE_SECRET, example_env, example_yaml

ROOT = Path(__file__).resolve().parents[1]
GOOD_SECRET = "k3y-" + "z" * 40


def run(
    tmp_path: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(env or {})
    try:
        return subprocess.run(  # noqa: S603 (this interpreter, fixed args)
            [sys.executable, "-m", "chatter", *args],
            cwd=tmp_path,
            input=stdin,
            text=True,
            capture_output=True,
            env=clean,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:  # e.g. a serve that should have refused to start
        raise AssertionError(
            f"chatter {' '.join(args)} did not exit: {e.stdout!r} {e.stderr!r}"
        ) from None


def run_many(
    tmp_path: Path,
    *argv: tuple[str, ...],
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Several independent invocations at once (each is mostly interpreter start-up)."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda a: run(tmp_path, *a, stdin=stdin, env=env), argv))


def one_line_error(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("chatter: "), lines[0]
    assert "Traceback" not in p.stderr
    return lines[0]


def test_help_lists_the_commands(tmp_path):
    commands = ("serve", "migrate", "create-user", "print-config")
    p, *subs = run_many(tmp_path, ("--help",), *((c, "--help") for c in commands))
    assert p.returncode == 0, p.stderr
    for command in commands:
        assert command in p.stdout
    for command, sub in zip(commands, subs, strict=True):
        assert sub.returncode == 0 and "--set" in sub.stdout, (command, sub.stderr)


def test_unknown_command_is_a_usage_error(tmp_path):
    p = run(tmp_path, "frobnicate")
    assert p.returncode == 2 and "usage" in p.stderr.lower()
    assert not list(tmp_path.glob("*.db"))


def test_migrate_creates_db_and_prints_version(tmp_path):
    db = tmp_path / "data" / "chat.db"
    db.parent.mkdir()
    p = run(tmp_path, "migrate", "--db", str(db))
    assert p.returncode == 0, p.stderr
    assert db.is_file()
    assert "schema version" in p.stdout
    version = int(p.stdout.split("schema version")[1].split(",")[0].strip())
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == version
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "rooms", "members", "messages", "events"} <= tables
    again = run(tmp_path, "migrate", "--db", str(db))
    assert again.returncode == 0 and f"schema version {version}" in again.stdout


def test_migrate_into_missing_directory_is_one_line(tmp_path):
    p = run(tmp_path, "migrate", "--db", str(tmp_path / "no" / "such" / "dir" / "x.db"))
    line = one_line_error(p)
    assert "x.db" in line or "database" in line


def _create_alice(tmp_path: Path, db: Path) -> None:
    p = run(
        tmp_path,
        "create-user",
        "Alice",
        "--name",
        "Alice A",
        "--password-stdin",
        "--db",
        str(db),
        "--set",
        "auth.bcrypt_rounds=4",
        stdin="a long enough password é\n",
    )
    assert p.returncode == 0, p.stderr
    assert "alice" in p.stdout


def test_create_user(tmp_path):
    db = tmp_path / "c.db"
    _create_alice(tmp_path, db)
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT username, name, password_hash FROM users").fetchall()
    assert len(row) == 1 and row[0][:2] == ("alice", "Alice A")
    assert row[0][2].startswith("$2b$04$")
    assert "a long enough password" not in row[0][2]


def test_create_user_duplicate_is_one_line(tmp_path):
    db = tmp_path / "c.db"
    _create_alice(tmp_path, db)
    dup = run(
        tmp_path,
        "create-user",
        "alice",
        "--password-stdin",
        "--db",
        str(db),
        "--set",
        "auth.bcrypt_rounds=4",
        stdin="another password\n",
    )
    line = one_line_error(dup)
    assert "alice" in line
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1


@pytest.mark.parametrize(
    "username,password",
    [("al", "long enough pw"), ("bad-name", "long enough pw"), ("carol", "short"), ("carol", "password1"),
     ("carol", "Qwertyuiop")],
)
def test_create_user_bad_input_is_one_line(tmp_path, username, password):
    db = tmp_path / "c.db"
    p = run(
        tmp_path,
        "create-user",
        username,
        "--password-stdin",
        "--db",
        str(db),
        "--set",
        "auth.bcrypt_rounds=4",
        stdin=password + "\n",
    )
    line = one_line_error(p)
    if password != "short" and len(username) >= 3 and "-" not in username:
        assert "most common passwords" in line  # issue #13 item 12
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0


def test_create_user_refuses_a_bidi_display_name(tmp_path):
    p = run(tmp_path, "create-user", "dave", "--name", "\u202eevil", "--password-stdin", "--db",
            str(tmp_path / "c.db"), "--set", "auth.bcrypt_rounds=4", stdin="a long enough password\n")
    assert "bidirectional" in one_line_error(p)


BAD_SETS = [
    ("noequals", "KEY=VALUE"),
    ("=5", "KEY=VALUE"),
    ("server.prot=80", "server.prot"),
    ("server.port=abc", "server.port"),
    ("server.port=99999", "server.port"),
    ("server.dev=maybe", "server.dev"),
]


def test_bad_set_is_one_line(tmp_path):
    results = run_many(
        tmp_path,
        *(("print-config", "--set", item) for item, _ in BAD_SETS),
        ("migrate", "--db", str(tmp_path / "x.db"), "--set", "server.port=abc"),
        (
            "create-user",
            "zed",
            "--password-stdin",
            "--db",
            str(tmp_path / "x.db"),
            "--set",
            "nokey",
        ),
        stdin="long enough password\n",
    )
    for (item, mentions), p in zip(BAD_SETS, results, strict=False):
        assert mentions in one_line_error(p), item
    assert "server.port" in one_line_error(results[-2])
    assert "KEY=VALUE" in one_line_error(results[-1])
    assert not (tmp_path / "x.db").exists()


def test_bad_config_file_is_one_line(tmp_path):
    line = one_line_error(run(tmp_path, "print-config", "--config", str(tmp_path / "missing.yml")))
    assert "missing.yml" in line
    (tmp_path / "bad.yml").write_text("server:\n  port: [1,\n")
    one_line_error(run(tmp_path, "print-config", "--config", str(tmp_path / "bad.yml")))
    line = one_line_error(run(tmp_path, "print-config", env={"CHATTER_SERVER_PROT": "1"}))
    assert "CHATTER_SERVER_PROT" in line


def test_serve_no_dev_refuses_bad_secret(tmp_path):
    cases = [
        ({}, "required"),
        ({"CHATTER_AUTH_SECRET": EXAMPLE_SECRET}, "example"),
        ({"CHATTER_AUTH_SECRET": "too-short-secret"}, "shorter"),
    ]
    args = ("serve", "--no-dev", "--port", "0", "--db", str(tmp_path / "s.db"))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: run(tmp_path, *args, env=c[0], timeout=20), cases))
        by_flag = pool.submit(
            run, tmp_path, *args, "--set", f"auth.secret={EXAMPLE_SECRET}", timeout=20
        ).result()
    for (env, mentions), p in zip(cases, results, strict=True):
        line = one_line_error(p)
        assert "auth.secret" in line and mentions in line, (env, line)
        assert p.stdout == ""  # never started serving
    assert "example" in one_line_error(by_flag)
    assert not (tmp_path / "s.db").exists()


def test_print_config_redacts_secret(tmp_path):
    p = run(
        tmp_path,
        "print-config",
        "--set",
        "server.port=9999",
        env={"CHATTER_AUTH_SECRET": GOOD_SECRET},
    )
    assert p.returncode == 0, p.stderr
    assert GOOD_SECRET not in p.stdout and GOOD_SECRET not in p.stderr
    assert "<redacted>" in p.stdout
    assert "9999" in p.stdout
    (tmp_path / "config.yml").write_text(f"auth:\n  secret: {GOOD_SECRET}\n")
    p = run(tmp_path, "print-config")
    assert p.returncode == 0 and GOOD_SECRET not in p.stdout and "<redacted>" in p.stdout
    assert "config.yml" in p.stdout  # the source is shown


def test_print_config_example_and_env_match_generators(tmp_path):
    p = run(tmp_path, "print-config", "--example")
    assert p.returncode == 0 and p.stdout == example_yaml()
    p = run(tmp_path, "print-config", "--env")
    assert p.returncode == 0 and p.stdout == example_env()


def test_print_config_shows_where_each_value_came_from(tmp_path):
    (tmp_path / "config.yml").write_text("server:\n  log_level: debug\n  port: 1111\n")
    p = run(
        tmp_path,
        "print-config",
        "--db",
        "flag.db",
        "--set",
        "realtime.typing_ttl=5",
        env={"CHATTER_SERVER_PORT": "2222"},
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "  log_level: debug  # from config.yml" in lines
    assert "  port: 2222  # from environment CHATTER_SERVER_PORT" in lines  # env beats the file
    assert "  path: flag.db  # from --db" in lines
    assert "  typing_ttl: 5.0  # from --set" in lines
    assert "  host: 127.0.0.1  # default" in lines
    settings = [line for line in lines if line.startswith("  ")]
    assert settings and all("  # default" in line or "  # from " in line for line in settings)


def _raised_inside(handler: BaseException, original: BaseException) -> BaseException:
    """``handler`` raised while handling ``original``, as hypercorn raises LifespanFailureError."""
    try:
        try:
            raise original
        except BaseException:  # noqa: BLE001
            raise handler  # noqa: B904
    except BaseException as e:  # noqa: BLE001
        return e


def test_describe_error_unwraps_groups_and_hypercorns_lifespan_failure():
    import trio
    from hypercorn.utils import LifespanFailureError

    from chatter.cli import describe_error
    from chatter.errors import ConfigError, Unavailable

    bad_path = ConfigError("store.path /tmp: is a directory; give a file name")
    assert describe_error(bad_path) == "store.path /tmp: is a directory; give a file name"
    wrapped = _raised_inside(LifespanFailureError("startup", "unable to open"), Unavailable("store.path x: locked"))
    assert describe_error(wrapped) == "store.path x: locked"
    cancelled = trio.Cancelled._create(source="nursery")  # type: ignore[attr-defined]
    group = BaseExceptionGroup("nursery", [BaseExceptionGroup("inner", [wrapped]), cancelled])
    assert describe_error(group) == "store.path x: locked"
    assert describe_error(ExceptionGroup("two", [bad_path, Unavailable("other")])) is None  # not one cause
    assert describe_error(RuntimeError("a bug")) is None  # bugs keep their traceback
    assert describe_error(_raised_inside(LifespanFailureError("startup", "?"), RuntimeError("bug"))) is None
