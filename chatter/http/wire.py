"""JSON in and out of the HTTP layer: one strict parser for every body and frame.

``parse_json`` rejects what ``json.loads`` lets through silently: NaN and
Infinity, duplicate keys (which would let two parsers disagree on a value)
and nesting deep enough to raise RecursionError.  Everything it raises is
``Invalid``, so bad input can never escape as a 500 or kill a socket task.
Its messages are our own fixed texts (with at most a position in the
input): the parser's own wording is Python's (``Expecting value: line 1
column 1``, ``use sys.set_int_max_str_digits()``) and is never shown.
"""

from __future__ import annotations

import json
from typing import Any

from chatter.errors import Invalid

MAX_DEPTH = 32


class _Refused(ValueError):
    """A rule of ours, raised from inside ``json.loads``; its text is ours to show."""


def _no_constants(name: str) -> Any:
    raise _Refused("NaN and Infinity are not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Refused(f"duplicate key {key[:64]!r} in a JSON object")
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
    except _Refused as e:
        raise Invalid(str(e)) from None
    except json.JSONDecodeError as e:
        raise Invalid(f"malformed JSON at character {e.pos}") from None
    except RecursionError:
        raise Invalid(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # Python's limit on digits in an integer (4300)
        raise Invalid("a number in the JSON is too long") from None
    # JSON may escape a lone surrogate (\ud800), which no UTF-8 text can hold.
    if "\\u" in data and _has_lone_surrogate(obj):
        raise Invalid("JSON text contains an unpaired surrogate (invalid Unicode)")
    return obj


def _has_lone_surrogate(obj: Any) -> bool:
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(obj, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_has_lone_surrogate(v) for v in obj)
    return False


def parse_object(data: str | bytes) -> dict[str, Any]:
    obj = parse_json(data)
    if not isinstance(obj, dict):
        raise Invalid("expected a JSON object")
    return obj


def field(obj: dict[str, Any], name: str) -> Any:
    if name not in obj:
        raise Invalid(f"missing field {name!r}")
    return obj[name]
