"""A small PROTOCOL.md client over trio-websocket, for end-to-end tests."""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from chatter.wire import ServerEvent

PASSWORD = "correct horse battery"


class Client:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.buffer: deque[dict[str, Any]] = deque()
        self.seen_seqs: list[int] = []

    async def send(self, obj: Any) -> None:
        await self.ws.send_message(obj if isinstance(obj, str) else json.dumps(obj))

    async def next(self, *types: str) -> dict[str, Any]:
        while True:
            while not self.buffer:
                text = await self.ws.get_message()
                data = json.loads(text)
                # Every frame the server sends is one its schema declares (chatter.wire.ServerEvent).
                msgspec.json.decode(text, type=list[ServerEvent] if isinstance(data, list) else ServerEvent)
                for f in data if isinstance(data, list) else [data]:
                    if "seq" in f and f["type"] not in ("ready", "reset", "ack"):
                        self.seen_seqs.append(f["seq"])
                    self.buffer.append(f)
            f = self.buffer.popleft()
            if not types or f["type"] in types:
                return f

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "hello", **fields})
        return await self.next("ready")

    async def post(self, room: str, body: str, client_msg_id: str | None = None) -> dict[str, Any]:
        await self.send({"type": "send", "room": room, "client_msg_id": client_msg_id or uuid.uuid4().hex,
                         "body": body})
        return await self.next("ack")

    async def close_code(self) -> int | None:
        try:
            while True:
                await self.ws.get_message()
        except ConnectionClosed as e:
            return e.reason.code  # type: ignore[no-any-return]


@asynccontextmanager
async def connect(ws_url: str, token: str) -> AsyncIterator[Client]:
    async with open_websocket_url(ws_url, extra_headers=[("Authorization", f"Bearer {token}")],
                                  max_message_size=16 * 1024 * 1024) as ws:
        yield Client(ws)


def rest(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10)


def make_user(http: httpx.Client, username: str) -> str:
    r = http.post("/api/users", json={"username": username, "name": username.title(), "password": PASSWORD})
    assert r.status_code in (201, 409), r.text
    r = http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["token"]  # type: ignore[no-any-return]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def in_thread(fn: Any, *args: Any) -> Any:
    return await trio.to_thread.run_sync(fn, *args)
