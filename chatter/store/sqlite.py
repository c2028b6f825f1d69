"""SqliteStore: one SQLite file, one writer with group commit, pooled readers.

Invariants:
- Exactly one writer connection, used by one batch at a time, so ``seq``
  (the events table's AUTOINCREMENT key) increases in commit order.
- Everything queued when the writer becomes free is committed in one
  transaction (``batch_max`` at most).  Each write runs under its own
  SAVEPOINT, so one failing write (a ``ChatError``) rolls back alone.
  Callers are woken only after COMMIT returned: an ack means durable.
- Committed events reach the subscriber before the callers are woken, so
  the dispatcher sees every batch in commit order.
- Readers are separate WAL connections, each used by one thread at a time.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import trio

from chatter.config import StoreConfig
from chatter.errors import ChatError, Unavailable
from chatter.store import queries as q
from chatter.store.base import UNENCODABLE, Committed, StoreBase, utc_now
from chatter.store.models import EventRow

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True, eq=False)
class _Write:
    fn: Callable[..., tuple[Any, list[EventRow]]]
    args: tuple[Any, ...]
    origin: object
    done: trio.Event = field(default_factory=trio.Event)
    result: Any = None
    events: list[EventRow] = field(default_factory=list)
    error: BaseException | None = None


def connect(path: str | Path, *, busy_timeout: float, wal: bool = True) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        q.configure(db, busy_timeout=busy_timeout, wal=wal)
    except BaseException:
        db.close()
        raise
    return db


def open_failure(path: Path, error: sqlite3.Error) -> Unavailable:
    """One line naming the file and what to do, for an error SQLite gave while opening it.

    SQLite's own text ("unable to open database file") names neither the file
    nor the reason; the usual reasons are a directory this process cannot
    write (SQLite creates -wal and -shm beside the file) or a file that is not
    a database.
    """
    text = str(error)
    directory = path.parent if str(path.parent) else Path(".")
    uid = os.getuid()
    if "not a database" in text or "malformed" in text:
        return Unavailable(f"store.path {path}: not a usable SQLite database (SQLite says: {text}); "
                           "move it away, restore a backup or choose another --db")
    if "locked" in text or "busy" in text:
        return Unavailable(f"store.path {path}: locked by another program (SQLite says: {text}); "
                           "stop that program and start again")
    return Unavailable(f"store.path {path}: SQLite cannot open it ({text}); the file and its directory "
                       f"{directory} must be readable and writable by uid {uid}; in a container, chown the "
                       f"volume to uid {uid} or add :U to a bind mount (-v DIR:/data:U)")


class SqliteStore(StoreBase):
    def __init__(self, cfg: StoreConfig) -> None:
        self._cfg = cfg
        self._path = Path(cfg.path)
        self._writer: sqlite3.Connection | None = None
        self._readers: list[sqlite3.Connection] = []
        self._reader_sem = trio.Semaphore(cfg.readers)
        self._write_limiter = trio.CapacityLimiter(1)
        self._read_limiter = trio.CapacityLimiter(cfg.readers)
        self._queue_send, self._queue_recv = trio.open_memory_channel[_Write](cfg.write_queue)
        self._committed_send: trio.MemorySendChannel[Committed] | None = None
        self.batches = 0  # metrics: transactions committed
        self.writes = 0  # metrics: writes committed
        self.search_indexed = 0  # messages the background build indexed since the store opened
        self.search_complete = trio.Event()  # set when the background build found nothing left to index

    # -- lifecycle ------------------------------------------------------

    def _open_sync(self) -> None:
        if self._path.parent and not self._path.parent.exists():
            raise Unavailable(f"store.path {self._path}: directory {self._path.parent} does not exist; "
                              "create it or choose another --db")
        try:
            self._writer = connect(self._path, busy_timeout=self._cfg.busy_timeout)
            q.migrate(self._writer, utc_now())
            self.epoch = q.get_meta(self._writer, "epoch") or ""
            for _ in range(self._cfg.readers):
                self._readers.append(connect(self._path, busy_timeout=self._cfg.busy_timeout, wal=False))
        except sqlite3.Error as e:
            self._close_sync()
            raise open_failure(self._path, e) from None
        except Unavailable as e:  # a schema newer than this program
            self._close_sync()
            raise Unavailable(f"store.path {self._path}: {e.message}") from None

    def _close_sync(self) -> None:
        for db in self._readers:
            db.close()
        self._readers = []
        if self._writer is not None:
            # Fold the WAL back into the main file so a copied .db is whole.
            try:
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                log.warning("WAL checkpoint at close failed", exc_info=True)
            self._writer.close()
            self._writer = None

    # -- reads ----------------------------------------------------------

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._reader_sem:
            db = self._readers.pop()
            try:
                return await trio.to_thread.run_sync(self._run_read, db, fn, args, limiter=self._read_limiter)
            finally:
                self._readers.append(db)

    @staticmethod
    def _run_read(db: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        # One read transaction per call: a multi-query read sees one snapshot.
        db.execute("BEGIN")
        try:
            return fn(db, *args)
        except UnicodeEncodeError:
            raise UNENCODABLE from None
        finally:
            db.execute("COMMIT")

    # -- writes ---------------------------------------------------------

    async def _write(self, fn: Callable[..., tuple[T, list[EventRow]]], *args: Any, origin: object = None) -> T:
        op = _Write(fn=fn, args=args, origin=origin)
        try:
            await self._queue_send.send(op)
        except trio.ClosedResourceError:
            raise Unavailable("the server is shutting down") from None
        await op.done.wait()
        if op.error is not None:
            raise op.error
        return op.result  # type: ignore[no-any-return]

    async def _writer_loop(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for first in self._queue_recv:
            batch = [first]
            while len(batch) < self._cfg.batch_max:
                try:
                    batch.append(self._queue_recv.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break  # EndOfChannel: closed at shutdown with nothing queued behind this batch
            await trio.to_thread.run_sync(self._commit_batch, batch, limiter=self._write_limiter)
            self.batches += 1
            self.writes += len(batch)
            committed = [(ev, op.origin) for op in batch if op.error is None for ev in op.events]
            if committed and self._committed_send is not None:
                try:
                    await self._committed_send.send(committed)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._committed_send = None  # the dispatcher has stopped: events stay stored
            for op in batch:
                op.done.set()
        if self._committed_send is not None:
            self._committed_send.close()

    async def _build_search_index(self) -> None:
        """Fill the search index in the background (an upgraded or repaired database), newest first.

        Each batch is one write of ``store.search_batch`` messages through the one writer, so other
        writes queue behind at most one batch; ``store.search_pause`` lets them through between
        batches.  After each batch a PASSIVE checkpoint on a read connection folds the WAL into the
        file off the writer (the build writes a lot; otherwise the writer's automatic checkpoint
        would copy it inside some commit, a send's as likely as a batch's: the largest batch times
        measured, bench/FINDINGS.md section 10).  Stops when nothing is left, at shutdown, or at an
        error (logged: the next start resumes from the boundary, and ``chatter doctor`` reports it).
        """
        while True:
            try:
                n = await self.search_index_batch(self._cfg.search_batch)
            except Unavailable:
                return  # shutting down, or the database refused the write
            except Exception:  # noqa: BLE001 - a failed build must not take the server down
                log.exception("building the search index failed; `chatter doctor --repair` rebuilds it")
                return
            if n == 0:
                self.search_complete.set()
                if self.search_indexed:
                    log.info("search index complete (%d messages indexed in the background)", self.search_indexed)
                return
            self.search_indexed += n
            await self._passive_checkpoint()
            await trio.sleep(self._cfg.search_pause)

    async def _passive_checkpoint(self) -> None:
        async with self._reader_sem:
            db = self._readers.pop()
            try:
                await trio.to_thread.run_sync(self._checkpoint_sync, db, limiter=self._read_limiter)
            finally:
                self._readers.append(db)

    @staticmethod
    def _checkpoint_sync(db: sqlite3.Connection) -> None:
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as e:  # a checkpoint is an optimisation: the writer's own ones still run
            log.debug("passive checkpoint failed: %s", e)

    def _commit_batch(self, batch: list[_Write]) -> None:
        db = self._writer
        assert db is not None
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            log.error("cannot begin a write transaction: %s", e)  # the detail is for the operator only
            for op in batch:
                op.error = Unavailable("database unavailable; retry")
            return
        for op in batch:
            db.execute("SAVEPOINT w")
            try:
                op.result, op.events = op.fn(db, *op.args)
            except Exception as e:  # noqa: BLE001 - handed to the caller, who re-raises it
                db.execute("ROLLBACK TO w")
                op.error = UNENCODABLE if isinstance(e, UnicodeEncodeError) else e
                op.events = []
                if not isinstance(op.error, ChatError):
                    log.error("write %s failed", getattr(op.fn, "__name__", op.fn), exc_info=e)
            db.execute("RELEASE w")
        try:
            db.execute("COMMIT")
        except sqlite3.Error as e:
            log.error("commit failed: %s", e)
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for op in batch:
                op.error = Unavailable("database write failed; retry")
                op.events = []


@asynccontextmanager
async def open_sqlite_store(cfg: StoreConfig) -> AsyncIterator[SqliteStore]:
    """Open (creating and migrating) the database; the writer runs inside."""
    store = SqliteStore(cfg)
    await trio.to_thread.run_sync(store._open_sync)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store._writer_loop)
            builder = trio.CancelScope()

            async def build() -> None:
                with builder:
                    await store._build_search_index()

            nursery.start_soon(build)
            try:
                yield store
            finally:
                builder.cancel()
                # Let queued writes finish; the writer then ends by itself.
                store._queue_send.close()
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(store._close_sync)


def migrate_file(path: str, busy_timeout: float = 5.0) -> tuple[int, str]:
    """Create or upgrade the database file; return (schema version, epoch)."""
    try:
        db = connect(path, busy_timeout=busy_timeout)
        try:
            version = q.migrate(db, utc_now())
            return version, q.get_meta(db, "epoch") or ""
        finally:
            db.close()
    except sqlite3.Error as e:
        raise open_failure(Path(path), e) from None
    except Unavailable as e:
        raise Unavailable(f"store.path {path}: {e.message}") from None
