"""MemoryStore: the same Store on an in-memory SQLite database, run inline.

No worker threads: every query runs synchronously on the trio thread, so
trio's MockClock autojump sees the whole system and actor tests run
instantly and deterministically (trio#456).  It executes the very same
``queries.py`` as SqliteStore, so the two cannot disagree on behaviour;
the shared contract suite in tests/store checks both.  A write and the
hand-off of its events happen under one lock, preserving commit order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

from chatter.store import queries as q
from chatter.store.base import Committed, StoreBase, utc_now
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
        self.fail_next_write: BaseException | None = None  # fault injection for tests

    def subscribe(self, capacity: int) -> trio.MemoryReceiveChannel[Committed]:
        if self._committed_send is not None:
            raise RuntimeError("the store has one subscriber")
        send, recv = trio.open_memory_channel[Committed](capacity)
        self._committed_send = send
        return recv

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        await trio.lowlevel.checkpoint()
        self._db.execute("BEGIN")
        try:
            return fn(self._db, *args)
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
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if events and self._committed_send is not None:
                try:
                    await self._committed_send.send([(ev, origin) for ev in events])
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._committed_send = None
            return result

    def close(self) -> None:
        if self._committed_send is not None:
            self._committed_send.close()
        self._db.close()


@asynccontextmanager
async def open_memory_store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    try:
        yield store
    finally:
        store.close()
