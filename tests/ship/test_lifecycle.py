"""The server's lifecycle seen from outside, on a real ``chatter serve``.

- SIGTERM with open sockets: each socket gets close 1001 and the process
  exits 0 within ``server.shutdown_grace`` (plus a small allowance for the
  interpreter's own exit); its last log line says how many sockets it
  closed and how long the shutdown took.
- SIGKILL right after an ``ack``: after a restart the message is in history
  and in the resumed event stream (PROTOCOL 4.3 "ack means durable").
"""

from __future__ import annotations

import re
import signal
import time

import httpx
import pytest
import trio
from ship.shipkit import (
    clean_env,
    history,
    launch,
    login,
    make_room,
    make_user,
    rest,
    server_cmd,
    socket,
)

pytestmark = pytest.mark.e2e

GRACE = 4.0
EXIT_ALLOWANCE = 2.0  # seconds after the grace: thread pools, interpreter exit


async def test_sigterm_closes_every_socket_with_1001_and_exits_0_within_the_grace(tmp_path):
    cmd = server_cmd(tmp_path / "chatter.db", "--set", f"server.shutdown_grace={GRACE}")
    with trio.fail_after(60), launch(cmd, cwd=tmp_path, env=clean_env()) as srv:
        with rest(srv.url) as http:
            tokens = [make_user(http, name) for name in ("ann", "bob", "cyd")]
            room = make_room(http, tokens[0], "shutdown", ["bob", "cyd"])
        codes: list[int | None] = []
        async with trio.open_nursery() as nursery:
            ready = trio.Semaphore(0)

            async def client(token: str) -> None:
                async with socket(srv.ws_url, token) as ws:
                    await ws.hello()
                    ready.release()
                    codes.append(await ws.close_code())

            for token in tokens + tokens[:2]:  # five sockets, two users with a second tab
                nursery.start_soon(client, token)
            for _ in range(5):
                await ready.acquire()
            async with socket(srv.ws_url, tokens[0]) as ws:  # traffic just before the signal
                await ws.hello()
                assert (await ws.post(room, "last words"))["type"] == "ack"
            await sockets_open(srv.url, 5)  # the server has seen the sixth one go
            started = time.monotonic()
            srv.signal(signal.SIGTERM)
            code = await trio.to_thread.run_sync(srv.wait, GRACE + EXIT_ALLOWANCE + 5)
            elapsed = time.monotonic() - started
        assert codes == [1001] * 5, codes
        assert code == 0, srv.log_text()[-2000:]
        assert elapsed <= GRACE + EXIT_ALLOWANCE, f"exit took {elapsed:.2f} s"
        log = srv.log_text()
        assert "Traceback" not in log
        # The end is logged, after everything else: the store is closed and the lock released.
        last = log.strip().splitlines()[-1]
        done = re.search(r"INFO chatter\.http\.server: shutdown complete: (\d+) sockets closed in (\d+\.\d) s$", last)
        assert done, log[-2000:]
        assert int(done.group(1)) == 5 and float(done.group(2)) <= elapsed


async def sockets_open(url: str, n: int) -> None:
    """Wait until the server's chatter_sockets_open gauge reads ``n`` (it changes only as sockets come and go)."""
    pattern = re.compile(r"^chatter_sockets_open (\S+)$", re.M)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while True:
            found = pattern.search((await http.get("/metrics")).text)
            if found and float(found.group(1)) == n:
                return
            await trio.sleep(0.01)


async def test_sigkill_right_after_an_ack_keeps_the_message(tmp_path):
    db = tmp_path / "chatter.db"
    with trio.fail_after(60):
        with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
            with rest(srv.url) as http:
                token = make_user(http, "alice")
                room = make_room(http, token, "durable")
            async with socket(srv.ws_url, token) as ws:
                ready = await ws.hello()
                ack = await ws.post(room, "survive the kill", "kill-me-1")
                srv.signal(signal.SIGKILL)  # no chance to checkpoint or close anything
            assert await trio.to_thread.run_sync(srv.wait) == -signal.SIGKILL
        with launch(server_cmd(db), cwd=tmp_path, env=clean_env()) as srv:
            with rest(srv.url) as http:
                token = login(http, "alice")
                messages = history(http, token, room)
            assert [(m["id"], m["body"], m["client_msg_id"]) for m in messages] == [
                (ack["id"], "survive the kill", "kill-me-1")]
            async with socket(srv.ws_url, token) as ws:
                again = await ws.hello(since=ack["seq"] - 1, epoch=ready["epoch"])
                assert again["type"] == "ready" and again["epoch"] == ready["epoch"]
                resumed = await ws.next("message")
                assert resumed["id"] == ack["id"] and resumed["seq"] == ack["seq"]
                # Resending the same send is idempotent: the original ack, no second message.
                assert (await ws.post(room, "survive the kill", "kill-me-1"))["id"] == ack["id"]
