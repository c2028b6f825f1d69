"""Shared test helpers: configs, an in-process app with its test client, and
a real ``chatter serve`` subprocess on a loopback port.

Systems are started inside each test with ``async with`` (never in
async-yield fixtures: pytest-trio #110/#117).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from chatter.config import Config, load_config
from chatter.http.app import chat_system, open_chatter

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


def kill_process_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL ``proc`` and everything in its session (started with ``start_new_session=True``).

    Plain hypercorn serves from a worker process it spawns; killing only the
    parent leaves the worker holding the database lock and the stderr pipe.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def make_config(tmp_path: Path | None = None, **overrides: Any) -> Config:
    """Dev-mode config for tests: cheap bcrypt, a temp database, no config file."""
    values: dict[str, Any] = {"auth.bcrypt_rounds": 4, "server.ui_dir": str(tmp_path or "/nonexistent")}
    if tmp_path is not None:
        values["store.path"] = str(tmp_path / "chatter.db")
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_config(env={}, overrides=values, use_file=False)


@asynccontextmanager
async def running_app(cfg: Config, *, memory: bool = True) -> AsyncIterator[Any]:
    """The app with store and actors running; ``app.test_client()`` talks to it."""
    async with open_chatter(cfg, memory=memory) as app:
        yield app


def system_of(app: Any) -> Any:
    return chat_system(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client: Any, username: str, name: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    r = await client.post("/api/users", json={"username": username, "name": name or username.title(),
                                              "password": password})
    assert r.status_code == 201, await r.get_data(as_text=True)
    return (await r.get_json())["user"]  # type: ignore[no-any-return]


async def login(client: Any, username: str, password: str = PASSWORD) -> str:
    r = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, await r.get_data(as_text=True)
    return (await r.get_json())["token"]  # type: ignore[no-any-return]


async def user(client: Any, username: str) -> str:
    """Register and log in; return a bearer token."""
    await register(client, username)
    return await login(client, username)


def cmid() -> str:
    return uuid.uuid4().hex


# -- a real server ----------------------------------------------------------


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str, db: Path) -> None:
        self.proc = proc
        self.url = url
        self.db = db

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


_SERVING = re.compile(r"serving on (http://\S+?)/?\s")


def socket_path_args() -> list[str]:
    """``--set`` arguments for the socket path the test runs on (the ``socket_path`` fixture)."""
    path = os.environ.get("TEST_SOCKET_PATH", "direct")
    if path not in ("direct", "writer_task"):
        raise ValueError(f"TEST_SOCKET_PATH={path!r}: use direct or writer_task")
    return ["--set", "realtime.direct_writes=false"] if path == "writer_task" else []


@contextmanager
def chatter_server(tmp_path: Path, *args: str, db: Path | None = None, env: dict[str, str] | None = None,
                   port: int = 0, before: str = "") -> Iterator[Server]:
    """Start ``python -m chatter serve`` on 127.0.0.1; stop it (SIGTERM) on exit.

    Its socket path is the ``socket_path`` fixture's (``TEST_SOCKET_PATH``), direct by default.
    ``before``: Python run in the server process before chatter starts (to change its world).
    """
    db = db or tmp_path / "chatter.db"
    launch = ["-m", "chatter"] if not before else [
        "-c", f"{before}\nimport runpy\nrunpy.run_module('chatter', run_name='__main__')"]
    cmd = [sys.executable, *launch, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db),
           "--set", "auth.bcrypt_rounds=4", "--set", f"server.ui_dir={tmp_path}", *socket_path_args(), *args]
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
    proc_env.update(env or {})
    log = open(tmp_path / f"server-{uuid.uuid4().hex[:6]}.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=log, text=True, env=proc_env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = _SERVING.search(line)
        if not m:
            proc.kill()
            log.seek(0)
            raise RuntimeError(f"server did not start: {line!r}\n{log.read()[-3000:]}")
        server = Server(proc, m.group(1).replace("localhost", "127.0.0.1"), db)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
