"""Client address and scheme through trusted proxies (``chatter/http/proxies.py``), as pure functions.

The end-to-end checks with a real nginx in front of a real server are in
tests/security/test_sec_proxy.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatter.config import load_config
from chatter.errors import ConfigError
from chatter.http.proxies import NO_PROXIES, Client, Proxies, client_address, parse_address, parse_networks

TRUSTED = Proxies(parse_networks(["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]))
FORWARDED = Proxies(TRUSTED.networks, "forwarded")


def scope(peer: str, *headers: tuple[str, str], scheme: str = "http") -> dict[str, Any]:
    return {"type": "http", "scheme": scheme, "client": (peer, 5555),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


def test_without_trusted_proxies_every_forwarding_header_is_ignored():
    s = scope("203.0.113.9", ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https"),
              ("Forwarded", "for=1.2.3.4;proto=https"))
    assert NO_PROXIES.resolve(s) == Client("203.0.113.9", "http")


def test_an_untrusted_peer_cannot_claim_another_address():
    s = scope("203.0.113.9", ("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Proto", "https"))
    assert TRUSTED.resolve(s) == Client("203.0.113.9", "http")


def test_x_forwarded_for_is_read_right_to_left_skipping_trusted_hops():
    # client -> (untrusted) -> 10.1.1.1 (trusted) -> 127.0.0.1 (trusted peer)
    s = scope("127.0.0.1", ("X-Forwarded-For", "6.6.6.6, 198.51.100.7"), ("X-Forwarded-For", "10.1.1.1"))
    # 6.6.6.6 was written by the client itself: only 198.51.100.7 was seen by our proxy.
    assert TRUSTED.resolve(s).address == "198.51.100.7"


def test_a_spoofed_leftmost_entry_is_ignored():
    s = scope("127.0.0.1", ("X-Forwarded-For", "10.9.9.9, 198.51.100.7"))
    assert TRUSTED.resolve(s).address == "198.51.100.7"


def test_all_hops_trusted_gives_the_leftmost():
    s = scope("127.0.0.1", ("X-Forwarded-For", "10.0.0.5, 10.0.0.6"))
    assert TRUSTED.resolve(s).address == "10.0.0.5"


@pytest.mark.parametrize("garbage", ["unknown", "_hidden", "not an ip", "", "1.2.3.4.5"])
def test_a_hop_that_is_no_address_stops_at_the_proxy_that_wrote_it(garbage):
    s = scope("127.0.0.1", ("X-Forwarded-For", f"198.51.100.7, {garbage}"))
    assert TRUSTED.resolve(s).address == ("127.0.0.1" if garbage else "198.51.100.7")


def test_ports_brackets_and_mapped_addresses_are_normalised():
    assert parse_address("198.51.100.7:8443") == parse_address("198.51.100.7")
    assert str(parse_address("[2001:db8::1]:443")) == "2001:db8::1"
    assert str(parse_address("2001:db8::1")) == "2001:db8::1"
    assert str(parse_address("::ffff:127.0.0.1")) == "127.0.0.1"
    assert TRUSTED.resolve(scope("::ffff:127.0.0.1", ("X-Forwarded-For", "2001:db8::1"))).address == "2001:db8::1"


def test_x_forwarded_proto_from_a_trusted_proxy_sets_the_scheme():
    assert TRUSTED.resolve(scope("127.0.0.1", ("X-Forwarded-For", "198.51.100.7"),
                                 ("X-Forwarded-Proto", "https"))).scheme == "https"
    assert TRUSTED.resolve(scope("127.0.0.1", ("X-Forwarded-Proto", "HTTPS"))).scheme == "https"
    assert TRUSTED.resolve(scope("127.0.0.1", ("X-Forwarded-Proto", "gopher"))).scheme == "http"
    # Paired with the client's hop when both lists are as long; else the nearest proxy's.
    assert TRUSTED.resolve(scope("127.0.0.1", ("X-Forwarded-For", "198.51.100.7, 10.0.0.1"),
                                 ("X-Forwarded-Proto", "https, http"))).scheme == "https"
    assert TRUSTED.resolve(scope("127.0.0.1", ("X-Forwarded-For", "198.51.100.7, 10.0.0.1"),
                                 ("X-Forwarded-Proto", "http"))).scheme == "http"


def test_websocket_schemes_are_reported_as_http_schemes():
    assert NO_PROXIES.resolve(scope("127.0.0.1", scheme="ws")).scheme == "http"
    assert NO_PROXIES.resolve(scope("127.0.0.1", scheme="wss")).scheme == "https"


def test_rfc7239_forwarded():
    s = scope("127.0.0.1", ("Forwarded", 'for=6.6.6.6;proto=http, for="[2001:db8::7]:4711";proto=https'),
              ("Forwarded", "for=10.1.1.1;proto=https;by=10.0.0.2"))
    assert FORWARDED.resolve(s) == Client("2001:db8::7", "https")
    quoted = scope("127.0.0.1", ("Forwarded", 'for="198.51.100.7";host="a,b;c";proto=https'))
    assert FORWARDED.resolve(quoted) == Client("198.51.100.7", "https")
    obfuscated = scope("127.0.0.1", ("Forwarded", "for=_gazonk"))
    assert FORWARDED.resolve(obfuscated).address == "127.0.0.1"


def test_only_the_configured_header_is_read():
    """A proxy that sets X-Forwarded-For passes a client's own Forwarded header through untouched."""
    both = (("X-Forwarded-For", "198.51.100.7"), ("Forwarded", "for=6.6.6.6"))
    assert TRUSTED.resolve(scope("127.0.0.1", *both)).address == "198.51.100.7"
    # Whoever configured "forwarded" has a proxy that writes that one, and it alone is read.
    assert FORWARDED.resolve(scope("127.0.0.1", *both)).address == "6.6.6.6"


def test_the_answer_is_cached_in_the_scope():
    s = scope("127.0.0.1", ("X-Forwarded-For", "198.51.100.7"))
    assert client_address(s, TRUSTED) == "198.51.100.7"
    assert client_address(s, NO_PROXIES) == "198.51.100.7"  # same request, same answer


@given(st.lists(st.text(max_size=30), max_size=6), st.text(max_size=40))
def test_any_header_content_gives_an_address_string_and_a_known_scheme(hops, proto):
    s = scope("127.0.0.1", *(("X-Forwarded-For", h) for h in hops), ("X-Forwarded-Proto", proto),
              ("Forwarded", ",".join(hops)))
    for proxies in (TRUSTED, FORWARDED):
        s.pop("chatter.client", None)
        got = proxies.resolve(s)
        assert isinstance(got.address, str) and got.address
        assert got.scheme in ("http", "https")


@pytest.mark.parametrize("value", ["10.0.0.0/33", "localhost", "1.2.3", "::g"])
def test_a_bad_trusted_proxies_entry_is_a_config_error(value):
    with pytest.raises(ConfigError, match="trusted_proxies.*not an IP address or CIDR"):
        load_config(env={}, overrides={"server.trusted_proxies": f"127.0.0.1/32,{value}"}, use_file=False)
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_config(env={"CHATTER_SERVER_TRUSTED_PROXIES": value}, use_file=False)


def test_forwarded_header_accepts_only_the_two_known_headers():
    with pytest.raises(ConfigError, match="forwarded_header"):
        load_config(env={}, overrides={"server.forwarded_header": "x-real-ip"}, use_file=False)
    cfg = load_config(env={}, overrides={"server.trusted_proxies": "127.0.0.1, ::1/128",
                                         "server.forwarded_header": "forwarded"}, use_file=False)
    assert cfg.server.trusted_proxies == ["127.0.0.1", "::1/128"]
    assert Proxies.from_config(cfg.server).header == "forwarded"
