"""Operator commands: migrate, create-user, backup, restore, doctor (and its search-index repair).

Called by ``chatter migrate | create-user | backup | restore | doctor``
(password-reset links are ``password_reset.py``).  They work on the database
file with their own connections (``chatter.store.maintenance`` holds their
SQL), so ``backup`` and ``doctor`` run while a server holds the database and
never take the database lock (``chatter.store.lock``); ``restore`` and
``migrate`` refuse to: they take that lock, which names the server holding
it (``restore`` then also SQLite's exclusive lock, which keeps out other
programs).

Policy in one place:
- A backup is one consistent snapshot (the live server is not blocked),
  written to a temporary file beside the target, switched to a
  self-contained rollback journal, checked with ``PRAGMA integrity_check``
  and only then moved into place.  The source's ``meta.last_backup``
  records when (RFC 3339 UTC).
- "A server holds the database" = an exclusive lock cannot be taken within
  ``maintenance.LOCK_TIMEOUT``.
- A restore moves the current file aside (``<db>.pre-restore-<time>``), puts
  a checked copy of the backup in its place and gives it a new random
  ``epoch``, so every client that resumes gets ``reset`` and reloads.

Every failure the operator can cause is a ``ChatError`` (or, for a path it
cannot use, a ``ConfigError`` from ``chatter.preflight``) with a one-line
message (the CLI prints it as ``chatter: <reason>`` and exits 2).  ``doctor``
also reads ``/proc/self/mountinfo`` (``chatter.mounts``) to warn when the
database sits on an anonymous volume.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import stat
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trio

from chatter import auth, mounts
from chatter.config import Config, check_secret
from chatter.errors import ChatError, Conflict, Invalid, NotFound, Unavailable
from chatter.preflight import check_store_path, in_container, writable_dir
from chatter.service.timestamps import parse_rfc3339, rfc3339
from chatter.store import lock, maintenance, open_sqlite_store
from chatter.store.maintenance import LOCK_TIMEOUT, in_use
from chatter.store.models import Username
from chatter.store.schema import MIGRATIONS
from chatter.store.sqlite import migrate_file

BACKUP_WARN_AGE = 24 * 3600.0  # seconds: doctor warns when the last backup is older
WAL_WARN_BYTES = 64 * 1024 * 1024
DISK_WARN_BYTES = 1024 * 1024 * 1024
DISK_FAIL_BYTES = 64 * 1024 * 1024


# -- migrate and create-user ------------------------------------------------


def migrate(cfg: Config) -> tuple[int, str]:
    """Create or upgrade the database; (schema version, epoch).  Refused while a server runs: it
    migrated the file when it started, and migrating under it would change the schema beneath its
    open connections."""
    check_store_path(cfg.store.path)
    with lock.acquire(cfg.store.path, role="migrate",
                      then="stop it first (a server migrates the database when it starts)"):
        return migrate_file(cfg.store.path, cfg.store.busy_timeout)


def create_user(cfg: Config, username: Username, name: str, password: str) -> None:
    """Create an account (validated input) in the database, creating or migrating it first if need be."""
    check_store_path(cfg.store.path)

    async def main() -> None:
        async with open_sqlite_store(cfg.store) as store:
            hashed = await trio.to_thread.run_sync(auth.hash_password_sync, password, cfg.auth.bcrypt_rounds)
            await store.create_user(username, name, hashed)

    try:
        trio.run(main)
    except ExceptionGroup as group:  # the store's nursery wraps what its body raised: a taken name is one line
        leaves = group.exceptions
        if len(leaves) == 1 and isinstance(leaves[0], ChatError):
            raise leaves[0] from None
        raise


# -- backup -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    bytes: int
    seconds: float
    schema_version: int
    head: int


def backup(
    db_path: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    force: bool = False,
    busy_timeout: float = 5.0,
    now: float | None = None,
) -> BackupResult:
    """Copy the live database to ``dest`` and verify the copy; see the module docstring."""
    src_path, dest_path = Path(db_path), Path(dest)
    if dest_path.is_dir():
        raise Invalid(
            f"{dest_path} is a directory; give a file name, e.g. {dest_path / 'chatter-backup.db'}"
        )
    if dest_path.exists() and not force:
        raise Conflict(
            f"{dest_path} already exists; choose another name or pass --force to overwrite it"
        )
    writable_dir(dest_path.parent, "backup", dest_path, fix="choose another PATH")
    if src_path.exists() and dest_path.exists() and src_path.resolve() == dest_path.resolve():
        raise Invalid("the backup file is the database itself")
    started = time.monotonic()
    tmp = dest_path.with_name(f".{dest_path.name}.partial-{secrets.token_hex(4)}")
    try:
        with closing(maintenance.open_existing(src_path, busy_timeout)) as src:
            maintenance.check_schema(src, f"database {src_path}")
            copy = maintenance.snapshot(src, tmp)
            os.chmod(tmp, 0o600)  # it holds password hashes
            if force:
                os.replace(tmp, dest_path)
            else:
                try:
                    os.link(tmp, dest_path)  # fails if dest appeared meanwhile: never overwrite
                except FileExistsError:
                    raise Conflict(
                        f"{dest_path} already exists; pass --force to overwrite it"
                    ) from None
                tmp.unlink()
            maintenance.set_meta(src, {"last_backup": rfc3339(time.time() if now is None else now)})
    except maintenance.OperationalError as e:
        raise Unavailable(f"backup failed: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(
        path=dest_path,
        bytes=dest_path.stat().st_size,
        seconds=time.monotonic() - started,
        schema_version=copy.schema_version,
        head=copy.head,
    )


# -- restore ----------------------------------------------------------------


def _swap(
    old: maintenance.Connection | None, target: Path, new: Path, stamp: str
) -> tuple[Path | None, str | None]:
    """Move ``target`` aside (if it exists) and ``new`` into its place; (aside path, old epoch)."""
    old_epoch = maintenance.close_for_move(old)
    aside = None
    if target.exists():
        aside = target.with_name(f"{target.name}.pre-restore-{stamp}")
        os.replace(target, aside)
        for suffix in ("-wal", "-shm"):
            side = Path(f"{target}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{aside}{suffix}"))
    os.replace(new, target)
    return aside, old_epoch


@dataclass(frozen=True, slots=True)
class RestoreResult:
    db: Path
    moved_aside: Path | None
    old_epoch: str | None
    new_epoch: str
    schema_version: int
    head: int


def restore(
    backup_path: str | os.PathLike[str],
    db_path: str | os.PathLike[str],
    *,
    lock_timeout: float = LOCK_TIMEOUT,
    now: float | None = None,
) -> RestoreResult:
    """Replace the (stopped) database with a checked copy of ``backup_path`` and a new epoch."""
    src, target = Path(backup_path), Path(db_path)
    if not src.is_file():
        raise NotFound(f"backup {src} does not exist")
    if target.exists() and src.resolve() == target.resolve():
        raise Invalid("the backup is the database itself")
    if not target.parent.is_dir():
        raise NotFound(f"directory {target.parent} does not exist")
    writable_dir(target.parent, "store.path", target, fix="choose another --db")
    # The server lock first: it names the server that holds the file and keeps one from
    # starting halfway through.  The SQLite probe below also catches other programs.
    with lock.acquire(target, role="restore", then="stop it first, then restore"):
        return _restore_locked(src, target, lock_timeout, now)


def _restore_locked(src: Path, target: Path, lock_timeout: float, now: float | None) -> RestoreResult:
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime(
        "%Y%m%dT%H%M%SZ"
    )
    tmp = target.with_name(f".{target.name}.restoring-{secrets.token_hex(4)}")
    try:
        shutil.copyfile(src, tmp)
        new_epoch = secrets.token_hex(8)
        copy = maintenance.prepare_restore(tmp, f"backup {src}", {
            "epoch": new_epoch, "restored_from": f"{src.name} at {rfc3339(time.time() if now is None else now)}"})
        os.chmod(tmp, 0o600)
        try:
            with maintenance.exclusive(target, lock_timeout) as old:
                aside, old_epoch = _swap(old, target, tmp, stamp)
        except Invalid:  # the current file is not a readable database: nothing can be serving it
            aside, old_epoch = _swap(None, target, tmp, stamp)
    except maintenance.OperationalError as e:
        raise Unavailable(f"restore failed: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return RestoreResult(
        db=target,
        moved_aside=aside,
        old_epoch=old_epoch,
        new_epoch=new_epoch,
        schema_version=copy.schema_version,
        head=copy.head,
    )


# -- doctor -----------------------------------------------------------------

OK, WARN, FAIL = "OK", "WARN", "FAIL"
_RANK = {OK: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True, slots=True)
class Check:
    level: str
    what: str
    detail: str

    def line(self) -> str:
        return f"{self.level} {self.what}: {self.detail}"


def exit_code(checks: list[Check]) -> int:
    """0 all OK, 1 some WARN, 2 some FAIL."""
    return max((_RANK[c.level] for c in checks), default=0)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _secret_check(cfg: Config) -> Check:
    dev = cfg.server.dev
    if cfg.auth.secret:
        reason = check_secret(cfg.auth.secret, dev=False)
        if reason:
            return Check(
                WARN if dev else FAIL,
                "secret",
                reason + (" (accepted only in dev mode)" if dev else ""),
            )
        return Check(OK, "secret", f"auth.secret set, {len(cfg.auth.secret.encode())} bytes")
    if cfg.auth.secret_file:
        path = Path(cfg.auth.secret_file)
        if not path.exists():
            return Check(OK, "secret", f"{path} will be created with a random key at first start")
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            return Check(FAIL, "secret", f"cannot read {path}: {getattr(e, 'strerror', None) or e}")
        reason = check_secret(text, dev=False)
        if reason:
            return Check(FAIL, "secret", f"{path}: {reason.replace('auth.secret ', 'the key ')}")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return Check(
                WARN, "secret", f"{path} is readable by others (mode {mode:o}); chmod 600 it"
            )
        return Check(OK, "secret", f"{path}, {len(text.encode())} bytes, mode {mode:o}")
    if dev:
        return Check(
            WARN,
            "secret",
            "dev mode keeps a generated key in the database; "
            "set auth.secret_file (CHATTER_AUTH_SECRET_FILE) for production",
        )
    return Check(FAIL, "secret", check_secret("", dev=False) or "no secret")


def _listen_check(cfg: Config, running: bool) -> Check:
    host, port = cfg.server.host, cfg.server.port
    loopback = host in ("127.0.0.1", "::1", "localhost")
    where = f"{host}:{port}" + (" (loopback only)" if loopback else "")
    if cfg.server.dev and not loopback:
        return Check(
            WARN, "listen", f"{where} in dev mode: cookies lack Secure; set server.dev=false"
        )
    if cfg.server.dev:
        return Check(WARN, "listen", f"{where}, dev mode (set server.dev=false in production)")
    if not running and port:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with closing(socket.socket(family, socket.SOCK_STREAM)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as e:
                return Check(
                    FAIL,
                    "listen",
                    f"{where}: cannot bind ({e.strerror}); another program has the port?",
                )
    return Check(OK, "listen", f"{where}, production mode")


def _db_checks(db: maintenance.Connection, now: float, quick: bool) -> list[Check]:
    checks: list[Check] = []
    verdict = maintenance.integrity(db, quick)
    checks.append(
        Check(
            OK if verdict == "ok" else FAIL,
            "integrity",
            ("quick_check " if quick else "integrity_check ") + verdict,
        )
    )
    version = maintenance.version(db)
    if version == len(MIGRATIONS):
        checks.append(Check(OK, "schema", f"version {version} (current)"))
    elif version < len(MIGRATIONS):
        checks.append(
            Check(
                WARN,
                "schema",
                f"version {version}; the next start migrates it "
                f"to {len(MIGRATIONS)} (take a backup first)",
            )
        )
    else:
        checks.append(
            Check(
                FAIL,
                "schema",
                f"version {version} is newer than this program "
                f"({len(MIGRATIONS)}); upgrade Chatter",
            )
        )
    checks += _search_checks(db)
    last = maintenance.meta(db, "last_backup")
    when = parse_rfc3339(last) if last else None
    if when is None:
        checks.append(Check(WARN, "backup", "no backup recorded; run `chatter backup FILE`"))
    else:
        age = max(0.0, now - when)
        level = OK if age <= BACKUP_WARN_AGE else WARN
        checks.append(Check(level, "backup", f"last backup {_age(age)} ago ({last})"))
    return checks


def _search_checks(db: maintenance.Connection) -> list[Check]:
    """The search index against the messages table (``maintenance.check_search_index``)."""
    report = maintenance.check_search_index(db)
    if report is None:
        return []
    if not report.ok:
        return [Check(FAIL, "search", f"the index differs from the messages: {report.missing} missing, "
                      f"{report.extra} extra, {report.mismatched} of {report.sampled} sampled messages not found "
                      "by their own text; run `chatter doctor --repair`")]
    if report.pending:
        return [Check(WARN, "search", f"index being built: {report.pending} of {report.messages} messages still "
                      "to index (a running server builds it in the background, newest first; search finds "
                      "older messages once it is done)")]
    return [Check(OK, "search", f"index matches the {report.messages} messages ({report.sampled} sampled)")]


def repair_search(cfg: Config, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the search index (beside a running server or not); the number of messages indexed.

    In batches of ``store.search_batch`` messages, each its own short write
    (``maintenance.rebuild_search_index``), so a running server keeps writing meanwhile.
    """
    path = Path(cfg.store.path)
    with closing(maintenance.open_existing(path, cfg.store.busy_timeout)) as db:
        maintenance.check_schema(db, f"database {path}")
        if maintenance.version(db) < maintenance.SEARCH_VERSION:
            raise Invalid(f"database {path} has no search index yet: the next start (or `chatter migrate`) "
                          "adds it")
        try:
            return maintenance.rebuild_search_index(db, cfg.store.search_batch, cfg.store.search_pause, progress)
        except maintenance.OperationalError as e:
            raise Unavailable(f"rebuilding the search index failed: {e}; run it again") from None


def doctor(cfg: Config, *, now: float | None = None, quick: bool = False) -> list[Check]:
    """Health of an installation, without changing anything; see ``Check.line``."""
    now = time.time() if now is None else now
    checks: list[Check] = []
    path = Path(cfg.store.path)
    running = False
    if not path.exists():
        checks.append(
            Check(WARN, "database", f"{path} does not exist yet (created at first start)")
        )
    else:
        running = in_use(path)  # before opening our own connection, which would count
        holder = lock.read_holder(path) if running else None
        try:
            db = maintenance.open_existing(path, cfg.store.busy_timeout)
        except (Invalid, Unavailable) as e:
            checks.append(Check(FAIL, "database", e.message))
        else:
            with closing(db):
                checks.append(
                    Check(
                        OK,
                        "database",
                        f"{path}, {_size(path.stat().st_size)}"
                        + (", in use by a running server" if running else ", not in use")
                        + (f" ({holder.describe()})" if holder else ""),
                    )
                )
                try:
                    checks += _db_checks(db, now, quick)
                except maintenance.DatabaseError as e:
                    checks.append(
                        Check(
                            FAIL, "integrity", f"SQLite cannot read {path}: {e}; restore a backup"
                        )
                    )
        wal = Path(f"{path}-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
        checks.append(
            Check(
                OK if wal_size <= WAL_WARN_BYTES else WARN,
                "wal",
                f"{_size(wal_size)}"
                + (
                    ""
                    if wal_size <= WAL_WARN_BYTES
                    else " (large: a long reader blocks checkpoints?)"
                ),
            )
        )
    checks.append(_secret_check(cfg))
    where = path.parent if path.parent.exists() else Path(".")
    usage = shutil.disk_usage(where)
    db_size = path.stat().st_size if path.exists() else 0
    free = usage.free
    if free < max(DISK_FAIL_BYTES, 2 * db_size):
        level = FAIL
    elif free < DISK_WARN_BYTES:
        level = WARN
    else:
        level = OK
    checks.append(
        Check(level, "disk", f"{_size(free)} free of {_size(usage.total)} at {where.resolve()}")
    )
    volume = volume_check(path)
    if volume is not None:
        checks.append(volume)
    checks.append(_listen_check(cfg, running))
    return checks


def volume_check(
    db_path: Path, mountinfo: str | None = None, container: bool | None = None
) -> Check | None:
    """WARN when re-creating the container would lose the database; None outside containers' storage."""
    if mountinfo is None:
        mount = mounts.mount_holding(db_path.parent)
    else:  # a recorded mountinfo (tests): the path is one of that machine's
        mount = mounts.mount_of(str(db_path.parent), mounts.parse_mountinfo(mountinfo))
    if mount is None:
        return None
    where = mount.mount_point
    name = mounts.volume_name(mount)
    if name is not None and mounts.is_anonymous(name):
        return Check(
            WARN,
            "volume",
            f"{where} is an anonymous volume ({name[:12]}...): re-creating the container loses "
            f"every account and message; run with a named volume (-v chatter-data:{where}) "
            "or a bind mount",
        )
    if name is not None:
        return Check(OK, "volume", f"{where} is the named volume {name}")
    in_box = in_container() if container is None else container
    if in_box and mount.mount_point == "/" and mount.fstype == "overlay":
        return Check(
            WARN,
            "volume",
            f"{db_path.parent} is in the container's own file system: re-creating the container "
            "loses the database; mount a volume there (-v chatter-data:/data) and keep the "
            "database in it",
        )
    return None

