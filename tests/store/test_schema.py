"""Migrations through sqlite-utils keep every database Chatter ever made working.

The old code is frozen in ``frozen_schema.py``.  A schema is compared as
SQLite itself describes it: every ``sqlite_master`` entry with its SQL
tokenised (quoting, case and whitespace dropped: SQLite ignores them), plus
``pragma_table_list`` (WITHOUT ROWID, STRICT), ``table_xinfo``,
``foreign_key_list``, ``index_list`` and ``index_xinfo`` of every table.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import frozen_schema as old
import pytest
import trio

from chatter.config import load_config
from chatter.errors import Unavailable
from chatter.service import permissions
from chatter.store import open_sqlite_store, schema
from chatter.store import queries as q
from chatter.store.sqlite import connect

TIMEOUT = 10
NOW = "2026-01-01T00:00:00.000Z"
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\[[^\]]*\]|`[^`]*`|\w+|[^\s\w]")


def _tokens(sql: str) -> tuple[str, ...]:
    out = []
    for token in _TOKEN.findall(sql):
        if token[0] in "\"[`":
            token = token[1:-1]  # a quoted identifier (none of ours needs the quotes)
        if token[0] != "'":
            token = token.upper()  # SQLite folds the ASCII case of keywords and identifiers
        out.append(token)
    while out and out[-1] == ";":
        out.pop()
    return tuple(out)


def schema_of(db: sqlite3.Connection) -> dict[str, Any]:
    objects = sorted((t, n, tbl, _tokens(sql) if sql else None)
                     for t, n, tbl, sql in db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    tables: dict[str, Any] = {}
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
        indexes = {}
        for _, index, unique, origin, partial in db.execute(f"PRAGMA index_list('{name}')").fetchall():
            indexes[index] = (unique, origin, partial, db.execute(f"PRAGMA index_xinfo('{index}')").fetchall())
        tables[name] = {
            "list": db.execute("SELECT type, ncol, wr, strict FROM pragma_table_list WHERE name = ?", (name,)).fetchall(),
            "columns": db.execute(f"PRAGMA table_xinfo('{name}')").fetchall(),
            "foreign_keys": db.execute(f"PRAGMA foreign_key_list('{name}')").fetchall(),
            "indexes": indexes,
        }
    return {"objects": objects, "tables": tables}


@contextmanager
def opened(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(connect(path, busy_timeout=5.0)) as db:
        yield db


def old_database(path: Path, upto: int = len(old.MIGRATIONS)) -> dict[str, Any]:
    """A database as the old code made it; returns its schema."""
    with opened(path) as db:
        assert old.migrate(db, "old", upto) == upto
        return schema_of(db)


LATEST = len(schema.MIGRATIONS)
OLD = len(old.MIGRATIONS)  # the steps the frozen code made; the ones after it are the current code's


def new_database(path: Path, steps: Any = schema.MIGRATIONS) -> dict[str, Any]:
    with opened(path) as db:
        assert q.migrate(db, NOW, steps) == len(steps)
        return schema_of(db)


def versions(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return db.execute("SELECT version, applied_at FROM schema_version ORDER BY rowid").fetchall()


def test_a_new_database_has_the_schema_the_old_code_made(tmp_path: Path) -> None:
    assert OLD == 2 and LATEST == 4
    made_old = old_database(tmp_path / "old.db")
    made_new = new_database(tmp_path / "new.db", schema.MIGRATIONS[:OLD])
    assert made_new == made_old
    assert {o[1] for o in made_new["objects"]} >= {"meta", "users", "rooms", "members", "member_spans", "events",
                                                  "messages", "schema_version", "messages_by_room", "users_by_name_key"}
    with opened(tmp_path / "new.db") as db:
        assert versions(db) == [(1, NOW), (2, NOW)]
        (epoch,), = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchall()
        assert re.fullmatch(r"[0-9a-f]{16}", epoch)


@pytest.mark.parametrize(("old_text", "new_text"), [
    ("value TEXT NOT NULL) WITHOUT ROWID", "value TEXT NOT NULL)"),
    ("NOT NULL COLLATE NOCASE", "NOT NULL"),
    ("seq   INTEGER PRIMARY KEY AUTOINCREMENT", "seq   INTEGER PRIMARY KEY"),
    (" CHECK (role IN ('owner', 'admin', 'member'))", ""),
    ("dm_key        TEXT UNIQUE", "dm_key        TEXT"),
    ("members(username, room)", "members(room, username)"),
    ("REFERENCES users(username)", ""),
    ("token_version INTEGER NOT NULL DEFAULT 0", "token_version INTEGER NOT NULL DEFAULT 1"),
])
def test_the_comparison_sees_each_feature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          old_text: str, new_text: str) -> None:
    """The comparison above is not blind: one changed detail of step 1 makes the schemas differ."""
    script = old.MIGRATIONS[0]
    assert isinstance(script, str) and old_text in script
    made_old = old_database(tmp_path / "old.db")
    monkeypatch.setattr(old, "MIGRATIONS", (script.replace(old_text, new_text), old.MIGRATIONS[1]))
    assert old_database(tmp_path / "changed.db") != made_old


async def test_a_database_the_old_code_made_gets_only_the_new_steps(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    old_database(path)
    with opened(path) as db:
        epoch = q.get_meta(db, "epoch")
    cfg = load_config(env={}, use_file=False, overrides={"store.path": str(path)}).store
    with trio.fail_after(TIMEOUT):
        async with open_sqlite_store(cfg) as store:
            assert store.epoch == epoch
            await store.create_user("emilie", "Émilie", "hash")
            g = await store.create_group("emilie", "G", [])
            await store.post_message("emilie", g.id, "c1", "hello", rule=permissions.may_post)
            assert [u.username for u in await store.search_users("ÉMI", 10)] == ["emilie"]
    with opened(path) as db:
        assert [v for v in versions(db)][:OLD] == [(1, "old"), (2, "old")]  # nothing ran again
        assert [v for v, _ in versions(db)] == [1, 2, 3, 4]
        assert schema_of(db) == new_database(tmp_path / "fresh.db")


async def test_a_version_1_database_migrates_to_the_latest(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    old_database(path, upto=1)
    with opened(path) as db:
        epoch = q.get_meta(db, "epoch")
        db.executemany("INSERT INTO users (username, name, password_hash, created_at) VALUES (?, ?, 'h', 'then')",
                       [("emilie", "Émilie"), ("strasse", "Große Straße"), ("bob", "Bob")])
    cfg = load_config(env={}, use_file=False, overrides={"store.path": str(path)}).store
    with trio.fail_after(TIMEOUT):
        async with open_sqlite_store(cfg) as store:
            assert store.epoch == epoch
            assert [u.username for u in await store.search_users("émi", 10)] == ["emilie"]
            assert [u.username for u in await store.search_users("GROSS", 10)] == ["strasse"]
    with opened(path) as db:
        assert [v for v, _ in versions(db)] == [1, 2, 3, 4]
        assert db.execute("SELECT username, name_key FROM users ORDER BY username").fetchall() == [
            ("bob", "bob"), ("emilie", "émilie"), ("strasse", "große straße".casefold())]
        assert schema_of(db) == new_database(tmp_path / "fresh.db")


def test_a_failing_step_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken(db: Any) -> None:
        db.table("users").add_column("nickname", str)
        db.table("messages").enable_fts(["body"], create_triggers=True)
        raise RuntimeError("step 4 failed")

    with opened(tmp_path / "t.db") as db:
        with pytest.raises(RuntimeError, match="step 4 failed"):
            q.migrate(db, NOW, (*schema.MIGRATIONS[:3], broken))  # in place of the search step
        assert not db.in_transaction
        assert [v for v, _ in versions(db)] == [1, 2, 3]  # the steps before it stay committed
        assert "nickname" not in {c[1] for c in db.execute("PRAGMA table_info(users)")}
        assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'messages_%' AND type != 'index'"
                          ).fetchall() == []
        assert q.migrate(db, NOW) == LATEST


def test_a_step_whose_error_ended_the_transaction_reports_that_error(tmp_path: Path) -> None:
    """RAISE(ROLLBACK) in a trigger (or a full disk) ends the transaction itself: the step's error still shows."""
    def broken(db: Any) -> None:
        db.execute("CREATE TABLE checked (x INTEGER)")
        db.execute("CREATE TRIGGER no_negatives BEFORE INSERT ON checked WHEN new.x < 0 "
                   "BEGIN SELECT RAISE(ROLLBACK, 'negative x'); END")
        db.execute("INSERT INTO checked VALUES (-1)")

    with opened(tmp_path / "t.db") as db:
        with pytest.raises(sqlite3.IntegrityError, match="negative x"):
            q.migrate(db, NOW, (*schema.MIGRATIONS, broken))
        assert not db.in_transaction and [v for v, _ in versions(db)] == [1, 2, 3, 4]
        assert "checked" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}


def test_a_failing_first_step_leaves_an_empty_file(tmp_path: Path) -> None:
    def broken(db: Any) -> None:
        schema.MIGRATIONS[0](db)
        raise RuntimeError("step 1 failed")

    with opened(tmp_path / "t.db") as db:
        with pytest.raises(RuntimeError, match="step 1 failed"):
            q.migrate(db, NOW, (broken,))
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []
        assert q.schema_version(db) == 0


def test_migrating_leaves_the_connection_as_it_was(tmp_path: Path) -> None:
    with opened(tmp_path / "t.db") as db:
        before = [db.execute(f"PRAGMA {p}").fetchone() for p in ("recursive_triggers", "foreign_keys", "synchronous")]
        assert q.migrate(db, NOW) == LATEST
        after = [db.execute(f"PRAGMA {p}").fetchone() for p in ("recursive_triggers", "foreign_keys", "synchronous")]
        assert after == before == [(0,), (1,), (2,)]
        assert db.isolation_level is None and not db.in_transaction


def test_a_step_another_program_applied_meanwhile_is_not_run_again(tmp_path: Path) -> None:
    """Two programs open a new file at once: the second waits for the lock, then finds the work done."""
    path = tmp_path / "t.db"
    with opened(path) as first, opened(path) as second:
        other: list[int] = []

        def before_statement(sql: str) -> None:
            # Runs as ``first`` starts BEGIN IMMEDIATE, after it read version 0 and before it
            # holds the lock: ``second`` migrates the whole file in that moment.
            if sql.startswith("BEGIN IMMEDIATE") and not other:
                other.append(q.migrate(second, "second"))

        first.set_trace_callback(before_statement)
        assert q.migrate(first, "first") == LATEST
        assert other == [LATEST]
        assert versions(first) == [(1, "second"), (2, "second"), (3, "second"), (4, "second")]
        assert first.execute("SELECT COUNT(*) FROM meta WHERE key = 'epoch'").fetchone() == (1,)


def test_a_newer_program_that_migrated_meanwhile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with opened(path) as first, opened(path) as second:
        def later(db: Any) -> None:
            db.table("users").add_column("nickname", str)

        def before_statement(sql: str) -> None:
            if sql.startswith("BEGIN IMMEDIATE") and q.schema_version(second) == 0:
                q.migrate(second, "newer program", (*schema.MIGRATIONS, later))

        first.set_trace_callback(before_statement)
        with pytest.raises(Unavailable, match=f"schema version {LATEST + 1} is newer than this program"):
            q.migrate(first, "first")
        assert not first.in_transaction
        assert [v for v, _ in versions(first)] == list(range(1, LATEST + 2)) and {a for _, a in versions(first)} == {"newer program"}


def test_transform_cannot_rebuild_without_rowid_tables(tmp_path: Path) -> None:
    """Pins what the schema module says of sqlite-utils 4.2.1's transform(); revisit it when this fails."""
    with opened(tmp_path / "t.db") as db:
        q.migrate(db, NOW)
        made = schema_of(db)
        su = schema.database(db)
        # Empty: it "works", and users is no longer WITHOUT ROWID, nor name COLLATE NOCASE.
        db.execute("BEGIN IMMEDIATE")
        su.table("users").transform(types={"last_seen": str})
        assert db.execute("SELECT wr FROM pragma_table_list WHERE name = 'users'").fetchone() == (0,)
        assert "COLLATE" not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'users'").fetchone()[0]
        db.execute("ROLLBACK")
        # With a row: its copy selects "rowid", which SQLite reads as the string 'rowid' here.
        db.execute("INSERT INTO users (username, name, password_hash, created_at) VALUES ('a', 'A', 'h', 'now')")
        db.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.IntegrityError, match="datatype mismatch"):
            su.table("users").transform(types={"last_seen": str})
        db.execute("ROLLBACK")
        db.execute("DELETE FROM users")
        assert schema_of(db) == made
        # A rowid table is rebuilt, but a column's COLLATE is lost and a number DEFAULT comes back quoted.
        db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, "
                   "n INTEGER NOT NULL DEFAULT 0)")
        su.table("scratch").transform(types={"name": str})
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'scratch'").fetchone()[0]
        assert "COLLATE" not in sql and "NOT NULL" in sql and "DEFAULT '0'" in sql


def _write(db: sqlite3.Connection, fn: Callable[..., tuple[Any, Any]], *args: Any) -> Any:
    db.execute("BEGIN IMMEDIATE")
    result, _ = fn(db, *args)
    db.execute("COMMIT")
    return result


def _matches(db: sqlite3.Connection, query: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT m.body FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
        "WHERE messages_fts MATCH ? ORDER BY m.id", (query,))]


@pytest.mark.parametrize(("tokenize", "query"), [("unicode61 remove_diacritics 2", "emilie"), ("trigram", "mili")])
def test_enable_fts_as_a_step_follows_the_store_writes(tmp_path: Path, tokenize: str, query: str) -> None:
    """What the schema docstring records about enable_fts: as a step (here after step 3, where step 4 now
    stands), it indexes old rows inside the step and its triggers follow the store's writes."""

    def search(db: Any) -> None:
        db.table("messages").enable_fts(["body"], tokenize=tokenize, create_triggers=True)

    with opened(tmp_path / "t.db") as db:
        q.migrate(db, NOW, schema.MIGRATIONS[:3])
        _write(db, q.create_user, "alice", "Alice", "h", NOW)
        room = _write(db, q.create_group, "alice", "G", [], NOW)
        _write(db, q.post_message, "alice", room.id, "c1", "Émilie est là", NOW, permissions.may_post)
        assert q.migrate(db, NOW, (*schema.MIGRATIONS[:3], search)) == 4
        _write(db, q.post_message, "alice", room.id, "c2", "EMILIE again", NOW, permissions.may_post)
        _write(db, q.post_message, "alice", room.id, "c3", "nobody", NOW, permissions.may_post)
        assert _matches(db, query) == ["Émilie est là", "EMILIE again"]
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        # an edit re-indexes the new body; a deleted message's body leaves the index
        from chatter.service.permissions import may_delete_message as may_delete  # noqa: PLC0415
        from chatter.service.permissions import may_edit_message as may_edit
        first, second, _ = (m.id for m in q.history(db, "alice", room.id, None, 3, permissions.may_read)[0])
        _write(db, q.edit_message, "alice", room.id, first, "someone else", NOW, may_edit)
        assert _matches(db, query) == ["EMILIE again"]
        _write(db, q.edit_message, "alice", room.id, first, "Émilie est de retour", NOW, may_edit)
        _write(db, q.delete_message, "alice", room.id, second, may_delete)
        assert _matches(db, query) == ["Émilie est de retour"]
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        _write(db, q.delete_room, "alice", room.id, permissions.may_delete)
        assert _matches(db, query) == []
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")


def test_an_up_to_date_database_opens_without_importing_sqlite_utils(tmp_path: Path) -> None:
    """sqlite-utils is imported only when a step is pending (its imports cost ~60 ms per start)."""
    path = tmp_path / "t.db"
    new_database(path)
    script = ("import sys\nfrom chatter.store import queries as q\nfrom chatter.store.sqlite import connect\n"
              f"db = connect({str(path)!r}, busy_timeout=5.0)\nassert q.migrate(db, 'now') == {LATEST}\n"
              "print('sqlite_utils' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False"]


def _old_rows(db: sqlite3.Connection) -> None:
    """What the version 2 code wrote for: ann and bob in group G, two messages, a read cursor."""
    import orjson  # noqa: PLC0415 - only this helper writes old events

    db.executemany("INSERT INTO users (username, name, name_key, password_hash, created_at) VALUES (?, ?, ?, 'h', ?)",
                   [("ann", "Ann", "ann", NOW), ("bob", "Bob", "bob", NOW)])
    db.execute("INSERT INTO rooms (id, kind, name, created_at, activity_seq, last_message) "
               "VALUES ('r_g', 'group', 'G', ?, 4, 2)", (NOW,))
    evs = [
        (1, "member_added", {"room": "r_g", "username": "ann", "role": "owner", "name": "Ann", "room_name": "G",
                             "kind": "group"}),
        (2, "member_added", {"room": "r_g", "username": "bob", "role": "member", "name": "Bob", "room_name": "G",
                             "kind": "group"}),
        (3, "message", {"id": 1, "room": "r_g", "sender": "ann", "body": "hi @bob, ça va ? 👋", "client_msg_id": "c1",
                        "created_at": NOW}),
        (4, "message", {"id": 2, "room": "r_g", "sender": "bob", "body": "my old secret", "client_msg_id": "c2",
                        "created_at": NOW}),
        (5, "read", {"room": "r_g", "user": "ann", "up_to": 2}),
    ]
    db.executemany("INSERT INTO events (seq, room, type, data) VALUES (?, 'r_g', ?, ?)",
                   [(s, t, orjson.dumps(d).decode()) for s, t, d in evs])
    db.executemany("INSERT INTO members (room, username, role, read_up_to) VALUES ('r_g', ?, ?, ?)",
                   [("ann", "owner", 2), ("bob", "member", 0)])
    db.executemany("INSERT INTO member_spans (username, room, joined_seq) VALUES (?, 'r_g', ?)", [("ann", 1), ("bob", 2)])
    db.executemany("INSERT INTO messages (id, seq, room, sender, body, client_msg_id, created_at) "
                   "VALUES (?, ?, 'r_g', ?, ?, ?, ?)",
                   [(1, 3, "ann", evs[2][2]["body"], "c1", NOW), (2, 4, "bob", "my old secret", "c2", NOW)])


async def test_a_version_2_database_with_messages_gains_message_actions(tmp_path: Path) -> None:
    """Step 3 on a real file with data: old messages are whole Messages, old events decode as declared."""
    import msgspec  # noqa: PLC0415

    from chatter import wire  # noqa: PLC0415
    from chatter.service.permissions import may_delete_message as may_delete  # noqa: PLC0415
    from chatter.service.permissions import may_edit_message as may_edit
    from chatter.service.permissions import may_react

    path = tmp_path / "t.db"
    old_database(path)
    with opened(path) as db:
        _old_rows(db)
    cfg = load_config(env={}, use_file=False, overrides={"store.path": str(path)}).store
    with trio.fail_after(TIMEOUT):
        async with open_sqlite_store(cfg) as store:
            history, _ = await store.history("bob", "r_g", None, 10, rule=permissions.may_read)
            assert [(m.id, m.body, m.edited_at, m.deleted, m.reply_to, m.mentions, m.reactions) for m in history] == [
                (1, "hi @bob, ça va ? 👋", None, False, None, (), ()),  # mentions start with the upgrade
                (2, "my old secret", None, False, None, (), ())]
            room = await store.get_room("r_g", "bob", rule=permissions.may_read)
            assert (room.unread, room.mentions) == (1, 0)
            old_events = (await store.events_for_user("bob", 0, 100)).events
            assert [e.seq for e in old_events] == [2, 3, 4, 5]  # bob joined at 2
            for e in old_events:
                msgspec.convert(e.wire(), wire.DurableEvent)  # every stored event has today's shape
            assert old_events[1].wire() == {"type": "message", **msgspec.structs.asdict(history[0].wire())}
            assert list(old_events[1].data) == [f for f in wire.MessageEvent.__struct_fields__ if f != "seq"]
            # the new writes work on old messages
            await store.edit_message("ann", "r_g", 1, "hi @bob", rule=may_edit)
            assert (await store.get_room("r_g", "bob", rule=permissions.may_read)).mentions == 1
            assert await store.set_reaction("ann", "r_g", 2, "👍", True, rule=may_react)
            assert await store.delete_message("bob", "r_g", 2, rule=may_delete)
            reply = await store.post_message("bob", "r_g", "c3", "re", rule=permissions.may_post, reply_to=1)
            assert reply.message.reply_to == 1 and reply.message.seq == 9
            assert [e.type for e in (await store.events_for_user("bob", 5, 100)).events] == [
                "message_updated", "message_deleted", "message"]
    assert b"my old secret" not in path.read_bytes()
    with opened(path) as db:
        assert schema_of(db) == new_database(tmp_path / "fresh.db")
        assert [v for v, _ in versions(db)] == [1, 2, 3, 4]
