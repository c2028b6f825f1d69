"""The Quart-trio application: routes, error mapping, UI, ops endpoints.

``create_app`` builds the app around a running ``ChatSystem``;
``open_chatter`` opens the store, the actor system and the app together
(store outermost, so it closes last) for the ASGI lifespan, ``chatter
serve`` and tests alike.
"""

from __future__ import annotations

import logging
import math
import secrets
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from quart import Response, g, request, send_from_directory
from quart_schema import QuartSchema, hide
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from chatter import auth
from chatter.actors.system import ChatSystem, open_actor_system
from chatter.config import Config, check_secret
from chatter.errors import ChatError, ConfigError
from chatter.http.reset import reset
from chatter.http.rest import Deps, api
from chatter.http.schemas import ChatterOpenAPI
from chatter.http.ws import sweeper_of, wire_socket
from chatter.metrics import Metrics
from chatter.ratelimit import RateLimiter
from chatter.store import Store, open_memory_store, open_sqlite_store

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
    unusable now and then (tests/reliability/test_rel_keepalive.py). The read
    is bounded by MAX_CONTENT_LENGTH and by time.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
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


def create_app(cfg: Config, system: ChatSystem, secret: str) -> QuartTrio:
    app = QuartTrio("chatter")
    app.config["MAX_CONTENT_LENGTH"] = cfg.server.max_body
    app.config["BODY_TIMEOUT"] = 30
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True
    QuartSchema(app, openapi_path="/openapi.json", redoc_ui_path=None, scalar_ui_path=None,
                swagger_ui_path=None, conversion_preference="msgspec",
                info={"title": "Chatter", "version": "1"},
                security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
                security=[{"bearer": []}], openapi_provider_class=ChatterOpenAPI)
    passwords = auth.Passwords(cfg.auth.bcrypt_rounds, cfg.auth.bcrypt_threads)
    per_account = cfg.auth.login_per_account_per_minute
    app.extensions["chatter"] = Deps(
        cfg=cfg, system=system, secret=secret, passwords=passwords,
        login_ip=RateLimiter(cfg.auth.login_per_ip_per_minute, 60.0),
        login_account_ip=RateLimiter(per_account, 60.0),
        # Across all addresses an account gets 10x more tries: a brute force
        # from one address is stopped without locking the owner out elsewhere.
        login_account=RateLimiter(per_account * 10, 60.0),
        register_ip=RateLimiter(cfg.auth.register_per_ip_per_minute, 60.0),
    )
    app.register_blueprint(api)
    app.register_blueprint(reset)
    wire_socket(app)
    metrics = system.metrics
    ui_dir = Path(cfg.server.ui_dir) if cfg.server.ui_dir else default_ui_dir()

    @app.before_request
    async def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    async def _finish(resp: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if rule.startswith("/<path:"):
            rule = "ui"
        metrics.http_requests.inc(method=request.method, route=rule, status=str(resp.status_code))
        started = getattr(g, "started", None)
        if started is not None:
            metrics.http_latency.observe(time.perf_counter() - started, route=rule)
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Content-Security-Policy", CSP)
        if request.path.startswith("/api/"):
            h.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(ChatError)
    async def _chat_error(e: ChatError) -> Response:
        await _drain_body()
        return _error_response(e)

    @app.errorhandler(HTTPException)
    async def _http_error(e: HTTPException) -> Response:
        status = e.code or 500
        code = _HTTP_CODES.get(status, "INVALID_INPUT" if status < 500 else "INTERNAL")
        message = {404: "not found", 405: "method not allowed", 413: "request body too large"}.get(
            status, (e.description or e.name or "error").split("\n")[0][:200])
        return _json_error(status, code, message)

    @app.errorhandler(Exception)
    async def _bug(e: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=e)
        return _json_error(500, "INTERNAL", "internal error")

    @app.get("/healthz")
    @hide
    async def healthz() -> Response:
        try:
            with trio.fail_after(2):
                await system.store.head()
        except Exception:
            return Response(_dumps({"status": "unavailable"}), status=503, mimetype="application/json")
        return Response(_dumps({"status": "ok"}), mimetype="application/json")

    @app.get("/metrics")
    @hide
    async def metrics_route() -> Response:
        store = system.store
        metrics.store_batches.set(getattr(store, "batches", 0))
        metrics.store_writes.set(getattr(store, "writes", 0))
        return Response(metrics.render(), mimetype="text/plain; version=0.0.4")

    @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @hide
    async def api_not_found(rest: str) -> Response:
        return _json_error(404, "NOT_FOUND", "no such API route")

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

    return app


def read_secret_file(path: Path) -> str:
    """The key in ``path``, which is created (mode 0600) with a random key if missing."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"auth.secret_file {path}: {e.strerror}") from None


async def resolve_secret(cfg: Config, store: Store) -> str:
    """The JWT key: configured, from secret_file, or (dev mode only) kept in the database."""
    secret: str = cfg.auth.secret
    if not secret and cfg.auth.secret_file:
        secret = await trio.to_thread.run_sync(read_secret_file, Path(cfg.auth.secret_file))
    if not secret and cfg.server.dev:
        secret = str(await store.get_meta("dev_secret") or "")
        if not secret:
            secret = secrets.token_urlsafe(48)
            await store.set_meta("dev_secret", secret)
    reason = check_secret(secret, dev=cfg.server.dev)
    if reason:
        raise ConfigError(reason)
    return secret


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
            app = create_app(cfg, system, secret)
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
