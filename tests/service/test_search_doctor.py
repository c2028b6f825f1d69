"""``chatter doctor`` checks the search index against the messages; ``--repair`` rebuilds it.

The check only reads (it runs beside a server); the repair works in short write transactions,
so a running server keeps writing during it, and what it writes is indexed by its triggers.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import trio
from kit import config

from chatter import cli
from chatter.service import operator, permissions
from chatter.store import open_sqlite_store
from chatter.store import search as S

TIMEOUT = 20


async def _fill(cfg: object, n: int) -> str:
    async with open_sqlite_store(cfg.store) as store:  # type: ignore[attr-defined]
        await store.create_user("ann", "Ann", "h")
        room = await store.create_group("ann", "Team", [])
        for i in range(n):
            await store.post_message("ann", room.id, f"c{i}", f"note {i} 会議{i % 7}", rule=permissions.may_post)
        return str(room.id)


def _search_check(cfg: object) -> operator.Check:
    return {c.what: c for c in operator.doctor(cfg)}["search"]  # type: ignore[arg-type]


def test_doctor_reports_ok_missing_entries_and_a_build_in_progress(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db")
    trio.run(_fill, cfg, 40)
    check = _search_check(cfg)
    assert check.level == operator.OK and check.detail == "index matches the 40 messages (40 sampled)"
    with closing(sqlite3.connect(cfg.store.path)) as db:
        db.execute("DELETE FROM messages_fts_docsize WHERE id = 7")  # one entry lost
        db.commit()
    check = _search_check(cfg)
    assert check.level == operator.FAIL and "1 missing" in check.detail and "--repair" in check.detail
    with closing(sqlite3.connect(cfg.store.path)) as db:
        db.execute("UPDATE meta SET value = '31' WHERE key = 'search_pending_below'")  # as if being built
        db.commit()
    check = _search_check(cfg)
    assert check.level == operator.FAIL  # what is below the boundary must not be in the index either


def test_repair_rebuilds_the_index_and_search_finds_everything_again(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db", **{"store.search_batch": 16, "store.search_pause": 0.0})
    trio.run(_fill, cfg, 50)
    with closing(sqlite3.connect(cfg.store.path)) as db:
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")  # the index lost its words
        db.commit()
    assert _search_check(cfg).level == operator.FAIL
    done: list[int] = []
    assert operator.repair_search(cfg, progress=done.append) == 50
    assert done == [16, 32, 48, 50]  # batches of store.search_batch, each its own transaction
    assert _search_check(cfg).level == operator.OK
    with closing(sqlite3.connect(cfg.store.path)) as db:
        db.execute("BEGIN")
        page = S.search_messages(db, "ann", S.SearchSpec(terms=(S.Term(text="note"),), limit=100),
                                 permissions.may_read)
        assert len(page.messages) == 50 and page.indexed
        db.execute("COMMIT")


def test_a_pending_build_is_a_warning(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db")
    trio.run(_fill, cfg, 30)
    with closing(sqlite3.connect(cfg.store.path)) as db:
        db.execute("BEGIN IMMEDIATE")
        S.reset_index(db)
        S.index_batch(db, 10)
        db.execute("COMMIT")
    check = _search_check(cfg)
    assert check.level == operator.WARN and check.detail.startswith("index being built: 20 of 30 messages")


def test_repair_beside_a_running_server_that_keeps_writing(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db", **{"store.search_batch": 10, "store.search_pause": 0.0})
    room = trio.run(_fill, cfg, 60)

    async def main() -> int:
        with trio.fail_after(TIMEOUT):
            async with open_sqlite_store(cfg.store) as store:
                await store.search_complete.wait()
                async with trio.open_nursery() as nursery:
                    result: list[int] = []

                    async def repair() -> None:
                        result.append(await trio.to_thread.run_sync(operator.repair_search, cfg))

                    nursery.start_soon(repair)
                    for i in range(30):  # the server writes while the repair runs
                        await store.post_message("ann", room, f"d{i}", f"during {i}", rule=permissions.may_post)
                    m = await store.post_message("ann", room, "e", "to be edited", rule=permissions.may_post)
                    await store.edit_message("ann", room, m.message.id, "edited during repair",
                                             rule=permissions.may_edit_message)
                page = await store.search_messages("ann", S.SearchSpec(terms=(S.Term(text="during"),), limit=100),
                                                   rule=permissions.may_read)
                assert len(page.messages) == 31
                return result[0]

    assert trio.run(main) >= 60
    assert _search_check(cfg).level == operator.OK


def test_the_cli_repairs_then_checks(tmp_path: Path, capsys: object) -> None:
    cfg = config(tmp_path / "t.db")
    trio.run(_fill, cfg, 5)
    code = cli.main(["doctor", "--repair", "--db", str(cfg.store.path)])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "search index rebuilt: 5 messages" in out and "OK search: index matches the 5 messages" in out
    assert code in (0, 1)  # warnings elsewhere (dev mode, no backup) are not the search index's
