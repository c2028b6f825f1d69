"""The socket endpoint, ``GET /ws`` (PROTOCOL.md section 4).

Per socket: the handler authenticates at the handshake (401/403 before any
upgrade, 429 past ``realtime.sockets_per_user``), then runs a reader (this
task) and a single writer task, which with the fan-out's direct writes is
the only sender (through the socket's ``Transport``, ``http/hypercorn_seam.py``).
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
from quart import Response, current_app, websocket

from chatter import wire
from chatter.actors import frames
from chatter.actors.frames import coalesce
from chatter.actors.socket import Socket
from chatter.config import RealtimeConfig
from chatter.errors import ChatError, Forbidden, Invalid, RateLimited, Unavailable
from chatter.http.authn import identify, origin_allowed
from chatter.http.hypercorn_seam import Seam, Transport
from chatter.http.proxies import client as request_client
from chatter.http.rest import deps
from chatter.http.wire import field, parse_object
from chatter.metrics import close_code_label
from chatter.ratelimit import Window
from chatter.service import validation
from chatter.store.models import UserRow

log = logging.getLogger(__name__)

class Endpoint:
    """State of one accepted socket that the handlers share."""

    def __init__(self, socket: Socket, cfg: RealtimeConfig, user: UserRow, transport: Transport) -> None:
        self.socket = socket
        self.cfg = cfg
        self.user: UserRow | None = user  # as loaded by the handshake; dropped once hello has used it
        self.said_hello = False
        self.opened = trio.current_time()
        self.closing_since: float | None = None  # when the sweeper first saw close_code set
        self.shut = False  # the sweeper shut the connection down underneath hypercorn
        self.transport = transport  # everything below Quart's public API (http/hypercorn_seam.py)
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


async def _writer(ep: Endpoint, done: trio.CancelScope) -> None:
    """The socket's writer task: sends what the direct path could not, then closes.

    With direct writes most frames go out from the fan-out (``Socket.flush``),
    so this task is then started only on first need: a direct write left
    bytes behind or was not possible, or the socket is closing.  On the
    writer-task path it sends every frame.
    """
    socket = ep.socket
    transport = ep.transport
    metrics = deps().system.metrics
    try:
        while True:
            if transport.pending:
                await transport.flush()
            frames = await socket.take(socket.coalesce_max)  # the socket's own bound, as its direct writes use
            if frames:
                await transport.send(coalesce(frames))
                metrics.frames_writer.inc()
            if socket.close_code is not None:
                metrics.sockets_closed.inc(code=close_code_label(socket.close_code))
                with trio.move_on_after(1):
                    await transport.close(socket.close_code, socket.close_reason)
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
    connection down underneath hypercorn (``Transport.release``) if it is
    still open: its writer is stuck inside a send because the client stopped
    reading, so the close frame cannot go out either.
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

    def sweep(self, now: float) -> list[Endpoint]:
        """Close what is overdue; return the sockets to shut down underneath hypercorn."""
        stuck = []
        for ep in list(self._endpoints.values()):
            socket = ep.socket
            if socket.close_code is None:
                if not ep.said_hello and now - ep.opened >= self.HELLO_DEADLINE:
                    socket.close(1008, "no hello")
                elif socket.queued and now - socket.last_progress > ep.cfg.stall_timeout:
                    socket.close(4008, "too slow")
                elif ep.transport.closed_below():
                    socket.close(1009, "message too big")
                else:
                    continue
            if ep.closing_since is None:
                ep.closing_since = now
            elif now - ep.closing_since >= self.CLOSE_GRACE and not ep.shut:
                ep.shut = True
                stuck.append(ep)
        return stuck

    def release_all(self) -> int:
        """Shut every open socket's connection down underneath hypercorn (shutdown's deadline)."""
        done = sum(ep.transport.release() for ep in list(self._endpoints.values()))
        if done:
            log.info("forced %d stuck connection(s) closed", done)
        return done

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.TICK)
            for ep in self.sweep(trio.current_time()):
                if ep.transport.release():
                    log.info("forced a stuck connection of %s closed", ep.socket.user)


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
    transport = seam_of(current_app).transport(websocket)
    ep = Endpoint(socket, cfg, who.user, transport)
    del who  # memory per socket: the handler's frame lives as long as the socket
    sweeper = sweeper_of(current_app)
    sweeper.add(ep)
    try:
        await transport.accept()
        async with trio.open_nursery() as nursery:
            try:
                if not transport.direct:
                    nursery.start_soon(_writer, ep, nursery.cancel_scope)
                else:
                    # Started later from whichever task wakes it: in this task's context, where
                    # Quart's ``websocket`` and the app are bound.
                    context = contextvars.copy_context()
                    socket.start_writer = lambda: context.run(nursery.start_soon, _writer, ep, nursery.cancel_scope)
                    socket.direct = transport
                while True:
                    raw = await websocket.receive()
                    if socket.close_code is None:
                        await _handle(ep, raw)
                    # Closing: the writer sends the close frame and then cancels us.  Until then keep
                    # taking (and dropping) what the client still sends: hypercorn's reader, and its
                    # disconnect when a send fails, come through the same bounded channels and would
                    # wait on us for ever (tests/reliability/test_rel_release.py).  Once we return,
                    # hypercorn drops it itself (hypercorn_seam.py, "a finished app's channel").
            finally:
                # The nursery takes no new task once its body has ended, and other tasks (a
                # fan-out, the shutdown's close_all_sockets) run while it waits for its children:
                # a wake-up in that window would call start_soon on a closed nursery.
                socket.start_writer = None
    finally:
        socket.start_writer = None  # also when the nursery never opened
        socket.direct = None
        sweeper.remove(ep)
        system.detach(socket)
    return None


def wire_socket(app: Any, seam: Seam) -> None:
    app.extensions["chatter.sockets"] = Sweeper()
    app.extensions["chatter.seam"] = seam
    app.add_websocket("/ws", "ws", socket_endpoint)


def seam_of(app: Any) -> Seam:
    """The process's seam under the socket, as ``open_chatter`` started it."""
    return app.extensions["chatter.seam"]  # type: ignore[no-any-return]


def sweeper_of(app: Any) -> Sweeper:
    """The app's socket sweeper; ``open_chatter`` runs it."""
    return app.extensions["chatter.sockets"]  # type: ignore[no-any-return]
