"""Accounts: sign-up, login, logout, password change, profiles, and who a token is.

The password rules live here, whatever asks: every password check (login
and the password change) goes through ``LoginGuard`` (refused with 429,
then delayed, then bcrypt in a fair slot), so guessing costs the same
budget on either path; registrations are limited per address.  Inputs are
already validated (``validation.py``); each method checks what needs the
store, calls it, and tells the actors when sessions end.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from chatter import auth
from chatter.actors.system import ChatSystem
from chatter.config import check_secret
from chatter.errors import ConfigError, Conflict, Forbidden, NotFound, RateLimited, Unauthenticated
from chatter.metrics import Metrics
from chatter.ratelimit import LoginGuard, RateLimiter, Verdict
from chatter.service import validation
from chatter.service.timestamps import rfc3339
from chatter.store.base import Store
from chatter.store.models import Username, UserRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Session:
    """An authenticated caller: their row as loaded now, and the token's claims."""

    user: UserRow
    claims: auth.Claims


@dataclass(frozen=True, slots=True)
class Login:
    user: UserRow
    token: str
    expires_at: str  # RFC 3339 UTC


class Guard:
    """The password-guessing budget shared by every check of a password (login, change, reset)."""

    def __init__(self, auth_cfg: Any, passwords: auth.Passwords, metrics: Metrics) -> None:
        self.passwords = passwords
        self.metrics = metrics
        self.logins = LoginGuard(auth_cfg.login_per_ip_per_minute, auth_cfg.login_per_account_per_minute,
                                 auth_cfg.login_delay_max)

    def refuse(self, verdict: Verdict) -> None:
        wait = verdict.retry_after
        if wait is None:
            return
        self.metrics.login_refused.inc(limit=verdict.limit)
        what = ("attempts from this address" if verdict.limit == "address"
                else "failed attempts for this account from this address")
        raise RateLimited(f"too many {what}; try again in {int(wait) + 1} s", retry_after=wait)

    def admit(self, ip: str) -> None:
        """RateLimited when ``ip`` used up its attempts (checked before a request is even read)."""
        self.refuse(self.logins.address_verdict(ip, time.monotonic()))

    async def verify(self, account: str, password: str, hashed: str | None, *, ip: str, fair_key: Hashable,
                     via: str) -> bool:
        """Check a password: refused (429), delayed, then bcrypt in a fair slot.

        The delay is slept before taking a bcrypt slot, so a slowed guesser holds
        no thread.  The pair limit is checked again inside the slot: failures
        recorded while this request queued (parallel guesses) count.  ``via``
        (the request path) goes into the log line of a failure.
        """
        verdict = self.logins.attempt(account, ip, time.monotonic())
        self.refuse(verdict)
        if verdict.delay > 0:
            self.metrics.login_delayed.inc()
            await trio.sleep(verdict.delay)
        ok = await self.passwords.check(
            password, hashed, key=fair_key,
            gate=lambda: self.refuse(self.logins.pair_verdict(account, ip, time.monotonic())))
        if ok:
            self.logins.succeeded(account, ip)
        else:
            self.logins.failed(account, ip, time.monotonic())
            log.info("wrong password for %r from %s (%s)", account[:64], ip, via)
        return ok


class Accounts:
    """The account use cases; one per app, sharing ``guard`` with password resets."""

    def __init__(self, auth_cfg: Any, store: Store, system: ChatSystem, secret: str, guard: Guard) -> None:
        self.cfg = auth_cfg
        self.store = store
        self.system = system
        self.secret = secret
        self.guard = guard
        self.passwords = guard.passwords
        self.registrations = RateLimiter(auth_cfg.register_per_ip_per_minute, 60.0)

    # -- who is calling -------------------------------------------------------

    async def authenticate(self, token: str) -> Session:
        """The user a token is for: valid signature and expiry, and not ended by logout or a new password."""
        claims = auth.decode_token(self.secret, token)
        user = await self.store.get_user(claims.sub)
        if user is None or user.token_version != claims.ver:
            raise Unauthenticated("session ended; log in again")
        return Session(user=user, claims=claims)

    def issue(self, user: UserRow, sid: str | None = None) -> tuple[str, int]:
        """A session token for ``user`` (and its expiry, Unix seconds)."""
        return auth.issue_token(self.secret, user.username, user.token_version, time.time(), self.cfg.token_ttl,
                                sid=sid)

    # -- sign-up and login ----------------------------------------------------

    def admit_registration(self, ip: str) -> None:
        """RateLimited past ``auth.register_per_ip_per_minute`` from ``ip`` (checked before the body is read)."""
        wait = self.registrations.retry_after(ip, time.monotonic())
        if wait is not None:
            raise RateLimited(f"too many registrations from this address; try again in {int(wait) + 1} s",
                              retry_after=wait)

    async def register(self, username: Username, name: str, password: str, *, ip: str) -> UserRow:
        if await self.store.get_user(username) is not None:
            raise Conflict(f"username {username!r} is taken")
        self.registrations.hit(ip, time.monotonic())
        hashed = await self.passwords.hash(password, key=("address", ip))
        return await self.store.create_user(username, name, hashed)

    def admit_login(self, ip: str) -> None:
        self.guard.admit(ip)

    async def login(self, username: str, password: str, *, ip: str, via: str) -> Login:
        """A new session; Unauthenticated for a wrong username or password (the same answer, the same time)."""
        user = await self.store.get_user(username) if validation.USERNAME_RE.fullmatch(username) else None
        ok = await self.guard.verify(username, password, user.password_hash if user else None, ip=ip,
                                     fair_key=("address", ip), via=via)
        if not ok or user is None:
            raise Unauthenticated("wrong username or password")
        token, exp = self.issue(user)
        return Login(user=user, token=token, expires_at=rfc3339(exp))

    async def logout(self, user: Username) -> None:
        """Every token issued before now stops working; open sockets close with 4001."""
        version = await self.store.bump_token_version(user)
        self.system.sessions.kick(user, 4001, "logged out", below_version=version)

    async def change_password(self, session: Session, current: str, new: str, *, keep_sid: str | None, ip: str,
                              via: str) -> str | None:
        """Set ``new`` after checking ``current``; other sessions end.  Returns the token that keeps
        session ``keep_sid`` (a cookie session) going, if one was asked for.

        A wrong current password is Forbidden (the session is fine, the request
        is refused), and guessing it is limited exactly like logging in.  One
        user's checks take one bcrypt thread at a time.
        """
        me = session.user
        fair_key = ("user", me.username)
        if not await self.guard.verify(me.username, current, me.password_hash, ip=ip, fair_key=fair_key, via=via):
            raise Forbidden("current password is wrong")
        user = await self.store.set_password(me.username, await self.passwords.hash(new, key=fair_key))
        await self.system.sessions_revoked(user.username, user.token_version, keep_sid=keep_sid)
        if not keep_sid:
            return None
        token, _ = self.issue(user, sid=keep_sid)
        return token

    # -- profiles -------------------------------------------------------------

    async def rename(self, user: Username, name: str) -> UserRow:
        return await self.store.rename_user(user, name)

    async def search(self, prefix: str) -> list[UserRow]:
        """Up to 20 users whose username or display name starts with ``prefix`` (none for an empty one)."""
        return await self.store.search_users(prefix, 20) if prefix else []

    async def profile(self, username: str) -> UserRow:
        """The user named ``username`` (any case); NotFound otherwise."""
        row = await self.store.get_user(username.lower()) if len(username) <= 64 else None
        if row is None:
            raise NotFound(f"user {username[:64]!r} not found")
        return row


# -- the signing key ------------------------------------------------------------


def read_secret_file(path: Path) -> str:
    """The key in ``path``, which is created (mode 0600) with a random key if missing."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"auth.secret_file {path}: {e.strerror}") from None


async def resolve_secret(cfg: Any, store: Store) -> str:
    """The JWT key: configured, from secret_file, or (dev mode only) kept in the database."""
    secret: str = cfg.auth.secret
    if not secret and cfg.auth.secret_file:
        secret = await trio.to_thread.run_sync(read_secret_file, Path(cfg.auth.secret_file))
    if not secret and cfg.server.dev:
        secret = str(await store.get_meta("dev_secret") or "")
        if not secret:
            secret = secrets.token_urlsafe(48)
            await store.set_meta("dev_secret", secret)
    reason = check_secret(secret, dev=cfg.server.dev)
    if reason:
        raise ConfigError(reason)
    return secret
