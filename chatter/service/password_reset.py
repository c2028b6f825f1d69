"""Password-reset links: made by the operator (``chatter reset-password USER``), used once over HTTP.

The rules, in one place:

- A link carries 256 random bits; only its SHA-256 is stored, in ``meta``
  under ``password_reset:<hex>``, as JSON ``{user, expires, created, used}``.
- It is valid for ``RESET_TTL`` seconds, once.  A new link for a user voids
  their older ones; expired links of anyone are pruned then.
- Using it (``PasswordResets.reset``) sets the new password, bumps the
  user's token version (every session and open socket of theirs ends, 4001)
  and burns the link.  The entry is marked used before the password is
  hashed, under a lock, so two concurrent requests cannot both pass (one
  server process owns the database).  A bad token costs the address one
  attempt of the login budget, so tokens cannot be guessed faster than
  passwords.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from chatter.actors.system import ChatSystem
from chatter.errors import NotFound, RateLimited, Unauthenticated
from chatter.service import validation
from chatter.service.accounts import Guard
from chatter.service.timestamps import rfc3339
from chatter.store import maintenance
from chatter.store.base import Store

RESET_TTL = 30 * 60.0  # seconds a password-reset link stays valid
RESET_PREFIX = "password_reset:"


def reset_key(token: str) -> str:
    """The meta key for a token: only its hash is stored."""
    return RESET_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def reset_username(raw: str | None, now: float) -> str:
    """The user a stored reset entry is for, if it is still usable; Unauthenticated otherwise."""
    try:
        entry: Any = json.loads(raw) if raw else None
    except ValueError:
        entry = None
    if not isinstance(entry, dict) or not isinstance(entry.get("user"), str):
        raise Unauthenticated("this reset link is not valid; ask an administrator for a new one")
    if entry.get("used"):
        raise Unauthenticated("this reset link has already been used; ask an administrator for a new one")
    expires = entry.get("expires")
    if not isinstance(expires, int | float) or now >= expires:
        raise Unauthenticated("this reset link has expired; ask an administrator for a new one")
    return str(entry["user"])


def used_entry(raw: str, now: float) -> str:
    entry = json.loads(raw)
    entry["used"] = rfc3339(now)
    return json.dumps(entry)


class PasswordResets:
    """``POST /api/auth/reset``: one per app (its lock makes a link single-use)."""

    def __init__(self, store: Store, system: ChatSystem, guard: Guard) -> None:
        self.store = store
        self.system = system
        self.guard = guard
        self._lock = trio.Lock()

    def admit(self, ip: str) -> None:
        """RateLimited when ``ip`` used up its login attempts (checked before the body is read)."""
        wait = self.guard.logins.address_verdict(ip, time.monotonic()).retry_after
        if wait is not None:
            raise RateLimited(f"too many attempts from this address; try again in {int(wait) + 1} s",
                              retry_after=wait)

    async def reset(self, token: str, new: str, *, ip: str) -> None:
        """Set ``new`` as the password of the link's user; every session of theirs ends."""
        key = reset_key(token)
        async with self._lock:
            now = time.time()
            raw = await self.store.get_meta(key)
            try:
                username = reset_username(raw, now)
            except Exception:
                self.guard.logins.count_address(ip, time.monotonic())  # guessing tokens costs the login budget
                raise
            assert raw is not None
            await self.store.set_meta(key, used_entry(raw, now))
        hashed = await self.guard.passwords.hash(new, key=("address", ip))
        user = await self.store.set_password(validation.username(username), hashed)
        await self.system.sessions_revoked(user.username, user.token_version)


# -- making a link (the operator, on the database file) ---------------------------


def base_url(cfg: Any) -> str:
    host = cfg.server.host
    if host in ("127.0.0.1", "::1", "localhost"):
        host = "localhost"
    elif host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg.server.port}"


@dataclass(frozen=True, slots=True)
class ResetLink:
    url: str
    username: str
    expires: float


def create_reset_link(cfg: Any, username: str, *, now: float | None = None, url: str | None = None) -> ResetLink:
    """Store a one-time reset token for ``username`` and return its link (works beside a running server)."""
    now = time.time() if now is None else now
    path = Path(cfg.store.path)
    token = secrets.token_urlsafe(32)
    expires = now + RESET_TTL

    def voided(value: str) -> bool:
        """A new link voids the user's older ones; expired links of anyone are pruned."""
        try:
            old = json.loads(value)
        except ValueError:
            old = {}
        return not isinstance(old, dict) or old.get("user") == username or now >= old.get("expires", 0)

    with closing(maintenance.open_existing(path, cfg.store.busy_timeout)) as db:
        maintenance.check_schema(db, f"database {path}")
        if not maintenance.user_exists(db, username):
            raise NotFound(f"user {username!r} not found in {path}")
        entry = json.dumps({"user": username, "expires": expires, "created": rfc3339(now), "used": False})
        maintenance.replace_entries(db, RESET_PREFIX, voided, reset_key(token), entry)
    base = (url or base_url(cfg)).rstrip("/")
    return ResetLink(url=f"{base}/reset#{token}", username=username, expires=expires)
