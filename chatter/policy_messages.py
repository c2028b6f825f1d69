"""Who may edit, delete and react to a message (PROTOCOL.md section 10): pure rules.

The same shape as ``chatter.service.permissions`` (and meant to join it):
each rule takes the ``RoomFacts`` the store read inside the write it guards,
with ``author`` the message's sender, and returns None (allowed) or the
error to answer with.  The store checks what the data says first (an
unknown message, one of another room, a deleted one).

- Not a member (or no such room): NotFound "room not found", as for every action.
- edit: only the author (in every room, DMs included);
- delete: the author, or the room's owner or an admin (a DM has neither,
  so there only the author);
- react: every member.
"""

from __future__ import annotations

from chatter.errors import ChatError, Forbidden, NotFound
from chatter.store.models import RoomFacts, Rule

MANAGERS = frozenset({"owner", "admin"})


def may_edit(facts: RoomFacts) -> ChatError | None:
    if facts.role is None:
        return NotFound("room not found")
    if facts.actor != facts.author:
        return Forbidden("only the author can edit a message")
    return None


def may_delete(facts: RoomFacts) -> ChatError | None:
    if facts.role is None:
        return NotFound("room not found")
    if facts.actor == facts.author or facts.role in MANAGERS:
        return None
    return Forbidden("only the author, the room's owner or an admin can delete a message")


def may_react(facts: RoomFacts) -> ChatError | None:
    if facts.role is None:
        return NotFound("room not found")
    return None


RULES: dict[str, Rule] = {"edit": may_edit, "delete": may_delete, "react": may_react}
