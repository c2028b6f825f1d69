"""Who the client is: its address and scheme, through trusted reverse proxies.

Opt-in.  With ``server.trusted_proxies`` empty (the default) the TCP peer is
the client and every forwarding header is ignored, since any client can send
one.  When the peer is inside one of the listed networks, the one header
named by ``server.forwarded_header`` is read:

- ``x-forwarded-for``: ``X-Forwarded-For`` (all its lines, comma-separated)
  walked from the right, skipping addresses that are themselves trusted; the
  first untrusted one is the client.  The scheme is ``X-Forwarded-Proto``:
  the entry paired with that hop when both lists have the same length,
  otherwise the last one (written by the nearest proxy).
- ``forwarded``: RFC 7239 ``Forwarded``, the same walk over its ``for=``
  parameters; the scheme is the ``proto=`` of the element chosen.

Right to left, because every proxy appends: whatever is left of the first
untrusted hop was written by the client and proves nothing.  Only one header
is read so that a client cannot pick the other one, which the proxy passes
through untouched.  A hop that is not an address (``unknown``, an
obfuscated ``_name``, garbage) stops the walk at the trusted proxy that
wrote it.

The address is used for rate limits, the per-address caps and logs; the
scheme for the Origin check, the cookie's ``Secure`` flag and HSTS.  The
answer is cached in the ASGI scope, so asking again costs a dict lookup.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from chatter.config import ServerConfig

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
HEADERS = ("x-forwarded-for", "forwarded")
_CACHE_KEY = "chatter.client"


class Client(NamedTuple):
    address: str
    scheme: str  # "http" or "https" (a socket's ws/wss is reported as http/https)


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``, ``::1``; else None."""
    text = text.strip().strip('"').strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; bare IPv6 has two or more colons
        text = text.partition(":")[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses); ValueError names the first one that is neither."""
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{v!r} is not an IP address or CIDR network") from None
    return tuple(out)


def _forwarded_elements(values: list[str]) -> list[dict[str, str]]:
    """RFC 7239 elements, left to right, each as {lower-cased name: value}; quoted strings unquoted."""
    elements: list[dict[str, str]] = []
    for value in values:
        for element in _split_outside_quotes(value, ","):
            pairs: dict[str, str] = {}
            for pair in _split_outside_quotes(element, ";"):
                name, sep, v = pair.partition("=")
                if sep:
                    v = v.strip()
                    if len(v) >= 2 and v[0] == v[-1] == '"':
                        v = v[1:-1].replace('\\"', '"')
                    pairs[name.strip().lower()] = v
            elements.append(pairs)
    return elements


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (x.strip() for x in parts) if p]


def _scheme(raw: str | None, default: str) -> str:
    value = (raw or "").strip().lower()
    return value if value in ("http", "https") else default


@dataclass(frozen=True, slots=True)
class Proxies:
    """The trusted proxy networks and the forwarding header to read from them."""

    networks: tuple[IPNetwork, ...] = ()
    header: str = "x-forwarded-for"

    @classmethod
    def from_config(cls, server: ServerConfig) -> Proxies:
        return cls(parse_networks(server.trusted_proxies), server.forwarded_header)

    def trusts(self, addr: IPAddress | None) -> bool:
        return addr is not None and any(addr in n for n in self.networks)

    def resolve(self, scope: Mapping[str, Any]) -> Client:
        cached = scope.get(_CACHE_KEY)
        if isinstance(cached, Client):
            return cached
        client = self._resolve(scope)
        if isinstance(scope, dict):
            scope[_CACHE_KEY] = client
        return client

    def _resolve(self, scope: Mapping[str, Any]) -> Client:
        peer_raw = (scope.get("client") or ("unknown", 0))[0]
        peer = parse_address(str(peer_raw))
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
        scheme = _scheme(scheme, "http")
        address = str(peer) if peer is not None else str(peer_raw)
        if not self.networks or not self.trusts(peer):
            return Client(address, scheme)
        headers = _header_lists(scope.get("headers") or ())
        if self.header == "forwarded":
            hops = [(e.get("for", ""), e.get("proto")) for e in _forwarded_elements(headers.get("forwarded", []))]
        else:
            fors = [h for v in headers.get("x-forwarded-for", []) for h in v.split(",") if h.strip()]
            protos = [p for v in headers.get("x-forwarded-proto", []) for p in v.split(",") if p.strip()]
            paired = len(protos) == len(fors)
            hops = [(f, protos[i] if paired else (protos[-1] if protos else None)) for i, f in enumerate(fors)]
            if not fors and protos:
                hops = [("", protos[-1])]  # a proxy that says only the scheme
        for raw_for, proto in reversed(hops):
            hop = parse_address(raw_for)
            scheme = _scheme(proto, scheme)  # written by a trusted proxy: how the hop reached it
            if hop is None:
                break  # not an address: the trusted proxy that wrote it is the last we know
            address = str(hop)
            if not self.trusts(hop):
                break
        return Client(address, scheme)


NO_PROXIES = Proxies()


def _header_lists(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        if key in ("x-forwarded-for", "x-forwarded-proto", "forwarded"):
            out.setdefault(key, []).append(value.decode("latin-1"))
    return out


def proxies_of(app: Any) -> Proxies:
    """The app's configured proxies (``create_app`` sets them)."""
    found = app.extensions.get("chatter.proxies") if app is not None else None
    return found if isinstance(found, Proxies) else NO_PROXIES


def _scope_of(source: Any) -> Mapping[str, Any]:
    return source if isinstance(source, Mapping) else source.scope  # a Quart request or websocket


def _current_proxies() -> Proxies:
    from quart import current_app, has_app_context

    return proxies_of(current_app) if has_app_context() else NO_PROXIES


def client(source: Any, proxies: Proxies | None = None) -> Client:
    """Address and scheme of whoever sent ``source`` (an ASGI scope, a Quart request or websocket).

    Without ``proxies``, the current app's are used, or none outside an app context.
    """
    return (proxies or _current_proxies()).resolve(_scope_of(source))


def client_address(source: Any, proxies: Proxies | None = None) -> str:
    """The client's address (see ``client``): the key for rate limits and per-address caps."""
    return client(source, proxies).address
