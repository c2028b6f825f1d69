"""Configuration: one SETTINGS table, a frozen Config tree, load_config().

Precedence, lowest first: the defaults in SETTINGS < ``config.yml`` <
``CHATTER_<SECTION>_<KEY>`` environment variables < CLI flags.  Every limit
(queue sizes, timeouts, sizes, TTLs) is a named setting with a unit and a help
line; ``config.example.yml`` and ``example.env`` are generated from SETTINGS
(``chatter print-config --example`` / ``--env``) and a test fails if the
committed files drift.

Each part of the program receives only its own section (``cfg.store``,
``cfg.realtime``...), never the whole tree.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from chatter.errors import ConfigError

# The secret older copies of config.example.yml / example.env carried: refused outside dev mode.
EXAMPLE_SECRET = "change-me-to-32-or-more-random-bytes"  # noqa: S105 - the value we refuse
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Setting:
    section: str
    key: str
    type: type
    default: Any
    unit: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    check: Callable[[Any], str | None] | None = None  # why a coerced value is refused, or None

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        return f"CHATTER_{self.section}_{self.key}".upper()


def _cidrs(values: list[str]) -> str | None:
    for v in values:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            return f"{v!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8, ::1)"
    return None


S = Setting
SETTINGS: tuple[Setting, ...] = (
    # server: the HTTP/WebSocket listener and process lifecycle
    S("server", "host", str, "127.0.0.1", "address", "Interface to listen on (0.0.0.0 in a container)."),
    S("server", "port", int, 8080, "port", "TCP port to listen on (0 = pick a free one).", 0, 65535),
    S("server", "dev", bool, True, "bool",
      "Dev mode: plain-HTTP cookies without Secure and a generated secret kept in the database. "
      "Turn off in production."),
    S("server", "backlog", int, 4096, "connections", "Listen backlog (hypercorn's default 100 stalls connection storms).", 16, 65535),
    S("server", "tcp_user_timeout", float, 30.0, "seconds",
      "TCP_USER_TIMEOUT on accepted sockets: a peer that stops acknowledging data is dropped after this.", 1, 600),
    S("server", "keep_alive_timeout", float, 30.0, "seconds",
      "An HTTP connection idle this long between requests (or before its first) is closed.", 1, 3600),
    S("server", "max_connections_per_ip", int, 0, "connections",
      "Open TCP connections (HTTP and sockets) per client address; past it a connection gets 429 and is closed. "
      "0 = no cap. Behind a reverse proxy every connection comes from the proxy: cap there instead.", 0, 1000000),
    S("server", "shutdown_grace", float, 10.0, "seconds", "On SIGTERM/SIGINT: time to close sockets and drain before exiting.", 0.5, 600),
    S("server", "allowed_origins", list, [], "list of origins",
      "Extra origins (scheme://host:port) allowed for cookie-authenticated requests and sockets; same-origin is always allowed."),
    S("server", "ui_dir", str, "", "path", "Directory of the built UI; empty = the bundled one (ui/dist in a checkout)."),
    S("server", "log_level", str, "info", "level", "Logging level.", choices=("debug", "info", "warning", "error")),
    S("server", "max_body", int, 64 * 1024, "bytes", "Largest REST request body accepted (413 above).", 1024, 16 * 1024 * 1024),
    S("server", "trusted_proxies", list, [], "list of CIDRs",
      "Reverse proxies whose forwarding header is believed (e.g. 127.0.0.1/32); empty = the TCP peer is the client.",
      check=_cidrs),
    S("server", "forwarded_header", str, "x-forwarded-for", "header",
      "The one header read from trusted proxies: X-Forwarded-For (+ X-Forwarded-Proto) or RFC 7239 Forwarded.",
      choices=("x-forwarded-for", "forwarded")),
    S("server", "hsts_max_age", int, 365 * 24 * 3600, "seconds",
      "Strict-Transport-Security max-age on HTTPS responses outside dev mode (0 = no header).", 0, 2**31 - 1),
    # store: the SQLite file
    S("store", "path", str, "chatter.db", "path", "SQLite database file (created on first start)."),
    S("store", "busy_timeout", float, 5.0, "seconds", "SQLite busy timeout for readers and the writer.", 0.1, 600),
    S("store", "batch_max", int, 256, "writes", "Most queued writes committed in one transaction (group commit).", 1, 10000),
    S("store", "write_queue", int, 4096, "writes", "Writes waiting for the writer before callers wait too (backpressure).", 1, 1000000),
    S("store", "readers", int, 4, "connections", "Read connections (each on its own worker thread).", 1, 64),
    S("store", "search_batch", int, 100, "messages",
      "Messages indexed per write while the search index is built in the background (an upgraded database); "
      "each batch holds the writer once: p50 4 ms, p99 21 ms, max 27 ms at 100 here, FTS5 merges included "
      "(bench/search.py). Keep a batch under 50 ms.", 10, 100000),
    S("store", "search_pause", float, 0.01, "seconds",
      "Pause between two batches of the background search-index build.", 0, 60),
    # auth: accounts and sessions
    S("auth", "secret", str, "", "string",
      f"JWT signing key, at least {MIN_SECRET_BYTES} bytes. Required outside dev mode (or use secret_file)."),
    S("auth", "secret_file", str, "", "path",
      "File holding the JWT key; created with a random key (mode 0600) if missing. Used when secret is empty."),
    S("auth", "token_ttl", float, 7 * 24 * 3600.0, "seconds", "Lifetime of a login token and its cookie.", 60, 365 * 24 * 3600),
    S("auth", "bcrypt_rounds", int, 12, "log2 rounds", "bcrypt cost (tests and benchmarks use 4).", 4, 16),
    S("auth", "bcrypt_threads", int, 2, "threads", "Concurrent bcrypt computations (each takes a worker thread).", 1, 64),
    S("auth", "login_per_account_per_minute", int, 10, "attempts",
      "Failed password checks (login, password change) per username and client address per minute before 429.", 1, 1000000),
    S("auth", "login_per_ip_per_minute", int, 30, "attempts",
      "Password checks (login, password change) per client address per minute before 429.", 1, 1000000),
    S("auth", "login_delay_max", float, 5.0, "seconds",
      "Longest delay before a password check from an address that already failed for an account under attack "
      "from many addresses (0 = no delay).", 0, 60),
    S("auth", "register_per_ip_per_minute", int, 20, "attempts", "Registrations per client address per minute before 429.", 1, 1000000),
    S("auth", "cookie_name", str, "chatter_session", "name", "Name of the session cookie."),
    # realtime: actors and sockets
    S("realtime", "outbox_frames", int, 512, "frames",
      "Frames queued per socket; when full its durable events are dropped and it is served from the database.", 8, 100000),
    S("realtime", "control_frames", int, 256, "frames",
      "Acks/errors/pongs queued per socket beyond which the socket is closed as too slow (4008).", 8, 100000),
    S("realtime", "coalesce_max", int, 256, "events", "Most queued events sent to one socket as one array frame.", 1, 10000),
    S("realtime", "catchup_page", int, 500, "events", "Events read from the database per catch-up page.", 10, 10000),
    S("realtime", "stall_timeout", float, 45.0, "seconds",
      "A socket whose writer makes no progress for this long while frames wait is closed with 4008.", 1, 3600),
    S("realtime", "typing_ttl", float, 6.0, "seconds", "Typing expires this long after the last active:true.", 0.5, 600),
    S("realtime", "presence_grace", float, 10.0, "seconds", "A user goes offline this long after their last socket closes.", 0, 3600),
    S("realtime", "presence_room_limit", int, 200, "members",
      "Live presence is shared through DMs and rooms of at most this many members (larger rooms would cost N^2 events).", 2, 1000000),
    S("realtime", "room_idle", float, 300.0, "seconds", "A room actor with no activity for this long is stopped.", 1, 86400),
    S("realtime", "room_restarts", int, 5, "restarts", "Crashes a room actor may have per minute before the room is failed.", 0, 1000),
    S("realtime", "inbox", int, 1024, "commands", "Capacity of each actor's inbox.", 1, 1000000),
    S("realtime", "dispatch_queue", int, 1024, "batches", "Committed batches waiting for fan-out before the writer waits.", 1, 1000000),
    S("realtime", "sends_per_second", int, 20, "sends", "send events per socket per second (protocol: 20).", 1, 100000),
    S("realtime", "errors_per_minute", int, 20, "errors", "Invalid frames per socket per minute before close 1008.", 1, 100000),
    S("realtime", "sockets_per_user", int, 20, "sockets",
      "Open sockets per user (every tab and device has one); past it the handshake gets 429 RATE_LIMITED.", 1, 100000),
    S("realtime", "max_frame", int, 64 * 1024, "bytes", "Largest socket frame accepted (close 1009 above).", 1024, 16 * 1024 * 1024),
    S("realtime", "direct_writes", bool, True, "bool",
      "Write socket frames straight from the fan-out when hypercorn's shape allows it (http/hypercorn_seam.py); "
      "off: every frame goes through the socket's writer task."),
    S("realtime", "handle_timeout", float, 10.0, "seconds", "Longest a caller waits for an actor's reply.", 0.1, 600),
    # metrics: who may read GET /metrics
    S("metrics", "token", str, "", "string",
      "When set, GET /metrics requires 'Authorization: Bearer <token>' (Prometheus: authorization.credentials)."),
    S("metrics", "public", bool, False, "bool",
      "Outside dev mode, serve GET /metrics without a token (only where the port is reachable by the scraper alone)."),
)
del S

SECTIONS = ("server", "store", "auth", "realtime", "metrics")


_DEFAULTS: dict[str, Any] = {s.dotted: s.default for s in SETTINGS}


def _default(dotted: str) -> Any:
    """A setting's default as SETTINGS gives it: the sections below write no default of their own."""
    return _DEFAULTS[dotted]


# One class per section, written out so that mypy knows every name and type
# (``cfg.realtime.inbx`` is a type error).  The defaults come from SETTINGS;
# tests/test_config.py checks that fields and table agree exactly.


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """The ``server`` section; units, bounds and help of each field are in SETTINGS."""

    host: str = _default("server.host")
    port: int = _default("server.port")
    dev: bool = _default("server.dev")
    backlog: int = _default("server.backlog")
    tcp_user_timeout: float = _default("server.tcp_user_timeout")
    keep_alive_timeout: float = _default("server.keep_alive_timeout")
    max_connections_per_ip: int = _default("server.max_connections_per_ip")
    shutdown_grace: float = _default("server.shutdown_grace")
    allowed_origins: list[str] = field(default_factory=lambda: list(_default("server.allowed_origins")))
    ui_dir: str = _default("server.ui_dir")
    log_level: str = _default("server.log_level")
    max_body: int = _default("server.max_body")
    trusted_proxies: list[str] = field(default_factory=lambda: list(_default("server.trusted_proxies")))
    forwarded_header: str = _default("server.forwarded_header")
    hsts_max_age: int = _default("server.hsts_max_age")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """The ``store`` section; units, bounds and help of each field are in SETTINGS."""

    path: str = _default("store.path")
    busy_timeout: float = _default("store.busy_timeout")
    batch_max: int = _default("store.batch_max")
    write_queue: int = _default("store.write_queue")
    readers: int = _default("store.readers")
    search_batch: int = _default("store.search_batch")
    search_pause: float = _default("store.search_pause")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """The ``auth`` section; units, bounds and help of each field are in SETTINGS."""

    secret: str = _default("auth.secret")
    secret_file: str = _default("auth.secret_file")
    token_ttl: float = _default("auth.token_ttl")
    bcrypt_rounds: int = _default("auth.bcrypt_rounds")
    bcrypt_threads: int = _default("auth.bcrypt_threads")
    login_per_account_per_minute: int = _default("auth.login_per_account_per_minute")
    login_per_ip_per_minute: int = _default("auth.login_per_ip_per_minute")
    login_delay_max: float = _default("auth.login_delay_max")
    register_per_ip_per_minute: int = _default("auth.register_per_ip_per_minute")
    cookie_name: str = _default("auth.cookie_name")


@dataclass(frozen=True, slots=True, kw_only=True)
class RealtimeConfig:
    """The ``realtime`` section; units, bounds and help of each field are in SETTINGS."""

    outbox_frames: int = _default("realtime.outbox_frames")
    control_frames: int = _default("realtime.control_frames")
    coalesce_max: int = _default("realtime.coalesce_max")
    catchup_page: int = _default("realtime.catchup_page")
    stall_timeout: float = _default("realtime.stall_timeout")
    typing_ttl: float = _default("realtime.typing_ttl")
    presence_grace: float = _default("realtime.presence_grace")
    presence_room_limit: int = _default("realtime.presence_room_limit")
    room_idle: float = _default("realtime.room_idle")
    room_restarts: int = _default("realtime.room_restarts")
    inbox: int = _default("realtime.inbox")
    dispatch_queue: int = _default("realtime.dispatch_queue")
    sends_per_second: int = _default("realtime.sends_per_second")
    errors_per_minute: int = _default("realtime.errors_per_minute")
    sockets_per_user: int = _default("realtime.sockets_per_user")
    max_frame: int = _default("realtime.max_frame")
    direct_writes: bool = _default("realtime.direct_writes")
    handle_timeout: float = _default("realtime.handle_timeout")


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """The ``metrics`` section; units, bounds and help of each field are in SETTINGS."""

    token: str = _default("metrics.token")
    public: bool = _default("metrics.public")


DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig
    store: StoreConfig
    auth: AuthConfig
    realtime: RealtimeConfig
    metrics: MetricsConfig
    source: str = "defaults"
    # Where each value came from, by dotted name: DEFAULT, the config file's path,
    # "environment CHATTER_...", or the command-line flag ("--port", "--set").
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)


_CLASSES = {"server": ServerConfig, "store": StoreConfig, "auth": AuthConfig, "realtime": RealtimeConfig,
            "metrics": MetricsConfig}
_BY_DOTTED = {s.dotted: s for s in SETTINGS}


def _coerce(s: Setting, raw: Any, origin: str) -> Any:
    """Turn a raw value (YAML scalar or env/CLI string) into the setting's type."""
    where = f"{origin}: {s.dotted}"
    if s.type is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where} must be true or false, got {raw!r}")
    if s.type is list:
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            items = [x.strip() for x in raw]
        elif isinstance(raw, str):
            items = [x.strip() for x in raw.split(",") if x.strip()]
        else:
            raise ConfigError(f"{where} must be a list of strings, got {raw!r}")
        reason = s.check(items) if s.check else None
        if reason:
            raise ConfigError(f"{where}: {reason}")
        return items
    if s.type in (int, float):
        if isinstance(raw, bool):
            raise ConfigError(f"{where} must be a number ({s.unit}), got {raw!r}")
        try:
            value = s.type(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be {'an integer' if s.type is int else 'a number'} "
                              f"({s.unit}), got {raw!r}") from None
        if s.type is float and value != value:  # NaN
            raise ConfigError(f"{where} must be a number, got NaN")
        if (s.minimum is not None and value < s.minimum) or (s.maximum is not None and value > s.maximum):
            raise ConfigError(f"{where} must be {_bounds(s)}, got {_num(value)}")
        return value
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ConfigError(f"{where} must be a string, got {raw!r}")
    text = str(raw)
    if s.choices and text not in s.choices:
        raise ConfigError(f"{where} must be one of {', '.join(s.choices)}, got {text!r}")
    return text


def _num(value: float) -> str:
    """A number as a person writes it: 65535, 0.5, 1000000 (never 1e+06)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _bounds(s: Setting) -> str:
    what = "a port number " if s.unit == "port" else ""
    unit = "" if s.unit == "port" else f" {s.unit}"
    if s.minimum is not None and s.maximum is not None:
        return f"{what}between {_num(s.minimum)} and {_num(s.maximum)}{unit}"
    if s.minimum is not None:
        return f"{what}at least {_num(s.minimum)}{unit}"
    return f"{what}at most {_num(s.maximum or 0)}{unit}"


def _key_lines(text: str) -> dict[str, int]:
    """1-based line of each section and setting key in a YAML text that parsed."""
    lines: dict[str, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, body in root.value:
        if isinstance(key, yaml.ScalarNode):
            lines[str(key.value)] = key.start_mark.line + 1
            if isinstance(body, yaml.MappingNode):
                for sub, _ in body.value:
                    if isinstance(sub, yaml.ScalarNode):
                        lines[f"{key.value}.{sub.value}"] = sub.start_mark.line + 1
    return lines


def _from_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"config file {path}: cannot read it ({e.strerror}); "
                          f"it must be readable by uid {os.getuid()}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(e.problem or e.context or "syntax error").split())
        if "'\\t'" in problem:
            problem += " (YAML indents with spaces, not tabs)"
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of sections")
    lines = _key_lines(text)

    def at(name: str) -> str:
        return f"{path} line {lines[name]}" if name in lines else str(path)

    values: dict[str, Any] = {}
    for section, body in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{at(str(section))}: unknown section {section!r} (known: {', '.join(SECTIONS)})")
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{at(section)}: section {section!r} must be a mapping")
        for key, raw in body.items():
            dotted = f"{section}.{key}"
            if dotted not in _BY_DOTTED:
                raise ConfigError(f"{at(dotted)}: unknown setting {dotted!r}")
            values[dotted] = _coerce(_BY_DOTTED[dotted], raw, at(dotted))
    return values


def load_config(
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    origins: Mapping[str, str] | None = None,
    use_file: bool = True,
) -> Config:
    """Build the Config from defaults, a YAML file, the environment and overrides.

    ``config_file=None`` looks for ``./config.yml`` (or ``CHATTER_CONFIG``) and
    uses defaults if it is absent; an explicitly named file must exist.
    ``overrides`` maps dotted names to raw values (CLI flags); ``origins``
    names the flag each came from (``--port``), for messages and ``sources``.
    ``use_file=False`` ignores config files altogether (tests).
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.dotted: s.default for s in SETTINGS}
    sources: dict[str, str] = {s.dotted: DEFAULT for s in SETTINGS}
    source = "defaults"
    named_by = "--config" if config_file is not None else "CHATTER_CONFIG"
    explicit = config_file is not None or "CHATTER_CONFIG" in env
    path = Path(config_file if config_file is not None else env.get("CHATTER_CONFIG", "config.yml"))
    if use_file and (path.exists() or explicit):
        if path.is_dir():
            raise ConfigError(f"config file {path} is a directory; {named_by} must name a YAML file")
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; create it or fix {named_by}")
        from_file = _from_yaml(path)
        values.update(from_file)
        sources.update(dict.fromkeys(from_file, str(path)))
        source = str(path)
    known_env = {s.env: s for s in SETTINGS}
    for name, raw in env.items():
        if name in known_env:
            values[known_env[name].dotted] = _coerce(known_env[name], raw, f"environment {name}")
            sources[known_env[name].dotted] = f"environment {name}"
        elif name.startswith("CHATTER_") and name != "CHATTER_CONFIG":
            raise ConfigError(f"unknown environment variable {name} (see example.env)")
    for dotted, raw in (overrides or {}).items():
        flag = (origins or {}).get(dotted, "command line")
        if dotted not in _BY_DOTTED:
            raise ConfigError(f"{flag}: unknown setting {dotted!r} (see config.example.yml)")
        values[dotted] = _coerce(_BY_DOTTED[dotted], raw, flag)
        sources[dotted] = flag
    sections = {
        name: _CLASSES[name](**{s.key: values[s.dotted] for s in SETTINGS if s.section == name})
        for name in SECTIONS
    }
    return Config(**sections, source=source, sources=MappingProxyType(sources))


def weak_key(key: str) -> str | None:
    """What is wrong with a non-empty JWT key ("is the example value...", "is shorter than..."), or None."""
    if key == EXAMPLE_SECRET:
        return "is the example value from config.example.yml"
    if len(key.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def check_secret(secret: str, *, dev: bool) -> str | None:
    """Why ``secret`` may not be used, or None.  Dev mode accepts anything."""
    if dev:
        return None
    if not secret:
        return "auth.secret (CHATTER_AUTH_SECRET) or auth.secret_file is required outside dev mode"
    problem = weak_key(secret)
    if problem is None:
        return None
    advice = "generate your own" if secret == EXAMPLE_SECRET else "generate a longer one"
    return f"auth.secret {problem}; {advice} (e.g. openssl rand -base64 48)"


def _yaml_scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


# Printed under auth.secret in the example files, which leave the key empty: a key
# copied from an example would be known to everyone.
HOW_TO_MAKE_A_KEY = "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def example_yaml() -> str:
    """The text of config.example.yml, generated from SETTINGS."""
    lines = [
        "# Chatter configuration: every setting with its default.",
        "# Generated by `chatter print-config --example`; do not edit by hand.",
        "# Precedence: defaults < this file (config.yml) < CHATTER_* environment < CLI flags.",
    ]
    for section in SECTIONS:
        lines += ["", f"{section}:"]
        for s in SETTINGS:
            if s.section != section:
                continue
            lines.append(f"  # {s.help} [{s.unit}]")
            if s.dotted == "auth.secret":
                lines.append(f"  # {HOW_TO_MAKE_A_KEY}")
            lines.append(f"  {s.key}: {_yaml_scalar(s.default)}")
    return "\n".join(lines) + "\n"


def example_env() -> str:
    """The text of example.env, generated from SETTINGS."""
    lines = [
        "# Chatter environment variables: every setting, with its default.",
        "# Generated by `chatter print-config --env`; do not edit by hand.",
        "# CHATTER_CONFIG names the YAML file (default ./config.yml).",
        "# CHATTER_CONFIG=config.yml",
    ]
    for s in SETTINGS:
        default = s.default
        if isinstance(default, bool):
            text = "true" if default else "false"
        elif isinstance(default, list):
            text = ",".join(default)
        else:
            text = str(default)
        lines.append(f"# {s.help} [{s.unit}]")
        if s.dotted == "auth.secret":
            lines.append(f"# {HOW_TO_MAKE_A_KEY}")
        lines.append(f"{s.env}={text}")
    lines += [
        "",
        "# UI development server (npm run dev in ui/): where /api and /ws are proxied.",
        "VITE_API_ORIGIN=http://127.0.0.1:8080",
    ]
    return "\n".join(lines) + "\n"


def effective_yaml(cfg: Config) -> str:
    """What ``chatter print-config`` prints: every value (secret redacted) and where it came from."""
    lines = [
        "# Effective configuration; each value's comment says where it came from.",
        "# Precedence: default < config file < CHATTER_* environment < command-line flags.",
    ]
    shown = as_dict(cfg)
    for section in SECTIONS:
        lines += ["", f"{section}:"]
        for key, value in shown[section].items():
            origin = cfg.sources.get(f"{section}.{key}", DEFAULT)
            lines.append(f"  {key}: {_yaml_scalar(value)}  # {DEFAULT if origin == DEFAULT else 'from ' + origin}")
    return "\n".join(lines) + "\n"


def as_dict(cfg: Config, *, redact: bool = True) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        obj = getattr(cfg, section)
        out[section] = {}
        for s in SETTINGS:
            if s.section == section:
                v = getattr(obj, s.key)
                if redact and s.dotted in ("auth.secret", "metrics.token") and v:
                    v = "<redacted>"
                out[section][s.key] = v
    return out
