"""``/metrics`` against hostile clients, on a real server (issue #13 item 2).

The probe sent 20,000 requests with invented methods (``XQZ1 /healthz``):
each added a series, ``/metrics`` grew from 34 KB to 1.7 MB and scraping it
pushed the ``/healthz`` median from 4.8 ms to 1,163 ms.  Every label value a
client controls now comes from a fixed set with one ``other``.  Outside dev
mode ``/metrics`` needs ``metrics.token`` (Bearer) or ``metrics.public``.
"""

from __future__ import annotations

import re

import httpx
import pytest
from helpers import chatter_server

pytestmark = [pytest.mark.e2e]

SECRET = "metrics-tests-secret-0123456789-abcdefghijklmnopqrst"  # noqa: S105 - a test-only key
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}  # black-box: the methods a server knows
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _labels(text: str, metric: str, label: str) -> set[str]:
    out = set()
    for ln in text.splitlines():
        if ln.startswith(metric + "{"):
            out |= {v for k, v in LABEL.findall(ln) if k == label}
    return out


def test_invented_methods_and_paths_leave_metrics_bounded(tmp_path):
    n = 2000
    with chatter_server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        for path in ("/healthz", "/api/me", "/api/nope", "/some/page"):  # every kind of route once
            c.get(path)
        before = c.get("/metrics").text
        statuses: dict[int, int] = {}
        for i in range(n):
            method = f"XQZ{i}" if i % 2 else f"M{i}X"
            path = ("/healthz", f"/api/x{i}", f"/zz{i}/{i}", f"/api/rooms/r{i}/messages")[i % 4]
            r = c.request(method, path)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        after = c.get("/metrics").text
    methods = _labels(after, "chatter_http_requests_total", "method")
    routes = _labels(after, "chatter_http_requests_total", "route") | _labels(
        after, "chatter_http_request_seconds_bucket", "route")
    print(f"\nRESULT metrics cardinality: {n} requests with invented methods and paths, statuses {statuses}; "
          f"/metrics {len(before)} B -> {len(after)} B; methods {sorted(methods)}; {len(routes)} routes")
    assert methods <= HTTP_METHODS | {"other"}
    assert "other" in methods
    assert not any(re.search(r"XQZ|M\d+X|/x\d|zz\d|/r\d", v) for v in methods | routes), routes
    assert all(v in ("other", "unmatched", "ui") or v.startswith("/") for v in routes)
    assert len(after) - len(before) < 8_000  # a few new series (other, 404, 405), not one per request


def _get(url: str, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as c:
        return c.get("/metrics", headers=headers)


def test_metrics_need_the_token_or_public_outside_dev_mode(tmp_path):
    prod = ("--no-dev", "--set", f"auth.secret={SECRET}")
    with chatter_server(tmp_path, *prod, "--set", "metrics.token=scrape-me-0123456789") as server:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            c.post("/api/users", json={"username": "mt_user", "name": "M", "password": "correct horse battery"})
            jwt = c.post("/api/auth/login", json={"username": "mt_user", "password": "correct horse battery"})
        token = {
            "none": _get(server.url),
            "wrong": _get(server.url, Authorization="Bearer scrape-me-012345678"),
            "basic": _get(server.url, Authorization="Basic c2NyYXBlLW1lLTAxMjM0NTY3ODk="),
            "a user's session": _get(server.url, Authorization=f"Bearer {jwt.json()['token']}"),
            "right": _get(server.url, Authorization="Bearer scrape-me-0123456789"),
        }
    with chatter_server(tmp_path, *prod) as server:
        closed = _get(server.url)
    with chatter_server(tmp_path, *prod, "--set", "metrics.public=true") as server:
        public = _get(server.url)
    print("\nRESULT metrics access: " + ", ".join(f"{k}={r.status_code}" for k, r in token.items())
          + f"; no token, not public: {closed.status_code}; public: {public.status_code}")
    for what in ("none", "wrong", "basic", "a user's session"):
        r = token[what]
        assert r.status_code == 401, what
        assert r.json()["error"]["code"] == "UNAUTHENTICATED"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "chatter_" not in r.text
    assert token["right"].status_code == 200 and "# TYPE chatter_http_requests_total counter" in token["right"].text
    assert token["right"].headers["cache-control"] == "no-store"
    assert closed.status_code == 403 and "metrics.token" in closed.json()["error"]["message"]
    assert public.status_code == 200 and "chatter_sockets_open" in public.text
