"""The OpenAPI document is valid and complete, and schemathesis' schema checks pass (issue #13 item 14).

The probe found 176 dangling ``$ref``s (``components.schemas`` was empty:
quart-schema 0.25 with msgspec drops the models a model refers to) and
schemathesis reported ST201-ST204.  Here, against a real ``chatter serve``
with a logged-in user:

- the document validates against the OpenAPI 3.1 meta-schema
  (schemathesis' own validator), every ``$ref`` resolves, every route of
  the app is described, and every error response is the protocol's shape;
- schemathesis' engine (its Python API: examples, coverage and fuzzing
  phases, every check, a bounded number of examples) finds nothing.

Rules that a JSON Schema cannot state are declared per operation: the
common-password list (400 on a schema-valid password) and a DM with
yourself (400).

Running it also found a real bug: a request whose body the server did not
read (a GET or an automatic OPTIONS answer with a body, or the /api
catch-all) stalled the next request on that keep-alive connection.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fleet import FAST_SETUP, SOAK, soak
from helpers import PASSWORD, chatter_server
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Schema-valid requests that the server refuses with 400 for a reason no JSON Schema can say.
INEXPRESSIBLE = {
    "POST /api/users": "the most common passwords are refused",
    "POST /api/me/password": "the most common passwords are refused",
    "POST /api/auth/reset": "the most common passwords are refused",
    "POST /api/dms": "a direct message with yourself is refused",
    "GET /api/search": "a q with nothing to search for (only punctuation) and a cursor the server did not give "
                       "are refused",
}
POSITIVE_DEFAULT = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("openapi")
    with chatter_server(tmp, *FAST_SETUP, "--set", "auth.login_per_account_per_minute=1000000") as server:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for name in ("fuzzer", "friend"):
                r = c.post("/api/users", json={"username": name, "name": name.title(), "password": PASSWORD})
                assert r.status_code == 201, r.text
        yield server


def _doc(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


ROUTES = {
    ("post", "/api/users"), ("post", "/api/auth/login"), ("post", "/api/auth/logout"), ("post", "/api/auth/reset"),
    ("get", "/api/me"), ("patch", "/api/me"), ("post", "/api/me/password"), ("get", "/api/users"),
    ("get", "/api/users/{username}"), ("get", "/api/rooms"), ("post", "/api/rooms"), ("post", "/api/dms"),
    ("get", "/api/rooms/{room}"), ("patch", "/api/rooms/{room}"), ("delete", "/api/rooms/{room}"),
    ("post", "/api/rooms/{room}/members"), ("patch", "/api/rooms/{room}/members/{username}"),
    ("delete", "/api/rooms/{room}/members/{username}"), ("get", "/api/rooms/{room}/messages"),
    ("post", "/api/rooms/{room}/messages"), ("post", "/api/rooms/{room}/read"), ("get", "/api/events"),
    ("get", "/api/search"), ("get", "/healthz"), ("get", "/metrics"),
}


def test_the_document_is_valid_and_every_ref_resolves(live):
    doc = _doc(live.url)
    refs = list(_refs(doc))
    for ref in refs:
        _resolve(doc, ref)
    schemathesis.openapi.from_dict(doc).validate()  # the OpenAPI 3.1 meta-schema
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    print(f"\nRESULT openapi: {len(refs)} $refs, all resolve; {len(doc['components']['schemas'])} schemas; "
          f"{len(documented)} operations")
    assert documented == ROUTES
    assert len(ids) == len(set(ids))
    error = _resolve(doc, "#/components/schemas/Error")
    assert error["required"] == ["error"]
    assert set(_resolve(doc, "#/components/schemas/ErrorBody")["required"]) == {"code", "message"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if not path.startswith("/api/"):
                continue
            for status in ("400", "401", "404", "429"):
                ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, status)
            assert "Retry-After" in op["responses"]["429"]["headers"]
            public = (method, path) in {("post", "/api/users"), ("post", "/api/auth/login"),
                                        ("post", "/api/auth/reset")}
            assert (op.get("security") == []) == public, (method, path)


def test_name_patterns_say_what_the_server_refuses(live):
    doc = _doc(live.url)
    pattern = re.compile(_resolve(doc, "#/components/schemas/Register")["properties"]["name"]["pattern"])
    for ok in ("Zoë 🦊", "👩\u200d💻 dev", "  padded  ", "مرحبا"):
        assert pattern.match(ok), ok
    for bad in ("   ", "\u202eevil", "a\x00b", "a\tb", "a\u200bb", "a\u2028b"):
        assert not pattern.match(bad), bad


def _config(n: int) -> SchemathesisConfig:
    operations = "".join(
        f'\n[[operations]]\ninclude-name = "{name}"\n'
        f"checks.positive_data_acceptance.expected-statuses = {json.dumps([*POSITIVE_DEFAULT, '400'])}\n"
        for name in INEXPRESSIBLE)
    return SchemathesisConfig.from_str(f"""
seed = 13
request-timeout = 10
[generation]
max-examples = {n}
deterministic = {"false" if SOAK else "true"}
[checks]
enabled = true
[phases.stateful]
enabled = false
[auth.dynamic.openapi.bearer]
path = "/api/auth/login"
payload = {{ username = "fuzzer", password = "{PASSWORD}" }}
extract_selector = "/token"
retry_on = [401]
{operations}""")


def test_schemathesis_schema_checks_find_nothing(live):
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json", config=_config(soak(12, 100)))
    failures: Counter[tuple[str, str, str]] = Counter()
    samples: dict[tuple[str, str, str], str] = {}
    errors: list[str] = []
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        f = check.failure_info.failure
                        key = (f.code, event.recorder.label, f.title)
                        failures[key] += 1
                        samples.setdefault(key, check.failure_info.code_sample[:400])
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(str(getattr(event, "info", None) and event.info.message or event))
    assert live.proc.poll() is None, "the server died"
    print(f"\nRESULT schemathesis: {cases} cases, {sum(failures.values())} failures, {len(errors)} errors")
    for key, n in sorted(failures.items()):
        print(f"  {n} x {key}: {samples[key]}")
    for e in errors:
        print("  error:", e[:300])
    assert cases > 200
    assert errors == []
    assert failures == Counter()
