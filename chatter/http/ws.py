"""The socket endpoint, ``GET /ws`` (PROTOCOL.md section 4).

Per socket: the handler authenticates at the handshake (401/403 before any
upgrade, 429 past ``realtime.sockets_per_user``), then runs a reader (this
task) and a single writer task, the only caller of ``websocket.send``.
When either ends, the other is cancelled; cleanup (detaching from the
session) is synchronous.

Each client event type has its own handler in ``HANDLERS``.  Bad input gets
an ``error`` frame and the socket stays open; more than
``errors_per_minute`` INVALID_INPUT errors close it with 1008.
"""

from __future__ import annotations

import contextvars
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.protocol import ws_stream
from quart import Response, current_app, websocket

from chatter import wire
from chatter.actors import frames
from chatter.actors.frames import coalesce
from chatter.actors.socket import Socket
from chatter.config import RealtimeConfig
from chatter.errors import ChatError, Forbidden, Invalid, RateLimited, Unavailable
from chatter.http.authn import identify, origin_allowed
from chatter.http.direct import DirectSend
from chatter.http.proxies import client as request_client
from chatter.http.rest import deps
from chatter.http.transport import shutdown_connections
from chatter.http.wire import field, parse_object
from chatter.metrics import close_code_label
from chatter.ratelimit import Window
from chatter.service import validation
from chatter.store.models import UserRow

log = logging.getLogger(__name__)

# -- refuse permessage-deflate ------------------------------------------------
# hypercorn always accepts the extension and checks the size limit only after
# decompression, so a small compressed frame can grow to many times the limit
# in memory before it is refused.  Dropping the offer before its handshake code
# sees it makes the 101 carry no extension, so an RSV1 frame is a protocol
# error.  tests/http/test_ws.py asserts the response has no such header.
_original_handshake_init = ws_stream.Handshake.__init__


def _handshake_without_extensions(self: Any, headers: list[tuple[bytes, bytes]], http_version: str) -> None:
    _original_handshake_init(self, [(n, v) for n, v in headers if n.lower() != b"sec-websocket-extensions"],
                             http_version)


ws_stream.Handshake.__init__ = _handshake_without_extensions  # type: ignore[method-assign]


class Endpoint:
    """The endpoint's side of one accepted socket, shared by its handlers and the sweeper.

    ``socket`` is the socket itself (``actors/socket.py``: outbox, cursor,
    close code); this adds what only the endpoint needs (hello, rate windows,
    the direct path, the sweeper's clocks).
    """

    def __init__(self, socket: Socket, cfg: RealtimeConfig, user: UserRow) -> None:
        self.socket = socket
        self.cfg = cfg
        self.user: UserRow | None = user  # as loaded by the handshake; dropped once hello has used it
        self.said_hello = False
        self.opened = trio.current_time()
        self.closing_since: float | None = None  # when the sweeper first saw close_code set
        self.shut = False  # the sweeper shut the connection down underneath hypercorn
        self.direct: DirectSend | None = None  # the transport's direct path, when there is one
        self.sends = Window(cfg.sends_per_second, 1.0)
        self.errors = Window(cfg.errors_per_minute, 60.0)

    def reply(self, frame: str) -> None:
        """Queue one of ``frames``' frames to this socket (ahead of events)."""
        self.socket.offer_control(frame)


def _room(frame: dict[str, Any]) -> str:
    return validation.room_id(field(frame, "room"))


async def on_hello(ep: Endpoint, frame: dict[str, Any]) -> None:
    if ep.said_hello:
        raise Invalid("hello was already received")
    since = frame.get("since")
    since = None if since is None else validation.seq_cursor(since)
    epoch = frame.get("epoch")
    if epoch is not None and (not isinstance(epoch, str) or len(epoch) > 64):
        raise Invalid("epoch must be a string")
    ep.said_hello = True
    user, ep.user = ep.user, None  # the row (password hash included) is not kept for the socket's life
    assert user is not None
    await deps().system.attach(ep.socket, user, since, epoch)


async def on_send(ep: Endpoint, frame: dict[str, Any]) -> None:
    started = trio.current_time()
    room = _room(frame)
    cmid = validation.client_msg_id(field(frame, "client_msg_id"))
    body = validation.body(field(frame, "body"))
    wait = ep.sends.check_and_hit(started)
    if wait is not None:
        raise RateLimited(f"more than {ep.cfg.sends_per_second} sends per second")
    result = await deps().service.messages.send(ep.socket.user, room, cmid, body, socket=ep.socket, started=started)
    if not result.created:  # an idempotent repeat: answer with the original ack
        m = result.message
        ep.reply(frames.ack(client_msg_id=m.client_msg_id, id=m.id, seq=m.seq, room=m.room,
                            created_at=m.created_at))


async def on_typing(ep: Endpoint, frame: dict[str, Any]) -> None:
    room = _room(frame)
    active = field(frame, "active")
    if not isinstance(active, bool):
        raise Invalid("active must be true or false")
    await deps().service.messages.typing(ep.socket.user, room, active)


async def on_read(ep: Endpoint, frame: dict[str, Any]) -> None:
    room = _room(frame)
    up_to = validation.positive_int(field(frame, "up_to"), "up_to")
    await deps().service.messages.mark_read(ep.socket.user, room, up_to)


async def on_ping(ep: Endpoint, frame: dict[str, Any]) -> None:
    ep.reply(frames.pong())


HANDLERS: dict[str, Callable[[Endpoint, dict[str, Any]], Awaitable[None]]] = {
    "hello": on_hello,
    "send": on_send,
    "typing": on_typing,
    "read": on_read,
    "ping": on_ping,
}


def _ref(frame: dict[str, Any] | None, kind: Any) -> str | None:
    """What an error answers: the send's client_msg_id if it is a valid one, else the request type."""
    if frame is not None and kind == "send":
        cmid = frame.get("client_msg_id")
        if isinstance(cmid, str) and 1 <= len(cmid) <= validation.MAX_CLIENT_MSG_ID:
            return cmid
    return kind[:32] if isinstance(kind, str) else None


async def _handle(ep: Endpoint, raw: str | bytes) -> None:
    """Parse one frame and run its handler; every ChatError becomes an error frame."""
    socket = ep.socket
    frame: dict[str, Any] | None = None
    kind: Any = None
    try:
        if isinstance(raw, bytes):
            socket.close(1008, "binary frames are not part of the protocol")
            return
        if len(raw) > ep.cfg.max_frame or len(raw.encode("utf-8", "surrogatepass")) > ep.cfg.max_frame:
            socket.close(1009, "frame too large")
            return
        frame = parse_object(raw)
        kind = frame.get("type")
        if not ep.said_hello and kind != "hello":
            socket.close(1008, "the first frame must be hello")
            return
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise Invalid(f"unknown type {kind!r}" if isinstance(kind, str) else "type must be a string")
        await handler(ep, frame)
    except ChatError as e:
        if not ep.said_hello:
            socket.close(1008, "the first frame must be a valid hello")
            return
        ep.reply(frames.error(e.code, e.message, _ref(frame, kind)))
        if isinstance(e, Invalid) and ep.errors.check_and_hit(trio.current_time()) is not None:
            socket.close(1008, "too many invalid frames")
    except Exception:
        log.exception("handling a %r frame from %s failed", kind, socket.user)
        socket.close(1011, "server error")


def _asgi_send() -> Callable[[dict[str, Any]], Awaitable[None]] | None:
    """The ASGI send callable under Quart's ``websocket.send``.

    Quart's wrapper costs, per frame, an accept check and a blinker signal
    (``websocket_sent``) that nothing here listens to; the hot path sends the
    ASGI message itself.  Quart keeps the callable as the first argument of a
    ``partial`` (quart 0.22, pinned); if that ever changes we fall back.
    """
    inner = getattr(websocket._get_current_object(), "_send", None)  # type: ignore[attr-defined]
    args = getattr(inner, "args", ())
    return args[0] if args and callable(args[0]) else None


async def _writer(ep: Endpoint, done: trio.CancelScope, asgi_send: Callable[[dict[str, Any]], Awaitable[None]] | None,
                  direct: DirectSend | None) -> None:
    """The socket's writer task: sends what the direct path could not, then closes.

    Most frames go out directly from the fan-out (``direct.py``, ``Socket.flush``),
    so with a direct path this task is started only on first need: a direct
    write left bytes behind or was not possible, or the socket is closing.
    """
    socket = ep.socket
    metrics = deps().system.metrics
    try:
        while True:
            if direct is not None and direct.pending:
                await direct.gate.flush()
            frames = await socket.take(socket.coalesce_max)  # the socket's own bound, as its direct writes use
            if frames:
                if asgi_send is not None:
                    await asgi_send({"type": "websocket.send", "bytes": None, "text": coalesce(frames)})
                else:
                    await websocket.send(coalesce(frames))
                metrics.frames_writer.inc()
            if socket.close_code is not None:
                metrics.sockets_closed.inc(code=close_code_label(socket.close_code))
                with trio.move_on_after(1):
                    await websocket.close(socket.close_code, socket.close_reason)
                return
    except Exception:  # noqa: BLE001 - any send failure means the connection is gone (hypercorn
        # even raises BusyResourceError when its reader closes the stream mid-send)
        return
    finally:
        done.cancel()


class Sweeper:
    """One task for every socket's deadlines, instead of two sleeping tasks per socket.

    Each tick (``TICK`` seconds) it closes:

    - with 1008, a socket that has not said hello ``HELLO_DEADLINE`` seconds after opening;
    - with 4008, a socket whose writer made no progress for ``stall_timeout`` while frames wait;
    - with 1009, in its books, a socket that hypercorn closed itself (a message over
      ``max_frame`` characters: hypercorn sends the 1009 and tells the app nothing);

    and, ``CLOSE_GRACE`` seconds after a socket was asked to close, shuts the
    connection down underneath hypercorn (``transport``) if it is still open:
    its writer is stuck inside a send because the client stopped reading, so
    the close frame cannot go out either.
    """

    TICK = 1.0
    HELLO_DEADLINE = 10.0
    CLOSE_GRACE = 2.0

    def __init__(self) -> None:
        self._endpoints: dict[int, Endpoint] = {}

    def add(self, ep: Endpoint) -> None:
        self._endpoints[ep.socket.id] = ep

    def remove(self, ep: Endpoint) -> None:
        self._endpoints.pop(ep.socket.id, None)

    def sweep(self, now: float) -> list[tuple[tuple[str, int], tuple[str, int]]]:
        """Close what is overdue; return the connections to shut down underneath hypercorn."""
        stuck = []
        for ep in list(self._endpoints.values()):
            socket = ep.socket
            if socket.close_code is None:
                if not ep.said_hello and now - ep.opened >= self.HELLO_DEADLINE:
                    socket.close(1008, "no hello")
                elif socket.queued and now - socket.last_progress > ep.cfg.stall_timeout:
                    socket.close(4008, "too slow")
                elif ep.direct is not None and ep.direct.closed_below():
                    socket.close(1009, "message too big")
                else:
                    continue
            if ep.closing_since is None:
                ep.closing_since = now
            elif now - ep.closing_since >= self.CLOSE_GRACE and socket.addresses is not None and not ep.shut:
                ep.shut = True
                stuck.append(socket.addresses)
        return stuck

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.TICK)
            stuck = self.sweep(trio.current_time())
            if stuck:
                await trio.to_thread.run_sync(shutdown_connections, set(stuck))


async def socket_endpoint() -> Response | None:
    d = deps()
    system = d.system
    try:
        if not system.accepting:
            raise Unavailable("server shutting down")
        who = await identify(d.service.accounts, websocket.headers, websocket.cookies, d.cfg.auth.cookie_name)
        origin = websocket.headers.get("Origin")
        if who.via_cookie and origin is not None and not origin_allowed(
                origin, websocket.headers.get("Host", ""), d.cfg.server.allowed_origins,
                scheme=request_client(websocket).scheme):
            raise Forbidden("cross-origin socket refused")
        socket = system.new_socket(who.user.username, who.claims.ver, who.claims.sid)  # 429 past sockets_per_user
    except ChatError as e:
        refusal = Response(wire.encode(e.to_json()), status=e.status, mimetype="application/json")
        if e.retry_after is not None:
            refusal.headers["Retry-After"] = str(max(1, math.ceil(e.retry_after)))
        return refusal
    cfg = d.cfg.realtime
    server, client = websocket.scope.get("server"), websocket.scope.get("client")
    if server and client:
        socket.addresses = ((str(server[0]), int(server[1] or 0)), (str(client[0]), int(client[1] or 0)))
    ep = Endpoint(socket, cfg, who.user)
    del who  # memory per socket: the handler's frame lives as long as the socket
    sweeper = sweeper_of(current_app)
    sweeper.add(ep)
    try:
        await websocket.accept()
        async with trio.open_nursery() as nursery:
            try:
                asgi_send = _asgi_send()
                direct = DirectSend.attach(asgi_send)
                if direct is None:
                    nursery.start_soon(_writer, ep, nursery.cancel_scope, asgi_send, None)
                else:
                    # Started later from whichever task wakes it: in this task's context, where
                    # Quart's ``websocket`` (for the close) and the app are bound.
                    context = contextvars.copy_context()
                    socket.start_writer = lambda: context.run(
                        nursery.start_soon, _writer, ep, nursery.cancel_scope, asgi_send, direct)
                    socket.direct = ep.direct = direct
                while True:
                    raw = await websocket.receive()
                    if socket.close_code is None:
                        await _handle(ep, raw)
                    # Closing: the writer sends the close frame and then cancels us.  Until then keep
                    # taking (and dropping) what the client still sends: hypercorn's reader, and its
                    # disconnect when a send fails, come through the same bounded channels and would
                    # wait on us for ever (tests/reliability/test_rel_release.py).  Once we return,
                    # hypercorn drops it itself (transport.py, "a finished app's channel").
            finally:
                # The nursery takes no new task once its body has ended, and other tasks (a
                # fan-out, the shutdown's close_all_sockets) run while it waits for its children:
                # a wake-up in that window would call start_soon on a closed nursery.
                socket.start_writer = None
    finally:
        socket.start_writer = None  # also when the nursery never opened
        socket.direct = ep.direct = None
        sweeper.remove(ep)
        system.detach(socket)
    return None


def wire_socket(app: Any) -> None:
    app.extensions["chatter.sockets"] = Sweeper()
    app.add_websocket("/ws", "ws", socket_endpoint)


def sweeper_of(app: Any) -> Sweeper:
    """The app's socket sweeper; ``open_chatter`` runs it."""
    return app.extensions["chatter.sockets"]  # type: ignore[no-any-return]
