"""Every shape on Chatter's wire, declared once as msgspec Structs.

- ``rest``: REST request and response bodies (PROTOCOL.md sections 1-3);
- ``socket``: the frames of ``GET /ws`` (section 4), client -> server and
  server -> client, as discriminated unions on ``"type"``.

``/openapi.json`` (``chatter.http.openapi``) and the UI's types and
validators (``ui/src/wire/generated.ts``, written by ``python -m
chatter.wire.gen_ts``; a test fails when it is stale) are generated from
these.  Nothing here imports the rest of Chatter, so every layer may import it.

This module's names are the package's surface (``tests/wire`` checks the list).
"""

from __future__ import annotations

from typing import Any

import msgspec

from chatter.wire.rest import (
    AddMember,
    AroundQuery,
    ChangePassword,
    CreateRoom,
    EditMessage,
    Error,
    ErrorBody,
    EventsQuery,
    File,
    Health,
    History,
    HistoryAround,
    HistoryQuery,
    Login,
    LoginResult,
    MarkRead,
    Member,
    MentionList,
    MentionsQuery,
    Message,
    OpenDm,
    PostMessage,
    Reaction,
    Register,
    Rename,
    RenameRoom,
    ResetPassword,
    Room,
    RoomList,
    SearchQuery,
    SearchResult,
    SearchResults,
    SetRole,
    User,
    UserEnvelope,
    UserList,
    UserSearch,
)
from chatter.wire.socket import (
    DURABLE_TYPES,
    AckEvent,
    ClientFrame,
    DeleteFrame,
    DurableEvent,
    EditFrame,
    ErrorEvent,
    Events,
    HelloFrame,
    MemberAddedEvent,
    MemberRemovedEvent,
    MemberUpdatedEvent,
    MessageDeletedEvent,
    MessageEvent,
    MessageUpdatedEvent,
    PingFrame,
    PongEvent,
    PresenceEvent,
    ReactFrame,
    ReactionEvent,
    ReadEvent,
    ReadFrame,
    ReadyEvent,
    ResetEvent,
    RoomDeletedEvent,
    RoomUpdatedEvent,
    SendFrame,
    ServerEvent,
    TypingEvent,
    TypingFrame,
    tag,
)

__all__ = [
    # REST responses
    "User", "Member", "Message", "Room", "UserEnvelope", "LoginResult", "UserList", "RoomList", "History",
    "Events", "Health", "Error", "ErrorBody", "Reaction", "File", "HistoryAround", "MentionList",
    "SearchResult", "SearchResults",
    # REST requests
    "Register", "Login", "Rename", "ChangePassword", "ResetPassword", "UserSearch", "CreateRoom", "OpenDm",
    "RenameRoom", "AddMember", "SetRole", "HistoryQuery", "PostMessage", "MarkRead", "EventsQuery",
    "EditMessage", "MentionsQuery", "AroundQuery", "SearchQuery",
    # socket, client -> server
    "ClientFrame", "HelloFrame", "SendFrame", "TypingFrame", "ReadFrame", "PingFrame", "EditFrame", "DeleteFrame",
    "ReactFrame",
    # socket, server -> client
    "ServerEvent", "DurableEvent", "DURABLE_TYPES", "ReadyEvent", "AckEvent", "MessageEvent", "ReadEvent",
    "MemberAddedEvent", "MemberRemovedEvent", "MemberUpdatedEvent", "RoomUpdatedEvent", "RoomDeletedEvent",
    "TypingEvent", "PresenceEvent", "ResetEvent", "ErrorEvent", "PongEvent", "MessageUpdatedEvent",
    "MessageDeletedEvent", "ReactionEvent",
    # helpers
    "encode", "tag", "REST_BODIES", "SOCKET_UNIONS",
]

# Every REST body, for the generated UI types (the OpenAPI document lists the ones its routes use).
REST_BODIES: tuple[type[msgspec.Struct], ...] = (
    User, Member, Message, Room, UserEnvelope, LoginResult, UserList, RoomList, History, Events, Health, Error,
    Register, Login, Rename, ChangePassword, ResetPassword, UserSearch, CreateRoom, OpenDm, RenameRoom, AddMember,
    SetRole, HistoryQuery, PostMessage, MarkRead, EventsQuery, Reaction, File, HistoryAround, MentionList,
    EditMessage, MentionsQuery, AroundQuery, SearchResult, SearchResults, SearchQuery,
)
# The socket's two discriminated unions, by the name they are published under.
SOCKET_UNIONS: dict[str, Any] = {"ClientFrame": ClientFrame, "ServerEvent": ServerEvent}

_encoder = msgspec.json.Encoder()


def encode(obj: Any) -> str:
    """JSON text of a struct (or of plain data holding structs): compact, UTF-8, keys in field order."""
    return _encoder.encode(obj).decode()
