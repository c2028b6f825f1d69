"""Generated from chatter.wire: the UI's types and validators, and the samples both sides check.

- ``ui/src/wire/generated.ts`` and ``ui/tests/fixtures/wire-samples.json`` are
  what the structs and the server's code make today (else: ``just gen-wire``);
- msgspec accepts every valid sample and refuses every broken one: the same
  verdicts the UI's validator must give (``ui/tests/unit/wire-samples.test.ts``).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
import wire_samples

from chatter import wire
from chatter.wire import gen_ts


def _server_tags() -> set[str]:
    return {wire.tag(t) for t in wire.ServerEvent.__args__}  # type: ignore[attr-defined]


# -- generated files -----------------------------------------------------------------


def test_generated_ts_is_up_to_date() -> None:
    committed = gen_ts.OUT.read_text(encoding="utf-8")
    assert committed == gen_ts.render(), "ui/src/wire/generated.ts is stale: run `just gen-wire`"


def test_the_samples_fixture_is_up_to_date() -> None:
    committed = wire_samples.OUT.read_text(encoding="utf-8")
    assert committed == wire_samples.render(), "ui/tests/fixtures/wire-samples.json is stale: run `just gen-wire`"


def test_the_generator_refuses_keywords_the_ui_validator_lacks() -> None:
    with pytest.raises(ValueError, match="propertyNames"):
        gen_ts._check_keywords("X", {"type": "object", "properties": {"a": {"type": "string"}},
                                     "propertyNames": {"pattern": "^a"}})
    gen_ts._check_keywords("X", {"type": "object", "properties": {"title": {"type": "string"}}})  # a field's name


def test_generated_types_cover_every_frame_and_body() -> None:
    text = gen_ts.render()
    for t in (*wire.REST_BODIES, *wire.ClientFrame.__args__, *wire.ServerEvent.__args__):  # type: ignore[attr-defined]
        assert f"export interface {t.__name__} {{" in text
    for name in ("ServerEvent", "ClientFrame", "DurableEvent"):
        assert f"export type {name} =" in text
    assert "export const DURABLE_TYPES: readonly DurableEvent['type'][] = ['member_added', " in text


# -- the samples against the structs -------------------------------------------------


def _samples() -> dict[str, Any]:
    return json.loads(wire_samples.OUT.read_text(encoding="utf-8"))


def test_the_samples_cover_every_server_frame() -> None:
    assert {f["type"] for f in _samples()["server_events"]} == _server_tags()


@pytest.mark.parametrize("frame", _samples()["server_events"], ids=lambda f: f["type"])
def test_valid_samples_decode_as_their_struct(frame: dict[str, Any]) -> None:
    decoded = msgspec.json.decode(json.dumps(frame), type=wire.ServerEvent)
    assert wire.tag(decoded) == frame["type"]
    assert json.loads(wire.encode(decoded)) == frame  # nothing the struct does not declare


@pytest.mark.parametrize("case", _samples()["invalid_server_events"], ids=lambda c: c["why"])
def test_broken_samples_are_refused(case: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps(case["frame"]), type=wire.ServerEvent)


@pytest.mark.parametrize("name", sorted(_samples()["rest"]))
def test_rest_samples_decode_as_their_struct(name: str) -> None:
    for body in _samples()["rest"][name]:
        decoded = msgspec.json.decode(json.dumps(body), type=getattr(wire, name))
        assert json.loads(wire.encode(decoded)) == body
