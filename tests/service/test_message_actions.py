"""Edits, deletions, reactions and replies through the use cases (PROTOCOL 10), on a real file.

Every bad input of the issue's list gets its documented error and creates
no event: an unknown message, one of another room, a deleted one, an
over-long body (``validation.body``, as the adapters call it), a reply into
another room or to a deleted message, invalid emoji and the 21st emoji.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from kit import TIMEOUT, open_service, users

from chatter.errors import ChatError, Forbidden, Invalid, NotFound
from chatter.service import validation


async def head(service: Any) -> int:
    return int((await service.messages.events("ana", 0, 1)).page.head)


async def test_each_action_is_one_event_and_each_refusal_none(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "ben", "cyd")
            rid = (await service.rooms.create_group("ana", "Team", ["ben", "cyd"])).id
            other = (await service.rooms.create_group("ben", "Other", [])).id
            m = (await service.messages.send("ben", rid, "c1", "hi @ana")).message
            elsewhere = (await service.messages.send("ben", other, "c2", "elsewhere")).message
            gone = (await service.messages.send("ben", rid, "c3", "gone")).message
            assert await service.messages.delete("ana", rid, gone.id)  # the owner deletes
            start = await head(service)

            edited = await service.messages.edit("ben", rid, m.id, validation.body("hi @cyd  \n"))
            assert (edited.body, edited.mentions) == ("hi @cyd", ("cyd",))
            assert await service.messages.react("cyd", rid, m.id, "❤", True)
            reply = (await service.messages.send("cyd", rid, "c4", "yes", reply_to=m.id)).message
            assert reply.reply_to == m.id
            page = (await service.messages.events("ana", start, 100)).page
            assert [e.type for e in page.events] == ["message_updated", "reaction", "message"]
            assert page.events[1].data["emoji"] == "❤️"

            before = await head(service)
            refusals: list[tuple[type[ChatError], str, Any]] = [
                (NotFound, "message not found", service.messages.edit("ben", rid, 10**6, "x")),
                (NotFound, "message not found", service.messages.edit("ben", rid, elsewhere.id, "x")),
                (NotFound, "message not found", service.messages.edit("ben", rid, gone.id, "x")),
                (Forbidden, "only the author can edit a message", service.messages.edit("ana", rid, m.id, "x")),
                (Forbidden, "only the author, the room's owner or an admin can delete a message",
                 service.messages.delete("cyd", rid, m.id)),
                (NotFound, "room not found", service.messages.react("cyd", other, elsewhere.id, "👍", True)),
                (NotFound, "message not found", service.messages.react("cyd", rid, gone.id, "👍", True)),
                (Invalid, "emoji must be exactly one emoji", service.messages.react("cyd", rid, m.id, "👍👍", True)),
                (Invalid, "emoji must be exactly one emoji", service.messages.react("cyd", rid, m.id, "ok", True)),
                (Invalid, "reply_to must be a message of this room that is not deleted",
                 service.messages.send("cyd", rid, "c5", "x", reply_to=elsewhere.id)),
                (Invalid, "reply_to must be a message of this room that is not deleted",
                 service.messages.send("cyd", rid, "c6", "x", reply_to=gone.id)),
            ]
            for error, text, call in refusals:
                with pytest.raises(error, match=f"^{text}$"):
                    await call
            with pytest.raises(Invalid, match="^body must be at most 4000 characters$"):
                validation.body("x" * 4001)  # what the adapters call before edit()
            # no-ops: an unchanged body, a reaction already so, a second delete
            same = await service.messages.edit("ben", rid, m.id, "hi @cyd")
            assert (same.body, same.edited_at) == (edited.body, edited.edited_at)
            assert not await service.messages.react("cyd", rid, m.id, "❤️", True)
            assert not await service.messages.react("ana", rid, m.id, "❤️", False)
            assert not await service.messages.delete("ben", rid, gone.id)
            assert await head(service) == before


async def test_twenty_distinct_emoji_then_the_21st_is_refused(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "ben")
            rid = (await service.rooms.create_group("ana", "Team", ["ben"])).id
            m = (await service.messages.send("ben", rid, "c1", "pick one")).message
            for cp in range(0x1F600, 0x1F614):  # 20 faces
                assert await service.messages.react("ana", rid, m.id, chr(cp), True)
            before = await head(service)
            with pytest.raises(Invalid, match="^a message can have at most 20 different emoji$"):
                await service.messages.react("ben", rid, m.id, "🚀", True)
            assert await head(service) == before
            assert await service.messages.react("ben", rid, m.id, "😀", True)  # one of the 20: fine
            around = await service.messages.around("ben", rid, m.id, 10)
            assert [len(r.users) for r in around.messages[0].reactions][:1] == [2]


async def test_mentions_page_and_room_count_through_the_use_cases(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "ben")
            rid = (await service.rooms.create_group("ana", "Team", ["ben"])).id
            m = (await service.messages.send("ben", rid, "c1", "@ana look")).message
            assert (await service.rooms.get(rid, "ana")).mentions == 1
            assert [x.id for x in (await service.messages.mentions("ana", None, 50))[0]] == [m.id]
            await service.messages.mark_read("ana", rid, m.id)
            assert (await service.rooms.get(rid, "ana")).mentions == 0
