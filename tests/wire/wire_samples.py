"""Example frames and bodies made by the server's own code, for the UI's validator: ``ui/tests/fixtures/wire-samples.json``.

- ``server_events``: one of every server frame, built by ``chatter.actors.frames``
  (ready, ack, typing, presence, reset, error, pong) and, for the durable
  events, written by the store's queries into a real SQLite database, read
  back and encoded as they are sent (``frames.encode_event``);
- ``invalid_server_events``: each of those broken in one place (a required
  field missing, a value of the wrong type, an integer under its minimum, a
  value outside an enum), derived from the published schema;
- ``rest``: response bodies from the rows' ``wire()`` (a group and a DM room,
  a member, a message with reactions, a page of history, an ``around`` page,
  a mentions page, a page of search results, a user).

Random room ids, the epoch and times are replaced by fixed ones, so the file
only changes when a shape does.  ``tests/wire/test_generated.py`` checks that the
committed file is what this builds, and that msgspec accepts exactly the
valid samples; ``ui/tests/unit/wire-samples.test.ts`` checks that
``schema.ts`` gives the same verdicts.  Rewrite it with ``just gen-wire``.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import msgspec

from chatter import wire
from chatter.actors import frames
from chatter.service import permissions
from chatter.service.permissions import may_delete_message as may_delete
from chatter.service.permissions import may_edit_message as may_edit
from chatter.service.permissions import may_react
from chatter.service.search import parse_query, snippet
from chatter.store import queries as q
from chatter.store import search

OUT = Path(__file__).resolve().parents[2] / "ui" / "tests" / "fixtures" / "wire-samples.json"
NOW = "2026-11-25T10:00:00.123Z"
EPOCH = "0123456789abcdef"


def _store_events() -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    """Durable events and REST bodies through the store's real queries, on a fresh database."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    q.configure(db, busy_timeout=1.0, wal=False)
    q.migrate(db, NOW)
    for username, name in (("ana", "Ana"), ("bo", "Bo"), ("cy", "Cy Ω")):
        q.create_user(db, username, name, "not-a-hash", NOW)
    group, _ = q.create_group(db, "ana", "Team", ["bo"], NOW)
    (dm, _), _ = q.open_dm(db, "ana", "bo", NOW)
    posted, _ = q.post_message(db, "bo", group.id, "c-1", "hello, world 👋", NOW, permissions.may_post)
    q.mark_read(db, "ana", group.id, posted.message.id, permissions.may_read)
    # PROTOCOL 10: a reply that mentions, its edit, reactions on and off, a deletion
    reply, _ = q.post_message(db, "ana", group.id, "c-2", "@bo see this", NOW, permissions.may_post,
                              posted.message.id)
    q.edit_message(db, "ana", group.id, reply.message.id, "@bo see this, please", NOW, may_edit)
    q.set_reaction(db, "bo", group.id, posted.message.id, "👍🏽", True, may_react)
    q.set_reaction(db, "ana", group.id, posted.message.id, "👩\u200d💻", True, may_react)
    q.set_reaction(db, "ana", group.id, posted.message.id, "👩\u200d💻", False, may_react)
    oops, _ = q.post_message(db, "bo", group.id, "c-3", "oops", NOW, permissions.may_post)
    q.delete_message(db, "bo", group.id, oops.message.id, may_delete)
    reacted = q.get_message(db, "ana", group.id, posted.message.id, permissions.may_read)
    around = q.messages_around(db, "ana", group.id, reply.message.id, 2, permissions.may_read)
    mentioned, more = q.mentions_page(db, "bo", None, 50)
    found = search.search_messages(db, "ana", search.SearchSpec(terms=parse_query("hello wor").terms),
                                   permissions.may_read)
    q.add_member(db, "ana", group.id, "cy", "admin", permissions.may_add_member)
    q.set_role(db, "ana", group.id, "bo", "owner", permissions.may_set_role)  # an ownership transfer: two member_updated
    q.rename_room(db, "bo", group.id, "Team two", permissions.may_rename)
    q.remove_member(db, "bo", group.id, "cy", permissions.may_remove_member)
    before = q.events_for_user(db, "ana", 0, 1000)  # deleting the room deletes most of its events
    q.delete_room(db, "bo", group.id, permissions.may_delete)
    after = q.events_for_user(db, "ana", before.head, 1000)
    events = [json.loads(frames.encode_event(ev)) for ev in (*before.events, *after.events)]
    room = q.get_room(db, dm.id, "ana", permissions.may_read)
    history, _ = q.history(db, "ana", dm.id, None, 50, permissions.may_read)
    rest: dict[str, list[Any]] = {
        "Room": [_builtins(room.wire()), _builtins(group.wire())],
        "Member": [_builtins(room.members[0].wire())],
        "Message": [_builtins(posted.message.wire()), _builtins(reacted.wire())],
        "HistoryAround": [_builtins(wire.HistoryAround(messages=[m.wire() for m in around.messages],
                                                       has_more_before=around.has_more_before,
                                                       has_more_after=around.has_more_after))],
        "MentionList": [_builtins(wire.MentionList(messages=[m.wire() for m in mentioned], has_more=more))],
        "SearchResults": [_builtins(wire.SearchResults(
            results=[wire.SearchResult(message=m.wire(), snippet=[list(p) for p in snippet(m.body, found.planned)])
                     for m in found.messages], next=None, indexing=False))],
        "History": [_builtins(wire.History(messages=[m.wire() for m in history], has_more=False))],
        "User": [_builtins(wire.User(username="ana", name="Ana", online=True, last_seen=None)),
                 _builtins(wire.User(username="bo", name="Bo", online=False, last_seen=NOW))],
    }
    db.close()
    return events, rest


def _builtins(obj: Any) -> Any:
    return json.loads(wire.encode(obj))


def _ephemeral(message: dict[str, Any]) -> list[dict[str, Any]]:
    user = wire.User(username="ana", name="Ana", online=True, last_seen=None)
    texts = [
        frames.ready(epoch=EPOCH, seq=12, user=user, online=["bo"]),
        frames.ack(client_msg_id=message["client_msg_id"], id=message["id"], seq=message["seq"],
                   room=message["room"], created_at=message["created_at"]),
        frames.typing(message["room"], "bo", True),
        frames.presence("bo", False, NOW),
        frames.presence("bo", True, None),
        frames.reset(epoch=EPOCH, seq=0),
        frames.error("INVALID_INPUT", "missing field 'room'", "send"),
        frames.error("INVALID_INPUT", "type must be a string", None),
        frames.pong(),
    ]
    return [json.loads(t) for t in texts]


def _normalise(node: Any, rooms: dict[str, str]) -> Any:
    """Fixed values for the random and time-dependent ones (room ids, the epoch, times)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if isinstance(value, str) and value.startswith("r_") and key in ("room", "id"):
                value = rooms.setdefault(value, f"r_{len(rooms) + 1}")
            elif key == "epoch":
                value = EPOCH
            out[key] = _normalise(value, rooms)
        return out
    if isinstance(node, list):
        return [_normalise(v, rooms) for v in node]
    return node


def _schemas() -> dict[str, Any]:
    (union,), comps = msgspec.json.schema_components([wire.ServerEvent], ref_template="{name}")
    comps["ServerEvent"] = union
    return comps


_WRONG = {"string": 7, "integer": "7", "boolean": "true", "array": {"not": "a list"}, "null": 7}


def _wrong(node: dict[str, Any]) -> Any:
    """A value of a JSON type that the schema ``node`` does not take."""
    if "$ref" in node:
        return "not an object"
    if "enum" in node:
        return "not-one-of-them"
    if "anyOf" in node:
        return 7 if all(n.get("type") not in ("integer", "number") for n in node["anyOf"]) else "7"
    return _WRONG[node["type"]]


def _broken(frame: dict[str, Any], comps: dict[str, Any]) -> list[dict[str, Any]]:
    schema = comps[_struct_of(frame["type"], comps)]
    out = []
    for key, prop in schema["properties"].items():
        if key == "type":
            continue
        if key in schema["required"]:
            bad = copy.deepcopy(frame)
            del bad[key]
            out.append({"why": f"{frame['type']}: {key} missing", "frame": bad})
        bad = copy.deepcopy(frame)
        bad[key] = _wrong(prop)
        out.append({"why": f"{frame['type']}: {key} of the wrong type", "frame": bad})
        if "minimum" in prop:
            bad = copy.deepcopy(frame)
            bad[key] = prop["minimum"] - 1
            out.append({"why": f"{frame['type']}: {key} below {prop['minimum']}", "frame": bad})
    return out


def _struct_of(kind: str, comps: dict[str, Any]) -> str:
    return str(comps["ServerEvent"]["discriminator"]["mapping"][kind])


def build() -> dict[str, Any]:
    durable, rest = _store_events()
    message = next(e for e in durable if e["type"] == "message")
    rooms: dict[str, str] = {}
    valid = _normalise(_ephemeral(message) + durable, rooms)
    rest = _normalise(rest, rooms)
    comps = _schemas()
    invalid = [b for frame in valid for b in _broken(frame, comps)]
    return {"generated_by": "tests/wire/wire_samples.py (just gen-wire)", "server_events": valid,
            "invalid_server_events": invalid, "rest": rest}


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
