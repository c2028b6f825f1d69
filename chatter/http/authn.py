"""Who is calling: token from ``Authorization: Bearer`` or the session cookie.

Tokens never travel in URLs.  A cookie-authenticated state-changing request
must be JSON (a cross-site form cannot send that without a CORS preflight)
and, when the browser sends an ``Origin``, a same-origin or allowed one.
Bearer requests are exempt: a browser never attaches a bearer token by itself.
The requests that create a session or set a password with no session at all
(register, login, reset) follow the same rule (``check_browser_write``):
otherwise a form on another site could log a victim's browser into the
attacker's account (login CSRF).

Same origin means the same scheme, host and port: the scheme is the
request's own (``chatter.http.proxies``: from a trusted proxy's header when
there is one), so ``https://host`` is not the origin of ``http://host``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chatter import auth
from chatter.errors import Forbidden, Unauthenticated
from chatter.service.accounts import Accounts, Session
from chatter.store.models import UserRow

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Caller:
    session: Session
    via_cookie: bool

    @property
    def user(self) -> UserRow:
        return self.session.user

    @property
    def claims(self) -> auth.Claims:
        return self.session.claims


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


async def identify(accounts: Accounts, headers: Any, cookies: Any, cookie_name: str) -> Caller:
    found = token_from(headers, cookies, cookie_name)
    if found is None:
        raise Unauthenticated("log in first")
    token, via_cookie = found
    return Caller(session=await accounts.authenticate(token), via_cookie=via_cookie)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _endpoint(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, lower-cased host, port with the scheme's default filled in), or None if malformed."""
    if scheme not in _DEFAULT_PORTS or not netloc or "@" in netloc:
        return None
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:  # e.g. "[::1" or a port out of range: malformed, so certainly not ours
        return None
    if not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def origin_allowed(origin: str, host: str, allowed: Sequence[str], *, scheme: str) -> bool:
    """Listed in ``allowed``, or same-origin: the Origin's scheme, host and port are the request's.

    ``host`` is the Host header, ``scheme`` the request's scheme (http or https).
    """
    if origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.path or parts.query or parts.fragment:
        return False
    mine = _endpoint(scheme, host)
    theirs = _endpoint(parts.scheme, parts.netloc)
    return mine is not None and theirs == mine


def check_browser_write(headers: Any, allowed: Sequence[str], *, scheme: str) -> None:
    """A write a browser could make: JSON, and from our own (or an allowed) origin when it says."""
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Forbidden("requests that change state must be sent as application/json")
    origin = headers.get("Origin")
    if origin is not None and not origin_allowed(origin, headers.get("Host", ""), allowed, scheme=scheme):
        raise Forbidden("cross-origin request refused")


def check_csrf(method: str, headers: Any, allowed: Sequence[str], *, scheme: str) -> None:
    """The CSRF rule for cookie-authenticated requests: unsafe methods must pass ``check_browser_write``."""
    if method in UNSAFE_METHODS:
        check_browser_write(headers, allowed, scheme=scheme)
