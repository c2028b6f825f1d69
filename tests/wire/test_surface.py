"""The wire is declared once (issue #14 item 4): chatter.wire's surface, and who writes frames.

- ``chatter.wire`` exports exactly its curated surface (like trio's
  test_exports) and imports nothing else of Chatter's;
- every frame the server sends is built in ``chatter/actors/frames.py`` from
  the structs, and each of its builders is used (``frames.error`` was dead,
  while ``http/ws.py`` wrote its error frames inline).
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import chatter.wire
from chatter import wire
from chatter.actors import frames

PKG = Path(chatter.wire.__file__).resolve().parents[1]

EXPORTS = {
    # REST responses
    "User", "Member", "Message", "Room", "UserEnvelope", "LoginResult", "UserList", "RoomList", "History",
    "Events", "Health", "Error", "ErrorBody", "Reaction", "File", "HistoryAround", "MentionList",
    "SearchResult", "SearchResults",
    # REST requests
    "Register", "Login", "Rename", "ChangePassword", "ResetPassword", "UserSearch", "CreateRoom", "OpenDm",
    "RenameRoom", "AddMember", "SetRole", "HistoryQuery", "PostMessage", "MarkRead", "EventsQuery",
    "EditMessage", "MentionsQuery", "AroundQuery", "SearchQuery",
    # the socket
    "ClientFrame", "HelloFrame", "SendFrame", "TypingFrame", "ReadFrame", "PingFrame",
    "EditFrame", "DeleteFrame", "ReactFrame", "MessageUpdatedEvent", "MessageDeletedEvent", "ReactionEvent",
    "ServerEvent", "DurableEvent", "DURABLE_TYPES", "ReadyEvent", "AckEvent", "MessageEvent", "ReadEvent",
    "MemberAddedEvent", "MemberRemovedEvent", "MemberUpdatedEvent", "RoomUpdatedEvent", "RoomDeletedEvent",
    "TypingEvent", "PresenceEvent", "ResetEvent", "ErrorEvent", "PongEvent",
    # helpers
    "encode", "tag", "REST_BODIES", "SOCKET_UNIONS",
}


def test_the_package_exports_its_curated_surface() -> None:
    assert set(wire.__all__) == EXPORTS
    assert len(wire.__all__) == len(EXPORTS)
    public = {n for n, v in vars(wire).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    public -= {"annotations", "Any", "msgspec"}  # the module's own imports
    assert public == EXPORTS


def test_wire_imports_nothing_of_ours() -> None:
    """So every layer (http, actors, store, and the service layer to come) may import it without a cycle."""
    for path in sorted((PKG / "wire").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chatter"):
                assert node.module.startswith("chatter.wire"), f"{path.name} imports {node.module}"


def _server_tags() -> set[str]:
    return {wire.tag(t) for t in wire.ServerEvent.__args__}  # type: ignore[attr-defined]


# Modules that may write a frame's "type": the declarations, the builders, and EventRow.wire (a stored frame).
FRAME_WRITERS = {"wire/rest.py", "wire/socket.py", "wire/__init__.py", "wire/gen_ts.py", "actors/frames.py",
                 "store/models.py"}


def test_frames_are_built_only_in_frames_py() -> None:
    """No dict with the "type" of a server frame (or a computed "type") anywhere else.

    Before: ready and reset were built in actors/session.py, typing in
    actors/room.py, pong and error in http/ws.py.  ASGI messages and
    OpenAPI snippets also have a "type" key, with values no frame has.
    """
    tags = _server_tags()
    found = []
    for path in sorted(PKG.rglob("*.py")):
        rel = str(path.relative_to(PKG))
        if rel in FRAME_WRITERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "type":
                    if not isinstance(value, ast.Constant) or value.value in tags:
                        found.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert found == []


def _frames_used() -> set[str]:
    """Names of chatter.actors.frames used elsewhere in chatter/: ``frames.x`` or ``from ...frames import x``."""
    used: set[str] = set()
    for path in PKG.rglob("*.py"):
        if path.name == "frames.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "frames":
                used.add(node.attr)
            elif isinstance(node, ast.ImportFrom) and node.module == "chatter.actors.frames":
                used.update(a.name for a in node.names)
    return used


def test_every_frame_builder_is_used() -> None:
    """Each ephemeral frame has its builder in frames.py, and no builder is dead code (frames.error was)."""
    ephemeral = _server_tags() - wire.DURABLE_TYPES
    builders = {n for n, v in vars(frames).items()
                if isinstance(v, types.FunctionType) and v.__module__ == frames.__name__ and not n.startswith("_")}
    assert ephemeral <= builders
    assert builders - _frames_used() == set()


def test_a_stored_event_is_spliced_to_the_same_text_as_it_is_encoded() -> None:
    """encode_event's fast path (the stored text with type and seq in front) says exactly what orjson would."""
    import orjson

    from chatter.store.models import EventRow

    data = {"id": 7, "room": "r_1", "sender": "ana", "body": "ça \u2028 \"q\" 👋 \\", "mentions": ["bo"], "deleted": False,
            "edited_at": None, "reactions": [{"emoji": "👍🏽", "users": ["bo"]}]}
    raw = orjson.dumps(data).decode()
    stored = EventRow(seq=12, room="r_1", type="message", data=data, raw=raw)  # type: ignore[arg-type]
    built = EventRow(seq=12, room="r_1", type="message", data=data)  # type: ignore[arg-type]
    assert stored == built
    assert frames.encode_event(stored) == frames.encode_event(built) == orjson.dumps(built.wire()).decode()
