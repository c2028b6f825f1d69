"""Persistence: the Store Protocol and its two implementations.

``queries.py`` holds the only SQL; ``sqlite.py`` runs it on a file with a
group-committing writer; ``memory.py`` runs it inline in memory for tests.
"""

from chatter.store.base import Committed, Store, utc_now
from chatter.store.memory import MemoryStore, open_memory_store
from chatter.store.sqlite import SqliteStore, open_sqlite_store

__all__ = ["Committed", "MemoryStore", "SqliteStore", "Store", "open_memory_store", "open_sqlite_store", "utc_now"]
