"""Command line: ``chatter serve | migrate | create-user | print-config``.

Argument parsing only; the work lives in the modules it calls.  Every
failure the user can cause prints one line ``chatter: <reason>`` and exits 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import Any

import trio
import yaml

from chatter import config as config_mod
from chatter.errors import ChatError, ConfigError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config file (default ./config.yml if present)")
    p.add_argument("--db", metavar="PATH", help="SQLite database file (store.path)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override any setting, e.g. --set realtime.typing_ttl=5 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatter", description="Self-hosted real-time group chat.")
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
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    if getattr(args, "db", None):
        out["store.path"] = args.db
    if getattr(args, "host", None):
        out["server.host"] = args.host
    if getattr(args, "port", None) is not None:
        out["server.port"] = args.port
    if getattr(args, "dev", None) is not None:
        out["server.dev"] = args.dev
    return out


def load(args: argparse.Namespace) -> config_mod.Config:
    return config_mod.load_config(config_file=args.config, overrides=_overrides(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from chatter.http.server import serve
    from chatter.logs import setup_logging

    cfg = load(args)
    if not cfg.auth.secret_file:
        reason = config_mod.check_secret(cfg.auth.secret, dev=cfg.server.dev)
        if reason:
            raise ConfigError(reason)
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
    from chatter.store.sqlite import migrate_file

    cfg = load(args)
    version, epoch = migrate_file(cfg.store.path, cfg.store.busy_timeout)
    print(f"database {cfg.store.path}: schema version {version}, epoch {epoch}")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from chatter import auth, policy
    from chatter.store import open_sqlite_store

    cfg = load(args)
    username = policy.username(args.username)
    name = policy.display_name(args.name or username)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("passwords differ")
    password = policy.password(password)

    async def main() -> None:
        async with open_sqlite_store(cfg.store) as store:
            hashed = await trio.to_thread.run_sync(auth.hash_password_sync, password, cfg.auth.bcrypt_rounds)
            await store.create_user(username, name, hashed)

    trio.run(main)
    print(f"created user {username}")
    return 0


def cmd_print_config(args: argparse.Namespace) -> int:
    if args.example:
        sys.stdout.write(config_mod.example_yaml())
        return 0
    if args.env:
        sys.stdout.write(config_mod.example_env())
        return 0
    cfg = load(args)
    print(f"# source: {cfg.source}")
    sys.stdout.write(yaml.safe_dump(config_mod.as_dict(cfg), sort_keys=False))
    return 0


COMMANDS = {"serve": cmd_serve, "migrate": cmd_migrate, "create-user": cmd_create_user,
            "print-config": cmd_print_config}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, ChatError) as e:
        print(f"chatter: {getattr(e, 'message', None) or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        print(f"chatter: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["build_parser", "main"]
