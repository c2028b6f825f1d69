"""Passwords and tokens.  Pure functions plus two off-loop wrappers.

Passwords: bcrypt over a pre-hash, ``base64(HMAC-SHA256(k, password))``, so
passwords of any length up to 1024 characters work (bcrypt 5 refuses more
than 72 bytes) and none is silently truncated.  ``k`` is a fixed
domain-separation key, not a secret: rotating the JWT secret must not lock
everyone out.  bcrypt runs on worker threads under a CapacityLimiter.

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


class Passwords:
    """bcrypt off the event loop, at most ``threads`` at once."""

    def __init__(self, rounds: int, threads: int) -> None:
        self.rounds = rounds
        self._limiter = trio.CapacityLimiter(threads)
        # Checked against when the user does not exist, so that unknown users
        # cost the same time as wrong passwords.
        self._dummy = hash_password_sync("dummy password for timing", rounds)

    async def hash(self, password: str) -> str:
        return await trio.to_thread.run_sync(hash_password_sync, password, self.rounds, limiter=self._limiter)

    async def check(self, password: str, hashed: str | None) -> bool:
        ok = await trio.to_thread.run_sync(check_password_sync, password, hashed or self._dummy,
                                           limiter=self._limiter)
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
