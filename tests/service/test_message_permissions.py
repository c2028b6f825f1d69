"""Who may edit, delete and react: every role against every action (chatter.service.permissions)."""

from __future__ import annotations

import pytest

from chatter.errors import Forbidden, NotFound
from chatter.service.permissions import may_delete_message as may_delete
from chatter.service.permissions import may_edit_message as may_edit
from chatter.service.permissions import may_react
from chatter.store.models import RoomFacts

RULES = {"edit": may_edit, "delete": may_delete, "react": may_react}

# (room kind, actor's role, actor is the author) -> allowed, for each action; role None: not a member.
CASES = [
    # kind    role      own    edit   delete  react
    ("group", "owner", True, True, True, True),
    ("group", "owner", False, False, True, True),
    ("group", "admin", True, True, True, True),
    ("group", "admin", False, False, True, True),
    ("group", "member", True, True, True, True),
    ("group", "member", False, False, False, True),
    ("dm", "member", True, True, True, True),
    ("dm", "member", False, False, False, True),
]


@pytest.mark.parametrize(("kind", "role", "own", "edit", "delete", "react"), CASES)
def test_every_role_and_action(kind: str, role: str, own: bool, edit: bool, delete: bool, react: bool) -> None:
    facts = RoomFacts(actor="ann", role=role, kind=kind, author="ann" if own else "bob")
    for action, allowed in (("edit", edit), ("delete", delete), ("react", react)):
        verdict = RULES[action](facts)
        if allowed:
            assert verdict is None, (action, kind, role, own)
        else:
            assert isinstance(verdict, Forbidden), (action, kind, role, own)


@pytest.mark.parametrize("action", ["edit", "delete", "react"])
def test_outsiders_find_no_room(action: str) -> None:
    verdict = RULES[action](RoomFacts(actor="ann", role=None, kind=None, author="ann"))
    assert isinstance(verdict, NotFound) and str(verdict) == "room not found"


def test_the_table_covers_every_role_kind_and_authorship() -> None:
    seen = {(k, r, o) for k, r, o, *_ in CASES}
    assert seen == {("group", r, o) for r in ("owner", "admin", "member") for o in (True, False)} | {
        ("dm", "member", o) for o in (True, False)}


def test_refusals_say_who_may() -> None:
    facts = RoomFacts(actor="ann", role="member", kind="group", author="bob")
    assert str(may_edit(facts)) == "only the author can edit a message"
    assert str(may_delete(facts)) == "only the author, the room's owner or an admin can delete a message"
