"""Write ``ui/src/wire/generated.ts`` from the structs: ``python -m chatter.wire.gen_ts [--check]``.

The file holds, from ``msgspec.json.schema_components`` over every REST body
and the socket's two unions (the same schemas as ``/openapi.json``):

- a TypeScript interface per struct and a union type per union (``type``
  is the discriminant), with the structs' docstrings as comments;
- ``schemas``: the JSON Schema of everything the UI validates on receipt
  (response bodies and frames; request bodies, whose name patterns are
  long, only as types), which ``ui/src/wire/schema.ts`` checks data against.
  ``schema.ts`` knows the keywords in ``SUPPORTED`` and nothing else, so
  ``render`` refuses a schema that uses another one.

``tests/wire/test_generated.py`` fails when the committed file differs from
``render()``; ``just gen-wire`` rewrites it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from chatter.wire import (
    DURABLE_TYPES,
    REST_BODIES,
    SOCKET_UNIONS,
    DurableEvent,
    Error,
    Events,
    Health,
    History,
    HistoryAround,
    LoginResult,
    Member,
    MentionList,
    Message,
    Room,
    RoomList,
    SearchResults,
    SendFrame,
    User,
    UserEnvelope,
    UserList,
)

OUT = Path(__file__).resolve().parents[2] / "ui" / "src" / "wire" / "generated.ts"
REF = "#/components/schemas/{name}"
# What the UI checks on receipt, and SendFrame (its limits); every struct they refer to comes along.
VALIDATED: tuple[Any, ...] = (User, Member, Message, Room, UserEnvelope, LoginResult, UserList, RoomList, History,
                              HistoryAround, MentionList, SearchResults, Events, Health, Error,
                              SOCKET_UNIONS["ServerEvent"], SendFrame)
# The JSON Schema keywords ui/src/wire/schema.ts implements (annotations included).
SUPPORTED = frozenset({"$ref", "anyOf", "discriminator", "enum", "const", "type", "properties", "required", "items",
                       "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern",
                       "title", "description", "default"})
HEADER = """\
// Generated from the server's structs (chatter/wire) by `python -m chatter.wire.gen_ts`: do not edit.
// `just gen-wire` rewrites it; tests/wire/test_generated.py fails when it is out of date.
"""


def components() -> tuple[dict[str, Any], list[str]]:
    """Every component (the unions included, by name), and the names whose schema the UI validates with."""
    types = [*REST_BODIES, *SOCKET_UNIONS.values()]
    schemas, comps = msgspec.json.schema_components(types, ref_template=REF)
    comps.update(zip(SOCKET_UNIONS, schemas[len(REST_BODIES):], strict=True))
    validated: set[str] = set()
    todo = [name_of(t) for t in VALIDATED]
    while todo:
        name = todo.pop()
        if name not in validated:
            validated.add(name)
            todo.extend(ref.rsplit("/", 1)[1] for ref in _refs(comps[name]))
    return comps, sorted(validated)


def name_of(t: Any) -> str:
    for name, union in SOCKET_UNIONS.items():
        if t is union:
            return name
    return str(t.__name__)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for key, value in node.items():
            if key not in ("discriminator",):
                found.extend(_refs(value))
        return found
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _check_keywords(name: str, node: Any) -> None:
    if isinstance(node, dict):
        unknown = set(node) - SUPPORTED
        if unknown:
            raise ValueError(f"{name} uses JSON Schema keywords that ui/src/wire/schema.ts lacks: {sorted(unknown)}")
        for key, value in node.items():
            if key == "properties":
                for prop in value.values():
                    _check_keywords(name, prop)
            elif key not in ("discriminator", "enum", "const", "default", "required"):
                _check_keywords(name, value)
    elif isinstance(node, list):
        for value in node:
            _check_keywords(name, value)


def _bare(node: Any) -> Any:
    """A schema without its annotations (title, description, default), which the validator does not use.

    Also without a ``maximum`` beyond 2**53 - 1: JavaScript cannot hold it,
    and the validator accepts only safe integers anyway.
    """
    if isinstance(node, dict):
        return {k: (v if k in ("enum", "const", "required", "discriminator") else _bare(v)) if k != "properties"
                else {name: _bare(prop) for name, prop in v.items()}
                for k, v in node.items() if k not in ("title", "description", "default")
                and not (k == "maximum" and v > 2**53 - 1)}
    if isinstance(node, list):
        return [_bare(v) for v in node]
    return node


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + json.dumps(value)[1:-1].replace("'", "\\'").replace('\\"', '"') + "'"
    return json.dumps(value)


def ts_type(node: dict[str, Any]) -> str:
    """The TypeScript type of a schema node (structs are referred to by name)."""
    if "$ref" in node:
        return str(node["$ref"]).rsplit("/", 1)[1]
    if "anyOf" in node:
        return " | ".join(ts_type(n) for n in node["anyOf"])
    if "enum" in node:
        return " | ".join(_literal(v) for v in node["enum"])
    if "const" in node:
        return _literal(node["const"])
    kind = node.get("type")
    if kind == "array":
        item = ts_type(node["items"])
        return f"({item})[]" if " | " in item else f"{item}[]"
    simple = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "null": "null"}
    if kind in simple:
        return simple[kind]
    raise ValueError(f"no TypeScript type for the schema {node!r}")


def _comment(text: str | None, indent: str) -> list[str]:
    if not text:
        return []
    lines = text.strip().replace("``", "`").splitlines()
    if len(lines) == 1:
        return [f"{indent}/** {lines[0].replace('*/', '* /')} */"]
    return [f"{indent}/**", *(f"{indent} * {line}".rstrip() for line in lines), f"{indent} */"]


def interface(name: str, schema: dict[str, Any]) -> list[str]:
    if "anyOf" in schema:
        members = [ts_type(n) for n in schema["anyOf"]]
        return [f"export type {name} =", *(f"  | {m}" for m in members[:-1]), f"  | {members[-1]};"]
    if schema.get("type") != "object":
        raise ValueError(f"{name}: a component must be a struct or a union")
    required = set(schema.get("required", ()))
    lines = [*_comment(schema.get("description"), ""), f"export interface {name} {{"]
    for field, node in schema.get("properties", {}).items():
        lines += _comment(node.get("description"), "  ")
        lines.append(f"  {field}{'' if field in required else '?'}: {ts_type(node)};")
    return [*lines, "}"]


def _members(union: Any) -> list[str]:
    return [t.__name__ for t in union.__args__]


def render() -> str:
    comps, validated = components()
    for name in validated:
        _check_keywords(name, comps[name])
    frames = [*_members(SOCKET_UNIONS["ClientFrame"]), *_members(SOCKET_UNIONS["ServerEvent"])]
    rest = [name_of(t) for t in REST_BODIES]
    rest += [n for n in comps if n not in rest and n not in frames and n not in SOCKET_UNIONS]
    out = [HEADER]
    sections = (("REST bodies (chatter/wire/rest.py)", rest), ("Socket frames (chatter/wire/socket.py)", frames))
    for title, names in sections:
        out += [f"// ---- {title} {'-' * (110 - len(title))}", ""]
        for name in names:
            out += [*interface(name, comps[name]), ""]
    for name in SOCKET_UNIONS:
        out += [*interface(name, comps[name]), ""]
    durable = _members(DurableEvent)
    bare = {n: _bare(comps[n]) for n in validated}
    tags = sorted(DURABLE_TYPES)
    out += ["/** Durable events: stored, with a `seq`, served again on resume. */",
            *interface("DurableEvent", {"anyOf": [{"$ref": REF.format(name=n)} for n in durable]}),
            "export const DURABLE_TYPES: readonly DurableEvent['type'][] = [" + ", ".join(map(_literal, tags)) + "];",
            "",
            "/** Schema name -> its type, for `parse` in schema.ts. */",
            "export interface WireTypes {",
            *(f"  {name}: {name};" for name in validated),
            "}",
            "",
            "/** JSON Schema (msgspec.json.schema_components) of everything the UI validates on receipt. */",
            f"export const schemas = {json.dumps(bare, indent=2, ensure_ascii=False)} as const;"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:] == ["--check"]:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run `just gen-wire`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
