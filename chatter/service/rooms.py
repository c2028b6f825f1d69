"""Rooms and membership: groups and direct messages, names, members and roles.

Every change that needs a permission hands the store its rule from
``permissions.py``; the store applies it to the rows it reads inside the
write's transaction.  Writes produce durable events, which reach sockets
through the actors' dispatcher after the commit, never from here.
"""

from __future__ import annotations

from chatter.service import permissions
from chatter.store.base import Store
from chatter.store.models import MemberRow, RoomRow, Username


class Rooms:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(self, viewer: Username) -> list[RoomRow]:
        """``viewer``'s rooms, most recently active first."""
        return await self.store.list_rooms(viewer)

    async def get(self, room: str, viewer: Username) -> RoomRow:
        return await self.store.get_room(room, viewer, rule=permissions.may_read)

    async def create_group(self, owner: Username, name: str, members: list[Username]) -> RoomRow:
        """A new group room: ``owner`` owns it, ``members`` (each must exist) join as members."""
        return await self.store.create_group(owner, name, members)

    async def open_dm(self, me: Username, other: Username) -> tuple[RoomRow, bool]:
        """The direct-message room of the two (created: True when it is new)."""
        return await self.store.open_dm(me, other)

    async def rename(self, actor: Username, room: str, name: str) -> RoomRow:
        return await self.store.rename_room(actor, room, name, rule=permissions.may_rename)

    async def delete(self, actor: Username, room: str) -> None:
        await self.store.delete_room(actor, room, rule=permissions.may_delete)

    async def add_member(self, actor: Username, room: str, username: Username, role: str) -> MemberRow:
        return await self.store.add_member(actor, room, username, role, rule=permissions.may_add_member)

    async def set_role(self, actor: Username, room: str, username: Username, role: str) -> MemberRow:
        """Change a member's role; ``owner`` transfers ownership (the previous owner becomes an admin)."""
        return await self.store.set_role(actor, room, username, role, rule=permissions.may_set_role)

    async def remove_member(self, actor: Username, room: str, username: Username) -> None:
        """Remove ``username`` (or leave, when it is ``actor``)."""
        await self.store.remove_member(actor, room, username, rule=permissions.may_remove_member)
