"""The one module that reaches under hypercorn 0.18, wsproto 1.3.2 and Quart 0.22 (all pinned).

ASGI hides the TCP connection, and Chatter needs it: to write frames
without a task switch, to shut a stuck connection down, and to fix a few of
hypercorn's connection-level behaviours that are wrong for a server that
must never hold a connection it is done with.  Every private reach into
those libraries is here; nothing else in ``chatter/`` touches one
(tests/test_layering.py walks the package and fails if it does).

What the rest of the code sees:

- ``start(direct_writes, metrics)``, called once by ``open_chatter`` before
  any connection is served: runs the probe, applies the connection fixes,
  sets ``chatter_transport_path``, and returns the ``Seam``, whose
  ``announce()`` (called by the ASGI lifespan's start-up, just before
  hypercorn serves) logs one INFO line with the live path ("socket writes:
  direct" or "socket writes: writer task (fallback): <why>").
- ``Seam.transport(websocket)``: the ``Transport`` of one socket (the
  protocol below), which the socket endpoint uses for everything below
  Quart's public API.

The probe (``probe()``) checks the versions and every attribute and class
reached here.  If anything is missing, the server still runs: a socket then
sends every frame from its writer task through Quart's public API, and what
cannot be done without the missing piece is logged once as a WARNING.
``realtime.direct_writes = false`` forces the writer-task path with the
rest of the seam in place (CI runs the socket suites both ways).

The reaches, each with the defect or cost it answers and the tests that show it:

1. Direct writes (``SendGate``, ``HypercornTransport.write``).  hypercorn's
   send path costs, per frame, four awaited layers (``WSStream``, wsproto,
   ``H11Protocol``, ``TCPServer.protocol_send`` with its lock and shielded
   cancel scope) and a task switch into the socket's writer; with a thousand
   members that is most of a fan-out (BENCHMARKS.md).  So the fan-out writes
   the frame itself, synchronously, to the stdlib socket under trio's, when
   that is safe: the socket is open (hypercorn's stream ``CONNECTED``,
   wsproto ``OPEN``) and nothing is sending (the connection's send lock is
   free and no bytes of an earlier direct write wait).  hypercorn's
   ``send_lock`` is replaced by a ``SendGate``: the same lock, plus the bytes
   a direct write could not hand to the kernel at once (``EAGAIN`` or a
   partial write); whoever takes the gate next, hypercorn or the writer task,
   sends those first, so bytes never interleave.  The chain from Quart's
   ASGI ``send`` down to the socket is ``WSStream.app_send`` ->
   ``WSStream.send`` (``H11Protocol.stream_send``) -> ``H11Protocol.send``
   (``TCPServer.protocol_send``) -> ``TCPServer.stream``.  Only HTTP/1.1
   over plain TCP: a WebSocket over HTTP/2 (RFC 8441, which hypercorn
   offers) shares its connection with other streams and its frames go inside
   HTTP/2 DATA frames, and a TLS stream has no plain socket to write to.
   tests/http/test_direct.py, tests/actors/test_flush.py,
   tests/e2e/test_ws_over_h2.py.

2. Refusing permessage-deflate, per connection (``HypercornTransport.accept``).
   hypercorn always accepts the extension and checks the size limit only
   after decompression, so a small compressed frame can grow to many times
   the limit in memory.  Before the app accepts, the connection's
   ``Handshake`` forgets the client's offer, so the 101 carries no extension
   and an RSV1 frame is a protocol error (1002).  No process-wide patch.
   tests/e2e/test_ws_e2e.py (``test_permessage_deflate_offer_is_declined``).

3. Quart's ASGI send (``_quart_asgi_send``).  ``websocket.send`` costs, per
   frame, an accept check and a blinker signal nothing listens to; the
   writer sends the ASGI message itself.  Quart keeps the callable as the
   first argument of a ``partial`` on the websocket's ``_send``.

4. Hypercorn's own 1009 (``HypercornTransport.closed_below``).  A message
   over ``websocket_max_message_size`` is answered by hypercorn with a close
   frame the app is never told about; its stream stays ``CONNECTED`` while
   wsproto is ``LOCAL_CLOSING``.  The sweeper reads that here.
   tests/reliability/test_rel_release.py.

5. Forcing a stuck connection closed (``HypercornTransport.release``).
   hypercorn's send to a client is shielded from cancellation, so if the
   client stopped reading nothing in the app can end that send, and
   shutdown would wait for TCP_USER_TIMEOUT.  ``release`` shuts the
   connection's own socket down (``shutdown(SHUT_RDWR)`` on the object
   hypercorn reads and writes), which makes the pending send fail at once.
   tests/reliability/test_rel_graceful.py, test_rel_release.py.

The connection fixes, process-wide patches of hypercorn's classes (there is
no per-connection hook for them), applied once by ``install_fixes()`` from
``start()``, each only if the probe found its target:

6. A finished app's channel (``TaskGroup.spawn_app``).  hypercorn hands each
   connection's events to the app through a memory channel of
   ``max_app_queue_size`` (10) slots, and puts into it with an awaiting
   ``send``.  Nothing reads that channel once the app has returned, so a put
   after that blocked forever: a socket closed with 1008 while the client's
   next 100 frames were arriving left hypercorn's reader and the app task's
   own final close waiting on a full channel; the TCP connection was never
   closed (CLOSE-WAIT).  Here the channel's receive end is closed when the
   app returns, and a put to a closed channel is dropped.  (While the app
   runs it must keep reading: ``ws.py`` does so while closing.)
   tests/reliability/test_rel_release.py.

7. Closing without racing a sender (``TCPServer._close``).  hypercorn closes
   with ``send_eof()`` outside its send lock, and trio's ``send_eof`` holds
   the stream's send-conflict detector across a checkpoint.  When the reader
   task closes while the app's task is sending (or the reverse), the other
   sender gets ``trio.BusyResourceError``: in the app it was logged as "Error
   in ASGI Framework"; in the reader, whose task catches only ``OSError``, it
   ended ``trio.serve_listeners`` and with it the whole server.  Here the EOF
   is sent only under a free send lock, and the socket is closed even if the
   closing task is cancelled.  And the keep-alive timer after the peer has
   gone (``TCPServer._read_data``): when the client closes an idle
   keep-alive connection, hypercorn's idle timer kept the socket
   (CLOSE-WAIT) until ``keep_alive_timeout``.  The timer is stopped when the
   reader ends, and one the app's task starts after that returns at once.
   tests/reliability/test_rel_release.py.

8. Connections per client address (``TCPServer.run``):
   ``server.max_connections_per_ip`` (``http/conn_limits.py`` counts); past
   it a connection is answered ``429 RATE_LIMITED`` before its request is
   read, and closed.  The same wrapper keeps one connection's unexpected
   exception from ending the server (logged instead).
   tests/reliability/test_rel_limits.py.

9. Failing a WebSocket with a close frame (wsproto's ``Connection``, as
   ``ws_stream`` builds it).  On a frame it cannot parse, wsproto yields a
   ``CloseConnection`` with the right code (1002, or 1007 for invalid UTF-8)
   but leaves the state ``OPEN``, so hypercorn never answers it and drops the
   TCP connection.  Marking the state ``REMOTE_CLOSING`` first makes
   hypercorn send that close frame (RFC 6455 7.1.7).
   tests/reliability/test_rel_ws_conformance.py.

tests/http/test_hypercorn_seam.py pins the versions and checks the probe.
"""

from __future__ import annotations

import logging
import socket
import weakref
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Protocol

import trio
from hypercorn.events import Closed
from hypercorn.protocol import ws_stream
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.trio import task_group, tcp_server
from wsproto.connection import Connection, ConnectionState
from wsproto.events import CloseConnection, Event

from chatter.http.conn_limits import REFUSE_LINGER, REFUSED_RESPONSE, ConnectionCap
from chatter.metrics import Metrics

# What the rest of chatter/ may import (tests/test_one_seam.py); everything else is the seam's own.
__all__ = ["Seam", "Transport", "cap_connections", "start"]

log = logging.getLogger(__name__)

WRITTEN_FOR = {"hypercorn": "0.18.0", "wsproto": "1.3.2", "quart": "0.22.0", "quart-trio": "0.12.0"}

AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]


# -- what the rest of the code uses ------------------------------------------------------


class Transport(Protocol):
    """One accepted socket below Quart's public API.  Its ``ready``/``write`` make it the
    ``actors.socket.DirectWriter`` of its socket when ``direct`` is True."""

    direct: bool  # frames may be written straight from the fan-out (``ready``, ``write``)

    async def accept(self) -> None:
        """Accept the WebSocket (refusing permessage-deflate)."""

    def ready(self) -> bool:
        """True when a frame written now would go out in order (no send in progress, socket open)."""

    def write(self, text: str) -> bool:
        """Write one text frame now; False if some of it waits for the writer task (``flush``)."""

    @property
    def pending(self) -> bool:
        """Bytes of a direct write wait for the writer task."""

    async def flush(self) -> None:
        """The writer task's part of a direct write: send what waits."""

    async def send(self, text: str) -> None:
        """Send one text frame from the writer task."""

    async def close(self, code: int, reason: str) -> None:
        """Send the close frame."""

    def closed_below(self) -> bool:
        """The server closed the socket on its own and did not tell the app (hypercorn's 1009)."""

    def release(self) -> bool:
        """Shut the TCP connection down underneath the server (sync); False if it cannot be done."""


# -- the probe ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    """What the start-up probe found: for each group of reaches, None if it is there, else why not."""

    versions: str | None
    connection: str | None  # WSStream -> H11Protocol -> TCPServer -> trio.SocketStream (2, 4, 5, 1's gate)
    socket_writes: str | None  # the stdlib socket under trio's (1)
    quart_send: str | None  # Quart's ASGI send (3)
    fixes: str | None  # the patch targets of 6-9

    @property
    def direct(self) -> str | None:
        """Why direct writes are off on this library shape, or None."""
        return self.versions or self.connection or self.socket_writes


def _assigns(owner: Any, method: str, *names: str) -> str | None:
    """Why ``owner.method``'s code does not mention all of ``names``, or None (how attributes set in
    ``__init__`` are found without building the object)."""
    label = f"{getattr(owner, '__name__', owner)}.{method}"
    code = getattr(getattr(owner, method, None), "__code__", None)
    if code is None:
        return f"{label} is not a Python function"
    for name in names:
        if name not in code.co_names:
            return f"{label} no longer uses {name}"
    return None


def _installed(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "none"


def probe() -> Probe:
    """Check the versions and every class and attribute this module reaches."""
    found = {dist: _installed(dist) for dist in WRITTEN_FOR}
    versions = ", ".join(f"{d} {v} (the seam was read against {WRITTEN_FOR[d]})"
                         for d, v in found.items() if v != WRITTEN_FOR[d]) or None
    connection = (
        ("" if callable(getattr(ws_stream.WSStream, "app_send", None)) else "WSStream.app_send is gone")
        or _assigns(ws_stream.WSStream, "__init__", "send", "state", "closed")
        or _assigns(ws_stream.WSStream, "handle", "handshake", "connection")
        or _assigns(ws_stream.Handshake, "__init__", "extensions")
        or _assigns(ws_stream.Handshake, "accept", "extensions")
        or ("" if hasattr(ws_stream, "ASGIWebsocketState") and hasattr(ws_stream.ASGIWebsocketState, "CONNECTED")
            else "ASGIWebsocketState.CONNECTED is gone")
        or ("" if callable(getattr(H11Protocol, "stream_send", None)) else "H11Protocol.stream_send is gone")
        or _assigns(H11Protocol, "__init__", "send")
        or _assigns(tcp_server.TCPServer, "__init__", "send_lock", "stream")
        or _assigns(tcp_server.TCPServer, "protocol_send", "send_lock", "stream", "protocol")
        or ("" if isinstance(getattr(Connection, "state", None), property) else "wsproto Connection.state is gone")
        or None)
    plain = socket.socket()
    try:
        raw = getattr(trio.socket.from_stdlib_socket(plain), "_sock", None)
        socket_writes = None if raw is plain else "trio's socket no longer wraps a stdlib socket as _sock"
    finally:
        plain.close()
    quart_send = _quart_send_shape()
    tcp = tcp_server.TCPServer
    fixes = (
        ("" if all(callable(getattr(tcp, n, None)) for n in ("_close", "run", "_read_data", "_idle_timeout"))
         else "TCPServer._close/run/_read_data/_idle_timeout are not all there")
        or ("" if callable(getattr(task_group.TaskGroup, "spawn_app", None))
            and callable(getattr(task_group, "_handle", None)) else "TaskGroup.spawn_app or task_group._handle is gone")
        or ("" if getattr(ws_stream, "Connection", None) in (Connection, FailWithCloseFrame)
            else "ws_stream no longer builds wsproto's Connection")
        or _assigns(Connection, "__init__", "_state")
        or None)
    return Probe(versions=versions, connection=connection, socket_writes=socket_writes,
                 quart_send=quart_send, fixes=fixes)


def _quart_send_shape() -> str | None:
    from quart_trio import asgi  # quart-trio builds the websocket object, not quart

    if not hasattr(asgi, "TrioASGIWebsocketConnection"):
        return "quart_trio.asgi.TrioASGIWebsocketConnection is gone"
    return _assigns(asgi.TrioASGIWebsocketConnection, "_create_websocket_from_scope", "partial", "send_data")


# -- start-up -----------------------------------------------------------------------------


class Seam:
    """The probe's verdict for this process, and the factory of each socket's ``Transport``.

    Invariant: ``path`` is "direct" only if the probe found everything
    direct writes need and ``realtime.direct_writes`` is on.
    """

    def __init__(self, found: Probe, direct_writes: bool) -> None:
        self.probe = found
        why = found.direct if direct_writes else "realtime.direct_writes is off"
        self.path = "direct" if why is None else "writer_task"
        self.why = why

    def describe(self) -> str:
        return "socket writes: direct" if self.why is None else f"socket writes: writer task (fallback): {self.why}"

    def announce(self) -> None:
        """Log what the probe found: a WARNING for each missing piece, then one INFO line with the live path."""
        found = self.probe
        if found.versions is not None:
            log.warning("library versions differ from the pinned ones: %s", found.versions)
        if found.connection is not None:
            log.warning("hypercorn's connection objects cannot be reached (%s): permessage-deflate is not refused, "
                        "hypercorn's own 1009 is not noticed, and stuck connections are not forced closed at "
                        "shutdown (TCP_USER_TIMEOUT remains the bound)", found.connection)
        if found.fixes is not None:
            log.warning("hypercorn's connection handling is not patched (%s): server.max_connections_per_ip is "
                        "not enforced and finished connections may linger", found.fixes)
        log.info("%s", self.describe())

    def transport(self, websocket: Any) -> Transport:
        """The transport of the socket Quart's ``websocket`` (the current one) stands for."""
        ws_obj = websocket._get_current_object()  # werkzeug's LocalProxy: the socket's own object
        asgi_send = _quart_asgi_send(ws_obj) if self.probe.quart_send is None else None
        if self.probe.connection is None and asgi_send is not None:
            under = _hypercorn_connection(asgi_send)
            if under is not None:
                return HypercornTransport(ws_obj, asgi_send, under, direct=self.path == "direct")
        return PlainTransport(ws_obj, asgi_send)  # Quart's test client, or a shape the probe refused


def start(direct_writes: bool, metrics: Metrics) -> Seam:
    """Probe, apply the connection fixes once, and set ``chatter_transport_path``.

    Logs nothing: ``Seam.announce`` does, once the server is about to serve
    (a start that fails later, on its address say, stays one line).
    """
    found = probe()
    if found.fixes is None:
        install_fixes()
    seam = Seam(found, direct_writes)
    metrics.transport_path.set(seam.path)
    return seam


# -- Quart's ASGI send (3) -------------------------------------------------------------------


def _quart_asgi_send(ws_obj: Any) -> AsgiSend | None:
    inner = getattr(ws_obj, "_send", None)  # functools.partial(ASGIWebsocketConnection.send_data, send)
    args = getattr(inner, "args", ())
    return args[0] if args and callable(args[0]) else None


# -- the transports --------------------------------------------------------------------------


class PlainTransport:
    """A socket through ASGI only: Quart's public API, or the ASGI send under it (3) when that is
    there; no direct writes, nothing below."""

    direct = False
    pending = False

    def __init__(self, ws_obj: Any, asgi_send: AsgiSend | None) -> None:
        self._ws = ws_obj
        self._asgi_send = asgi_send

    async def accept(self) -> None:
        await self._ws.accept()

    def ready(self) -> bool:
        return False

    def write(self, text: str) -> bool:
        return False

    async def flush(self) -> None:
        return None

    async def send(self, text: str) -> None:
        if self._asgi_send is not None:
            await self._asgi_send({"type": "websocket.send", "bytes": None, "text": text})
        else:
            await self._ws.send(text)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)

    def closed_below(self) -> bool:
        return False

    def release(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Under:
    """What lies under one socket's ASGI send (the probe checked the classes; this holds the objects)."""

    ws: Any  # hypercorn's WSStream: the handshake, wsproto's state (2, 4)
    tcp: Any | None  # its TCPServer, when the socket is HTTP/1.1 over plain TCP: direct writes (1)
    plain: trio.SocketStream | None  # that TCPServer's stream, then
    own: trio.SocketStream | None  # the TCP stream the socket alone uses (also under TLS): release (5)


def _hypercorn_connection(asgi_send: AsgiSend) -> Under | None:
    """What is under this ASGI send, or None if it is not hypercorn's WebSocket stream."""
    ws = getattr(asgi_send, "__self__", None)
    if not isinstance(ws, ws_stream.WSStream):
        return None
    h11 = getattr(ws.send, "__self__", None)
    if not isinstance(h11, H11Protocol):
        # HTTP/2: the socket's frames go inside DATA frames of a connection other streams share,
        # so nothing may be written to it, nor may it be shut down for this one socket.
        return Under(ws, None, None, None)
    tcp = getattr(h11.send, "__self__", None)
    if not isinstance(tcp, tcp_server.TCPServer):
        return Under(ws, None, None, None)
    stream = tcp.stream
    if isinstance(stream, trio.SocketStream):
        return Under(ws, tcp, stream, stream)
    inner = getattr(stream, "transport_stream", None)  # TLS: no plain socket to write frames to
    return Under(ws, None, None, inner if isinstance(inner, trio.SocketStream) else None)


class HypercornTransport:
    """A socket under hypercorn; see 1, 2, 4 and 5 in the module docstring.  Direct writes only on
    HTTP/1.1 over plain TCP (and when asked for); release only on a connection of its own.

    Invariant (``direct``): ``gate`` is the connection's send lock from the
    moment the transport is built, so every byte hypercorn sends goes after
    the bytes a direct write left behind.
    """

    def __init__(self, ws_obj: Any, asgi_send: AsgiSend, under: Under, *, direct: bool) -> None:
        self._quart = ws_obj
        self._asgi_send = asgi_send
        self._ws = under.ws
        self._own = under.own
        self.direct = direct and under.tcp is not None and under.plain is not None
        self.gate: SendGate | None = None
        self._sock: socket.socket | None = None
        tcp, plain = under.tcp, under.plain
        if self.direct and tcp is not None and plain is not None:
            self._sock = plain.socket._sock  # type: ignore[attr-defined]  # the stdlib socket trio wraps
            self.gate = tcp.send_lock = SendGate(tcp.send_lock, plain, tcp)

    async def accept(self) -> None:
        handshake = getattr(self._ws, "handshake", None)
        if handshake is not None:
            handshake.extensions = None  # as if the client offered none: the 101 names no extension
        await self._quart.accept()

    def ready(self) -> bool:
        ws = self._ws
        gate = self.gate
        return (gate is not None and not gate.busy() and not ws.closed
                and ws.state == ws_stream.ASGIWebsocketState.CONNECTED
                and ws.connection.state == ConnectionState.OPEN)

    def closed_below(self) -> bool:
        ws = self._ws
        return (not ws.closed and ws.state == ws_stream.ASGIWebsocketState.CONNECTED
                and getattr(getattr(ws, "connection", None), "state", None) == ConnectionState.LOCAL_CLOSING)

    def write(self, text: str) -> bool:
        """Write one text frame; False if part of it waits in the gate for the writer task."""
        assert self._sock is not None and self.gate is not None, "write is for direct transports"
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
        return self.gate is not None and bool(self.gate.pending)

    async def flush(self) -> None:
        if self.gate is not None and self.gate.pending:
            await self.gate.flush()

    async def send(self, text: str) -> None:
        await self._asgi_send({"type": "websocket.send", "bytes": None, "text": text})

    async def close(self, code: int, reason: str) -> None:
        await self._quart.close(code, reason)

    def release(self) -> bool:
        if self._own is None:
            return False  # HTTP/2: other streams share the connection
        try:
            self._own.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            return False  # closed already, or never connected
        return True


# -- direct writes (1) ------------------------------------------------------------------------

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

    def __init__(self, lock: trio.Lock, stream: trio.SocketStream, tcp: Any) -> None:
        self._lock = lock
        self._stream = stream
        self._tcp = tcp
        self.pending = bytearray()
        self.failed = False  # sending the pending bytes found the connection broken

    def busy(self) -> bool:
        return self._lock.locked() or bool(self.pending)

    def locked(self) -> bool:
        """As ``trio.Lock.locked``: a send is in flight (``_close`` then skips the EOF)."""
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


# -- 6. a finished app's channel ---------------------------------------------------------------


async def _spawn_app(self: Any, app: Any, config: Any, scope: Any, send: Any) -> Any:
    """``TaskGroup.spawn_app``: the app's channel closes when the app returns; later puts are dropped."""
    to_app, app_inbox = trio.open_memory_channel[Any](config.max_app_queue_size)

    async def app_then_close(*args: Any) -> None:
        try:
            await app(*args)
        finally:
            app_inbox.close()  # wakes a blocked put with BrokenResourceError and drops what is queued

    self._nursery.start_soon(task_group._handle, app_then_close, config, scope, app_inbox.receive, send,
                             trio.to_thread.run_sync, trio.from_thread.run)

    async def put(message: Any) -> None:
        try:
            await to_app.send(message)
        except trio.BrokenResourceError:
            pass  # the app has returned: a late frame, or the disconnect, has no one to go to

    return put


# -- 7. closing without racing a sender ------------------------------------------------------

_GONE = (trio.BrokenResourceError, trio.BusyResourceError, trio.ClosedResourceError, AttributeError)


async def _close(self: Any) -> None:
    """``TCPServer._close``: EOF only while no send is in flight, then close the socket in any case."""
    try:
        lock = self.send_lock  # a trio.Lock, or a SendGate on a socket (it flushes what waits first)
        if not lock.locked():
            try:
                async with lock:
                    await self.stream.send_eof()
            except _GONE:
                pass  # gone already (AttributeError: a TLS stream has no half-close)
    finally:
        await self.stream.aclose()  # closes synchronously before its checkpoint, even when cancelled


# getattr: a hypercorn without them must not fail this import (the probe then leaves 6-9 out).
_original_read_data: Any = getattr(tcp_server.TCPServer, "_read_data", None)
_original_idle_timeout: Any = getattr(tcp_server.TCPServer, "_idle_timeout", None)


async def _read_data(self: Any) -> None:
    """``TCPServer._read_data``, then stop the idle timer: with the peer gone there is nothing to time out."""
    await _original_read_data(self)
    self.chatter_reader_done = True  # a timer the app's task starts later must not run either
    await self.idle_task.stop()


async def _idle_timeout(self: Any) -> None:
    """``TCPServer._idle_timeout``, unless the reader has ended (the peer is gone)."""
    if not getattr(self, "chatter_reader_done", False):
        await _original_idle_timeout(self)


# -- 8. connections per client address ----------------------------------------------------------

_caps: weakref.WeakKeyDictionary[Any, ConnectionCap] = weakref.WeakKeyDictionary()


def cap_connections(hypercorn_config: Any, limit: int) -> ConnectionCap:
    """Count (and cap, unless ``limit`` is 0) the connections served with this hypercorn config."""
    cap = _caps[hypercorn_config] = ConnectionCap(limit)
    return cap


def _peer_host(stream: Any) -> str | None:
    try:
        addr = stream.socket.getpeername()
    except (AttributeError, OSError):
        return None
    if not isinstance(addr, tuple) or len(addr) < 2:
        return None  # not an IP socket address
    return str(addr[0]).removeprefix("::ffff:")


async def _refuse(stream: Any) -> None:
    """Answer 429 before the request is read, then close without resetting the connection.

    Closing with the request still unread would send a reset, which can
    destroy the answer before the client reads it: so half-close and read
    until the client goes, for at most ``REFUSE_LINGER``.
    """
    try:
        with trio.move_on_after(REFUSE_LINGER):
            await stream.send_all(REFUSED_RESPONSE)
            await stream.send_eof()
            while await stream.receive_some(65536):
                pass
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        await stream.aclose()


_original_run: Any = getattr(tcp_server.TCPServer, "run", None)


async def _run(self: Any) -> None:
    """``TCPServer.run`` with the per-address cap, and no way for one connection to stop the server."""
    cap = _caps.get(self.config)
    host = _peer_host(self.stream) if cap is not None else None
    if cap is not None and host is not None and not cap.enter(host):
        await _refuse(self.stream)
        return
    try:
        await _original_run(self)
    except Exception:  # hypercorn catches only OSError here; anything else would end serve_listeners
        log.exception("a connection from %s failed", host or "?")
    finally:
        if cap is not None and host is not None:
            cap.leave(host)


# -- 9. failing a WebSocket with a close frame ---------------------------------------------------


class FailWithCloseFrame(Connection):
    """wsproto's server connection, answering a frame it cannot parse with a close frame of that code."""

    def events(self) -> Generator[Event, None, None]:
        for event in super().events():
            # A CloseConnection while still OPEN is wsproto's ParseFailed (a peer's close
            # frame moves the state before it is yielded).  REMOTE_CLOSING makes hypercorn
            # answer with event.response(), the same code, which moves the state to CLOSED.
            if isinstance(event, CloseConnection) and self._state is ConnectionState.OPEN:
                self._state = ConnectionState.REMOTE_CLOSING
            yield event


def install_fixes() -> None:
    """Apply 6-9 (once: a second call changes nothing).  ``start`` calls it after the probe."""
    if tcp_server.TCPServer.run is _run:
        return
    task_group.TaskGroup.spawn_app = _spawn_app  # type: ignore[method-assign]
    tcp_server.TCPServer._close = _close  # type: ignore[method-assign]
    tcp_server.TCPServer._read_data = _read_data  # type: ignore[method-assign]
    tcp_server.TCPServer._idle_timeout = _idle_timeout  # type: ignore[method-assign]
    tcp_server.TCPServer.run = _run  # type: ignore[method-assign]
    ws_stream.Connection = FailWithCloseFrame  # type: ignore[attr-defined]  # what Handshake.accept builds
