"""What Chatter changes below hypercorn 0.18 and wsproto 1.3.2 (both pinned), in one place.

ASGI hides the TCP connection, and a few of hypercorn's connection-level
behaviours are wrong for a server that must never hold a connection it is
done with.  Each reach below names the defect it fixes; ``install()`` applies
them once (at import) and checks that the shapes it patches are there.
tests/http/test_transport.py pins the versions; the real-server tests named
in each section show the defect and the fix.

1. ``shutdown_connections``: forcing a stuck connection closed.  hypercorn's
   send to a client is shielded from cancellation, so if the client stopped
   reading nothing in the app can end that send, and shutdown would wait for
   TCP_USER_TIMEOUT.  ASGI gives both addresses; this finds the process's TCP
   socket with that address pair under /proc/self/fd and shuts it down, which
   makes the pending send fail at once.  Linux only; elsewhere it does
   nothing and TCP_USER_TIMEOUT remains the bound.

2. A finished app's channel (``TaskGroup.spawn_app``).  hypercorn hands each
   connection's events (frames, body chunks, the final disconnect) to the app
   through a memory channel of ``max_app_queue_size`` (10) slots, and puts
   into it with an awaiting ``send``.  Nothing reads that channel once the
   app has returned, so a put after that blocked forever: a socket closed
   with 1008 while the client's next 100 frames were arriving left hypercorn's
   reader and the app task's own final close (``websocket.disconnect`` is a
   put too) waiting on a full channel; the TCP connection was never closed
   (CLOSE-WAIT) and its task never ended.  Here the channel's receive end is
   closed when the app returns, and a put to a closed channel is dropped.
   (While the app runs it must keep reading: ``ws.py`` does so while closing.)
   tests/reliability/test_rel_release.py.

3. Closing without racing a sender (``TCPServer._close``).  hypercorn closes
   with ``send_eof()`` outside its send lock, and trio's ``send_eof`` holds the
   stream's send-conflict detector across a checkpoint.  When the reader task
   closes (the client sent EOF mid-body) while the app's task is sending, or
   the app's task closes while the reader sends its 400, the other sender
   gets ``trio.BusyResourceError``: in the app it was logged as "Error in ASGI
   Framework"; in the reader, whose task catches only ``OSError``, it ended
   ``trio.serve_listeners`` and with it the whole server.  Here the EOF is
   sent only under a free send lock (a busy lock means a send is in flight:
   closing the socket fails it cleanly), and the socket is closed even if the
   closing task is cancelled.  tests/reliability/test_rel_release.py.

   And the keep-alive timer after the peer has gone (``TCPServer._read_data``):
   when the client closes an idle keep-alive connection, hypercorn's reader
   ends but its idle timer keeps the connection's task group, and so the
   socket (CLOSE-WAIT), until ``keep_alive_timeout`` (measured with a bare
   ASGI app too).  The timer is stopped when the reader ends, and one that
   the app's task starts after that (its last response raced the client's
   close) returns at once.

4. Connections per client address (``TCPServer.run``):
   ``server.max_connections_per_ip`` open TCP connections from one peer
   address; past it a connection is answered ``429 RATE_LIMITED`` before its
   request is read, and closed.  The same wrapper keeps one connection's
   unexpected exception from ending the server (logged instead).
   tests/reliability/test_rel_limits.py.

5. Failing a WebSocket with a close frame (wsproto's ``Connection``).  On a
   frame it cannot parse, wsproto yields a ``CloseConnection`` with the right
   code (1002, or 1007 for invalid UTF-8) but leaves the state ``OPEN``, so
   hypercorn never answers it and drops the TCP connection.  Marking the
   state ``REMOTE_CLOSING`` first makes hypercorn send that close frame (RFC
   6455 7.1.7), then close as for any close.
   tests/reliability/test_rel_ws_conformance.py.
"""

from __future__ import annotations

import logging
import os
import socket
import weakref
from collections.abc import Generator, Iterable
from typing import Any

import trio
from hypercorn.protocol import ws_stream
from hypercorn.trio import task_group, tcp_server
from wsproto.connection import Connection, ConnectionState
from wsproto.events import CloseConnection, Event

log = logging.getLogger(__name__)

Addr = tuple[str, int]


# -- 1. shutting a stuck connection down ----------------------------------------


def _norm(addr: Iterable[object]) -> Addr | None:
    parts = list(addr) if isinstance(addr, tuple | list) else []
    if len(parts) < 2:
        return None  # not an IP socket address
    return str(parts[0]).removeprefix("::ffff:"), int(str(parts[1]))


def shutdown_connections(pairs: set[tuple[Addr, Addr]]) -> int:
    """Shut down every socket of this process whose (local, peer) is in ``pairs``."""
    if not pairs:
        return 0
    wanted = {(_norm(a), _norm(b)) for a, b in pairs} - {(None, None)}
    done = 0
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for name in fds:
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            for family in (socket.AF_INET, socket.AF_INET6):
                try:
                    s = socket.fromfd(fd, family, socket.SOCK_STREAM)  # a dup: closing it keeps fd open
                except OSError:
                    continue
                try:
                    pair = (_norm(s.getsockname()), _norm(s.getpeername()))
                    if None not in pair and pair in wanted:
                        s.shutdown(socket.SHUT_RDWR)
                        done += 1
                except OSError:
                    pass
                finally:
                    s.close()
                break
        except OSError:
            continue
    if done:
        log.info("forced %d stuck connection(s) closed", done)
    return done


# -- 2. a finished app's channel ---------------------------------------------------


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


# -- 3. closing without racing a sender -------------------------------------------

_GONE = (trio.BrokenResourceError, trio.BusyResourceError, trio.ClosedResourceError, AttributeError)


async def _close(self: Any) -> None:
    """``TCPServer._close``: EOF only while no send is in flight, then close the socket in any case."""
    try:
        lock = self.send_lock  # a trio.Lock, or direct.SendGate on a socket (it flushes what waits first)
        if not lock.locked():
            try:
                async with lock:
                    await self.stream.send_eof()
            except _GONE:
                pass  # gone already (AttributeError: a TLS stream has no half-close)
    finally:
        await self.stream.aclose()  # closes synchronously before its checkpoint, even when cancelled


_original_read_data = tcp_server.TCPServer._read_data
_original_idle_timeout = tcp_server.TCPServer._idle_timeout


async def _read_data(self: Any) -> None:
    """``TCPServer._read_data``, then stop the idle timer: with the peer gone there is nothing to time out."""
    await _original_read_data(self)
    self.chatter_reader_done = True  # a timer the app's task starts later must not run either
    await self.idle_task.stop()


async def _idle_timeout(self: Any) -> None:
    """``TCPServer._idle_timeout``, unless the reader has ended (the peer is gone)."""
    if not getattr(self, "chatter_reader_done", False):
        await _original_idle_timeout(self)


# -- 4. connections per client address ----------------------------------------------

REFUSE_LINGER = 1.0  # seconds a refused connection may take to read the 429 and go
_REFUSED_BODY = b'{"error":{"code":"RATE_LIMITED","message":"too many connections from this address"}}'
_REFUSED = (b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 10\r\n"
            b"connection: close\r\ncontent-length: " + str(len(_REFUSED_BODY)).encode() + b"\r\n\r\n"
            + _REFUSED_BODY)


class ConnectionCap:
    """Open TCP connections per peer address; ``enter`` refuses past ``limit`` (0: no cap).

    Invariant: ``open[host]`` is the number of ``enter(host)`` calls that
    returned True and have not been matched by ``leave(host)``; hosts at 0
    are not kept, so the table holds only addresses with open connections.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}
        self.refused = 0
        self._refusing: set[str] = set()  # hosts already logged as over the cap

    def enter(self, host: str) -> bool:
        n = self.open.get(host, 0)
        if self.limit and n >= self.limit:
            self.refused += 1
            if host not in self._refusing:
                self._refusing.add(host)
                log.warning("refusing connections from %s: %d open (server.max_connections_per_ip)", host, n)
            return False
        self.open[host] = n + 1
        return True

    def leave(self, host: str) -> None:
        n = self.open.get(host, 0) - 1
        if n > 0:
            self.open[host] = n
        else:
            self.open.pop(host, None)
        if n < self.limit:
            self._refusing.discard(host)


_caps: weakref.WeakKeyDictionary[Any, ConnectionCap] = weakref.WeakKeyDictionary()


def cap_connections(hypercorn_config: Any, limit: int) -> ConnectionCap:
    """Count (and cap, unless ``limit`` is 0) the connections served with this hypercorn config."""
    cap = _caps[hypercorn_config] = ConnectionCap(limit)
    return cap


def _peer_host(stream: Any) -> str | None:
    try:
        addr = _norm(stream.socket.getpeername())
    except (AttributeError, OSError):
        return None
    return addr[0] if addr else None


async def _refuse(stream: Any) -> None:
    """Answer 429 before the request is read, then close without resetting the connection.

    Closing with the request still unread would send a reset, which can
    destroy the answer before the client reads it: so half-close and read
    until the client goes, for at most ``REFUSE_LINGER``.
    """
    try:
        with trio.move_on_after(REFUSE_LINGER):
            await stream.send_all(_REFUSED)
            await stream.send_eof()
            while await stream.receive_some(65536):
                pass
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        await stream.aclose()


_original_run = tcp_server.TCPServer.run


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


# -- 5. failing a WebSocket with a close frame -----------------------------------------


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


# -- installing -------------------------------------------------------------------------


def install() -> None:
    """Apply 2-5 once; refuse to start against a hypercorn or wsproto of another shape."""
    if tcp_server.TCPServer.run is _run:
        return
    tcp = tcp_server.TCPServer
    shape = (callable(getattr(tcp, "_close", None)) and callable(getattr(tcp, "run", None))
             and callable(getattr(tcp, "_read_data", None)) and callable(getattr(tcp, "_idle_timeout", None))
             and callable(getattr(task_group.TaskGroup, "spawn_app", None))
             and callable(getattr(task_group, "_handle", None))
             and getattr(ws_stream, "Connection", None) is Connection
             and "_state" in Connection.__init__.__code__.co_names)
    if not shape:
        raise RuntimeError("hypercorn or wsproto is not the pinned version that chatter/http/transport.py patches")
    task_group.TaskGroup.spawn_app = _spawn_app  # type: ignore[method-assign]
    tcp_server.TCPServer._close = _close  # type: ignore[method-assign]
    tcp_server.TCPServer._read_data = _read_data  # type: ignore[method-assign]
    tcp_server.TCPServer._idle_timeout = _idle_timeout  # type: ignore[method-assign]
    tcp_server.TCPServer.run = _run  # type: ignore[method-assign]
    ws_stream.Connection = FailWithCloseFrame  # type: ignore[attr-defined]  # what Handshake.accept builds

install()
