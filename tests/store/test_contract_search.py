"""The Store contract for message search (PROTOCOL 11), on SqliteStore and MemoryStore.

Both stores run ``chatter.store.search`` on SQLite (a file, or memory), so every test here runs
on both.  What is checked: only the viewer's rooms now (two users in disjoint rooms, a user
removed from a room, a deleted room); an edited message by its new text only; a deleted one
never; diacritics; CJK by substring of 3+ and of 2 characters (also at the very end of a
message); URL parts; the last word as a prefix; FTS5 syntax as plain text; the filters and the
cursor.  Then, SqliteStore only: an upgraded database's index is built in the background in
bounded batches, search works on the part already built, and writes during the build keep the
index right.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import frozen_schema as old
import pytest
import trio
from test_contract import TIMEOUT, open_store, store_config, users

from chatter.errors import NotFound
from chatter.service import permissions
from chatter.service.permissions import may_delete_message, may_edit_message
from chatter.store import open_sqlite_store
from chatter.store import search as S
from chatter.store.sqlite import connect


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def T(text: str, *, prefix: bool = False, phrase: bool = False) -> S.Term:
    return S.Term(text=text, prefix=prefix, phrase=phrase)


async def find(store: Any, viewer: str, *terms: S.Term, **filters: Any) -> list[str]:
    page = await store.search_messages(viewer, S.SearchSpec(terms=terms, **filters), rule=permissions.may_read)
    return [m.body for m in page.messages]


async def post(store: Any, sender: str, room: str, body: str) -> Any:
    n = await store.head()
    return (await store.post_message(sender, room, f"c{n}-{sender}", body, rule=permissions.may_post)).message


async def two_teams(store: Any) -> tuple[str, str]:
    """ann and bob share A; cyd and dee share B; nobody is in both."""
    await users(store, "ann", "bob", "cyd", "dee")
    a = await store.create_group("ann", "Alpha", ["bob"])
    b = await store.create_group("cyd", "Beta", ["dee"])
    return str(a.id), str(b.id)


# -- who sees what ------------------------------------------------------------------


async def test_two_users_in_disjoint_rooms_never_see_each_others_messages(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, b = await two_teams(store)
            await post(store, "ann", a, "secret launch plan")
            await post(store, "cyd", b, "secret budget")
            assert await find(store, "bob", T("secret")) == ["secret launch plan"]
            assert await find(store, "dee", T("secret")) == ["secret budget"]
            assert await find(store, "bob", T("budget")) == []
            assert await find(store, "dee", T("laun", prefix=True)) == []
            assert await find(store, "bob", T("secret"), senders=("cyd",)) == []
            # naming the other room does not open it: NotFound, as for every room one is not in
            with pytest.raises(NotFound):
                await find(store, "bob", T("secret"), room=b)
            assert await find(store, "bob", T("secret"), room_names=("beta",)) == []
            assert await find(store, "bob", T("secret"), room_names=(b.casefold(),)) == []


async def test_a_user_removed_from_a_room_no_longer_finds_its_messages(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            await post(store, "ann", a, "before the removal")
            assert await find(store, "bob", T("removal")) == ["before the removal"]
            await store.remove_member("ann", a, "bob", rule=permissions.may_remove_member)
            await post(store, "ann", a, "after the removal")
            assert await find(store, "bob", T("removal")) == []
            assert await find(store, "bob") == []  # filters only: none either
            with pytest.raises(NotFound):
                await find(store, "bob", T("removal"), room=a)
            assert await find(store, "ann", T("removal")) == ["after the removal", "before the removal"]


async def test_a_deleted_room_is_gone_from_search(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            await post(store, "ann", a, "ephemeral thoughts")
            await store.delete_room("ann", a, rule=permissions.may_delete)
            assert await find(store, "ann", T("ephemeral")) == []
            assert await find(store, "ann") == []


# -- edits and deletions ---------------------------------------------------------------


async def test_an_edited_message_is_found_by_its_new_text_only(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            m = await post(store, "ann", a, "meet at the harbour 港口")
            await store.edit_message("ann", a, m.id, "meet at the station 車站前", rule=may_edit_message)
            for gone in (T("harbour"), T("harb", prefix=True), T("港口"), T("港口 ")):
                assert await find(store, "bob", gone) == [], gone
            for found in (T("station"), T("stat", prefix=True), T("車站"), T("車站前")):
                assert await find(store, "bob", found) == ["meet at the station 車站前"], found


async def test_a_deleted_message_is_never_found(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            m = await post(store, "bob", a, "my password is hunter2 東京タワー")
            await post(store, "ann", a, "unrelated")
            assert await store.delete_message("bob", a, m.id, rule=may_delete_message)
            for term in (T("hunter2"), T("hun", prefix=True), T("東京タワー"), T("東京"), T("password")):
                assert await find(store, "bob", term) == [], term
            assert await find(store, "bob") == ["unrelated"]  # filters only: tombstones are left out too


# -- what matches -----------------------------------------------------------------------


async def test_words_ignore_case_and_diacritics(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            await post(store, "ann", a, "Un café crème à Zürich")
            await post(store, "ann", a, "cafeteria menu")
            assert await find(store, "bob", T("cafe")) == ["Un café crème à Zürich"]
            assert await find(store, "bob", T("CAFÉ")) == ["Un café crème à Zürich"]
            assert await find(store, "bob", T("zurich"), T("creme")) == ["Un café crème à Zürich"]
            assert await find(store, "bob", T("cafe", prefix=True)) == ["cafeteria menu", "Un café crème à Zürich"]
            assert await find(store, "bob", T("cafe"), T("tokyo")) == []  # all terms must match


async def test_cjk_by_substring_of_two_or_more_characters(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            await post(store, "ann", a, "東京タワーに行きました")
            await post(store, "ann", a, "明日は大阪と東京")  # 東京 at the very end
            await post(store, "ann", a, "東京")  # a message of two characters
            await post(store, "ann", a, "京都の夏")
            await post(store, "ann", a, "서울에서 만나요")
            newest_first = ["東京", "明日は大阪と東京", "東京タワーに行きました"]
            assert await find(store, "bob", T("東京")) == newest_first
            assert await find(store, "bob", T("東京", prefix=True)) == newest_first
            assert await find(store, "bob", T("タワー")) == ["東京タワーに行きました"]
            assert await find(store, "bob", T("京タ")) == ["東京タワーに行きました"]
            assert await find(store, "bob", T("大阪と東京")) == ["明日は大阪と東京"]
            assert await find(store, "bob", T("京都")) == ["京都の夏"]
            assert S.plan([T("京")]) == ()  # one character: too short to search for (the parser says so: 400)
            assert await find(store, "bob", T("서울")) == ["서울에서 만나요"]
            assert await find(store, "bob", T("名古屋")) == []
            assert await find(store, "bob", T("名古")) == []


async def test_url_parts_and_phrases(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            url = "see https://docs.example.com/guide/install-v2?lang=fr#step-3"
            await post(store, "ann", a, url)
            await post(store, "ann", a, "install the guide")
            for term in ("example.com", "docs.example.com/guide", "install-v2", "lang=fr", "step-3",
                         "https://docs.example.com"):
                assert await find(store, "bob", T(term)) == [url], term
            assert await find(store, "bob", T("guide install", phrase=True)) == [url]
            assert await find(store, "bob", T("install the", phrase=True)) == ["install the guide"]
            assert await find(store, "bob", T("exam", prefix=True)) == [url]
            assert await find(store, "bob", T("exam")) == []  # not the last word: a whole word


@pytest.mark.parametrize("text", ['NEAR(a b)', "a*", "-a", "body:a", "^a", '"a', 'a"', "a AND b", "a OR",
                                  "NOT a", "(a", "a)", "{a}", "a + b", "'a'", "a\x00b", "*", '""', "a:b:c"])
async def test_fts_syntax_is_plain_text(kind: str, tmp_path: Path, text: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            await post(store, "ann", a, "a b NEAR AND OR NOT body c")
            got = await find(store, "bob", T(text))
            got_prefix = await find(store, "bob", T(text, prefix=True))
            assert got in ([], ["a b NEAR AND OR NOT body c"]) and got_prefix in ([], ["a b NEAR AND OR NOT body c"])


async def test_filters_and_the_cursor(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            a, _ = await two_teams(store)
            other = await store.create_group("bob", "Gamma", ["ann"])
            for i in range(7):
                await post(store, "ann" if i % 2 else "bob", a if i < 5 else str(other.id), f"report {i}")
            assert await find(store, "ann", T("report")) == [f"report {i}" for i in range(6, -1, -1)]
            assert await find(store, "ann", T("report"), room=a) == [f"report {i}" for i in range(4, -1, -1)]
            assert await find(store, "ann", T("report"), room_names=("gamma",)) == ["report 6", "report 5"]
            assert await find(store, "ann", T("report"), senders=("bob",)) == ["report 6", "report 4", "report 2",
                                                                                "report 0"]
            assert await find(store, "ann", T("report"), senders=("bob", "ann")) == []
            assert await find(store, "ann", senders=("ann",)) == ["report 5", "report 3", "report 1"]
            assert await find(store, "ann", T("report"), before="2000-01-01T00:00:00.000Z") == []
            assert len(await find(store, "ann", T("report"), after="2000-01-01T00:00:00.000Z")) == 7
            # pages of 3, newest first, with the cursor below the last id
            seen: list[str] = []
            below = None
            while True:
                page = await store.search_messages("ann", S.SearchSpec(terms=(T("report"),), limit=3, below=below),
                                                   rule=permissions.may_read)
                seen += [m.body for m in page.messages]
                assert len(page.messages) <= 3
                if not page.has_more:
                    break
                below = page.messages[-1].id
            assert seen == [f"report {i}" for i in range(6, -1, -1)]


# -- the background build (SqliteStore: an upgraded file) ----------------------------------


def _old_file(path: Path, messages: int) -> None:
    """A version-3 database (the current code's first three steps) with ``messages`` messages."""
    from chatter.store import queries as q
    from chatter.store import schema

    with closing(connect(path, busy_timeout=5.0)) as db:
        q.migrate(db, "then", schema.MIGRATIONS[:3])
        db.execute("BEGIN")
        q.create_user(db, "ann", "Ann", "h", "then")
        q.create_user(db, "bob", "Bob", "h", "then")
        room, _ = q.create_group(db, "ann", "Old", ["bob"], "then")
        for i in range(messages):
            q.post_message(db, "ann", room.id, f"c{i}", f"old message {i} 東京{i % 10}号", "then",
                           permissions.may_post)
        db.execute("COMMIT")
    assert old.MIGRATIONS  # the frozen code made steps 1-2; step 3 is today's: both upgrade the same way


def _index_rows(path: Path) -> tuple[int, int, int]:
    with closing(sqlite3.connect(path)) as db:
        return (db.execute("SELECT COUNT(*) FROM messages_fts_docsize").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM messages_trigram_docsize").fetchone()[0],
                int(db.execute("SELECT value FROM meta WHERE key = 'search_pending_below'").fetchone()[0]))


def test_the_migration_indexes_nothing_and_marks_every_message_pending(tmp_path: Path) -> None:
    from chatter.store import queries as q

    path = tmp_path / "t.db"
    _old_file(path, 50)
    with closing(connect(path, busy_timeout=5.0)) as db:
        assert q.migrate(db, "now") == 4
        assert S.pending_below(db) == 51
    assert _index_rows(path) == (0, 0, 51)


def test_each_batch_indexes_at_most_its_size_newest_first(tmp_path: Path) -> None:
    """The build's unit of work is bounded by rows, not time: ``index_batch(db, n)`` indexes <= n messages."""
    from chatter.store import queries as q

    path = tmp_path / "t.db"
    _old_file(path, 1234)
    with closing(connect(path, busy_timeout=5.0)) as db:
        q.migrate(db, "now")
        sizes = []
        while True:
            db.execute("BEGIN IMMEDIATE")
            n, events = S.index_batch(db, 500)
            db.execute("COMMIT")
            assert events == []
            if n == 0:
                break
            sizes.append(n)
            fts, trigram, boundary = _index_rows(path)
            assert fts == trigram == sum(sizes)
            # the indexed part is exactly the newest messages
            assert db.execute("SELECT MIN(id) FROM messages_fts_docsize").fetchone()[0] == max(boundary, 1)
        assert sizes == [500, 500, 234]
        assert S.pending_below(db) == 0
        report = S.check_index(db)
        assert report.ok and report.pending == 0 and report.messages == 1234


async def test_search_works_while_the_index_is_built_and_writes_keep_it_right(tmp_path: Path) -> None:
    """Edits, deletions and new messages during a build; the index ends up exactly the table's.

    The build is driven here one batch at a time (``search_index_batch``, what the background task
    calls) after ``reset_search_index`` marked every message pending again.
    """
    path = tmp_path / "t.db"
    _old_file(path, 300)
    with trio.fail_after(TIMEOUT):
        async with open_sqlite_store(store_config(path)) as store:
            await store.search_complete.wait()
            await store.reset_search_index()
            assert await find(store, "bob", T("old")) == []
            assert await store.search_index_batch(100) == 100
            room = (await store.list_rooms("bob"))[0].id
            page = await store.search_messages("bob", S.SearchSpec(terms=(T("old"),), limit=100),
                                               rule=permissions.may_read)
            assert not page.indexed and [m.id for m in page.messages] == list(range(300, 200, -1))
            # writes on both sides of the boundary
            await store.edit_message("ann", room, 250, "edited indexed", rule=may_edit_message)
            await store.edit_message("ann", room, 50, "edited pending", rule=may_edit_message)
            await store.delete_message("ann", room, 260, rule=may_delete_message)
            await store.delete_message("ann", room, 60, rule=may_delete_message)
            await post(store, "bob", room, "new during the build")
            assert await find(store, "bob", T("edited")) == ["edited indexed"]  # 50 is not indexed yet
            while await store.search_index_batch(100):
                pass
            assert await find(store, "bob", T("edited")) == ["edited indexed", "edited pending"]
            assert await find(store, "bob", T("new", prefix=True), T("build")) == ["new during the build"]
            assert len(await find(store, "bob", T("old"), limit=100)) == 100
            page = await store.search_messages("bob", S.SearchSpec(terms=(T("東京3"),), limit=100),
                                               rule=permissions.may_read)
            assert page.indexed and len(page.messages) == 30
    with closing(connect(path, busy_timeout=5.0)) as db:
        report = S.check_index(db)
        assert report.ok and report.messages == 301 and report.pending == 0
        db.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")  # against messages
        db.execute("INSERT INTO messages_trigram (messages_trigram) VALUES ('integrity-check')")


async def test_the_store_builds_the_index_in_the_background_at_open(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    _old_file(path, 120)
    cfg = dataclasses.replace(store_config(path), search_batch=50, search_pause=0.0)
    with trio.fail_after(TIMEOUT):
        async with open_sqlite_store(cfg) as store:
            await store.search_complete.wait()
            page = await store.search_messages("bob", S.SearchSpec(terms=(T("old"),), limit=200),
                                               rule=permissions.may_read)
            assert page.indexed and len(page.messages) == 120 and store.search_indexed == 120
    assert _index_rows(path) == (120, 120, 0)
