"""Who is calling: token from ``Authorization: Bearer`` or the session cookie.

Tokens never travel in URLs.  A cookie-authenticated state-changing request
must be JSON (a cross-site form cannot send that without a CORS preflight)
and, when the browser sends an ``Origin``, a same-origin or allowed one.
Bearer requests are exempt: a browser never attaches a bearer token by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chatter import auth
from chatter.errors import Forbidden, Unauthenticated
from chatter.store.base import Store
from chatter.store.models import UserRow

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Caller:
    user: UserRow
    claims: auth.Claims
    via_cookie: bool


def token_from(headers: Any, cookies: Any, cookie_name: str) -> tuple[str, bool] | None:
    header = headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        return token.strip(), False
    cookie = cookies.get(cookie_name)
    if cookie:
        return cookie, True
    return None


async def identify(store: Store, secret: str, headers: Any, cookies: Any, cookie_name: str) -> Caller:
    found = token_from(headers, cookies, cookie_name)
    if found is None:
        raise Unauthenticated("log in first")
    token, via_cookie = found
    claims = auth.decode_token(secret, token)
    user = await store.get_user(claims.sub)
    if user is None or user.token_version != claims.ver:
        raise Unauthenticated("session ended; log in again")
    return Caller(user=user, claims=claims, via_cookie=via_cookie)


def origin_allowed(origin: str, host: str, allowed: list[str]) -> bool:
    """Same-origin (Origin's host:port equals the Host header) or listed."""
    if origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:  # e.g. "http://[::1" -- malformed, so certainly not ours
        return False
    return bool(parts.scheme in ("http", "https") and parts.netloc and parts.netloc.lower() == host.lower())


def check_csrf(method: str, headers: Any, allowed: list[str]) -> None:
    if method not in UNSAFE_METHODS:
        return
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Forbidden("cookie-authenticated writes must be sent as application/json")
    origin = headers.get("Origin")
    if origin is not None and not origin_allowed(origin, headers.get("Host", ""), allowed):
        raise Forbidden("cross-origin request refused")
