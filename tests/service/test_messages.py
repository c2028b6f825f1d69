"""Messages through the use cases: idempotent sends, history pages, read cursors, the event log."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from kit import TIMEOUT, open_service, users

from chatter.errors import Conflict, NotFound


async def test_a_send_is_stored_once_and_a_repeat_returns_the_original(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "ben")
            rid = (await service.rooms.create_group("ana", "Team", ["ben"])).id
            first = await service.messages.send("ana", rid, "c1", "hello")
            again = await service.messages.send("ana", rid, "c1", "hello")
            assert first.created and not again.created and again.message == first.message
            with pytest.raises(Conflict, match="^client_msg_id was already used for a different message$"):
                await service.messages.send("ana", rid, "c1", "changed")
            messages, more = await service.messages.history("ben", rid, None, 50)
            assert [m.body for m in messages] == ["hello"] and not more


async def test_outsiders_cannot_send_read_or_see_history(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "eve")
            rid = (await service.rooms.create_group("ana", "Team", [])).id
            for call in (service.messages.send("eve", rid, "c1", "hi"), service.messages.history("eve", rid, None, 5),
                         service.messages.mark_read("eve", rid, 1), service.messages.send("ana", "r_nope", "c", "x")):
                with pytest.raises(NotFound, match="^room not found$"):
                    await call
            assert (await service.messages.history("ana", rid, None, 5)) == ([], False)


async def test_history_pages_and_the_read_cursor_only_moves_forward(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "ben")
            rid = (await service.rooms.create_group("ana", "Team", ["ben"])).id
            sent = [(await service.messages.send("ana", rid, f"c{i}", f"m{i}")).message for i in range(5)]
            page, more = await service.messages.history("ben", rid, None, 2)
            assert [m.body for m in page] == ["m3", "m4"] and more
            page, more = await service.messages.history("ben", rid, page[0].id, 10)
            assert [m.body for m in page] == ["m0", "m1", "m2"] and not more
            assert await service.messages.mark_read("ben", rid, sent[2].id) == sent[2].id
            assert await service.messages.mark_read("ben", rid, sent[0].id) == sent[2].id  # never back
            assert await service.messages.mark_read("ben", rid, 10**9) == sent[-1].id  # clamped to the newest


async def test_the_event_log_pages_with_a_cursor(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "ben")
            rid = (await service.rooms.create_group("ana", "Team", ["ben"])).id
            await service.messages.send("ana", rid, "c1", "hello")
            await service.messages.send("ana", rid, "c2", "again")
            first = await service.messages.events("ben", 0, 2)  # ben's own member_added onwards
            assert [e.type for e in first.page.events] == ["member_added", "message"] and first.page.has_more
            assert first.next == first.page.events[-1].seq and first.epoch
            rest = await service.messages.events("ben", first.next, 10)
            assert [e.type for e in rest.page.events] == ["message"] and not rest.page.has_more
            assert rest.next == rest.page.head
            assert (await service.messages.events("ben", rest.next + 100, 10)).next == rest.next + 100
