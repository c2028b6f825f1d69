"""Helpers for the shipping and operator tests: start any Chatter command
line as a server, talk REST (httpx) and the socket (trio-websocket).

Shared by tests/ship and tests/ops (``from ship.shipkit import ...``; tests/
is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
_SERVING = re.compile(r"serving on (http://\S+?)/?\s")
BINARY = ROOT / "bin" / "chatter"


def _binary_sources() -> list[Path]:
    files = list((ROOT / "chatter").rglob("*.py"))
    files += [ROOT / "pyproject.toml", ROOT / "scripts" / "build-binary.sh", ROOT / "ui" / "dist" / "index.html"]
    return [f for f in files if f.exists()]


def binary_skip_reason() -> str | None:
    """Why bin/chatter is not tested now, or None (see tests/ship/test_binary.py for the policy)."""
    forced = os.environ.get("TEST_CHATTER_BINARY") == "1"
    if not BINARY.exists():
        if forced:
            pytest.fail("TEST_CHATTER_BINARY=1 but bin/chatter does not exist; run `just build`")
        return "bin/chatter does not exist; `just build` makes it (or `just test-ship` builds and tests it)"
    if forced:
        return None
    newest = max(_binary_sources(), key=lambda f: f.stat().st_mtime)
    if newest.stat().st_mtime > BINARY.stat().st_mtime:
        return (f"bin/chatter is older than {newest.relative_to(ROOT)}; rebuild with `just build` "
                "or set TEST_CHATTER_BINARY=1 to test it anyway")
    return None


# The two ways a user runs Chatter; tests parametrised over RUNNERS run the binary
# only when binary_skip_reason() allows it.
RUNNERS = ("python -m chatter", "bin/chatter")


def runner_cmd(runner: str) -> list[str]:
    if runner == "bin/chatter":
        reason = binary_skip_reason()
        if reason:
            pytest.skip(reason)
        return [str(BINARY)]
    return [sys.executable, "-m", "chatter"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without CHATTER_* (a developer's shell may set some)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
    env.update(extra)
    return env


def chatter(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m chatter ARGS`` (a CLI command, not a server) and capture its output."""
    return subprocess.run([sys.executable, "-m", "chatter", *args], cwd=cwd, env=env or clean_env(),
                          input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


class Proc:
    """A running server started from any command line."""

    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def launch(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], name: str = "server") -> Iterator[Proc]:
    """Start ``cmd`` (which prints "serving on URL" when ready); SIGTERM, then SIGKILL, on exit."""
    log = cwd / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with open(log, "w+") as err:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            m = _SERVING.search(line)
            if not m:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"{cmd[0]} did not start: {line!r}\n{log.read_text()[-3000:]}")
            yield Proc(proc, m.group(1).replace("localhost", "127.0.0.1"), log)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def server_cmd(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "chatter", "serve", "--host", "127.0.0.1", "--port", "0", "--db", str(db),
            "--set", "auth.bcrypt_rounds=4", *args]


# -- REST -------------------------------------------------------------------


def rest(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=15)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(http: httpx.Client, username: str, password: str = PASSWORD) -> None:
    r = http.post("/api/users", json={"username": username, "name": username.title(), "password": password})
    assert r.status_code == 201, r.text


def login(http: httpx.Client, username: str, password: str = PASSWORD) -> str:
    r = http.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["token"]  # type: ignore[no-any-return]


def make_user(http: httpx.Client, username: str) -> str:
    register(http, username)
    return login(http, username)


def make_room(http: httpx.Client, token: str, name: str, members: list[str] | None = None) -> str:
    r = http.post("/api/rooms", json={"name": name, "members": members or []}, headers=bearer(token))
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def history(http: httpx.Client, token: str, room: str) -> list[dict[str, Any]]:
    r = http.get(f"/api/rooms/{room}/messages", params={"limit": 200}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return r.json()["messages"]  # type: ignore[no-any-return]


# -- socket -----------------------------------------------------------------


class Socket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.buffer: deque[dict[str, Any]] = deque()

    async def send(self, obj: dict[str, Any]) -> None:
        await self.ws.send_message(json.dumps(obj))

    async def next(self, *types: str) -> dict[str, Any]:
        """The next frame of one of ``types`` (any type if none); array frames are split."""
        while True:
            while not self.buffer:
                data = json.loads(await self.ws.get_message())
                self.buffer.extend(data if isinstance(data, list) else [data])
            frame = self.buffer.popleft()
            if not types or frame["type"] in types:
                return frame

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "hello", **fields})
        return await self.next("ready", "reset")

    async def post(self, room: str, body: str, client_msg_id: str | None = None) -> dict[str, Any]:
        await self.send({"type": "send", "room": room, "client_msg_id": client_msg_id or uuid.uuid4().hex,
                         "body": body})
        return await self.next("ack", "error")

    async def close_code(self) -> int | None:
        """Read until the server closes; its close code."""
        try:
            while True:
                await self.ws.get_message()
        except ConnectionClosed as e:
            return e.reason.code  # type: ignore[no-any-return]


@asynccontextmanager
async def socket(ws_url: str, token: str) -> AsyncIterator[Socket]:
    async with open_websocket_url(ws_url, extra_headers=[("Authorization", f"Bearer {token}")]) as ws:
        yield Socket(ws)


async def round_trip(base_url: str, username: str = "alice") -> dict[str, Any]:
    """Register, log in, create a room, hello -> ready, send -> ack; return the ack."""
    with rest(base_url) as http:
        token = make_user(http, username)
        room = make_room(http, token, "ship")
    async with socket(base_url.replace("http://", "ws://") + "/ws", token) as ws:
        ready = await ws.hello()
        assert ready["type"] == "ready" and ready["user"]["username"] == username, ready
        ack = await ws.post(room, "hello from the ship test")
        assert ack["type"] == "ack", ack
        message = await ws.next("message")
        assert message["id"] == ack["id"] and message["body"] == "hello from the ship test"
    return ack


def run_sync(fn: Any, *args: Any) -> Any:
    """Blocking helper for use inside trio tests (keeps the loop free)."""
    return trio.to_thread.run_sync(fn, *args)
