"""A raw WebSocket client over trio sockets, for reliability and conformance tests.

Every byte is ours: the handshake is written by hand and frames are built
by ``frame()`` (masking, RSV bits, opcodes and fragmentation all chosen by
the caller), so hostile and non-conforming clients are easy to script.
Server frames are parsed here too.  Nothing in this module sleeps: every
wait is on the socket, and callers bound it with ``trio.fail_after``.

A ``RawWS`` may be read by one task and written by another: every write
(data, the answers to pings and close frames, the closing frame) takes one
lock, because trio refuses a second ``send_all`` on a stream while one is
under way (``BusyResourceError``).  RFC 6455 5.5.1 allows the close answer to
wait until the message being sent is out.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import trio

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def bounded(n: int = 1_000_000) -> Iterator[int]:
    """``for _ in bounded():`` instead of ``while True:``: every loop ends in count too."""
    yield from range(n)
    raise AssertionError(f"loop ran more than {n} times")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length_override: int | None = None,
) -> bytes:
    """One WebSocket frame; ``rsv`` is the 3-bit RSV1..3 field."""
    head = bytearray([(0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)])
    n = len(payload) if length_override is None else length_override
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 1 << 16:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if len(payload) < 4096 else _mask_fast(payload, key)
    return bytes(head) + key + masked


def _mask_fast(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


class Closed(Exception):
    """The server sent a close frame (``code``) or dropped the connection (``code`` None)."""

    def __init__(self, code: int | None, reason: str = "", how: str = "close") -> None:
        super().__init__(f"closed: {how} code={code} reason={reason!r}")
        self.code = code
        self.reason = reason
        self.how = how


@dataclass
class Handshake:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class RawWS:
    stream: trio.SocketStream
    buf: bytearray = field(default_factory=bytearray)
    closed: Closed | None = None
    frames_in: int = 0
    _fragments: list[bytes] = field(default_factory=list)
    _frag_op: int = 0
    _send_lock: trio.Lock = field(default_factory=trio.Lock)

    async def send_raw(self, data: bytes) -> None:
        """Write ``data`` whole; the only way anything reaches the stream (see the module docstring)."""
        async with self._send_lock:
            await self.stream.send_all(data)

    async def send_text(self, text: str) -> None:
        await self.send_raw(frame(TEXT, text.encode("utf-8", "surrogatepass")))

    async def send_json(self, obj: Any) -> None:
        await self.send_text(json.dumps(obj))

    async def _fill(self) -> bool:
        try:
            data = await self.stream.receive_some(65536)
        except (trio.BrokenResourceError, OSError):
            data = b""
        if not data:
            return False
        self.buf += data
        return True

    async def recv_frame(self) -> tuple[bool, int, int, bytes]:
        """(fin, rsv, opcode, payload) of the next server frame; Closed(None) on EOF/reset."""
        for _ in bounded():
            b = self.buf
            if len(b) >= 2:
                n = b[1] & 0x7F
                pos = 2
                if n == 126:
                    if len(b) >= 4:
                        n = struct.unpack("!H", b[2:4])[0]
                        pos = 4
                    else:
                        n = -1
                elif n == 127:
                    if len(b) >= 10:
                        n = struct.unpack("!Q", b[2:10])[0]
                        pos = 10
                    else:
                        n = -1
                if b[1] & 0x80:
                    raise AssertionError("server sent a masked frame")
                if n >= 0 and len(b) >= pos + n:
                    fin, rsv, op = bool(b[0] & 0x80), (b[0] >> 4) & 7, b[0] & 0xF
                    payload = bytes(b[pos : pos + n])
                    del b[: pos + n]
                    self.frames_in += 1
                    return fin, rsv, op, payload
            if not await self._fill():
                self.closed = Closed(None, how="eof")
                raise self.closed

    async def recv_message(self, *, answer_pings: bool = True) -> tuple[int, bytes]:
        """The next complete data message (opcode, payload).

        A close frame is answered, then raised as Closed(code).
        """
        if self.closed is not None:
            raise self.closed
        for _ in bounded():
            fin, rsv, op, payload = await self.recv_frame()
            if op == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                try:
                    await self.send_raw(frame(CLOSE, payload[:2]))
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass
                self.closed = Closed(code, reason)
                raise self.closed
            if op == PING:
                if answer_pings:
                    await self.send_raw(frame(PONG, payload))
                continue
            if op == PONG:
                return op, payload
            if op == CONT:
                self._fragments.append(payload)
                if fin:
                    data = b"".join(self._fragments)
                    self._fragments = []
                    return self._frag_op, data
                continue
            if not fin:
                self._frag_op = op
                self._fragments = [payload]
                continue
            return op, payload

    async def recv_objects(self) -> list[dict[str, Any]]:
        """The JSON objects of the next text message (a frame may hold one object or an array)."""
        for _ in bounded():
            op, payload = await self.recv_message()
            if op == PONG:
                continue
            assert op == TEXT, f"server sent opcode {op}"
            data = json.loads(payload.decode("utf-8"))
            return data if isinstance(data, list) else [data]

    async def recv_until(self, pred: Any) -> dict[str, Any]:
        """Read objects until one satisfies ``pred``; return it (others are dropped)."""
        for _ in bounded():
            for obj in await self.recv_objects():
                if pred(obj):
                    return obj

    async def expect_close(self) -> Closed:
        """Read (discarding data) until the server closes or drops the connection."""
        try:
            for _ in bounded():
                await self.recv_message()
        except Closed as c:
            return c

    async def aclose(self) -> None:
        try:
            with trio.move_on_after(1):  # also bounds the wait for a send under way
                await self.send_raw(frame(CLOSE, close_payload(1000)))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        await self.stream.aclose()


def hostport(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", "tests talk to the loopback address only"
    return parts.hostname, parts.port or 80


async def open_tcp(url: str, *, rcvbuf: int | None = None) -> trio.SocketStream:
    host, port = hostport(url)
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connect, so the window stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    await sock.connect((host, port))
    return trio.SocketStream(sock)


def handshake_request(
    url: str, headers: dict[str, str] | None = None, *, path: str = "/ws", key: str | None = None
) -> bytes:
    host, port = hostport(url)
    h = {
        "Host": f"{host}:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key or base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    h.update(headers or {})
    lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in h.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_response(stream: trio.SocketStream, buf: bytearray) -> Handshake:
    while b"\r\n\r\n" not in buf:
        data = await stream.receive_some(65536)
        if not data:
            raise Closed(None, how="eof during handshake")
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    del buf[: len(head) + 4]
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if status != 101:
        n = int(headers.get("content-length", "0") or 0)
        while len(buf) < n:
            data = await stream.receive_some(65536)
            if not data:
                break
            buf += data
        body = bytes(buf[:n])
        del buf[:n]
    return Handshake(status, headers, body)


async def connect(
    url: str,
    token: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    rcvbuf: int | None = None,
) -> tuple[Handshake, RawWS]:
    """Open ``/ws``; returns the handshake answer and the socket (usable only on 101)."""
    h = dict(headers or {})
    if token is not None:
        h.setdefault("Authorization", f"Bearer {token}")
    stream = await open_tcp(url, rcvbuf=rcvbuf)
    await stream.send_all(handshake_request(url, h))
    buf = bytearray()
    hs = await read_response(stream, buf)
    return hs, RawWS(stream, buf)


async def open_ws(url: str, token: str, **kw: Any) -> RawWS:
    hs, ws = await connect(url, token, **kw)
    assert hs.status == 101, (hs.status, hs.body[:300])
    return ws


async def hello(ws: RawWS, since: int | None = None, epoch: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "hello"}
    if since is not None:
        msg["since"] = since
    if epoch is not None:
        msg["epoch"] = epoch
    await ws.send_json(msg)
    return await ws.recv_until(lambda o: o.get("type") == "ready")


async def roundtrip_ok(ws: RawWS) -> bool:
    """ping -> pong on an established socket (the server is still serving)."""
    await ws.send_json({"type": "ping"})
    await ws.recv_until(lambda o: o.get("type") == "pong")
    return True
