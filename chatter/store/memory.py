"""MemoryStore: the same Store on an in-memory SQLite database, run inline.

No worker threads: every query runs synchronously on the trio thread, so
trio's MockClock autojump sees the whole system and actor tests run
instantly and deterministically (trio#456).  It executes the very same
``queries.py`` as SqliteStore, so the two cannot disagree on behaviour;
the shared contract suite in tests/store checks both.  As in SqliteStore,
committed batches reach the subscriber from a task the store owns (the
pump), never from the caller's task, so a caller cancelled after COMMIT
cannot lose its events; the lock keeps hand-off order equal to commit order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

from chatter.store import queries as q
from chatter.store.base import UNENCODABLE, Committed, StoreBase, utc_now
from chatter.store.models import EventRow

T = TypeVar("T")


class MemoryStore(StoreBase):
    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", isolation_level=None)
        q.configure(self._db, busy_timeout=1.0, wal=False)
        q.migrate(self._db, utc_now())
        self.epoch = q.get_meta(self._db, "epoch") or ""
        self._lock = trio.Lock()
        self._committed_send: trio.MemorySendChannel[Committed] | None = None
        # Owner: this store.  Overflow: the writer waits (shielded: the write is committed).
        self._pump_send, self._pump_recv = trio.open_memory_channel[Committed](4096)
        self.fail_next_write: BaseException | None = None  # fault injection for tests

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        await trio.lowlevel.checkpoint()
        self._db.execute("BEGIN")
        try:
            return fn(self._db, *args)
        except UnicodeEncodeError:
            raise UNENCODABLE from None
        finally:
            self._db.execute("COMMIT")

    async def _write(self, fn: Callable[..., tuple[T, list[EventRow]]], *args: Any, origin: object = None) -> T:
        async with self._lock:
            if self.fail_next_write is not None:
                error, self.fail_next_write = self.fail_next_write, None
                raise error
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result, events = fn(self._db, *args)
            except UnicodeEncodeError:
                self._db.execute("ROLLBACK")
                raise UNENCODABLE from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if events and self._committed_send is not None:
                batch = [(ev, origin) for ev in events]
                if self._pump_send.statistics().current_buffer_used == 0:
                    # Nothing queued ahead of us: hand over directly, as SqliteStore does,
                    # so the events are with the subscriber before the caller wakes.
                    try:
                        self._committed_send.send_nowait(batch)
                        return result
                    except trio.WouldBlock:
                        pass
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        self._committed_send = None
                        return result
                try:
                    self._pump_send.send_nowait(batch)
                except trio.WouldBlock:
                    with trio.CancelScope(shield=True):
                        await self._pump_send.send(batch)
            return result

    async def _pump(self) -> None:
        async for batch in self._pump_recv:
            if self._committed_send is None:
                continue
            try:
                await self._committed_send.send(batch)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._committed_send = None

    def close(self) -> None:
        if self._committed_send is not None:
            self._committed_send.close()
        self._db.close()


@asynccontextmanager
async def open_memory_store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store._pump)
            try:
                yield store
            finally:
                nursery.cancel_scope.cancel()
    finally:
        store.close()
