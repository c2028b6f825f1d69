"""Rooms and membership through the use cases: the rules hold, and a refused change changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from kit import TIMEOUT, open_service, users

from chatter.errors import Conflict, Forbidden, Invalid, NotFound
from chatter.service import Service


async def snapshot(service: Service, room: str, viewer: str) -> object:
    return await service.rooms.get(room, viewer), await service.rooms.of(viewer)


async def test_a_group_is_created_renamed_and_deleted_by_its_owner(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "olga", "mia")
            room = await service.rooms.create_group("olga", "Team", ["mia", "mia"])
            assert {m.username: m.role for m in room.members} == {"olga": "owner", "mia": "member"}
            assert (await service.rooms.rename("olga", room.id, "Crew")).name == "Crew"
            assert [r.id for r in await service.rooms.of("mia")] == [room.id]
            await service.rooms.delete("olga", room.id)
            assert await service.rooms.of("mia") == []
            with pytest.raises(NotFound, match="^room not found$"):
                await service.rooms.get(room.id, "olga")


async def test_refusals_name_the_rule_and_change_nothing(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "olga", "mia", "nina")
            rid = (await service.rooms.create_group("olga", "Team", ["mia"])).id
            before = await snapshot(service, rid, "olga")
            refusals = [
                (service.rooms.rename("mia", rid, "Mine"), Forbidden, "only the owner or an admin can rename the room"),
                (service.rooms.delete("mia", rid), Forbidden, "only the owner can delete the room"),
                (service.rooms.add_member("mia", rid, "nina", "member"), Forbidden,
                 "only the owner or an admin can add members"),
                (service.rooms.set_role("mia", rid, "olga", "member"), Forbidden, "only the owner can change roles"),
                (service.rooms.set_role("olga", rid, "olga", "admin"), Forbidden,
                 "the owner cannot change their own role; make another member the owner instead"),
                (service.rooms.remove_member("mia", rid, "olga"), Forbidden,
                 "the owner cannot leave or be removed; transfer ownership or delete the room"),
                (service.rooms.remove_member("olga", rid, "nina"), NotFound, "'nina' is not a member of this room"),
                (service.rooms.add_member("olga", rid, "mia", "member"), Conflict, "'mia' is already a member"),
                (service.rooms.add_member("olga", rid, "ghost", "member"), NotFound, "user 'ghost' not found"),
                (service.rooms.add_member("olga", rid, "nina", "owner"), Invalid, "role must be member or admin"),
                (service.rooms.rename("nina", rid, "Outside"), NotFound, "room not found"),
                (service.rooms.get(rid, "nina"), NotFound, "room not found"),
            ]
            for call, cls, message in refusals:
                with pytest.raises(cls) as caught:
                    await call
                assert caught.value.message == message
            assert await snapshot(service, rid, "olga") == before


async def test_ownership_moves_and_the_previous_owner_stays_as_admin(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "olga", "mia")
            rid = (await service.rooms.create_group("olga", "Team", ["mia"])).id
            assert (await service.rooms.set_role("olga", rid, "mia", "owner")).role == "owner"
            roles = {m.username: m.role for m in (await service.rooms.get(rid, "olga")).members}
            assert roles == {"mia": "owner", "olga": "admin"}
            await service.rooms.remove_member("olga", rid, "olga")  # an admin may leave
            assert [m.username for m in (await service.rooms.get(rid, "mia")).members] == ["mia"]


async def test_a_dm_is_opened_once_and_cannot_be_changed(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "ben")
            room, created = await service.rooms.open_dm("ana", "ben")
            again, created_again = await service.rooms.open_dm("ben", "ana")
            assert created and not created_again and again.id == room.id
            assert room.name == "Ben" and again.name == "Ana"  # each sees the other's name
            with pytest.raises(Forbidden, match="^direct messages cannot be renamed$"):
                await service.rooms.rename("ana", room.id, "Us")
            with pytest.raises(Forbidden, match="^direct messages cannot be left$"):
                await service.rooms.remove_member("ana", room.id, "ana")
            with pytest.raises(Invalid, match="^you cannot open a direct message with yourself$"):
                await service.rooms.open_dm("ana", "ana")
