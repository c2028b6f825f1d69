"""The Quart-trio application: routes, error mapping, UI, ops endpoints.

``create_app`` builds the app around a running ``ChatSystem``;
``open_chatter`` opens the store, the actor system and the app together
(store outermost, so it closes last) for the ASGI lifespan, ``chatter
serve`` and tests alike.
"""

from __future__ import annotations

import hmac
import logging
import math
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from quart import Response, g, request, send_from_directory
from quart_schema import QuartSchema, document_response, hide
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from chatter.actors.system import ChatSystem, open_actor_system
from chatter.config import Config, check_secret
from chatter.errors import ChatError, ConfigError
from chatter.http.hypercorn_seam import Seam
from chatter.http.hypercorn_seam import start as start_seam
from chatter.http.openapi import ChatterOpenAPI
from chatter.http.password_reset import reset
from chatter.http.proxies import Proxies, client
from chatter.http.rest import Deps, api
from chatter.http.ws import sweeper_of, wire_socket
from chatter.metrics import Metrics, method_label, route_label, status_label
from chatter.service import Service, build_service
from chatter.service.accounts import resolve_secret
from chatter.store import open_memory_store, open_sqlite_store
from chatter.wire import Health

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
_NOT_UI = ("/api", "/ws", "/healthz", "/metrics", "/openapi.json")

_NO_UI_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Chatter</title></head>
<body><h1>Chatter is running</h1><p>The web UI has not been built. Run <code>just build-ui</code>
(or <code>just serve</code>, which builds it) and reload.</p></body></html>"""


def default_ui_dir() -> Path:
    if getattr(sys, "frozen", False):  # PyInstaller one-file: data unpacked under _MEIPASS
        return Path(getattr(sys, "_MEIPASS", ".")) / "ui"
    return Path(__file__).resolve().parents[2] / "ui" / "dist"


async def _drain_body() -> None:
    """Read what is left of the request body before answering early (401/403 before parsing).

    Answering while the body is still arriving left the keep-alive connection
    unusable now and then (tests/reliability/test_rel_keepalive.py).  Any
    method may carry a body: a GET or an automatic OPTIONS answer with its
    body unread stalled the next request on the connection (found by
    schemathesis; tests/reliability/test_rel_openapi.py).  The read is
    bounded by MAX_CONTENT_LENGTH and by time; a body already read costs
    nothing.
    """
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    with trio.move_on_after(5):
        try:
            await request.get_data(cache=True)
        except Exception:  # noqa: BLE001 - too large or gone: nothing left to keep in order
            return


def _json_error(status: int, code: str, message: str) -> Response:
    """The protocol's error body ``{"error": {"code", "message"}}`` with ``status``."""
    return Response(_dumps({"error": {"code": code, "message": message}}), status=status, mimetype="application/json")


def _error_response(e: ChatError) -> Response:
    resp = _json_error(e.status, e.code, e.message)
    if e.retry_after is not None:
        resp.headers["Retry-After"] = str(max(1, math.ceil(e.retry_after)))
    return resp


def _dumps(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj).decode()


_HTTP_CODES = {400: "INVALID_INPUT", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 408: "TIMEOUT", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
               415: "INVALID_INPUT", 429: "RATE_LIMITED", 503: "UNAVAILABLE"}
# Our own words for the errors Quart/werkzeug raise: their descriptions are
# another project's text (and could one day carry internals), so none is shown.
_HTTP_MESSAGES = {400: "bad request", 401: "log in first", 403: "forbidden", 404: "not found",
                  405: "method not allowed", 408: "request timed out", 409: "conflict",
                  411: "a request body needs a Content-Length", 413: "request body too large",
                  414: "request URL too long", 415: "unsupported content type", 416: "range not satisfiable",
                  429: "too many requests", 431: "request headers too large", 503: "unavailable"}


def create_app(cfg: Config, system: ChatSystem, service: Service, secret: str, seam: Seam) -> QuartTrio:
    app = QuartTrio("chatter")
    app.config["MAX_CONTENT_LENGTH"] = cfg.server.max_body
    app.config["BODY_TIMEOUT"] = 30
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True
    QuartSchema(app, openapi_path="/openapi.json", redoc_ui_path=None, scalar_ui_path=None,
                swagger_ui_path=None, conversion_preference="msgspec",
                info={"title": "Chatter", "version": "1"},
                security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
                security=[{"bearer": []}], openapi_provider_class=ChatterOpenAPI)
    app.extensions["chatter"] = Deps(cfg=cfg, system=system, secret=secret, service=service)
    app.extensions["chatter.proxies"] = Proxies.from_config(cfg.server)
    app.register_blueprint(api)
    app.register_blueprint(reset)
    wire_socket(app, seam)
    metrics = system.metrics
    ui_dir = Path(cfg.server.ui_dir) if cfg.server.ui_dir else default_ui_dir()
    known_rules: set[str] = set()  # filled once every route is registered (end of create_app)
    hsts = f"max-age={cfg.server.hsts_max_age}" if not cfg.server.dev and cfg.server.hsts_max_age > 0 else ""

    @app.before_request
    async def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    async def _finish(resp: Response) -> Response:
        await _drain_body()  # a view that had no use for the body (GET, OPTIONS) still must read it
        if request.method == "OPTIONS" and "Allow" in resp.headers and request.path.startswith("/api/"):
            # The automatic answer would also list the catch-all's methods.
            allowed = _allowed_methods(request.path)
            if allowed:
                resp.headers["Allow"] = ", ".join(sorted(allowed))
            else:
                resp = _json_error(404, "NOT_FOUND", "no such API route")
        rule = route_label(request.url_rule.rule if request.url_rule is not None else None, known_rules)
        if rule.startswith("/<path:"):
            rule = "ui"
        metrics.http_requests.inc(method=method_label(request.method), route=rule,
                                  status=status_label(resp.status_code))
        started = getattr(g, "started", None)
        if started is not None:
            metrics.http_latency.observe(time.perf_counter() - started, route=rule)
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Content-Security-Policy", CSP)
        if hsts and client(request).scheme == "https":
            h.setdefault("Strict-Transport-Security", hsts)
        if request.path.startswith("/api/") or request.path == "/metrics":
            h.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(ChatError)
    async def _chat_error(e: ChatError) -> Response:
        await _drain_body()
        return _error_response(e)

    @app.errorhandler(HTTPException)
    async def _http_error(e: HTTPException) -> Response:
        status = e.code or 500
        if status == 405 and request.path.startswith("/api/") and not _allowed_methods(request.path):
            status = 404  # only the catch-all has this path: no such API route, whatever the method
        code = _HTTP_CODES.get(status, "INVALID_INPUT" if status < 500 else "INTERNAL")
        message = _HTTP_MESSAGES.get(status, "request refused" if status < 500 else "internal error")
        await _drain_body()
        resp = _json_error(status, code, message)
        if status == 405:
            allowed = _allowed_methods(request.path) or set(getattr(e, "valid_methods", None) or ())
            resp.headers["Allow"] = ", ".join(sorted(allowed))
        return resp

    @app.errorhandler(Exception)
    async def _bug(e: Exception) -> Response:
        log.error("unhandled error on %s %s from %s", request.method, request.path[:200], client(request).address,
                  exc_info=e)
        return _json_error(500, "INTERNAL", "internal error")

    @app.get("/healthz")
    @document_response(Health, 200)
    @document_response(Health, 503)
    async def healthz() -> Response:
        """Liveness and readiness: 200 once the database answers, 503 when it does not."""
        if not await service.database_ready():
            return Response(_dumps({"status": "unavailable"}), status=503, mimetype="application/json")
        return Response(_dumps({"status": "ok"}), mimetype="application/json")

    @app.get("/metrics")
    @hide
    async def metrics_route() -> Response:
        token = cfg.metrics.token
        if token:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                resp = _json_error(401, "UNAUTHENTICATED", "GET /metrics needs 'Authorization: Bearer <metrics.token>'")
                resp.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
                return resp
        elif not cfg.server.dev and not cfg.metrics.public:
            return _json_error(403, "FORBIDDEN", "/metrics is not public outside dev mode: set metrics.token "
                               "(or metrics.public)")
        batches, writes = service.store_counters()
        metrics.store_batches.set(batches)
        metrics.store_writes.set(writes)
        return Response(metrics.render(), mimetype="text/plain; version=0.0.4")

    @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @hide
    async def api_not_found(rest: str) -> Response:
        """No /api route has this path and method: 405 with Allow if the path exists with other methods."""
        await _drain_body()  # else the unread body stalls the next request on this keep-alive connection
        allowed = _allowed_methods(request.path)
        if allowed:
            resp = _json_error(405, "METHOD_NOT_ALLOWED", "method not allowed")
            resp.headers["Allow"] = ", ".join(sorted(allowed))
            return resp
        return _json_error(404, "NOT_FOUND", "no such API route")

    def _allowed_methods(path: str) -> set[str]:
        """The methods of the real routes for ``path`` (not the /api catch-all, nor the UI fallback)."""
        adapter = app.url_map.bind("localhost")
        allowed = set()
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            try:
                rule, _ = adapter.match(path, method=method, return_rule=True)
            except HTTPException:  # NotFound, MethodNotAllowed, RequestRedirect
                continue
            if rule.endpoint not in ("api_not_found", "ui"):
                allowed.add(method)
        if "GET" in allowed:
            allowed.add("HEAD")
        return allowed | {"OPTIONS"} if allowed else allowed

    @app.get("/")
    @app.get("/<path:path>")
    @hide
    async def ui(path: str = "") -> Response:
        first = "/" + path.split("/", 1)[0]
        if first in _NOT_UI:
            return _json_error(404, "NOT_FOUND", "not found")
        index = ui_dir / "index.html"
        if not index.is_file():
            return Response(_NO_UI_PAGE, status=503, mimetype="text/html")
        candidate = (ui_dir / path) if path else index
        # Source maps carry the UI's full source (sourcesContent): dev mode only.
        if path.lower().endswith(".map") and not cfg.server.dev:
            return _json_error(404, "NOT_FOUND", "source maps are served in dev mode only")
        if path and candidate.is_file() and candidate.resolve().is_relative_to(ui_dir.resolve()):
            resp = await send_from_directory(ui_dir, path)
            if path.startswith("assets/"):  # Vite's content-hashed files
                resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            else:
                resp.headers["Cache-Control"] = "no-cache"
            return resp
        # A missing file is a 404, not index.html: a stale page asking for an old hashed
        # bundle must fail visibly. Only extension-less paths are UI routes (/rooms/r_x).
        if path.startswith("assets/") or Path(path).suffix:
            return _json_error(404, "NOT_FOUND", "no such file")
        resp = await send_from_directory(ui_dir, "index.html")
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    known_rules.update(r.rule for r in app.url_map.iter_rules())
    return app


@asynccontextmanager
async def open_chatter(cfg: Config, *, memory: bool = False,
                       metrics: Metrics | None = None) -> AsyncIterator[QuartTrio]:
    """Store, then actor system, then app; closed in the reverse order."""
    reason = check_secret(cfg.auth.secret, dev=cfg.server.dev) if not cfg.auth.secret_file else None
    if reason:
        raise ConfigError(reason)
    opener = open_memory_store() if memory else open_sqlite_store(cfg.store)
    async with opener as store:
        secret = await resolve_secret(cfg, store)
        async with open_actor_system(cfg.realtime, store, metrics or Metrics()) as system:
            seam = start_seam(cfg.realtime.direct_writes, system.metrics)  # before hypercorn serves anything
            app = create_app(cfg, system, build_service(cfg, store, system, secret), secret, seam)
            async with trio.open_nursery() as nursery:
                app.nursery = nursery
                await nursery.start(sweeper_of(app).run)
                await app.startup()
                try:
                    yield app
                finally:
                    system.close_all_sockets()
                    with trio.move_on_after(5, shield=True):
                        await app.shutdown()
                    nursery.cancel_scope.cancel()


def chat_system(app: QuartTrio) -> ChatSystem:
    return app.extensions["chatter"].system  # type: ignore[no-any-return]
