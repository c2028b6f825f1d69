"""API contract: schemathesis against the live server's ``/openapi.json``.

Every documented operation is called with generated (valid and invalid)
inputs and a bearer token.  Checks: no 5xx (``not_a_server_error``) and
every documented response matches its schema (``response_schema_conformance``).
Logout and password change revoke the token, so the test logs in again
after them.

schemathesis is pinned (4.32.5, the newest release at the time; it installs
and runs on Python 3.11).  Smoke: 6 examples per operation; soak: 100.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fleet import FAST_SETUP, SOAK, soak
from helpers import PASSWORD, chatter_server
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

_state: dict[str, Any] = {}


def _login(url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/api/auth/login", json={"username": "fuzzer", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])


def test_openapi_json_is_served(api_schema: Any) -> None:
    """PROTOCOL.md 3: ``GET /openapi.json`` is an operational route; no request may produce a 500.

    (Found answering 500 for routes documented with ``document_response(None, 204)``;
    fixed in f808deb.)
    """
    with httpx.Client(base_url=_state["url"], timeout=10) as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200, r.text[:200]
    assert r.json()["paths"]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("contract")
    # Login/registration limits would turn most generated auth calls into 429s: lift them.
    with chatter_server(tmp, *FAST_SETUP, "--set", "auth.login_per_account_per_minute=1000000") as server:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for name in ("fuzzer", "friend"):
                r = c.post(
                    "/api/users",
                    json={"username": name, "name": name.title(), "password": PASSWORD},
                )
                assert r.status_code == 201, r.text
        _state["url"] = server.url
        _state["token"] = _login(server.url)
        _state["server"] = server
        _state["calls"] = 0
        _state["statuses"] = {}
        yield schemathesis.openapi.from_url(server.url + "/openapi.json", timeout=10)
        print(
            f"\nRESULT api-contract: schema from the live /openapi.json; {_state['calls']} calls, "
            f"statuses {dict(sorted(_state['statuses'].items()))}"
        )


def test_api_contract(api_schema: Any) -> None:
    """Every operation, generated inputs: no 5xx, documented responses match their schemas.

    schemathesis' own pytest integration (``from_fixture``) fails on pytest 9.2
    (it reads ``Function._nodeid``, which pytest 9 removed), so operations are
    driven here with their hypothesis strategies directly.
    """
    from hypothesis import given

    url = _state["url"]
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        op = result.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(
            max_examples=soak(6, 100),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=not SOAK,
            database=None,
        )
        def check(case: Any) -> None:
            assert _state["server"].proc.poll() is None, "the server died"
            response = case.call_and_validate(
                base_url=url,
                headers={"Authorization": f"Bearer {_state['token']}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=10,
            )
            _state["calls"] += 1
            _state["statuses"][response.status_code] = _state["statuses"].get(response.status_code, 0) + 1
            if case.path in ("/api/auth/logout", "/api/me/password") and response.status_code < 300:
                _state["token"] = _login(url)

        try:
            check()
        except Exception as e:  # noqa: BLE001 - collected so that every operation is exercised
            failures.append(f"{op.method.upper()} {op.path}: {str(e)[:600]}")
    _state["operations"] = operations
    print(f"\nRESULT api-contract: {operations} operations, {len(failures)} failing")
    for f in failures:
        print("  " + f.replace("\n", "\n    "))
    assert operations >= 15
    assert failures == []
