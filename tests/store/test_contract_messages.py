"""The Store contract for messages people work with (PROTOCOL 10), on SqliteStore and MemoryStore.

Edits, deletions (tombstones whose body is gone from every row), reactions,
replies, mentions, ``around`` pages and the mentions page.  Every write
appends exactly one durable event, every no-op and every refusal none (the
``quiet`` helper checks the head, the room as its members see it, and the
subscriber).  Permission rules are the pure ones of chatter.service.permissions,
passed in as the service layer will pass them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from test_contract import BIG, TIME_RE, TIMEOUT, drain, open_store, ruled, store_config, users

from chatter import wire
from chatter.errors import ChatError, Conflict, Forbidden, Invalid, NotFound
from chatter.markup import MAX_REACTIONS
from chatter.service import permissions
from chatter.service.permissions import may_delete_message as may_delete
from chatter.service.permissions import may_edit_message as may_edit
from chatter.service.permissions import may_react
from chatter.store import open_sqlite_store
from chatter.store.models import MessageRow, ReactionRow


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def quiet(store: Any, room: str, *viewers: str) -> AsyncIterator[None]:
    """The block writes nothing: same head, same room and history for each viewer."""
    async def look() -> Any:
        return [await store.head()] + [(await store.get_room(room, v), await store.history(v, room, None, 200))
                                       for v in viewers]
    before = await look()
    yield
    assert await look() == before


async def team(store: Any) -> tuple[str, str]:
    """ann owns Team (bob admin, cyd member); Other is ann's and dee's."""
    await users(store, "ann", "bob", "cyd", "dee")
    g = await store.create_group("ann", "Team", ["bob", "cyd"])
    await store.set_role("ann", g.id, "bob", "admin")
    other = await store.create_group("ann", "Other", ["dee"])
    return str(g.id), str(other.id)


async def post(store: Any, sender: str, room: str, body: str, reply_to: int | None = None) -> MessageRow:
    n = await store.head()
    return (await store.post_message(sender, room, f"c{n}-{sender}", body, reply_to=reply_to)).message


def one(got: list[Any]) -> Any:
    assert len(got) == 1, got
    return got[0]


# -- edit ---------------------------------------------------------------------------


async def test_edit_replaces_the_body_and_emits_one_message_updated(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, _ = await team(store)
            recv = store.subscribe(100)
            m = await post(store, "cyd", g, "helo @bob")
            assert m.mentions == ("bob",) and m.edited_at is None
            edited = await store.edit_message("cyd", g, m.id, "hello @ann and @bob", rule=may_edit, origin="s1")
            assert (edited.id, edited.seq, edited.body, edited.mentions) == (m.id, m.seq, "hello @ann and @bob",
                                                                            ("ann", "bob"))
            assert edited.edited_at is not None and TIME_RE.match(edited.edited_at)
            got = drain(recv)
            assert [(e.type, o) for e, o in got] == [("message", None), ("message_updated", "s1")]
            ev = got[1][0]
            assert ev.wire() == {"type": "message_updated", "seq": ev.seq, "room": g, "id": m.id,
                                 "body": "hello @ann and @bob", "edited_at": edited.edited_at,
                                 "mentions": ["ann", "bob"]}
            msgspec.convert(ev.wire(), wire.DurableEvent)
            assert (await store.history("bob", g, None, 10))[0] == [edited]
            assert await store.get_message("ann", g, m.id) == edited
            # the same body again: nothing changes, nothing is emitted
            async with quiet(store, g, "ann", "cyd"):
                assert await store.edit_message("cyd", g, m.id, "hello @ann and @bob", rule=may_edit) == edited
            assert drain(recv) == []


async def test_edit_refusals_emit_nothing(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            m = await post(store, "cyd", g, "mine")
            gone = await post(store, "cyd", g, "to delete")
            assert await store.delete_message("cyd", g, gone.id, rule=may_delete)
            elsewhere = await post(store, "ann", other, "in Other")
            recv = store.subscribe(100)
            cases: list[tuple[type[ChatError], str, str, int, Any]] = [
                (Forbidden, "ann", g, m.id, "by the owner"),  # only the author, even the owner
                (Forbidden, "bob", g, m.id, "by an admin"),
                (NotFound, "cyd", g, gone.id, "a deleted message"),
                (NotFound, "ann", g, gone.id, "a deleted message, not the author"),
                (NotFound, "cyd", g, 999_999, "unknown"),
                (NotFound, "ann", g, elsewhere.id, "a message of another room"),
                (NotFound, "dee", g, m.id, "not a member"),
                (NotFound, "cyd", "r_nope", m.id, "no such room"),
            ]  # bodies reach the store valid: the use case checks them (tests/service/test_message_actions.py)
            async with quiet(store, g, "ann", "cyd"):
                for error, actor, room, mid, body in cases:
                    with pytest.raises(error):
                        await store.edit_message(actor, room, mid, body, rule=may_edit)
            assert drain(recv) == []
            assert (await store.get_message("cyd", g, m.id)).body == "mine"


# -- delete -------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "author", "allowed"), [
    ("ann", "cyd", True),  # owner
    ("bob", "cyd", True),  # admin
    ("cyd", "cyd", True),  # author
    ("cyd", "bob", False),  # a member, someone else's
    ("bob", "ann", True),  # an admin may delete the owner's message
])
async def test_who_may_delete(kind: str, tmp_path: Path, actor: str, author: str, allowed: bool) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, _ = await team(store)
            m = await post(store, author, g, "a message")
            if allowed:
                assert await store.delete_message(actor, g, m.id, rule=may_delete) is True
                assert (await store.get_message(author, g, m.id)).deleted
            else:
                async with quiet(store, g, "ann", actor):
                    with pytest.raises(Forbidden):
                        await store.delete_message(actor, g, m.id, rule=may_delete)


async def test_delete_leaves_a_tombstone_and_no_copy_of_the_body(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, _ = await team(store)
            first = await post(store, "ann", g, "before")
            m = await post(store, "cyd", g, "secret @bob")
            reply = await post(store, "bob", g, "answer", reply_to=m.id)
            edited = await store.edit_message("cyd", g, m.id, "secret v2 @ann", rule=may_edit)
            assert await store.set_reaction("bob", g, m.id, "👍", True, rule=may_react)
            assert await store.set_reaction("ann", g, first.id, "🎉", True, rule=may_react)
            recv = store.subscribe(100)
            assert await store.delete_message("ann", g, m.id, rule=may_delete, origin="s9") is True
            (ev, origin), = drain(recv)
            assert (ev.wire(), origin) == ({"type": "message_deleted", "seq": ev.seq, "room": g, "id": m.id}, "s9")

            tomb = await store.get_message("cyd", g, m.id)
            assert tomb == MessageRow(id=m.id, seq=m.seq, room=m.room, sender="cyd", body="",  # type: ignore[arg-type]
                                      client_msg_id=m.client_msg_id, created_at=m.created_at, deleted=True)
            assert tomb.wire().mentions == [] and tomb.wire().reactions == [] and tomb.wire().attachments == []
            history, _ = await store.history("bob", g, None, 10)
            assert [h.id for h in history] == [first.id, m.id, reply.id]
            assert history[1] == tomb and history[2].reply_to == m.id  # the reply quotes a tombstone
            assert history[0].reactions == (ReactionRow(emoji="🎉", users=("ann",)),)  # others untouched
            assert (await store.get_room(g, "bob")).mentions == 0
            # the log: the message event is now the tombstone; its edit and reaction events are gone
            log = [(e.type, e.data) for e in (await store.events_for_user("bob", 0, BIG)).events
                   if e.data.get("id") == m.id]
            assert log == [("message", {k: v for k, v in msgspec.structs.asdict(tomb.wire()).items() if k != "seq"}),
                           ("message_deleted", {"room": g, "id": m.id})]
            text = repr((await store.events_for_user("ann", 0, BIG)).events)
            assert "secret" not in text and edited.body not in text
            # again: nothing changes, nothing is emitted, whoever asks
            async with quiet(store, g, "ann", "cyd"):
                assert await store.delete_message("cyd", g, m.id, rule=may_delete) is False
                assert await store.delete_message("ann", g, m.id, rule=may_delete) is False
            assert drain(recv) == []


async def test_delete_refusals_emit_nothing(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            m = await post(store, "bob", g, "hi")
            elsewhere = await post(store, "dee", other, "there")
            recv = store.subscribe(100)
            async with quiet(store, g, "ann", "bob"):
                for error, actor, room, mid in [(NotFound, "ann", g, elsewhere.id), (NotFound, "ann", g, 424242),
                                                (NotFound, "dee", g, m.id), (Forbidden, "cyd", g, m.id)]:
                    with pytest.raises(error):
                        await store.delete_message(actor, room, mid, rule=may_delete)
            assert drain(recv) == []


async def test_a_repeated_send_of_a_deleted_message_answers_with_the_tombstone(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            r = await store.post_message("cyd", g, "retry-me", "oops")
            await store.delete_message("cyd", g, r.message.id, rule=may_delete)
            async with quiet(store, g, "cyd"):
                again = await store.post_message("cyd", g, "retry-me", "oops")
            assert again.created is False and again.message.id == r.message.id and again.message.deleted
            with pytest.raises(Conflict):  # the tombstone's room is still part of what must match
                await store.post_message("cyd", other, "retry-me", "oops")


async def test_deleted_body_is_gone_from_the_file(tmp_path: Path) -> None:
    """Not only from the rows: SQLite zeroes freed space (secure_delete), so the bytes are nowhere in the file."""
    path = tmp_path / "t.db"
    secret, edit = "Sw0rdf1sh-" + "q" * 3000, "Pa55-edited-" + "z" * 3000  # overflow pages too
    with trio.fail_after(TIMEOUT):
        async with ruled(open_sqlite_store(store_config(path))) as store:
            g, _ = await team(store)
            m = await post(store, "cyd", g, secret)
            for i in range(30):
                await post(store, "ann", g, f"filler {i}")
            await store.edit_message("cyd", g, m.id, edit, rule=may_edit)
            await store.delete_message("cyd", g, m.id, rule=may_delete)
            kept = await post(store, "cyd", g, "Still-here-after")
    data = path.read_bytes()  # the store checkpoints and truncates the WAL at close
    assert not (tmp_path / "t.db-wal").exists() or (tmp_path / "t.db-wal").stat().st_size == 0
    assert b"Still-here-after" in data and kept.id > m.id
    assert b"Sw0rdf1sh" not in data and b"Pa55-edited" not in data


# -- reactions ----------------------------------------------------------------------


async def test_reactions_toggle_idempotently_and_show_who(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, _ = await team(store)
            m = await post(store, "ann", g, "vote")
            recv = store.subscribe(100)
            assert await store.set_reaction("cyd", g, m.id, "👍🏽", True, rule=may_react, origin="x") is True
            assert await store.set_reaction("ann", g, m.id, "❤", True, rule=may_react) is True  # stored as ❤️
            assert await store.set_reaction("bob", g, m.id, "👍🏽", True, rule=may_react) is True
            assert await store.set_reaction("bob", g, m.id, "❤️", True, rule=may_react) is True
            got = drain(recv)
            assert [e.wire() for e, _ in got] == [
                {"type": "reaction", "seq": got[0][0].seq, "room": g, "id": m.id, "emoji": "👍🏽", "user": "cyd",
                 "on": True},
                {"type": "reaction", "seq": got[1][0].seq, "room": g, "id": m.id, "emoji": "❤️", "user": "ann",
                 "on": True},
                {"type": "reaction", "seq": got[2][0].seq, "room": g, "id": m.id, "emoji": "👍🏽", "user": "bob",
                 "on": True},
                {"type": "reaction", "seq": got[3][0].seq, "room": g, "id": m.id, "emoji": "❤️", "user": "bob",
                 "on": True}]
            assert got[0][1] == "x"
            expected = (ReactionRow(emoji="👍🏽", users=("cyd", "bob")), ReactionRow(emoji="❤️", users=("ann", "bob")))
            assert (await store.history("cyd", g, None, 10))[0][0].reactions == expected
            assert (await store.get_room(g, "cyd")).last_message.reactions == expected  # type: ignore[union-attr]
            # already so: nothing
            async with quiet(store, g, "ann", "cyd"):
                assert await store.set_reaction("ann", g, m.id, "❤️", True, rule=may_react) is False
                assert await store.set_reaction("ann", g, m.id, "❤", True, rule=may_react) is False
                assert await store.set_reaction("ann", g, m.id, "👍🏽", False, rule=may_react) is False
            assert drain(recv) == []
            assert await store.set_reaction("cyd", g, m.id, "👍🏽", False, rule=may_react) is True
            (ev, _), = drain(recv)
            assert ev.data == {"room": g, "id": m.id, "emoji": "👍🏽", "user": "cyd", "on": False}
            # chips are in the order of each emoji's earliest current reaction: bob's 👍🏽 came after ann's ❤️
            assert (await store.get_message("ann", g, m.id)).reactions == (
                ReactionRow(emoji="❤️", users=("ann", "bob")), ReactionRow(emoji="👍🏽", users=("bob",)))
            await store.set_reaction("bob", g, m.id, "👍🏽", False, rule=may_react)
            assert (await store.get_message("ann", g, m.id)).reactions == (ReactionRow(emoji="❤️", users=("ann", "bob")),)


async def test_reaction_refusals_emit_nothing(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            m = await post(store, "ann", g, "popular")
            gone = await post(store, "ann", g, "gone")
            await store.delete_message("ann", g, gone.id, rule=may_delete)
            elsewhere = await post(store, "dee", other, "elsewhere")
            emoji = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃",
                     "😉", "😊", "😇", "🥰", "😍", "🤩", "😘", "😗", "😚", "😙"]
            assert len(emoji) == MAX_REACTIONS
            for e in emoji:
                await store.set_reaction("cyd", g, m.id, e, True, rule=may_react)
            # another user may still join one of the 20
            assert await store.set_reaction("bob", g, m.id, "😀", True, rule=may_react)
            recv = store.subscribe(100)
            async with quiet(store, g, "ann", "cyd"):
                for error, actor, room, mid, e, on in [
                    (Invalid, "bob", g, m.id, "🥲", True),  # the 21st distinct emoji
                    (Invalid, "cyd", g, m.id, "👍👍", True),
                    (Invalid, "cyd", g, m.id, "plus one", True),
                    (Invalid, "cyd", g, m.id, "\u0301", True),
                    (Invalid, "cyd", g, m.id, "", False),
                    (NotFound, "cyd", g, gone.id, "👍", True),
                    (NotFound, "ann", g, gone.id, "👍", False),
                    (NotFound, "cyd", g, elsewhere.id, "👍", True),
                    (NotFound, "cyd", g, 31337, "👍", True),
                    (NotFound, "dee", g, m.id, "😀", True),
                ]:
                    with pytest.raises(error):
                        await store.set_reaction(actor, room, mid, e, on, rule=may_react)
            assert drain(recv) == []
            # a removal frees a slot
            await store.set_reaction("cyd", g, m.id, "😙", False, rule=may_react)
            assert await store.set_reaction("bob", g, m.id, "🥲", True, rule=may_react)


async def test_concurrent_reaction_toggles_converge(kind: str, tmp_path: Path) -> None:
    """Two sockets toggling the same reaction at once: the state is the last event's, one event per change."""
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, _ = await team(store)
            m = await post(store, "ann", g, "race")
            head = await store.head()
            results: list[bool] = []

            async def toggle(on: bool) -> None:
                results.append(await store.set_reaction("bob", g, m.id, "🔥", on, rule=may_react))

            async with trio.open_nursery() as n:
                for i in range(20):
                    n.start_soon(toggle, i % 2 == 0)
            evs = [e for e in (await store.events_for_user("ann", head, BIG)).events]
            assert len(evs) == sum(results)
            ons = [e.data["on"] for e in evs]
            assert all(a != b for a, b in zip(ons, ons[1:], strict=False))  # each event changes the state
            state = (await store.get_message("ann", g, m.id)).reactions
            assert state == ((ReactionRow(emoji="🔥", users=("bob",)),) if ons and ons[-1] else ())


# -- replies ------------------------------------------------------------------------


async def test_reply_to_must_be_a_live_message_of_the_room(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            m = await post(store, "ann", g, "question")
            reply = await post(store, "cyd", g, "answer", reply_to=m.id)
            assert reply.reply_to == m.id
            assert (await store.history("ann", g, None, 10))[0][-1].reply_to == m.id
            page = await store.events_for_user("ann", reply.seq - 1, 10)
            assert page.events[0].data["reply_to"] == m.id
            elsewhere = await post(store, "ann", other, "other room")
            gone = await post(store, "ann", g, "gone")
            await store.delete_message("ann", g, gone.id, rule=may_delete)
            async with quiet(store, g, "ann"):
                for target in (elsewhere.id, gone.id, 10**9):
                    with pytest.raises(Invalid, match="reply_to"):
                        await store.post_message("cyd", g, f"r{target}", "hi", reply_to=target)
                # the repeat of a send must match its reply_to too
                with pytest.raises(Conflict):
                    await store.post_message("cyd", g, reply.client_msg_id, "answer")
                again = await store.post_message("cyd", g, reply.client_msg_id, "answer", reply_to=m.id)
                assert again.created is False and again.message == reply


# -- mentions -----------------------------------------------------------------------


async def test_mentions_are_members_only_and_counted_from_the_read_cursor(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            m1 = await post(store, "ann", g, "@CYD @dee @nobody `@bob` @ann hi @cyd")
            assert m1.mentions == ("cyd", "ann")  # dee is not in Team; code does not mention; once each
            m2 = await post(store, "bob", g, "@cyd again")
            own = await post(store, "cyd", g, "note to self @cyd")
            assert own.mentions == ("cyd",)
            room = await store.get_room(g, "cyd")
            assert (room.unread, room.mentions) == (2, 2)  # your own messages do not count
            assert (await store.get_room(g, "ann")).mentions == 0  # ann's own message mentions ann
            assert (await store.get_room(g, "bob")).mentions == 0
            assert room.wire().mentions == 2
            await store.mark_read("cyd", g, m1.id)
            assert (await store.get_room(g, "cyd")).mentions == 1
            # an edit recomputes them
            await store.edit_message("bob", g, m2.id, "no longer", rule=may_edit)
            assert (await store.get_room(g, "cyd")).mentions == 0
            await store.edit_message("bob", g, m2.id, "now @cyd and @ann", rule=may_edit)
            assert [r.mentions for r in await store.list_rooms("cyd") if r.id == g] == [1]
            assert (await store.get_message("ann", g, m2.id)).mentions == ("cyd", "ann")
            # a deleted message mentions nobody
            await store.delete_message("bob", g, m2.id, rule=may_delete)
            assert (await store.get_room(g, "cyd")).mentions == 0
            assert (await store.get_room(other, "dee")).mentions == 0


async def test_the_mentions_page(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            await store.add_member("ann", other, "cyd", "member")
            ids = []
            for i in range(5):
                ids.append((await post(store, "ann", g if i % 2 else other, f"@cyd #{i}")).id)
            await post(store, "cyd", g, "@cyd mine")  # your own: not a mention for you
            await post(store, "ann", g, "nothing for cyd")
            page, more = await store.mentions("cyd", None, 3)
            assert [m.id for m in page] == ids[2:] and more is True  # the newest, ascending
            assert all(m.mentions == ("cyd",) for m in page)
            page, more = await store.mentions("cyd", page[0].id, 3)
            assert [m.id for m in page] == ids[:2] and more is False
            # only rooms you are in now
            await store.remove_member("ann", other, "cyd")
            assert [m.id for m in (await store.mentions("cyd", None, 50))[0]] == [ids[1], ids[3]]
            await store.delete_message("ann", g, ids[3], rule=may_delete)
            assert [m.id for m in (await store.mentions("cyd", None, 50))[0]] == [ids[1]]
            assert await store.mentions("dee", None, 50) == ([], False)


# -- around -------------------------------------------------------------------------


async def test_messages_around(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, other = await team(store)
            ms = [await post(store, "ann", g, f"m{i}") for i in range(11)]
            await post(store, "ann", other, "interleaved")
            ids = [m.id for m in ms]
            page = await store.messages_around("cyd", g, ids[5], 4)
            assert [m.id for m in page.messages] == ids[3:8]
            assert (page.has_more_before, page.has_more_after) == (True, True)
            page = await store.messages_around("cyd", g, ids[1], 4)
            assert [m.id for m in page.messages] == ids[0:4] and (page.has_more_before, page.has_more_after) == (
                False, True)
            page = await store.messages_around("cyd", g, ids[9], 4)
            assert [m.id for m in page.messages] == ids[7:] and (page.has_more_before, page.has_more_after) == (
                True, False)
            page = await store.messages_around("cyd", g, ids[5], 1)
            assert [m.id for m in page.messages] == [ids[5]]
            page = await store.messages_around("cyd", g, ids[5], 200)
            assert [m.id for m in page.messages] == ids and not page.has_more_before and not page.has_more_after
            await store.delete_message("ann", g, ids[5], rule=may_delete)
            await store.set_reaction("bob", g, ids[4], "👀", True, rule=may_react)
            page = await store.messages_around("cyd", g, ids[5], 2)
            assert [(m.id, m.deleted) for m in page.messages] == [(ids[4], False), (ids[5], True), (ids[6], False)]
            assert page.messages[0].reactions == (ReactionRow(emoji="👀", users=("bob",)),)
            elsewhere = (await store.history("ann", other, None, 1))[0][0]
            for viewer, room, mid in (("ann", g, elsewhere.id), ("dee", g, ids[0]), ("ann", g, 10**9)):
                with pytest.raises(NotFound):
                    await store.messages_around(viewer, room, mid, 10)


# -- the log ------------------------------------------------------------------------


async def test_every_new_event_resumes_in_order_and_decodes_as_declared(kind: str, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_store(kind, tmp_path) as store:
            g, _ = await team(store)
            recv = store.subscribe(1000)
            m = await post(store, "ann", g, "hi @bob")
            await store.edit_message("ann", g, m.id, "hi @cyd", rule=may_edit)
            await store.set_reaction("bob", g, m.id, "🙂", True, rule=may_react)
            await store.set_reaction("bob", g, m.id, "🙂", False, rule=may_react)
            r = await post(store, "cyd", g, "reply", reply_to=m.id)
            await store.delete_message("cyd", g, r.id, rule=may_delete)
            live = [e for e, _ in drain(recv)]
            stored = list((await store.events_for_user("bob", live[0].seq - 1, BIG)).events)
            # what was sent live is what a resume serves, but for the deleted reply's body
            assert [(e.seq, e.type) for e in stored] == [(e.seq, e.type) for e in live]
            assert stored[:4] == live[:4] and stored[5] == live[5] and live[4].data["body"] == "reply"
            assert [e.type for e in stored] == ["message", "message_updated", "reaction", "reaction", "message",
                                                "message_deleted"]
            assert [e.seq for e in stored] == sorted({e.seq for e in stored})
            for e in stored:
                decoded = msgspec.convert(e.wire(), wire.DurableEvent)
                assert wire.tag(decoded) == e.type and msgspec.structs.asdict(decoded) == {"seq": e.seq, **e.data}
            assert stored[4].data["deleted"] is True and stored[4].data["body"] == ""  # rewritten as the tombstone
            assert stored[4].data["reply_to"] is None and stored[4].data["id"] == r.id


async def test_sqlite_message_queries_use_indexes(tmp_path: Path) -> None:
    """The new hot reads (history's mentions and reactions, Room.mentions, GET /mentions) and the deletion's
    scrub of the events table each search an index; none scans a table or sorts in a temporary b-tree."""
    import sqlite3

    from test_contract import _plan, _Recorder

    from chatter.store import queries as q

    path = tmp_path / "t.db"
    with trio.fail_after(TIMEOUT):
        async with ruled(open_sqlite_store(store_config(path))) as store:
            g, _ = await team(store)
            for i in range(5):
                m = await post(store, "ann", g, f"@cyd {i}")
                await store.set_reaction("bob", g, m.id, "👍", True, rule=may_react)
    db = sqlite3.connect(path)
    try:
        plans = {}
        for name, call in (("history", lambda r: q.history(r, "cyd", g, None, 50, permissions.may_read)),
                           ("room", lambda r: q.get_room(r, g, "cyd", permissions.may_read)),
                           ("mentions", lambda r: q.mentions_page(r, "cyd", None, 50))):
            rec = _Recorder(db)
            call(rec)
            plans[name] = [(sql, _plan(db, sql, params)) for sql, params in rec.calls]
        hydrate = [p for sql, p in plans["history"] if "FROM mentions" in sql or "FROM reactions" in sql]
        assert len(hydrate) == 2 and all("SEARCH" in p and "PRIMARY KEY" in p for p in hydrate), hydrate
        unread = [p for sql, p in plans["room"] if "COUNT(*) FROM mentions" in sql]
        assert len(unread) == 1 and "INDEX mentions_by_user_room (username=? AND room=? AND message>?)" in unread[0]
        (page, *_) = [p for sql, p in plans["mentions"] if "FROM mentions n" in sql]
        assert "INDEX mentions_by_user (username=? AND message<?)" in page and "TEMP B-TREE" not in page, page
        scrub = _plan(db, "DELETE FROM events WHERE message = ? AND type IN ('message_updated', 'reaction')", (1,))
        assert "USING INDEX events_by_message" in scrub, scrub
        for name, calls in plans.items():
            for sql, p in calls:
                assert "SCAN messages" not in p and "SCAN events" not in p, (name, sql, p)
    finally:
        db.close()
