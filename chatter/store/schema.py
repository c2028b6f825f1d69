"""Migrations, applied in order at open; ``schema_version`` records progress.

Visibility model (what PROTOCOL 4.3 resume relies on): every durable event
belongs to one room; ``member_spans`` keeps each membership interval as
``[joined_seq, left_seq]``, so a user sees an event of room R iff a span of
theirs in R contains its seq (inclusive at both ends: an added user sees
their own ``member_added``, a removed one their ``member_removed``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _v2_name_search_key(db: sqlite3.Connection) -> None:
    """Display-name search that folds case beyond ASCII ('émi' finds 'Émilie')."""
    db.execute("ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT ''")
    for username, name in db.execute("SELECT username, name FROM users").fetchall():
        db.execute("UPDATE users SET name_key = ? WHERE username = ?", (name.casefold(), username))
    db.execute("CREATE INDEX users_by_name_key ON users(name_key)")


MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    # 1: initial schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

    CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        name          TEXT NOT NULL COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        token_version INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        last_seen     TEXT
    ) WITHOUT ROWID;
    CREATE INDEX users_by_name ON users(name);

    CREATE TABLE rooms (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('group', 'dm')),
        name          TEXT NOT NULL,
        dm_key        TEXT UNIQUE,
        created_at    TEXT NOT NULL,
        activity_seq  INTEGER NOT NULL,
        last_message  INTEGER,
        deleted       INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;

    CREATE TABLE members (
        room       TEXT NOT NULL REFERENCES rooms(id),
        username   TEXT NOT NULL REFERENCES users(username),
        role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
        read_up_to INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (room, username)
    ) WITHOUT ROWID;
    CREATE INDEX members_by_user ON members(username, room);

    CREATE TABLE member_spans (
        username   TEXT NOT NULL,
        room       TEXT NOT NULL,
        joined_seq INTEGER NOT NULL,
        left_seq   INTEGER,
        PRIMARY KEY (username, room, joined_seq)
    ) WITHOUT ROWID;
    CREATE INDEX member_spans_by_room ON member_spans(room, joined_seq);

    CREATE TABLE events (
        seq   INTEGER PRIMARY KEY AUTOINCREMENT,
        room  TEXT NOT NULL,
        type  TEXT NOT NULL,
        data  TEXT NOT NULL
    );
    CREATE INDEX events_by_room ON events(room, seq);

    CREATE TABLE messages (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        seq           INTEGER NOT NULL UNIQUE,
        room          TEXT NOT NULL REFERENCES rooms(id),
        sender        TEXT NOT NULL REFERENCES users(username),
        body          TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        UNIQUE (sender, client_msg_id)
    );
    CREATE INDEX messages_by_room ON messages(room, id);
    """,
    # 2: Unicode case-insensitive name search
    _v2_name_search_key,
)
