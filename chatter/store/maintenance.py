"""The SQL of the operator commands: backup, restore, doctor, reset links, on the file itself.

Plain sync functions over their own ``sqlite3`` connections (never the
server's): ``backup``, ``doctor`` and reset links run while a server holds
the database, which WAL allows (readers and one short writer beside it).
What to do and when is ``chatter.service.operator``; this module only knows
how to read and write the file.

- ``open_existing`` never creates a database; a file that is not one, or is
  held exclusively, is a one-line ``ChatError``.
- ``exclusive`` holds the database exclusively, or says a server has it: in
  WAL mode a plain ``BEGIN EXCLUSIVE`` succeeds beside an idle server, so the
  probe first sets ``locking_mode=EXCLUSIVE``, which needs every other
  connection gone.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from chatter.errors import Invalid, NotFound, Unavailable
from chatter.store import queries as q
from chatter.store import search
from chatter.store.schema import MIGRATIONS

T = TypeVar("T")

# Seconds the lock probe waits.  It may hold back a server write this long; other connections
# keep their shared lock for as long as they are open, so waiting longer finds nothing new.
LOCK_TIMEOUT = 0.1
# The driver's types, for the layers above the store, which never import sqlite3 themselves.
Connection = sqlite3.Connection
Error = sqlite3.Error
DatabaseError = sqlite3.DatabaseError
OperationalError = sqlite3.OperationalError

REQUIRED_TABLES = frozenset(
    {"meta", "users", "rooms", "members", "member_spans", "events", "messages", "schema_version"}
)


def open_existing(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection to an existing database (never creates one)."""
    if not path.is_file():
        raise NotFound(f"database {path} does not exist")
    try:
        db = sqlite3.connect(f"file:{path.resolve()}?mode=rw", uri=True, isolation_level=None,
                             timeout=busy_timeout, check_same_thread=False)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as e:
        if "locked" in str(e):
            raise Unavailable(f"a running server (or another program) holds {path} exclusively") from None
        raise Invalid(f"{path} is not a usable SQLite database: {e}") from None
    except sqlite3.DatabaseError as e:
        raise Invalid(f"{path} is not a usable SQLite database: {e}") from None
    return db


def integrity(db: sqlite3.Connection, quick: bool = False) -> str:
    """'ok' or the first problems SQLite reports."""
    rows = db.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check").fetchall()
    text = "; ".join(str(r[0]) for r in rows[:5])
    return text or "no answer"


def tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def version(db: sqlite3.Connection) -> int:
    """The schema version; 0 when there is none."""
    if "schema_version" not in tables(db):
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def head(db: sqlite3.Connection) -> int:
    return int(q.head(db))


def meta(db: sqlite3.Connection, key: str) -> str | None:
    """A ``meta`` value, None also when the file has no meta table (not a Chatter database)."""
    return q.get_meta(db, key) if "meta" in tables(db) else None


def check_schema(db: sqlite3.Connection, what: str) -> int:
    """The schema version of a Chatter database; Invalid if it is not one this program can use."""
    missing = REQUIRED_TABLES - tables(db)
    if missing:
        raise Invalid(f"{what} is not a Chatter database (missing tables: {', '.join(sorted(missing))})")
    found = version(db)
    if found < 1:
        raise Invalid(f"{what} has no schema version")
    if found > len(MIGRATIONS):
        raise Invalid(f"{what} has schema version {found}, newer than this program ({len(MIGRATIONS)}); "
                      "upgrade Chatter first")
    if not q.get_meta(db, "epoch"):
        raise Invalid(f"{what} has no epoch in its meta table")
    return found


def set_meta(db: sqlite3.Connection, values: dict[str, str]) -> None:
    """Write ``meta`` keys in one short transaction (beside a running server)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for key, value in values.items():
            q.set_meta(db, key, value)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


@dataclass(frozen=True, slots=True)
class Copy:
    """A checked copy of a database."""

    schema_version: int
    head: int


def snapshot(src: sqlite3.Connection, dest: Path) -> Copy:
    """Copy ``src`` to the new file ``dest`` in one read snapshot, as a self-contained file, and check it.

    Unavailable when the copy fails ``PRAGMA integrity_check``.
    """
    with closing(sqlite3.connect(str(dest), isolation_level=None)) as out:
        src.backup(out)  # one step: a single read snapshot; WAL keeps the writer going
        out.execute("PRAGMA journal_mode = DELETE")  # a self-contained single file
        verdict = integrity(out)
        if verdict != "ok":
            raise Unavailable(f"the copy failed its integrity check: {verdict}")
        return Copy(schema_version=check_schema(out, "the copy"), head=head(out))


def prepare_restore(path: Path, what: str, meta_values: dict[str, str]) -> Copy:
    """Check the copy at ``path`` (integrity, schema), write ``meta_values`` (the new epoch) and make it
    one self-contained file.  Invalid when it fails a check."""
    with closing(open_existing(path, 5.0)) as db:
        verdict = integrity(db)
        if verdict != "ok":
            raise Invalid(f"{what} failed its integrity check: {verdict}")
        found = check_schema(db, what)
        set_meta(db, meta_values)
        copy = Copy(schema_version=found, head=head(db))
        db.execute("PRAGMA journal_mode = DELETE")
    return copy


@contextmanager
def exclusive(db_path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[sqlite3.Connection | None]:
    """Hold the database exclusively (None if there is no file); Unavailable if a server has it."""
    if not db_path.exists():
        yield None
        return
    db = open_existing(db_path, timeout)
    try:
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            db.execute("BEGIN EXCLUSIVE")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            raise Unavailable(f"a running server (or another program) is using {db_path}; "
                              "stop it first, then restore") from None
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


def close_for_move(db: sqlite3.Connection | None) -> str | None:
    """Fold the WAL of a database about to be moved aside into its file; its epoch, if it has one.

    A damaged database is left as it is (WAL and all).
    """
    if db is None:
        return None
    try:
        epoch = meta(db, "epoch")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode = DELETE")  # the aside copy becomes one whole file
        return epoch
    except sqlite3.DatabaseError:
        return None


# -- the search index (``chatter doctor``, ``chatter doctor --repair``) -----------------

SEARCH_VERSION = 4  # the schema step that made it
IndexReport = search.IndexReport


def check_search_index(db: sqlite3.Connection) -> IndexReport | None:
    """How the search index compares with the messages (reads only); None before schema step 4."""
    if version(db) < SEARCH_VERSION:
        return None
    db.execute("BEGIN")
    try:
        return search.check_index(db)
    finally:
        db.execute("COMMIT")


def _short_write(db: sqlite3.Connection, fn: Callable[..., tuple[T, list[Any]]], *args: Any) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result, _ = fn(db, *args)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


def rebuild_search_index(db: sqlite3.Connection, batch: int, pause: float = 0.0,
                         progress: Callable[[int], None] | None = None) -> int:
    """Empty the search index and fill it again, newest first; the number of messages indexed.

    Each step is its own short write (one of ``batch`` messages), so a running server's writer waits
    at most one batch; a server that writes meanwhile keeps the index right through its triggers,
    which know the boundary.  Interrupted, the server's background build finishes it at its next
    start.  ``secure_delete`` is on for this connection, so the old index pages are zeroed as the
    server's are.
    """
    db.execute("PRAGMA secure_delete = ON")
    _short_write(db, search.reset_index)
    total = 0
    while True:
        n = _short_write(db, search.index_batch, batch)
        if n == 0:
            return total
        total += n
        if progress is not None:
            progress(total)
        if pause:
            time.sleep(pause)


# -- password-reset entries (``meta`` rows under a prefix) ----------------------


def user_exists(db: sqlite3.Connection, username: str) -> bool:
    return db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is not None


def replace_entries(db: sqlite3.Connection, prefix: str, drop: Callable[[str], bool], key: str, value: str) -> None:
    """In one transaction: delete the ``meta`` rows under ``prefix`` whose value ``drop`` says to, then set
    ``key``.  Unavailable when the database cannot be written."""
    try:
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute("SELECT key, value FROM meta WHERE key >= ? AND key < ?",
                          (prefix, prefix + "\x7f")).fetchall()
        for old_key, old_value in rows:
            if drop(old_value):
                db.execute("DELETE FROM meta WHERE key = ?", (old_key,))
        q.set_meta(db, key, value)
        db.execute("COMMIT")
    except sqlite3.OperationalError as e:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise Unavailable(f"cannot write the reset link: {e}") from None
