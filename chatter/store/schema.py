"""The schema: migration steps, applied in order at open (``queries.migrate``).

Visibility model (what PROTOCOL 4.3 resume relies on): every durable event
belongs to one room; ``member_spans`` keeps each membership interval as
``[joined_seq, left_seq]``, so a user sees an event of room R iff a span of
theirs in R contains its seq (inclusive at both ends: an added user sees
their own ``member_added``, a removed one their ``member_removed``).

Writing a step
- A step is a function over a ``sqlite_utils.Database`` that wraps the
  store's own ``sqlite3`` connection (``database()``), never one opened by
  path: the connections sqlite-utils opens itself may only be used by the
  thread that opened them, and the store's writer runs on worker threads.
- ``queries.migrate`` runs each step inside ``BEGIN IMMEDIATE ... COMMIT``
  together with its ``schema_version`` row, so a step happens whole or not
  at all.  sqlite-utils sees the open transaction and works inside it
  (savepoints around inserts; ``enable_fts``'s scripts one statement at a
  time rather than through ``executescript``, which would COMMIT first).
- Append steps; never edit one that has shipped: databases in the field were
  made by it.  tests/store/test_schema.py builds a database with the frozen
  original code and checks that the current steps make the same schema.
- What fits sqlite-utils 4.2.1: ``add_column``, ``create_index``,
  ``create`` (new rowid tables without CHECK/UNIQUE/AUTOINCREMENT),
  ``insert``/``update`` (they work on WITHOUT ROWID tables too), and
  ``enable_fts``.

What sqlite-utils 4.2.1 cannot express, so step 1's tables stay DDL
- ``Table.create`` has no WITHOUT ROWID (meta, users, rooms, members and
  member_spans use it), no CHECK (rooms.kind, members.role), no
  AUTOINCREMENT (events.seq, whose sqlite_sequence row is the store's head,
  and messages.id), no column COLLATE (users.name NOCASE) and no UNIQUE
  constraint (rooms.dm_key, messages.seq, messages(sender, client_msg_id):
  the duplicate check of post_message uses that constraint's automatic index).
- ``Table.transform`` keeps CHECK, UNIQUE, AUTOINCREMENT and indexes, but
  never WITHOUT ROWID nor a column's COLLATE, and a number DEFAULT comes
  back quoted (``DEFAULT '0'``).  On a WITHOUT ROWID table with rows it fails
  (its copy selects ``"rowid"``, which SQLite reads there as the string
  'rowid': IntegrityError "datatype mismatch"); on an empty one it succeeds
  and leaves a rowid table, so a new database would end up with another
  schema than an upgraded one.  Do not call it on meta, users, rooms,
  members or member_spans: write the rebuild in the step by hand (CREATE the
  new table WITHOUT ROWID, INSERT ... SELECT, DROP, ALTER TABLE ... RENAME,
  then re-create its indexes).
- ``sqlite_utils.Migrations`` is not used: it records progress by name in
  its own ``_sqlite_migrations`` table (here progress is a number that ops,
  backups and doctor read from ``schema_version``), it does not refuse a
  database newer than the program, and it opens a deferred ``BEGIN``.

Full-text search (step 4; what the search feature, ``chatter.store.search``, reads)
- What sqlite-utils' ``enable_fts`` does, measured here: ``db.table("messages").enable_fts(["body"],
  tokenize="unicode61 remove_diacritics 2", create_triggers=True)`` creates ``messages_fts`` (FTS5,
  external content ``content=messages``), fills it from every row inside the step's transaction and
  adds AFTER INSERT / DELETE / UPDATE triggers (``messages_ai``, ``_ad``, ``_au``) built on FTS5's
  'delete' command; ``tokenize`` is passed through quoted, so ``"trigram"`` works the same way; the
  index is always named ``<table>_fts``, so a table gets one index through it.
- Why step 4 writes its DDL itself instead:
  * the fill runs inside the migration's one transaction: on a database with a million messages that
    holds the writer for seconds, and the index must be built in the background in short batches
    (``search.index_batch``) without blocking the writer for more than 50 ms at a time;
  * while the background build runs, the rows not yet indexed must not be 'delete'd from the index
    (SQLite's FTS5 documentation: values given to 'delete' that differ from what was indexed may
    corrupt an external-content index), so the UPDATE and DELETE triggers carry a WHEN on the
    build's boundary, which ``enable_fts`` cannot express; its UPDATE trigger also fires on every
    UPDATE of a message (reactions to come, attachments), where ``AFTER UPDATE OF body`` re-indexes
    only an edit or a deletion;
  * it has no ``prefix=`` option (the prefix index that makes the last word's prefix query cheap),
    and the second index (trigram, below) needs its own virtual table and triggers anyway.
  The word index is the same table ``enable_fts`` would make (same name, external content, the same
  tokenizer) with ``prefix='2 3'`` added.
- Two indexes, both kept in step by triggers inside the writer's own transaction (an insert, an edit
  and a deletion change the index in the same commit; a deleted message's body is '', so nothing of
  it stays findable):
  * ``messages_fts``: words, ``unicode61 remove_diacritics 2`` (case- and accent-insensitive);
  * ``messages_trigram``: substrings (text without spaces: Chinese, Japanese, Thai...), FTS5
    ``trigram``, contentless (``content=''``: the text is not stored twice), holding only the
    messages with a character of those scripts (``NO_SPACE_GLOB``): indexing every message by
    trigram cost 66 µs per message here against 35-48 µs for the word index (bench/search.py), for
    substrings no Latin-script query asks for (words are words; the last one a prefix).  Each body is indexed
    with one trailing space, so that every occurrence of a two-character string is the start of an
    indexed trigram ("東京" at the very end of a message gives "東京 "): ``messages_trigram_terms``
    (``fts5vocab``) lists the trigrams that start with it, which is how two-character CJK terms are
    found (trigram MATCH needs 3).  This SQLite (3.40) has no ``remove_diacritics`` for trigram nor
    ``contentless_delete``: the triggers give 'delete' the same text they indexed.
- The build boundary is ``meta.search_pending_below`` (an integer): messages with a smaller id are not
  in the index yet.  The step sets it past the newest message (the migration itself indexes nothing),
  new messages always have larger ids (AUTOINCREMENT), so the INSERT trigger needs no WHEN; the
  background build indexes from the newest down and moves the boundary, and sets it to 0 when done.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from sqlite_utils import Database

Migration: TypeAlias = "Callable[[Database], None]"


def database(conn: sqlite3.Connection) -> Database:
    """sqlite-utils over ``conn``, leaving the connection's settings as they were.

    ``recursive_triggers=False``: by default sqlite-utils switches that
    pragma on for the connection, for good (the writer keeps it).
    ``execute_plugins=False``: otherwise any installed sqlite-utils plugin
    would be loaded into the store's connection.
    """
    # Imported only when a step is pending: sqlite-utils brings click, pluggy and
    # dateutil, about 60 ms of imports that every start and CLI command would pay.
    import sqlite_utils

    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


# Step 1's tables, as DDL: each uses something Table.create cannot express
# (see the module docstring).
_V1_TABLES = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        name          TEXT NOT NULL COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        token_version INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        last_seen     TEXT
    ) WITHOUT ROWID""",
    """CREATE TABLE rooms (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('group', 'dm')),
        name          TEXT NOT NULL,
        dm_key        TEXT UNIQUE,
        created_at    TEXT NOT NULL,
        activity_seq  INTEGER NOT NULL,
        last_message  INTEGER,
        deleted       INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    """CREATE TABLE members (
        room       TEXT NOT NULL REFERENCES rooms(id),
        username   TEXT NOT NULL REFERENCES users(username),
        role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
        read_up_to INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (room, username)
    ) WITHOUT ROWID""",
    """CREATE TABLE member_spans (
        username   TEXT NOT NULL,
        room       TEXT NOT NULL,
        joined_seq INTEGER NOT NULL,
        left_seq   INTEGER,
        PRIMARY KEY (username, room, joined_seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE events (
        seq   INTEGER PRIMARY KEY AUTOINCREMENT,
        room  TEXT NOT NULL,
        type  TEXT NOT NULL,
        data  TEXT NOT NULL
    )""",
    """CREATE TABLE messages (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        seq           INTEGER NOT NULL UNIQUE,
        room          TEXT NOT NULL REFERENCES rooms(id),
        sender        TEXT NOT NULL REFERENCES users(username),
        body          TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        UNIQUE (sender, client_msg_id)
    )""",
)


def _v1_initial(db: Database) -> None:
    """The initial schema, one index per hot query, and the database's epoch.

    The epoch is random per database, so clients can tell a restored or
    replaced database from the one their cursors came from.
    """
    for ddl in _V1_TABLES:
        db.execute(ddl)
    db.table("users").create_index(["name"], index_name="users_by_name")
    db.table("members").create_index(["username", "room"], index_name="members_by_user")
    db.table("member_spans").create_index(["room", "joined_seq"], index_name="member_spans_by_room")
    db.table("events").create_index(["room", "seq"], index_name="events_by_room")
    db.table("messages").create_index(["room", "id"], index_name="messages_by_room")
    db.table("meta").insert({"key": "epoch", "value": secrets.token_hex(8)})


def _v2_name_search_key(db: Database) -> None:
    """Display-name search that folds case beyond ASCII ('émi' finds 'Émilie')."""
    users = db.table("users")
    users.add_column("name_key", str, not_null_default="")
    for row in list(users.rows_where(select="username, name")):
        # str.casefold is queries.search_key (not imported: queries imports this module).
        users.update(row["username"], {"name_key": row["name"].casefold()})
    users.create_index(["name_key"], index_name="users_by_name_key")


# Step 3's new tables, as DDL: WITHOUT ROWID and ON DELETE CASCADE (Table.create has neither).
_V3_TABLES = (
    # One row per (message, emoji, user); ``seq`` is the reaction event's, so chips keep the order
    # in which each emoji was first used and users the order in which they reacted.
    """CREATE TABLE reactions (
        message  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        emoji    TEXT NOT NULL,
        username TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        PRIMARY KEY (message, emoji, username)
    ) WITHOUT ROWID""",
    # One row per member mentioned by a message; ``position`` is the order of first appearance.
    # ``room`` is the message's, copied so that the unread count of a room is one index range.
    """CREATE TABLE mentions (
        message  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        username TEXT NOT NULL,
        room     TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (message, username)
    ) WITHOUT ROWID""",
)


def _v3_message_actions(db: Database) -> None:
    """Edits, deletions, reactions, replies and mentions (PROTOCOL section 10).

    - messages gain ``edited_at``, ``deleted`` (a tombstone keeps its row with
      body '') and ``reply_to``;
    - ``reactions`` and ``mentions`` (DDL above); mentions are indexed by
      (username, room, message) for a room's unread mentions from its read
      cursor, and by (username, message) for the newest-first mentions page;
    - events gain ``message``: the message a ``message_updated``, ``message_deleted``
      or ``reaction`` event is about, so deleting a message finds every event
      that holds its body or its reactions (a partial index: other events keep
      NULL and cost nothing in it; the ``message`` event itself is found by
      ``messages.seq``).  sqlite-utils' create_index has no WHERE, hence DDL;
    - stored ``message`` events gain the new Message fields with the values of
      a message that was never edited, so a resume from any ``since`` serves
      one shape (one UPDATE of every message event: a long write on a large
      database, once; the resume path itself stays a plain read).
    """
    messages = db.table("messages")
    messages.add_column("edited_at", str)
    messages.add_column("deleted", int, not_null_default=0)
    messages.add_column("reply_to", int)
    for ddl in _V3_TABLES:
        db.execute(ddl)
    db.table("mentions").create_index(["username", "room", "message"], index_name="mentions_by_user_room")
    db.table("mentions").create_index(["username", "message"], index_name="mentions_by_user")
    db.table("events").add_column("message", int)
    db.execute("CREATE INDEX events_by_message ON events(message) WHERE message IS NOT NULL")
    db.execute("""UPDATE events SET data = json_set(data, '$.edited_at', json('null'), '$.deleted', json('false'),
                  '$.reply_to', json('null'), '$.mentions', json('[]'), '$.reactions', json('[]'),
                  '$.attachments', json('[]')) WHERE type = 'message'""")


# Step 4's search index, as DDL (see the module docstring for why not ``enable_fts``).
# Scripts written without spaces between words (and Hangul, whose words carry particles), as code point
# ranges: a message with a character of these goes into the substring (trigram) index too, and the
# planner (``chatter.store.search``) searches a term with one of them there.  Part of a shipped step:
# changing the ranges needs a new step that re-indexes.
NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x31FF),  # Bopomofo, Hangul compatibility Jamo, Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xD7B0, 0xD7FF),  # Hangul Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFFDC),  # halfwidth Katakana and Hangul
    (0x20000, 0x3134F),  # CJK extensions B-G
)
# The same as a GLOB pattern (SQLite compares a class's ranges by code point).
NO_SPACE_GLOB = "*[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in NO_SPACE_RANGES) + "]*"
_PENDING = "COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_pending_below'), 0)"
_V4_SEARCH = (
    """CREATE VIRTUAL TABLE messages_fts USING FTS5 (
        body, tokenize='unicode61 remove_diacritics 2', prefix='2 3', content=messages, content_rowid=id
    )""",
    "CREATE VIRTUAL TABLE messages_trigram USING FTS5 (body, tokenize='trigram', content='')",
    "CREATE VIRTUAL TABLE messages_trigram_terms USING fts5vocab(messages_trigram, 'row')",
    # What each trigger gives the trigram index it also takes out of it: the body and a space, for a
    # body with a no-space-script character (the same GLOB on the same text), else nothing.
    """CREATE TRIGGER messages_search_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
        INSERT INTO messages_trigram (rowid, body) SELECT new.id, new.body || ' ' WHERE new.body GLOB '@GLOB@';
    END""".replace("@GLOB@", NO_SPACE_GLOB),
    """CREATE TRIGGER messages_search_ad AFTER DELETE ON messages WHEN old.id >= @PENDING@ BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_trigram (messages_trigram, rowid, body)
            SELECT 'delete', old.id, old.body || ' ' WHERE old.body GLOB '@GLOB@';
    END""".replace("@GLOB@", NO_SPACE_GLOB).replace("@PENDING@", _PENDING),
    """CREATE TRIGGER messages_search_au AFTER UPDATE OF body ON messages WHEN old.id >= @PENDING@ BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_trigram (messages_trigram, rowid, body)
            SELECT 'delete', old.id, old.body || ' ' WHERE old.body GLOB '@GLOB@';
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
        INSERT INTO messages_trigram (rowid, body) SELECT new.id, new.body || ' ' WHERE new.body GLOB '@GLOB@';
    END""".replace("@GLOB@", NO_SPACE_GLOB).replace("@PENDING@", _PENDING),
)


def _v4_search_index(db: Database) -> None:
    """Message search (PROTOCOL section 11): a word index and a substring index, empty at first.

    Every existing message is pending (``search_pending_below`` past the newest); the store builds
    the index in the background, in batches (``chatter.store.search.index_batch``).
    """
    for ddl in _V4_SEARCH:
        db.execute(ddl)
    db.execute("INSERT INTO meta (key, value) SELECT 'search_pending_below', "
               "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0) + 1")


MIGRATIONS: tuple[Migration, ...] = (
    _v1_initial,  # 1
    _v2_name_search_key,  # 2
    _v3_message_actions,  # 3
    _v4_search_index,  # 4
)
