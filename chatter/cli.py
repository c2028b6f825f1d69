"""Command line: ``chatter [serve] | migrate | create-user | print-config |
backup | restore | doctor | reset-password``.

Argument parsing only; the work lives in the modules it calls (the
operator commands in ``chatter.service.operator`` and
``chatter.service.password_reset``).  Every failure the user can cause prints one
line ``chatter: <reason>`` and exits 2.  With no command, or only options
(``chatter --port 9000``), the command is ``serve``: the single binary
starts the server when run bare.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import Any

import trio

from chatter import config as config_mod
from chatter.errors import ChatError, ConfigError
from chatter.store.maintenance import Error as DatabaseError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config file (default ./config.yml if present)")
    p.add_argument("--db", metavar="PATH", help="SQLite database file (store.path)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override any setting, e.g. --set realtime.typing_ttl=5 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatter", description="Self-hosted real-time group chat. "
                                     "Without a COMMAND (or with only options) it runs `serve`.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the API, the socket and the UI")
    _common(serve)
    serve.add_argument("--host", help="interface to listen on (server.host)")
    serve.add_argument("--port", help="TCP port (server.port; 0 picks a free one)")
    dev = serve.add_mutually_exclusive_group()
    dev.add_argument("--dev", dest="dev", action="store_const", const=True, help="dev mode (server.dev)")
    dev.add_argument("--no-dev", dest="dev", action="store_const", const=False, help="production mode")

    migrate = sub.add_parser("migrate", help="create or upgrade the database, then exit")
    _common(migrate)

    create = sub.add_parser("create-user", help="create an account")
    _common(create)
    create.add_argument("username")
    create.add_argument("--name", help="display name (default: the username)")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input instead of prompting")

    show = sub.add_parser("print-config", help="print the effective configuration (secret redacted)")
    _common(show)
    fmt = show.add_mutually_exclusive_group()
    fmt.add_argument("--example", action="store_true", help="print config.example.yml (all settings, defaults)")
    fmt.add_argument("--env", action="store_true", help="print example.env")

    bk = sub.add_parser("backup", help="copy the database to a file while the server runs, then verify the copy",
                        description="Online backup: a consistent snapshot via SQLite's backup API (the server "
                        "keeps serving), checked with PRAGMA integrity_check, then moved into place. "
                        "Records the time in the database (meta last_backup) for `chatter doctor`.")
    _common(bk)
    bk.add_argument("path", metavar="PATH", help="backup file to write")
    bk.add_argument("--force", action="store_true", help="overwrite PATH if it exists")

    rs = sub.add_parser("restore", help="replace the database with a backup (server stopped)",
                        description="Refuses while a server holds the database. Checks the backup's "
                        "integrity and schema, moves the current database aside as "
                        "<db>.pre-restore-<time>, installs the backup and gives it a new epoch so every "
                        "client resyncs (`reset`) on reconnect.")
    _common(rs)
    rs.add_argument("path", metavar="PATH", help="backup file made by `chatter backup`")

    dr = sub.add_parser("doctor", help="check the installation; exit 0 ok, 1 warnings, 2 failures",
                        description="Prints `OK|WARN|FAIL <what>: <detail>` lines: database integrity, "
                        "schema version, the message search index against the messages, WAL size, last backup age, "
                        "secret strength, free disk, whether the "
                        "database is on an anonymous container volume, listening address. Exit code 0 "
                        "when all are OK, 1 with warnings, 2 with failures.")
    _common(dr)
    dr.add_argument("--quick", action="store_true", help="PRAGMA quick_check instead of integrity_check")
    dr.add_argument("--repair", action="store_true",
                    help="first rebuild the message search index (in short batches; a running server keeps "
                    "serving), then check")

    rp = sub.add_parser("reset-password", help="print a one-time password-reset link (valid 30 minutes)",
                        description="Prints http://<host>:<port>/reset#<token>; opening it lets the user set "
                        "a new password once within 30 minutes. All their sessions end. A new link voids "
                        "older ones.")
    _common(rp)
    rp.add_argument("username", metavar="USER")
    rp.add_argument("--url", metavar="BASE", help="public base URL for the link, e.g. https://chat.example.org "
                    "(default from server.host and server.port)")
    return parser


def _overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """(dotted name -> raw value, dotted name -> the flag that set it)."""
    out: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
        origins[key.strip()] = "--set"
    flags = (("db", "store.path", "--db"), ("host", "server.host", "--host"), ("port", "server.port", "--port"))
    for attr, dotted, flag in flags:
        if getattr(args, attr, None) not in (None, ""):
            out[dotted], origins[dotted] = getattr(args, attr), flag
    if getattr(args, "dev", None) is not None:
        out["server.dev"], origins["server.dev"] = args.dev, "--dev" if args.dev else "--no-dev"
    return out, origins


def load(args: argparse.Namespace) -> config_mod.Config:
    overrides, origins = _overrides(args)
    return config_mod.load_config(config_file=args.config, overrides=overrides, origins=origins)


def cmd_serve(args: argparse.Namespace) -> int:
    from chatter.http.server import serve
    from chatter.logs import setup_logging

    cfg = load(args)
    setup_logging(cfg.server.log_level)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            host, port = await nursery.start(serve, cfg)
            shown = "localhost" if host in ("127.0.0.1", "::1") else host
            mode = "dev mode" if cfg.server.dev else "production mode"
            print(f"Chatter is serving on http://{shown}:{port}/  ({mode}, database {cfg.store.path})",
                  flush=True)

    trio.run(main)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from chatter.service import operator

    cfg = load(args)
    version, epoch = operator.migrate(cfg)
    print(f"database {cfg.store.path}: schema version {version}, epoch {epoch}")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from chatter.preflight import check_store_path
    from chatter.service import operator, validation

    cfg = load(args)
    check_store_path(cfg.store.path)
    username = validation.username(args.username)
    name = validation.display_name(args.name or username)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("passwords differ")
    password = validation.password(password)
    operator.create_user(cfg, username, name, password)
    print(f"created user {username}")
    return 0


def cmd_print_config(args: argparse.Namespace) -> int:
    if args.example:
        sys.stdout.write(config_mod.example_yaml())
        return 0
    if args.env:
        sys.stdout.write(config_mod.example_env())
        return 0
    sys.stdout.write(config_mod.effective_yaml(load(args)))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from chatter.service import operator

    cfg = load(args)
    result = operator.backup(cfg.store.path, args.path, force=args.force, busy_timeout=cfg.store.busy_timeout)
    print(f"backup {result.path}: {result.bytes} bytes, schema version {result.schema_version}, "
          f"seq {result.head}, integrity ok, {result.seconds:.2f} s")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from chatter.service import operator

    cfg = load(args)
    result = operator.restore(args.path, cfg.store.path)
    if result.moved_aside is not None:
        print(f"previous database moved to {result.moved_aside}")
    print(f"restored {args.path} to {result.db}: schema version {result.schema_version}, seq {result.head}, "
          f"new epoch {result.new_epoch} (clients will resync)")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from chatter.service import operator

    cfg = load(args)
    if args.repair:
        indexed = operator.repair_search(cfg, progress=lambda n: print(f"indexed {n} messages", end="\r",
                                                                       file=sys.stderr))
        print(f"search index rebuilt: {indexed} messages")
    checks = operator.doctor(cfg, quick=args.quick)
    for check in checks:
        print(check.line())
    return operator.exit_code(checks)


def cmd_reset_password(args: argparse.Namespace) -> int:
    from chatter.service import password_reset, validation
    from chatter.service.timestamps import rfc3339

    cfg = load(args)
    link = password_reset.create_reset_link(cfg, validation.username(args.username), url=args.url)
    print(link.url)
    print(f"valid once, for {password_reset.RESET_TTL / 60:.0f} minutes (until {rfc3339(link.expires)}), "
          f"for user {link.username}", file=sys.stderr)
    return 0


COMMANDS = {"serve": cmd_serve, "migrate": cmd_migrate, "create-user": cmd_create_user,
            "print-config": cmd_print_config, "backup": cmd_backup, "restore": cmd_restore,
            "doctor": cmd_doctor, "reset-password": cmd_reset_password}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]  # `chatter` alone serves (the binary's double-click case)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except BaseException as raised:  # noqa: BLE001 - sorted below; anything unexpected is re-raised
        e = _user_error(raised)
        if e is None:
            raise
        if isinstance(e, KeyboardInterrupt):
            return 130
        print(f"chatter: {_describe(e)}", file=sys.stderr)
        return 2


_USER_ERRORS = (ConfigError, ChatError, OSError, DatabaseError, KeyboardInterrupt)


def _leaves(e: BaseException) -> list[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        return [leaf for sub in e.exceptions for leaf in _leaves(sub)]
    return [e]


def _user_error(e: BaseException) -> BaseException | None:
    """The error the user caused, also when trio wrapped it in exception groups or hypercorn in its
    ``LifespanFailureError`` (raised while handling the original, so that is its ``__context__``).

    Cancellations that came along with it (the nursery cancelling its other tasks) are ignored.
    """
    leaves = [leaf for leaf in _leaves(e) if not isinstance(leaf, trio.Cancelled)]
    if len(leaves) != 1:
        return None
    leaf = leaves[0]
    if type(leaf).__name__ == "LifespanFailureError" and leaf.__context__ is not None:
        return _user_error(leaf.__context__)
    return leaf if isinstance(leaf, _USER_ERRORS) else None


def describe_error(e: BaseException) -> str | None:
    """The one line ``main`` prints for an error the user can fix, or None for a bug."""
    user = _user_error(e)
    return None if user is None or isinstance(user, KeyboardInterrupt) else _describe(user)


def _describe(e: BaseException) -> str:
    if isinstance(e, ChatError):
        return e.message
    if isinstance(e, DatabaseError):
        return f"database error: {e}"
    if isinstance(e, OSError):
        return f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
    return str(e)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["build_parser", "describe_error", "main"]
