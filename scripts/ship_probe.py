"""Talk to a running Chatter from outside, with the standard library only
(so the container test needs no venv): used by scripts/test-container.sh.

    python3 scripts/ship_probe.py BASE write   register, log in, create a room, send one
                                               message over /ws; print what was stored (JSON)
    python3 scripts/ship_probe.py BASE check   read that JSON on stdin; log in again and check
                                               the message is still in the room's history
    python3 scripts/ship_probe.py BASE hold    log in, open a socket, print "holding", wait for the
                                               server to close it; exit 0 only for close code 1001

The socket client is a minimal RFC 6455 client (masked text frames, no
extensions): enough for hello -> ready and send -> ack.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

PASSWORD = "correct horse battery"


class Closed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - the test's own server
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class WS:
    def __init__(self, base: str, token: str) -> None:
        u = urlsplit(base)
        self.pending: list[dict[str, Any]] = []
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Authorization: Bearer {token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise SystemExit("ship_probe: connection closed during the handshake")
            head += chunk
        status, _, self.rest = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise SystemExit(f"ship_probe: handshake refused: {status.decode(errors='replace')[:200]}")

    def send(self, obj: Any) -> None:
        payload = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(payload)
        header = struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x81, 0x80 | 126, n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, n: int) -> bytes:
        while len(self.rest) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(None)  # TCP closed without a close frame
            self.rest += chunk
        out, self.rest = self.rest[:n], self.rest[n:]
        return out

    def frames(self) -> Any:
        while self.pending:
            yield self.pending.pop(0)
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            data = self._read(n)
            if b0 & 0x0F == 0x8:
                raise Closed(struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None)
            if b0 & 0x0F == 0x1:
                parsed = json.loads(data)
                self.pending.extend(parsed if isinstance(parsed, list) else [parsed])
                while self.pending:
                    yield self.pending.pop(0)

    def wait_for(self, *types: str) -> dict[str, Any]:
        for frame in self.frames():
            if frame["type"] in types:
                return frame  # type: ignore[no-any-return]
        raise AssertionError("unreachable")


def write(base: str) -> None:
    status, body = call(base, "POST", "/api/users", {"username": "shipper", "name": "Shipper", "password": PASSWORD})
    assert status == 201, (status, body)
    status, body = call(base, "POST", "/api/auth/login", {"username": "shipper", "password": PASSWORD})
    assert status == 200, (status, body)
    token = body["token"]
    status, room = call(base, "POST", "/api/rooms", {"name": "container"}, token)
    assert status == 201, (status, room)
    ws = WS(base, token)
    ws.send({"type": "hello"})
    ready = ws.wait_for("ready")
    ws.send({"type": "send", "room": room["id"], "client_msg_id": uuid.uuid4().hex, "body": "in the volume"})
    ack = ws.wait_for("ack", "error")
    assert ack["type"] == "ack", ack
    message = ws.wait_for("message")
    assert message["id"] == ack["id"]
    print(json.dumps({"room": room["id"], "id": ack["id"], "epoch": ready["epoch"]}))
    print(f"ship_probe: registered, logged in, socket message {ack['id']} acked (seq {ack['seq']})", file=sys.stderr)


def check(base: str) -> None:
    saved = json.load(sys.stdin)
    status, body = call(base, "POST", "/api/auth/login", {"username": "shipper", "password": PASSWORD})
    assert status == 200, f"the account did not survive: {status} {body}"
    token = body["token"]
    status, page = call(base, "GET", f"/api/rooms/{saved['room']}/messages", token=token)
    assert status == 200, (status, page)
    assert [(m["id"], m["body"]) for m in page["messages"]] == [(saved["id"], "in the volume")], page
    ws = WS(base, token)
    ws.send({"type": "hello", "since": 0, "epoch": saved["epoch"]})
    ready = ws.wait_for("ready", "reset")
    assert ready["type"] == "ready" and ready["epoch"] == saved["epoch"], ready
    print("ship_probe: account, room, message and epoch survived the restart", file=sys.stderr)


def hold(base: str) -> None:
    status, body = call(base, "POST", "/api/auth/login", {"username": "shipper", "password": PASSWORD})
    assert status == 200, (status, body)
    ws = WS(base, body["token"])
    ws.sock.settimeout(120)
    ws.send({"type": "hello"})
    ws.wait_for("ready")
    print("holding", flush=True)
    try:
        for _ in ws.frames():
            pass
    except Closed as e:
        print(f"ship_probe: the server closed the socket with {e.code}", flush=True)
        sys.exit(0 if e.code == 1001 else 1)


if __name__ == "__main__":
    {"write": write, "check": check, "hold": hold}[sys.argv[2]](sys.argv[1].rstrip("/"))
