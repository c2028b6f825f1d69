"""The migrations as they were before they moved to sqlite-utils, frozen.

Databases in the field were made by exactly this code: migration 1 as one
DDL script, migration 2 on the bare ``sqlite3`` connection, and the runner
that applied them (``schema_version`` created outside the first step, the
epoch inserted with migration 1).  Copied verbatim; never edit it: the
schema tests build databases with it and compare them with the new code's.
"""

from __future__ import annotations

import secrets
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


def schema_version(db: sqlite3.Connection) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite3.Connection, now: str, upto: int = len(MIGRATIONS)) -> int:
    """Apply pending migrations in one transaction each; return the version.

    ``upto`` (the only change from the original) stops after that version,
    to make databases as an older program left them.
    """
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this program ({len(MIGRATIONS)}); upgrade Chatter"
        )
    for number, script in enumerate(MIGRATIONS[version:upto], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            if callable(script):
                script(db)
            else:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            if number == 1:
                db.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (secrets.token_hex(8),))
            db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (number, now))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return upto
