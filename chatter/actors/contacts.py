"""Who shares a DM or a small room with a user, cached until membership changes.

Every connect needs a user's contacts twice (the ``online`` list of
``ready`` and the presence announcement), and in a connection storm that
was a database read per socket each time.  The answer changes only when
membership does, and every membership change reaches the dispatcher as a
durable event, which calls ``invalidate``: the whole cache is dropped,
because adding a member can push a room over the size limit and change
every member's contacts.

A read that was in flight across an invalidation is returned to its caller
but not cached (the generation check), so the cache never holds an answer
older than the last membership change it has seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatter.config import RealtimeConfig
from chatter.store.models import Username

if TYPE_CHECKING:
    from chatter.store.base import Store

MEMBERSHIP_EVENTS = frozenset({"member_added", "member_removed", "room_deleted"})
_NONE: frozenset[Username] = frozenset()


class Contacts:
    """A ``ports.Contacts`` and ``ports.MembershipCache``; rooms count up to ``presence_room_limit`` members."""

    def __init__(self, store: Store, cfg: RealtimeConfig, max_entries: int = 100_000) -> None:
        self.store = store
        self.room_limit = cfg.presence_room_limit
        self.max_entries = max_entries
        self._cache: dict[Username, frozenset[Username]] = {}
        self._generation = 0

    async def of(self, user: Username) -> frozenset[Username]:
        hit = self._cache.get(user)
        if hit is not None:
            return hit
        generation = self._generation
        found = await self.store.contacts(user, self.room_limit) or _NONE  # one shared empty set
        if generation == self._generation:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[user] = found
        return found

    def invalidate(self) -> None:
        self._generation += 1
        self._cache.clear()
