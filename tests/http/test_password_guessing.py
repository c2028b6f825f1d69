"""Guessing the current password in ``POST /me/password`` (issue #13 item 6), and fair bcrypt.

The probe: 25 wrong guesses gave 25 x 403, and 16 parallel guessers slowed
normal logins from 0.35 s to 2.8 s.  Now the guesses fall under the login
limits (one ``LoginGuard`` budget for both), and one user's bcrypt work takes
one thread at a time (``auth.FairLimiter``), so the others keep the rest.
"""

from __future__ import annotations

import threading

import pytest
import trio
from apikit import cfg, err
from helpers import PASSWORD, bearer, register, running_app, user

from chatter import auth
from chatter.auth import FairLimiter

ELSEWHERE = {"client": ("192.0.2.50", 1)}


async def test_wrong_current_passwords_hit_the_login_limits(tmp_path):
    with trio.fail_after(30):
        async with running_app(cfg(tmp_path, auth__login_per_account_per_minute=10)) as app:
            c = app.test_client(use_cookies=False)
            token = await user(c, "alice")
            statuses = []
            for i in range(25):
                r = await c.post("/api/me/password", json={"current": f"guess {i:04}", "new": "a brand new secret"},
                                 headers=bearer(token))
                statuses.append(r.status_code)
            assert statuses == [403] * 10 + [429] * 15
            await err(r, 429, "RATE_LIMITED")
            assert int(r.headers["Retry-After"]) >= 1
            # One budget: logging in as alice from that address is refused too...
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
            await err(r, 429, "RATE_LIMITED")
            # ...but the owner elsewhere gets in, and the right password from there works.
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD},
                             scope_base=ELSEWHERE)
            assert r.status_code == 200
            r = await c.post("/api/me/password", json={"current": PASSWORD, "new": "a brand new secret"},
                             headers=bearer((await r.get_json())["token"]), scope_base=ELSEWHERE)
            assert r.status_code == 204


async def test_parallel_guesses_of_one_user_take_one_bcrypt_thread(tmp_path, monkeypatch):
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    lock = threading.Lock()
    real = auth.check_password_sync

    def counting(password: str, hashed: str) -> bool:  # runs on the worker threads
        with lock:
            running[hashed] = running.get(hashed, 0) + 1
            peak[hashed] = max(peak.get(hashed, 0), running[hashed])
        try:
            return real(password, hashed)
        finally:
            with lock:
                running[hashed] -= 1

    monkeypatch.setattr(auth, "check_password_sync", counting)
    with trio.fail_after(60):
        async with running_app(cfg(tmp_path, auth__bcrypt_rounds=8, auth__bcrypt_threads=2,
                                   auth__login_per_account_per_minute=10)) as app:
            c = app.test_client(use_cookies=False)
            token = await user(c, "alice")
            await register(c, "bob")
            alice_hash = (await app.extensions["chatter"].system.store.get_user("alice")).password_hash
            statuses: list[int] = []
            bob: list[int] = []

            async def guess(i: int) -> None:
                r = await c.post("/api/me/password", json={"current": f"guess {i:04}", "new": "a brand new secret"},
                                 headers=bearer(token))
                statuses.append(r.status_code)

            async def bob_logs_in() -> None:
                r = await c.post("/api/auth/login", json={"username": "bob", "password": PASSWORD},
                                 scope_base=ELSEWHERE)
                bob.append(r.status_code)

            async with trio.open_nursery() as n:
                for i in range(16):
                    n.start_soon(guess, i)
                n.start_soon(bob_logs_in)
    print(f"\nRESULT parallel guesses: statuses {sorted(statuses)}, alice's peak bcrypt threads {peak[alice_hash]}")
    assert peak[alice_hash] == 1  # queued behind each other, not two threads at once
    assert sorted(statuses) == [403] * 10 + [429] * 6  # the limit holds for requests that queued together
    assert bob == [200]


async def test_fair_limiter_serves_keys_round_robin_and_one_slot_per_key(autojump_clock):
    order: list[str] = []
    peak: dict[str, int] = {}
    holding: dict[str, int] = {}
    lim = FairLimiter(1)

    async def job(key: str, name: str, start: float) -> None:
        await trio.sleep(start)
        async with lim.hold(key):
            holding[key] = holding.get(key, 0) + 1
            peak[key] = max(peak.get(key, 0), holding[key])
            order.append(name)
            await trio.sleep(1)
            holding[key] -= 1

    with trio.fail_after(30):
        async with trio.open_nursery() as n:
            for name, key, start in (("a1", "a", 0), ("a2", "a", 0.1), ("a3", "a", 0.2), ("b1", "b", 0.3),
                                     ("c1", "c", 0.4)):
                n.start_soon(job, key, name, start)
    assert order == ["a1", "a2", "b1", "c1", "a3"]  # a2 was first in line; then a goes to the back
    assert trio.current_time() == pytest.approx(5.0)
    assert lim.waiting == 0


async def test_fair_limiter_lets_other_keys_use_free_slots_at_once(autojump_clock):
    lim = FairLimiter(2)
    started: dict[str, float] = {}

    async def job(key: str, name: str) -> None:
        async with lim.hold(key):
            started[name] = trio.current_time()
            await trio.sleep(1)

    with trio.fail_after(30):
        async with trio.open_nursery() as n:
            for i in range(16):
                n.start_soon(job, "guesser", f"g{i}")
            await trio.sleep(0.5)
            n.start_soon(job, "someone else", "other")
    assert started["other"] == pytest.approx(0.5)  # the second slot was free for it
    assert sorted(started[f"g{i}"] for i in range(16)) == [pytest.approx(float(i)) for i in range(16)]


async def test_a_cancelled_waiter_leaves_no_trace(autojump_clock):
    lim = FairLimiter(1)
    got: list[str] = []

    async def job(key: str, hold: float) -> None:
        async with lim.hold(key):
            got.append(key)
            await trio.sleep(hold)

    with trio.fail_after(30):
        async with trio.open_nursery() as n:
            n.start_soon(job, "a", 1.0)
            await trio.sleep(0.1)
            with trio.move_on_after(0.2):
                await job("b", 1.0)  # waits, then gives up
            n.start_soon(job, "c", 0.5)
    assert got == ["a", "c"]
    assert lim.waiting == 0 and not lim._holding
