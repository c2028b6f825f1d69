"""The operator commands as functions (the CLI's subprocess tests are tests/ops/): migrate, create-user,
backup and restore on real files, and their one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from kit import config

from chatter.errors import Conflict, Invalid, NotFound
from chatter.service import operator
from chatter.store import maintenance, open_sqlite_store
from chatter.store.schema import MIGRATIONS


def test_migrate_creates_the_database_and_create_user_adds_an_account(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db")
    version, epoch = operator.migrate(cfg)
    assert version == len(MIGRATIONS) and epoch
    operator.create_user(cfg, "ana", "Ana", "ana has a long password")

    async def check() -> None:
        async with open_sqlite_store(cfg.store) as store:
            user = await store.get_user("ana")
            assert user is not None and user.name == "Ana" and user.password_hash.startswith("$2")
            assert store.epoch == epoch
    trio.run(check)
    with pytest.raises(Conflict, match="^username 'ana' is taken$"):
        operator.create_user(cfg, "ana", "Ana", "ana has a long password")


def test_a_backup_is_checked_and_a_restore_gives_a_new_epoch(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db")
    _, epoch = operator.migrate(cfg)
    operator.create_user(cfg, "ana", "Ana", "ana has a long password")
    made = operator.backup(cfg.store.path, tmp_path / "b.db", now=1_700_000_000.0)
    assert made.schema_version == len(MIGRATIONS) and made.bytes > 0
    with pytest.raises(Conflict, match="already exists; choose another name or pass --force"):
        operator.backup(cfg.store.path, tmp_path / "b.db")
    with pytest.raises(Invalid, match="is a directory"):
        operator.backup(cfg.store.path, tmp_path)
    done = operator.restore(tmp_path / "b.db", cfg.store.path)
    assert done.old_epoch == epoch and done.new_epoch != epoch and done.moved_aside is not None
    assert done.moved_aside.exists()
    with pytest.raises(NotFound, match="does not exist"):
        operator.restore(tmp_path / "missing.db", cfg.store.path)


def test_doctor_reads_a_fresh_database(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db")
    operator.migrate(cfg)
    checks = {c.what: c for c in operator.doctor(cfg)}
    assert checks["integrity"].level == operator.OK and checks["schema"].line() == (
        f"OK schema: version {len(MIGRATIONS)} (current)")
    assert checks["backup"].level == operator.WARN  # none yet


def test_maintenance_refuses_files_that_are_not_chatter_databases(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(Invalid, match="is not a usable SQLite database"):
        maintenance.open_existing(junk, 1.0)
    assert not maintenance.in_use(junk) and not maintenance.in_use(tmp_path / "absent.db")
    empty = tmp_path / "empty.db"
    foreign = maintenance.Connection(str(empty))  # a database another program made
    foreign.execute("CREATE TABLE t (x)")
    foreign.close()
    db = maintenance.open_existing(empty, 1.0)
    try:
        with pytest.raises(Invalid, match="is not a Chatter database"):
            maintenance.check_schema(db, "this")
        assert maintenance.integrity(db) == "ok" and maintenance.version(db) == 0
    finally:
        db.close()
