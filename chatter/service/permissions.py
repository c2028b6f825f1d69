"""Who may do what in a room: pure functions of the facts, one place for every rule.

``decide(action, facts)`` returns None (allowed) or the error the caller
gets; it does no I/O.  The use cases hand the store ``rule(action)``, and the
store calls it on the facts (``RoomFacts``: the actor's role, the room's
kind, the target member's role...) it read inside the transaction of the
write, so a check and the write it guards cannot race.

The rules, in the order they are checked (so each refusal names the first
thing wrong):

- Not a member (or no such room, or a deleted one): NotFound "room not found"
  for every action, so a room's existence is not revealed to outsiders.
- Read (see the room, its history, mark it read) and post: any member.
- Direct messages cannot be renamed, deleted, given members or roles, or left.
- Rename: owner or admin.  Delete: owner only.
- Add a member: owner or admin; make someone an admin while adding them: owner only.
- Change a role: owner only, not their own role; giving "owner" transfers
  ownership (the previous owner stays on as admin, ``store.queries.set_role``).
- Remove: anyone may leave, except the owner (transfer ownership or delete
  the room); the owner removes anyone else; an admin removes plain members.
"""

from __future__ import annotations

import enum
from functools import partial
from typing import assert_never

from chatter.errors import ChatError, Forbidden, Invalid, NotFound
from chatter.store.models import RoomFacts, Rule

MANAGERS = frozenset({"owner", "admin"})


class Action(enum.Enum):
    READ = "read"  # see the room and its history, mark it read
    POST = "post"
    RENAME = "rename"
    DELETE = "delete"
    ADD_MEMBER = "add_member"  # facts.new_role: "member" or "admin"
    SET_ROLE = "set_role"  # facts.target, facts.new_role; "owner" transfers ownership
    REMOVE_MEMBER = "remove_member"  # facts.target; the actor themself: leaving
    EDIT_MESSAGE = "edit_message"  # facts.author: the message's sender
    DELETE_MESSAGE = "delete_message"
    REACT = "react"


def _not_for_dm(kind: str | None, what: str) -> ChatError | None:
    return Forbidden(f"direct messages cannot be {what}") if kind == "dm" else None


def decide(action: Action, facts: RoomFacts) -> ChatError | None:
    """None if ``facts.actor`` may do ``action``, else the error to answer with."""
    role = facts.role
    if role is None:
        return NotFound("room not found")
    match action:
        case Action.READ | Action.POST:
            return None
        case Action.RENAME:
            return _not_for_dm(facts.kind, "renamed") or (
                None if role in MANAGERS else Forbidden("only the owner or an admin can rename the room"))
        case Action.DELETE:
            return _not_for_dm(facts.kind, "deleted") or (
                None if role == "owner" else Forbidden("only the owner can delete the room"))
        case Action.ADD_MEMBER:
            return _add_member(role, facts)
        case Action.SET_ROLE:
            return _set_role(role, facts)
        case Action.REMOVE_MEMBER:
            return _remove_member(role, facts)
        case Action.EDIT_MESSAGE:
            return None if facts.actor == facts.author else Forbidden("only the author can edit a message")
        case Action.DELETE_MESSAGE:
            return None if facts.actor == facts.author or role in MANAGERS else Forbidden(
                "only the author, the room's owner or an admin can delete a message")
        case Action.REACT:
            return None
        case _:
            assert_never(action)


def _add_member(role: str, facts: RoomFacts) -> ChatError | None:
    if facts.new_role not in ("member", "admin"):
        return Invalid("role must be member or admin")
    if (refused := _not_for_dm(facts.kind, "given more members")) is not None:
        return refused
    if role not in MANAGERS:
        return Forbidden("only the owner or an admin can add members")
    if facts.new_role == "admin" and role != "owner":
        return Forbidden("only the owner can make someone an admin")
    return None


def _set_role(role: str, facts: RoomFacts) -> ChatError | None:
    if facts.new_role not in ("owner", "admin", "member"):
        return Invalid("role must be owner, admin or member")
    if (refused := _not_for_dm(facts.kind, "given roles")) is not None:
        return refused
    if role != "owner":
        return Forbidden("only the owner can change roles")
    if facts.target_role is None:
        return NotFound(f"{facts.target!r} is not a member of this room")
    if facts.is_self:
        return Forbidden("the owner cannot change their own role; make another member the owner instead")
    return None


def _remove_member(role: str, facts: RoomFacts) -> ChatError | None:
    if facts.target_role is None:
        return NotFound(f"{facts.target!r} is not a member of this room")
    if (refused := _not_for_dm(facts.kind, "left")) is not None:
        return refused
    if facts.target_role == "owner":
        return Forbidden("the owner cannot leave or be removed; transfer ownership or delete the room")
    if facts.is_self or role == "owner" or (role == "admin" and facts.target_role == "member"):
        return None
    return Forbidden("you cannot remove this member")


def rule(action: Action) -> Rule:
    """``decide`` for one action: what the store calls inside its transaction."""
    return partial(decide, action)


may_read = rule(Action.READ)
may_post = rule(Action.POST)
may_rename = rule(Action.RENAME)
may_delete = rule(Action.DELETE)
may_add_member = rule(Action.ADD_MEMBER)
may_set_role = rule(Action.SET_ROLE)
may_remove_member = rule(Action.REMOVE_MEMBER)
may_edit_message = rule(Action.EDIT_MESSAGE)
may_delete_message = rule(Action.DELETE_MESSAGE)
may_react = rule(Action.REACT)
