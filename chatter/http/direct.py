"""Writing WebSocket frames straight to the TCP socket, without a task switch.

hypercorn's send path costs, per frame, four awaited layers (``WSStream``,
wsproto, ``H11Protocol``, ``TCPServer.protocol_send`` with its lock and
shielded cancel scope) and a task switch into the socket's writer.  With a
thousand members that is most of the time a fan-out takes (BENCHMARKS.md).
``DirectSend`` lets the fan-out write the frame itself, synchronously, when
that is safe:

- the socket is open (hypercorn's stream is ``CONNECTED``, wsproto ``OPEN``);
- nothing is sending: the connection's send lock is free and no bytes of an
  earlier direct write are still waiting.

The lock is replaced by a ``SendGate``: the same lock, plus the bytes a
direct write could not hand to the kernel at once (``EAGAIN`` or a partial
write).  Whoever takes the gate next, hypercorn or the socket's writer
task, sends those bytes first, so bytes never interleave.  The writer task
is woken to do it at once (``Socket.flush``).

The chain from Quart's ASGI ``send`` down to the socket is hypercorn 0.18's
(pinned): ``WSStream.app_send`` -> ``WSStream.send`` (``H11Protocol.stream_send``)
-> ``H11Protocol.send`` (``TCPServer.protocol_send``) -> ``TCPServer.stream``.
``DirectSend.attach`` returns None if that shape is not there, and the
socket then uses the ordinary path only.  tests/http/test_direct.py checks
the frames against wsproto's and the shape against the pinned hypercorn.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from types import TracebackType
from typing import Any

import trio
from hypercorn.events import Closed
from hypercorn.protocol.ws_stream import ASGIWebsocketState
from wsproto.connection import ConnectionState

_TEXT = 0x81  # FIN + opcode 1 (text); server frames are not masked (RFC 6455 section 5.1)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented WebSocket text frame."""
    n = len(payload)
    if n < 126:
        header = bytes((_TEXT, n))
    elif n < 1 << 16:
        header = bytes((_TEXT, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((_TEXT, 127)) + n.to_bytes(8, "big")
    return header + payload


class SendGate:
    """hypercorn's per-connection send lock, plus bytes a direct write left for the next sender."""

    def __init__(self, stream: trio.SocketStream, tcp: Any) -> None:
        self._lock = trio.Lock()
        self._stream = stream
        self._tcp = tcp
        self.pending = bytearray()
        self.failed = False  # sending the pending bytes found the connection broken

    def busy(self) -> bool:
        return self._lock.locked() or bool(self.pending)

    def locked(self) -> bool:
        """As ``trio.Lock.locked``: a send is in flight (``transport._close`` then skips the EOF)."""
        return self._lock.locked()

    async def __aenter__(self) -> None:
        await self._lock.acquire()
        if self.pending:
            data, self.pending = bytes(self.pending), bytearray()
            try:
                with trio.CancelScope(shield=True):  # as hypercorn's own sends: a half-sent frame breaks the stream
                    await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.failed = True  # the holder's own send fails the same way and hypercorn sees it
            except BaseException:
                self._lock.release()
                raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._lock.release()

    async def flush(self) -> None:
        """Send the waiting bytes (the writer task's part); a broken socket closes as hypercorn's would."""
        async with self:
            pass
        if self.failed:
            await self._tcp.protocol.handle(Closed())


class DirectSend:
    """A socket's direct path; see the module docstring.  Implements ``actors.socket.DirectWriter``."""

    def __init__(self, ws: Any, sock: socket.socket, gate: SendGate) -> None:
        self._ws = ws
        self._sock = sock
        self.gate = gate

    @classmethod
    def attach(cls, asgi_send: Callable[..., Any] | None) -> DirectSend | None:
        """Install the gate under this connection and return its direct path, or None."""
        try:
            ws = asgi_send.__self__  # type: ignore[union-attr]
            tcp = ws.send.__self__.send.__self__
            stream = tcp.stream
            sock = stream.socket._sock  # the stdlib socket trio wraps (non-blocking)
            if not (isinstance(stream, trio.SocketStream) and isinstance(sock, socket.socket)
                    and isinstance(tcp.send_lock, trio.Lock) and hasattr(ws.connection, "state")):
                return None
        except AttributeError:
            return None
        gate = SendGate(stream, tcp)
        tcp.send_lock = gate
        return cls(ws, sock, gate)

    def ready(self) -> bool:
        ws = self._ws
        return (not self.gate.busy() and not ws.closed and ws.state == ASGIWebsocketState.CONNECTED
                and ws.connection.state == ConnectionState.OPEN)

    def closed_below(self) -> bool:
        """hypercorn sent a close frame on its own and did not tell the app (its 1009 for a message
        over ``websocket_max_message_size``): its stream is still ``CONNECTED`` while wsproto is closing."""
        ws = self._ws
        return (not ws.closed and ws.state == ASGIWebsocketState.CONNECTED
                and ws.connection.state == ConnectionState.LOCAL_CLOSING)

    def write(self, text: str) -> bool:
        """Write one text frame; False if part of it waits in the gate for the writer task."""
        data = text_frame(text.encode())
        try:
            sent = self._sock.send(data, socket.MSG_NOSIGNAL)
        except BlockingIOError:
            sent = 0
        except OSError:
            sent = 0  # broken or closed: the writer's send through the gate reports it to hypercorn
        if sent == len(data):
            return True
        self.gate.pending += data[sent:]
        return False

    @property
    def pending(self) -> bool:
        return bool(self.gate.pending)
