"""Serving with hypercorn, programmatically (``chatter serve``) or as ASGI.

``ChatterASGI`` is an ASGI app that owns the store and actor system inside
the ASGI lifespan, so plain ``hypercorn -k trio chatter.asgi:app`` works.
It holds back ``lifespan.shutdown.complete`` until everything is closed:
hypercorn cancels the lifespan task right after that message, which would
cut off draining the actors and closing the store.

``serve`` creates the listening socket itself: backlog 4096 (hypercorn's
100 stalls connection storms) and TCP_USER_TIMEOUT, which accepted sockets
inherit, so a send to a peer that stopped reading fails instead of blocking
forever (hypercorn's send is shielded from cancellation).  Its hypercorn
config carries ``server.keep_alive_timeout`` and the per-address connection
cap (``hypercorn_seam.cap_connections``); run as plain ``hypercorn chatter.asgi:app``,
hypercorn's own settings apply instead.

Start-up order in ``serve``: preflight (paths, key), the database lock, the
store and actors, the listening socket, and only then hypercorn.  Everything
the operator may have to fix fails before hypercorn runs, as one ``ConfigError``
or ``ChatError`` line: hypercorn logs "Running on ..." even after a failed
lifespan startup, so a failure inside the lifespan would be printed after a
claim that the server runs, and wrapped in its ``LifespanFailureError``.

Shutdown on SIGINT/SIGTERM: refuse new sockets, close open ones with 1001,
give them ``shutdown_grace`` to go, then hypercorn stops, the actors and
finally the store close, the lock is released, and one INFO line says
"shutdown complete: N sockets closed in X s".
"""

from __future__ import annotations

import errno
import gc
import logging
import signal
import socket
from collections.abc import Callable
from typing import Any

import trio
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve as hypercorn_serve

from chatter.config import Config
from chatter.errors import ConfigError
from chatter.http.app import chat_system, open_chatter
from chatter.http.hypercorn_seam import cap_connections
from chatter.http.ws import seam_of, sweeper_of
from chatter.preflight import preflight
from chatter.store.lock import acquire

log = logging.getLogger(__name__)

TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


class ChatterASGI:
    """The ASGI app hypercorn runs.

    ``ChatterASGI(cfg)`` opens the store and actors inside the ASGI lifespan
    (plain hypercorn, ``chatter.asgi``); a startup failure goes to
    ``on_startup_failure`` when given (which may end the process).
    ``ChatterASGI(cfg, app)`` serves an app that ``serve`` opened before
    hypercorn started; its lifespan only acknowledges, and ``serve`` closes
    the app after hypercorn returns.
    """

    def __init__(self, cfg: Config, app: Any = None, *,
                 on_startup_failure: Callable[[Exception], None] | None = None) -> None:
        self.cfg = cfg
        self.app: Any = app
        self._opened_outside = app is not None
        self.on_startup_failure = on_startup_failure
        self.ready = trio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.app is None:
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body",
                            "body": b'{"error":{"code":"UNAVAILABLE","message":"starting up"}}'})
            return
        if scope["type"] == "http":
            send = _finish_shielded(send)
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        if self._opened_outside:
            seam_of(self.app).announce()
            tune_gc()
            self.ready.set()
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown: serve() closes the app once hypercorn has returned
            await send({"type": "lifespan.shutdown.complete"})
            return
        started = False
        try:
            async with open_chatter(self.cfg) as app:
                self.app = app
                started = True
                seam_of(app).announce()
                tune_gc()
                self.ready.set()
                await send({"type": "lifespan.startup.complete"})
                message = await receive()  # lifespan.shutdown
                began = trio.current_time()
                closed = await drain(app, self.cfg.server.shutdown_grace)
            self.app = None
            log_shutdown_complete(closed, trio.current_time() - began)
        except Exception as e:
            if not started and self.on_startup_failure is not None:
                self.on_startup_failure(e)
            log.error("%s", e, exc_info=not started and not isinstance(e, OSError))
            if not started:
                await send({"type": "lifespan.startup.failed", "message": str(e)})
                return
            await send({"type": "lifespan.shutdown.failed", "message": str(e)})
            return
        await send({"type": "lifespan.shutdown.complete"})


def _finish_shielded(send: Any) -> Any:
    """``send`` whose last ``http.response.body`` cannot be cancelled halfway.

    hypercorn runs the end of a request inside that last send, in the app's
    task: it queues ``http.disconnect`` for the app and then closes the
    connection (``Connection: close``, HTTP/1.0, an unread body) or starts its
    keep-alive idle timer.  quart-trio cancels the request's task as soon as
    it reads that ``http.disconnect``, so the close or the timer was cancelled
    and the connection stayed open until the client closed it.  Measured with
    plain hypercorn 0.18 and a plain quart-trio 0.12 app; a bare ASGI app, not
    cancelled, closes at once.  The shielded part is bounded: hypercorn's own
    socket write is already shielded and the rest does not wait on the client.
    """

    async def finish_shielded(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            with trio.CancelScope(shield=True):
                await send(message)
        else:
            await send(message)

    return finish_shielded


async def drain(app: Any, grace: float) -> int:
    """Close every socket with 1001 and wait (at most ``grace``) for them to go; how many were open.

    Sockets still open at the deadline have a writer stuck in a send to a
    client that stopped reading: their connections are shut down underneath
    hypercorn (``Transport.release``) so that the process can exit within
    the grace period.
    """
    system = chat_system(app)
    open_sockets = max(0, system.open_sockets())
    system.close_all_sockets(1001, "server shutting down")
    with trio.move_on_after(grace):
        await system.sockets_drained()
    sweeper_of(app).release_all()
    return open_sockets


def log_shutdown_complete(sockets: int, seconds: float) -> None:
    """The last line a server logs: without it an operator cannot tell a finished shutdown from a hung one."""
    log.info("shutdown complete: %d socket%s closed in %.1f s", sockets, "" if sockets == 1 else "s", seconds)


def tune_gc() -> None:
    """Move start-up objects out of the collector's view and collect young objects less often.

    With default thresholds the generation-0 collections triggered by
    per-event garbage made fan-out about 3x slower here (measured); what
    this buys now is measured in BENCHMARKS.md.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


_BIND_ADVICE = {
    errno.EADDRINUSE: "address already in use (another server running? pick another --port)",
    errno.EADDRNOTAVAIL: "no such address on this machine (server.host must be one of its addresses, "
                         "127.0.0.1, or 0.0.0.0 for all)",
    errno.EACCES: "permission denied (ports below 1024 need privileges; pick another --port, e.g. 8080)",
}


def listening_socket(host: str, port: int, backlog: int, user_timeout: float) -> socket.socket:
    """A bound, listening socket; ConfigError naming the address if it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, int(user_timeout * 1000))
        except OSError:
            log.warning("TCP_USER_TIMEOUT is not supported here; stalled peers rely on the stall timeout")
        sock.bind((host, port))
        sock.listen(backlog)
    except socket.gaierror as e:
        sock.close()
        raise ConfigError(f"cannot listen on {where}: server.host {host!r} is not an address of this machine "
                          f"({e.strerror}); use an IP address such as 127.0.0.1 or 0.0.0.0") from None
    except OSError as e:
        sock.close()
        reason = _BIND_ADVICE.get(e.errno or 0, f"{(e.strerror or str(e)).lower()}")
        raise ConfigError(f"cannot listen on {where}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def hypercorn_config(cfg: Config, sock: socket.socket | None) -> HyperConfig:
    hc = HyperConfig()
    if sock is not None:
        hc.bind = [f"fd://{sock.fileno()}"]
    else:
        hc.bind = [f"{cfg.server.host}:{cfg.server.port}"]
    hc.backlog = cfg.server.backlog
    hc.websocket_max_message_size = cfg.realtime.max_frame
    hc.graceful_timeout = cfg.server.shutdown_grace
    hc.keep_alive_timeout = cfg.server.keep_alive_timeout
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.loglevel = cfg.server.log_level.upper()
    cap_connections(hc, cfg.server.max_connections_per_ip)
    return hc


async def serve(cfg: Config, *, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
                stop: trio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop``); returns after a graceful shutdown.

    Reports ``(host, port)`` through ``task_status`` only once the lock is
    held, the store is open and hypercorn has taken the socket.
    """
    preflight(cfg)
    stop = stop if stop is not None else trio.Event()
    closed: list[int] = []
    began: list[float] = []
    with acquire(cfg.store.path, role="server"):
        async with open_chatter(cfg) as app:
            sock = listening_socket(cfg.server.host, cfg.server.port, cfg.server.backlog,
                                    cfg.server.tcp_user_timeout)
            host, port = sock.getsockname()[:2]
            asgi = ChatterASGI(cfg, app)

            async def shutdown_trigger() -> None:
                await stop.wait()
                began.append(trio.current_time())
                closed.append(await drain(app, cfg.server.shutdown_grace))

            async def watch_signals() -> None:
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for signum in signals:
                        log.info("received %s: shutting down", signal.Signals(signum).name)
                        stop.set()
                        return

            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch_signals)

                    async def announce() -> None:
                        await asgi.ready.wait()
                        task_status.started((host, port))

                    nursery.start_soon(announce)
                    await hypercorn_serve(asgi, hypercorn_config(cfg, sock),  # type: ignore[arg-type]
                                          shutdown_trigger=shutdown_trigger)
                    nursery.cancel_scope.cancel()
            finally:
                # hypercorn adopts the fd and closes it itself; close ours only if it did not.
                try:
                    sock.close()
                except OSError:
                    pass
    if began:
        log_shutdown_complete(sum(closed), trio.current_time() - began[0])
