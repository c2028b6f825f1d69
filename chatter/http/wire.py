"""JSON in and out of the HTTP layer: one strict parser for every body and frame.

``parse_json`` rejects what ``json.loads`` lets through silently: NaN and
Infinity, duplicate keys (which would let two parsers disagree on a value)
and nesting deep enough to raise RecursionError.  Everything it raises is
``Invalid``, so bad input can never escape as a 500 or kill a socket task.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from chatter.errors import Invalid

MAX_DEPTH = 32


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _depth_ok(text: str) -> bool:
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json(data: str | bytes) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("body is not valid UTF-8") from None
    if not _depth_ok(data):
        raise Invalid(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as e:
        raise Invalid(f"malformed JSON: {str(e).splitlines()[0][:120]}") from None
    if "\\u" in data:
        # JSON may escape a lone surrogate (\ud800), which no UTF-8 text can hold.
        try:
            orjson.dumps(obj)
        except TypeError:
            raise Invalid("JSON text contains an unpaired surrogate (invalid Unicode)") from None
    return obj


def parse_object(data: str | bytes) -> dict[str, Any]:
    obj = parse_json(data)
    if not isinstance(obj, dict):
        raise Invalid("expected a JSON object")
    return obj


def field(obj: dict[str, Any], name: str) -> Any:
    if name not in obj:
        raise Invalid(f"missing field {name!r}")
    return obj[name]
