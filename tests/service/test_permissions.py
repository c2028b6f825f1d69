"""The permission rules on their own: every role x every action, group rooms and DMs, no store.

Each row names what the actor tries, their role, and the one outcome: allowed,
or the error class and the exact message clients see (the same as the REST
and socket tests assert through the whole server).
"""

from __future__ import annotations

import pytest

from chatter.errors import ChatError, Forbidden, Invalid, NotFound
from chatter.service.permissions import Action, decide, rule
from chatter.store.models import RoomFacts

ROLES = ("owner", "admin", "member", None)  # None: not a member (or no such room)
OK = None

# What the actor tries: (action, target's role or None for "no target", new role, the target is the actor).
CASES: dict[str, tuple[Action, str | None, str | None, bool]] = {
    "read": (Action.READ, None, None, False),
    "post": (Action.POST, None, None, False),
    "rename": (Action.RENAME, None, None, False),
    "delete": (Action.DELETE, None, None, False),
    "add a member": (Action.ADD_MEMBER, None, "member", False),
    "add an admin": (Action.ADD_MEMBER, None, "admin", False),
    "add an owner": (Action.ADD_MEMBER, None, "owner", False),
    "make a member admin": (Action.SET_ROLE, "member", "admin", False),
    "make an admin member": (Action.SET_ROLE, "admin", "member", False),
    "transfer ownership": (Action.SET_ROLE, "member", "owner", False),
    "change own role": (Action.SET_ROLE, "self", "admin", True),
    "give an unknown role": (Action.SET_ROLE, "member", "superuser", False),
    "change an outsider's role": (Action.SET_ROLE, "outsider", "admin", False),
    "leave": (Action.REMOVE_MEMBER, "self", None, True),
    "remove a member": (Action.REMOVE_MEMBER, "member", None, False),
    "remove an admin": (Action.REMOVE_MEMBER, "admin", None, False),
    "remove the owner": (Action.REMOVE_MEMBER, "owner", None, False),
    "remove an outsider": (Action.REMOVE_MEMBER, "outsider", None, False),
    # Messages: the last field says whether the actor wrote the message.
    "edit own message": (Action.EDIT_MESSAGE, None, None, True),
    "edit another's message": (Action.EDIT_MESSAGE, None, None, False),
    "delete own message": (Action.DELETE_MESSAGE, None, None, True),
    "delete another's message": (Action.DELETE_MESSAGE, None, None, False),
    "react": (Action.REACT, None, None, False),
}

ROOM = (NotFound, "room not found")
RENAME = (Forbidden, "only the owner or an admin can rename the room")
DELETE = (Forbidden, "only the owner can delete the room")
ADD = (Forbidden, "only the owner or an admin can add members")
ADD_ADMIN = (Forbidden, "only the owner can make someone an admin")
ADD_ROLE = (Invalid, "role must be member or admin")
ROLES_OWNER = (Forbidden, "only the owner can change roles")
OWN_ROLE = (Forbidden, "the owner cannot change their own role; make another member the owner instead")
SET_ROLE = (Invalid, "role must be owner, admin or member")
NOT_IN = (NotFound, "'tara' is not a member of this room")
OWNER_STAYS = (Forbidden, "the owner cannot leave or be removed; transfer ownership or delete the room")
REMOVE = (Forbidden, "you cannot remove this member")
EDIT = (Forbidden, "only the author can edit a message")
DEL_MSG = (Forbidden, "only the author, the room's owner or an admin can delete a message")

#                               owner        admin        member       outsider
GROUP: dict[str, tuple[object, object, object, object]] = {
    "read":                      (OK,          OK,          OK,          ROOM),
    "post":                      (OK,          OK,          OK,          ROOM),
    "rename":                    (OK,          OK,          RENAME,      ROOM),
    "delete":                    (OK,          DELETE,      DELETE,      ROOM),
    "add a member":              (OK,          OK,          ADD,         ROOM),
    "add an admin":              (OK,          ADD_ADMIN,   ADD,         ROOM),
    "add an owner":              (ADD_ROLE,    ADD_ROLE,    ADD_ROLE,    ROOM),
    "make a member admin":       (OK,          ROLES_OWNER, ROLES_OWNER, ROOM),
    "make an admin member":      (OK,          ROLES_OWNER, ROLES_OWNER, ROOM),
    "transfer ownership":        (OK,          ROLES_OWNER, ROLES_OWNER, ROOM),
    "change own role":           (OWN_ROLE,    ROLES_OWNER, ROLES_OWNER, ROOM),
    "give an unknown role":      (SET_ROLE,    SET_ROLE,    SET_ROLE,    ROOM),
    "change an outsider's role": (NOT_IN,      ROLES_OWNER, ROLES_OWNER, ROOM),
    "leave":                     (OWNER_STAYS, OK,          OK,          ROOM),
    "remove a member":           (OK,          OK,          REMOVE,      ROOM),
    "remove an admin":           (OK,          REMOVE,      REMOVE,      ROOM),
    "remove the owner":          (OWNER_STAYS, OWNER_STAYS, OWNER_STAYS, ROOM),
    "remove an outsider":        (NOT_IN,      NOT_IN,      NOT_IN,      ROOM),
    "edit own message":          (OK,          OK,          OK,          ROOM),
    "edit another's message":    (EDIT,        EDIT,        EDIT,        ROOM),
    "delete own message":        (OK,          OK,          OK,          ROOM),
    "delete another's message":  (OK,          OK,          DEL_MSG,     ROOM),
    "react":                     (OK,          OK,          OK,          ROOM),
}


def dm(what: str) -> tuple[type[ChatError], str]:
    return Forbidden, f"direct messages cannot be {what}"


# In a DM both people are plain members; nothing about the room can change.
DM: dict[str, tuple[object, object]] = {  # member, outsider
    "read": (OK, ROOM),
    "post": (OK, ROOM),
    "rename": (dm("renamed"), ROOM),
    "delete": (dm("deleted"), ROOM),
    "add a member": (dm("given more members"), ROOM),
    "add an admin": (dm("given more members"), ROOM),
    "add an owner": (ADD_ROLE, ROOM),
    "make a member admin": (dm("given roles"), ROOM),
    "make an admin member": (dm("given roles"), ROOM),
    "transfer ownership": (dm("given roles"), ROOM),
    "change own role": (dm("given roles"), ROOM),
    "give an unknown role": (SET_ROLE, ROOM),
    "change an outsider's role": (dm("given roles"), ROOM),
    "leave": (dm("left"), ROOM),
    "remove a member": (dm("left"), ROOM),
    "remove an admin": (dm("left"), ROOM),
    "remove the owner": (dm("left"), ROOM),
    "remove an outsider": (NOT_IN, ROOM),
    "edit own message": (OK, ROOM),
    "edit another's message": (EDIT, ROOM),
    "delete own message": (OK, ROOM),
    "delete another's message": (DEL_MSG, ROOM),
    "react": (OK, ROOM),
}


def facts(case: str, role: str | None, kind: str) -> RoomFacts:
    action, target_role, new_role, is_self = CASES[case]
    actor = "ana"
    target = actor if is_self else ("tara" if target_role is not None else None)
    author = actor if is_self else "tara"  # read only by the message actions
    if role is None:  # an outsider's facts: the store found no membership, so no kind and no target either
        return RoomFacts(actor=actor, role=None, kind=None, target=target, target_role=None, new_role=new_role,
                         author=author)
    real_target_role = {"self": role, "outsider": None}.get(target_role or "", target_role)
    return RoomFacts(actor=actor, role=role, kind=kind, target=target, target_role=real_target_role,
                     new_role=new_role, author=author)


def check(case: str, role: str | None, kind: str, expected: object) -> None:
    action = CASES[case][0]
    got = decide(action, facts(case, role, kind))
    if expected is OK:
        assert got is None, f"{role} may {case} in a {kind}, but got {got!r}"
    else:
        assert isinstance(expected, tuple)
        cls, message = expected
        assert type(got) is cls and got.message == message, f"{role} {case} in a {kind}: {got!r}"


def test_the_tables_cover_every_case_and_every_action() -> None:
    assert set(GROUP) == set(CASES) == set(DM)
    assert {a for a, *_ in CASES.values()} == set(Action)


@pytest.mark.parametrize("case", list(GROUP))
@pytest.mark.parametrize("index", range(len(ROLES)), ids=lambda i: str(ROLES[i] or "outsider"))
def test_group_rooms(case: str, index: int) -> None:
    check(case, ROLES[index], "group", GROUP[case][index])


@pytest.mark.parametrize("case", list(DM))
@pytest.mark.parametrize("index", range(2), ids=["member", "outsider"])
def test_direct_messages(case: str, index: int) -> None:
    check(case, ("member", None)[index], "dm", DM[case][index])


def test_a_rule_is_decide_for_one_action_and_returns_fresh_errors() -> None:
    outsider = RoomFacts(actor="ana", role=None, kind=None)
    first, second = rule(Action.READ)(outsider), rule(Action.READ)(outsider)
    assert isinstance(first, NotFound) and first is not second  # raised errors never share a traceback
    assert rule(Action.POST)(RoomFacts(actor="ana", role="member", kind="group")) is None
