"""Persistence: the Store Protocol and its two implementations.

``queries.py`` holds the only SQL; ``sqlite.py`` runs it on a file with a
group-committing writer; ``memory.py`` runs it inline in memory for tests.
``schema.py`` holds the migration steps, written with sqlite-utils over the
store's own connection; what sqlite-utils cannot express there, and what its
``enable_fts`` would do for search and why step 4 writes its own DDL, is written down in that
module; ``search.py`` is message search (planner, SQL, the index's background build).

The hot paths of queries.py (post_message, history, events_for_user,
mark_read) use plain ``sqlite3`` ``execute`` because sqlite-utils re-reads
the schema before each insert, update or get and wraps each insert and query
in a savepoint: measured 25-28 µs vs 199-225 µs per post_message (6 vs 31
statements), 23 vs 145-183 µs per mark_read, 101-109 vs 148-150 µs per history
page (bench/store_paths.py; bench/FINDINGS.md section 8).
"""

from chatter.store.base import Committed, Store, utc_now
from chatter.store.memory import MemoryStore, open_memory_store
from chatter.store.sqlite import SqliteStore, open_sqlite_store

__all__ = ["Committed", "MemoryStore", "SqliteStore", "Store", "open_memory_store", "open_sqlite_store", "utc_now"]
