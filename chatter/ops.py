"""Operator commands: backup, restore, doctor, password-reset links.

Plain sync functions over a database path (or the Config), called by
``chatter backup | restore | doctor | reset-password`` and, for the reset
token policy, by ``chatter.http.reset``.  They work on the file directly
with their own ``sqlite3`` connections, so ``backup``, ``doctor`` and
``reset-password`` run while a server holds the database (WAL lets readers
and one short writer in beside it) and never take the database lock
(``chatter.store.lock``); ``restore`` refuses to: it takes that lock, which
names the server holding it, and then SQLite's exclusive lock, which also
keeps out other programs.

Policy in one place:
- A backup is ``sqlite3.Connection.backup`` (one consistent snapshot, the
  live server is not blocked), written to a temporary file beside the
  target, switched to a self-contained rollback journal, checked with
  ``PRAGMA integrity_check`` and only then moved into place.  The source's
  ``meta.last_backup`` records when (RFC 3339 UTC).
- "A server holds the database" = an exclusive lock cannot be taken within
  ``LOCK_TIMEOUT``.  In WAL mode a plain ``BEGIN EXCLUSIVE`` succeeds beside
  an idle server, so the probe first sets ``locking_mode=EXCLUSIVE``, which
  needs every other connection gone.
- A restore moves the current file aside (``<db>.pre-restore-<time>``), puts
  a checked copy of the backup in its place and gives it a new random
  ``epoch``, so every client that resumes gets ``reset`` and reloads.
- A reset link carries 256 random bits; only its SHA-256 is stored, in
  ``meta`` under ``password_reset:<hex>``, as JSON ``{user, expires, used}``.
  It is valid for ``RESET_TTL`` seconds, once; a new link for a user voids
  the older ones.

Every failure the operator can cause is a ``ChatError`` (or, for a path it
cannot use, a ``ConfigError`` from ``chatter.preflight``) with a one-line
message (the CLI prints it as ``chatter: <reason>`` and exits 2).  ``doctor``
also reads ``/proc/self/mountinfo`` (``chatter.mounts``) to warn when the
database sits on an anonymous volume.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatter import mounts
from chatter.config import Config, check_secret
from chatter.errors import Conflict, Invalid, NotFound, Unauthenticated, Unavailable
from chatter.preflight import in_container, writable_dir
from chatter.store import lock
from chatter.store import queries as q
from chatter.store.schema import MIGRATIONS

# Seconds the lock probe waits.  It may hold back a server write this long; other connections
# keep their shared lock for as long as they are open, so waiting longer finds nothing new.
LOCK_TIMEOUT = 0.1
RESET_TTL = 30 * 60.0  # seconds a password-reset link stays valid
RESET_PREFIX = "password_reset:"
BACKUP_WARN_AGE = 24 * 3600.0  # seconds: doctor warns when the last backup is older
WAL_WARN_BYTES = 64 * 1024 * 1024
DISK_WARN_BYTES = 1024 * 1024 * 1024
DISK_FAIL_BYTES = 64 * 1024 * 1024
REQUIRED_TABLES = frozenset(
    {"meta", "users", "rooms", "members", "member_spans", "events", "messages", "schema_version"}
)


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_rfc3339(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _open_existing(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection to an existing database (never creates one)."""
    if not path.is_file():
        raise NotFound(f"database {path} does not exist")
    try:
        db = sqlite3.connect(
            f"file:{path.resolve()}?mode=rw",
            uri=True,
            isolation_level=None,
            timeout=busy_timeout,
            check_same_thread=False,
        )
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as e:
        if "locked" in str(e):
            raise Unavailable(
                f"a running server (or another program) holds {path} exclusively"
            ) from None
        raise Invalid(f"{path} is not a usable SQLite database: {e}") from None
    except sqlite3.DatabaseError as e:
        raise Invalid(f"{path} is not a usable SQLite database: {e}") from None
    return db


def _integrity(db: sqlite3.Connection, quick: bool = False) -> str:
    """'ok' or the first problems SQLite reports."""
    rows = db.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check").fetchall()
    text = "; ".join(str(r[0]) for r in rows[:5])
    return text or "no answer"


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _version(db: sqlite3.Connection) -> int:
    if "schema_version" not in _tables(db):
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _head(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0


def check_schema(db: sqlite3.Connection, what: str) -> int:
    """The schema version of a Chatter database; Invalid if it is not one this program can use."""
    missing = REQUIRED_TABLES - _tables(db)
    if missing:
        raise Invalid(
            f"{what} is not a Chatter database (missing tables: {', '.join(sorted(missing))})"
        )
    version = _version(db)
    if version < 1:
        raise Invalid(f"{what} has no schema version")
    if version > len(MIGRATIONS):
        raise Invalid(
            f"{what} has schema version {version}, newer than this program ({len(MIGRATIONS)}); "
            "upgrade Chatter first"
        )
    if not q.get_meta(db, "epoch"):
        raise Invalid(f"{what} has no epoch in its meta table")
    return version


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
        with closing(_open_existing(src_path, busy_timeout)) as src:
            check_schema(src, f"database {src_path}")
            with closing(sqlite3.connect(str(tmp), isolation_level=None)) as out:
                src.backup(out)  # one step: a single read snapshot; WAL keeps the writer going
                out.execute("PRAGMA journal_mode = DELETE")  # a self-contained single file
                verdict = _integrity(out)
                if verdict != "ok":
                    raise Unavailable(f"the copy failed its integrity check: {verdict}")
                version, head = check_schema(out, "the copy"), _head(out)
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
            stamp = rfc3339(time.time() if now is None else now)
            src.execute("BEGIN IMMEDIATE")
            q.set_meta(src, "last_backup", stamp)
            src.execute("COMMIT")
    except sqlite3.OperationalError as e:
        raise Unavailable(f"backup failed: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(
        path=dest_path,
        bytes=dest_path.stat().st_size,
        seconds=time.monotonic() - started,
        schema_version=version,
        head=head,
    )


# -- restore ----------------------------------------------------------------


@contextmanager
def exclusive(db_path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[sqlite3.Connection | None]:
    """Hold the database exclusively (None if there is no file); Unavailable if a server has it."""
    if not db_path.exists():
        yield None
        return
    db = _open_existing(db_path, timeout)
    try:
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            db.execute("BEGIN EXCLUSIVE")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            raise Unavailable(
                f"a running server (or another program) is using {db_path}; "
                "stop it first, then restore"
            ) from None
        yield db
    finally:
        db.close()


def in_use(db_path: str | os.PathLike[str]) -> bool:
    """True if another connection holds the database (a running server)."""
    try:
        with exclusive(Path(db_path)):
            return False
    except Unavailable:
        return True
    except Invalid:  # not a readable database: nothing serves it
        return False


def _swap(
    old: sqlite3.Connection | None, target: Path, new: Path, stamp: str
) -> tuple[Path | None, str | None]:
    """Move ``target`` aside (if it exists) and ``new`` into its place; (aside path, old epoch)."""
    old_epoch = None
    if old is not None:
        try:
            old_epoch = q.get_meta(old, "epoch") if "meta" in _tables(old) else None
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            old.execute("PRAGMA journal_mode = DELETE")  # the aside copy becomes one whole file
        except sqlite3.DatabaseError:
            pass  # a damaged database is moved aside as it is, WAL and all
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
        with closing(_open_existing(tmp, 5.0)) as db:
            verdict = _integrity(db)
            if verdict != "ok":
                raise Invalid(f"backup {src} failed its integrity check: {verdict}")
            version = check_schema(db, f"backup {src}")
            new_epoch = secrets.token_hex(8)
            db.execute("BEGIN IMMEDIATE")
            q.set_meta(db, "epoch", new_epoch)
            q.set_meta(
                db, "restored_from", f"{src.name} at {rfc3339(time.time() if now is None else now)}"
            )
            db.execute("COMMIT")
            head = _head(db)
            db.execute("PRAGMA journal_mode = DELETE")
        os.chmod(tmp, 0o600)
        try:
            with exclusive(target, lock_timeout) as old:
                aside, old_epoch = _swap(old, target, tmp, stamp)
        except Invalid:  # the current file is not a readable database: nothing can be serving it
            aside, old_epoch = _swap(None, target, tmp, stamp)
    except sqlite3.OperationalError as e:
        raise Unavailable(f"restore failed: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return RestoreResult(
        db=target,
        moved_aside=aside,
        old_epoch=old_epoch,
        new_epoch=new_epoch,
        schema_version=version,
        head=head,
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


def _db_checks(db: sqlite3.Connection, now: float, quick: bool) -> list[Check]:
    checks: list[Check] = []
    verdict = _integrity(db, quick)
    checks.append(
        Check(
            OK if verdict == "ok" else FAIL,
            "integrity",
            ("quick_check " if quick else "integrity_check ") + verdict,
        )
    )
    version = _version(db)
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
    last = q.get_meta(db, "last_backup") if "meta" in _tables(db) else None
    when = parse_rfc3339(last) if last else None
    if when is None:
        checks.append(Check(WARN, "backup", "no backup recorded; run `chatter backup FILE`"))
    else:
        age = max(0.0, now - when)
        level = OK if age <= BACKUP_WARN_AGE else WARN
        checks.append(Check(level, "backup", f"last backup {_age(age)} ago ({last})"))
    return checks


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
            db = _open_existing(path, cfg.store.busy_timeout)
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
                except sqlite3.DatabaseError as e:
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


# -- password reset links ---------------------------------------------------


def reset_key(token: str) -> str:
    """The meta key for a token: only its hash is stored."""
    return RESET_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def reset_username(raw: str | None, now: float) -> str:
    """The user a stored reset entry is for, if it is still usable; Unauthenticated otherwise."""
    try:
        entry: Any = json.loads(raw) if raw else None
    except ValueError:
        entry = None
    if not isinstance(entry, dict) or not isinstance(entry.get("user"), str):
        raise Unauthenticated("this reset link is not valid; ask an administrator for a new one")
    if entry.get("used"):
        raise Unauthenticated(
            "this reset link has already been used; ask an administrator for a new one"
        )
    expires = entry.get("expires")
    if not isinstance(expires, int | float) or now >= expires:
        raise Unauthenticated("this reset link has expired; ask an administrator for a new one")
    return str(entry["user"])


def used_entry(raw: str, now: float) -> str:
    entry = json.loads(raw)
    entry["used"] = rfc3339(now)
    return json.dumps(entry)


def base_url(cfg: Config) -> str:
    host = cfg.server.host
    if host in ("127.0.0.1", "::1", "localhost"):
        host = "localhost"
    elif host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg.server.port}"


@dataclass(frozen=True, slots=True)
class ResetLink:
    url: str
    username: str
    expires: float


def create_reset_link(
    cfg: Config, username: str, *, now: float | None = None, url: str | None = None
) -> ResetLink:
    """Store a one-time reset token for ``username`` and return its link."""
    now = time.time() if now is None else now
    path = Path(cfg.store.path)
    token = secrets.token_urlsafe(32)
    expires = now + RESET_TTL
    with closing(_open_existing(path, cfg.store.busy_timeout)) as db:
        check_schema(db, f"database {path}")
        if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is None:
            raise NotFound(f"user {username!r} not found in {path}")
        try:
            db.execute("BEGIN IMMEDIATE")
            for key, value in db.execute(
                "SELECT key, value FROM meta WHERE key >= ? AND key < ?",
                (RESET_PREFIX, RESET_PREFIX + "\x7f"),
            ).fetchall():
                try:
                    old = json.loads(value)
                except ValueError:
                    old = {}
                # A new link voids the user's older ones; expired links of anyone are pruned.
                if (
                    not isinstance(old, dict)
                    or old.get("user") == username
                    or now >= old.get("expires", 0)
                ):
                    db.execute("DELETE FROM meta WHERE key = ?", (key,))
            q.set_meta(
                db,
                reset_key(token),
                json.dumps(
                    {"user": username, "expires": expires, "created": rfc3339(now), "used": False}
                ),
            )
            db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise Unavailable(f"cannot write the reset link: {e}") from None
    base = (url or base_url(cfg)).rstrip("/")
    return ResetLink(url=f"{base}/reset#{token}", username=username, expires=expires)
