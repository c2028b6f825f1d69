"""Passwords and tokens.  Pure functions plus two off-loop wrappers.

Passwords: bcrypt over a pre-hash, ``base64(HMAC-SHA256(k, password))``, so
passwords of any length up to 1024 characters work (bcrypt 5 refuses more
than 72 bytes) and none is silently truncated.  ``k`` is a fixed
domain-separation key, not a secret: rotating the JWT secret must not lock
everyone out.  bcrypt runs on worker threads, at most ``auth.bcrypt_threads``
at once, shared fairly (``FairLimiter``): each caller names a key (the
client address, or the user changing their password), a key holds at most
one thread, and freed threads go round-robin over the keys that wait.  So
16 parallel guesses from one session queue behind each other and everyone
else still gets the other threads.

Tokens: JWT HS256 with ``sub``, ``iat``, ``exp`` required, ``ver``, the
user's token version, and ``sid``, the login session it belongs to.  Logout
and password change bump the version, which invalidates every token issued
before; a password change re-issues the caller's session (same ``sid``) so
that only the *other* sessions end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import bcrypt
import jwt
import trio

from chatter.errors import Unauthenticated

_PREHASH_KEY = b"chatter-password-prehash-v1"
ALGORITHM = "HS256"


def _prehash(password: str) -> bytes:
    digest = hmac.new(_PREHASH_KEY, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def hash_password_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode()


def check_password_sync(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode())
    except ValueError:  # a malformed stored hash never matches
        return False


class FairLimiter:
    """At most ``total`` holders at once and at most one per key; freed slots go round-robin over keys.

    Invariants: ``len(_holding) <= total``; a key is in ``_queues`` only with
    at least one waiter; a key that is served while it still has waiters
    moves to the back, so no key waits behind more than one turn of every
    other waiting key.  Memory: one entry per holder and per waiter.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._holding: set[Hashable] = set()
        self._queues: OrderedDict[Hashable, deque[trio.Event]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        await trio.lowlevel.checkpoint()
        if len(self._holding) < self.total and key not in self._holding and key not in self._queues:
            self._holding.add(key)
        else:
            ready = trio.Event()
            self._queues.setdefault(key, deque()).append(ready)
            try:
                await ready.wait()
            except BaseException:
                if ready.is_set():  # handed the slot just as we were cancelled: pass it on
                    self._release(key)
                else:
                    queue = self._queues[key]
                    queue.remove(ready)
                    if not queue:
                        del self._queues[key]
                raise
        try:
            yield
        finally:
            self._release(key)

    def _release(self, key: Hashable) -> None:
        self._holding.discard(key)
        for waiting_key in list(self._queues):
            if len(self._holding) >= self.total:
                return
            if waiting_key in self._holding:
                continue
            queue = self._queues[waiting_key]
            ready = queue.popleft()
            if queue:
                self._queues.move_to_end(waiting_key)
            else:
                del self._queues[waiting_key]
            self._holding.add(waiting_key)
            ready.set()


class Passwords:
    """bcrypt off the event loop: at most ``threads`` at once, one per key, shared fairly between keys."""

    def __init__(self, rounds: int, threads: int) -> None:
        self.rounds = rounds
        self.fair = FairLimiter(threads)
        self._threads = trio.CapacityLimiter(threads)  # never contended: ``fair`` admits at most as many
        # Checked against when the user does not exist, so that unknown users
        # cost the same time as wrong passwords.
        self._dummy = hash_password_sync("dummy password for timing", rounds)

    async def hash(self, password: str, *, key: Hashable = None) -> str:
        async with self.fair.hold(key):
            return await trio.to_thread.run_sync(hash_password_sync, password, self.rounds, limiter=self._threads)

    async def check(self, password: str, hashed: str | None, *, key: Hashable = None,
                    gate: Callable[[], None] | None = None) -> bool:
        """Whether ``password`` matches ``hashed``.  ``gate`` runs once the slot is held, before bcrypt:
        it may raise to refuse an attempt that became over the limit while it queued."""
        async with self.fair.hold(key):
            if gate is not None:
                gate()
            ok = await trio.to_thread.run_sync(check_password_sync, password, hashed or self._dummy,
                                               limiter=self._threads)
        return ok and hashed is not None


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    ver: int
    iat: int
    exp: int
    sid: str = ""


def new_session_id() -> str:
    return secrets.token_urlsafe(9)


def issue_token(secret: str, username: str, version: int, now: float, ttl: float,
                sid: str | None = None) -> tuple[str, int]:
    exp = int(now + ttl)
    claims = {"sub": username, "ver": version, "iat": int(now), "exp": exp, "sid": sid or new_session_id()}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), exp


def decode_token(secret: str, token: str) -> Claims:
    """Verify signature, algorithm and expiry; Unauthenticated otherwise."""
    try:
        data: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("session expired; log in again") from None
    except jwt.PyJWTError:
        raise Unauthenticated("invalid token") from None
    sub, ver, iat, exp = data.get("sub"), data.get("ver", 0), data.get("iat"), data.get("exp")
    sid = data.get("sid", "")
    if (not isinstance(sub, str) or not isinstance(ver, int) or not isinstance(iat, int) or not isinstance(exp, int)
            or not isinstance(sid, str)):
        raise Unauthenticated("invalid token")
    return Claims(sub=sub, ver=ver, iat=iat, exp=exp, sid=sid)
