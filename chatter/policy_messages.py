"""Who may edit, delete and react to a message (PROTOCOL.md section 10): pure rules.

Each rule takes the ``MessageFacts`` the store read inside the write it
guards and returns the error to raise, or None; the store evaluates it, so
no permission is decided in SQL and none can race its write.  The callers
(REST, the socket) pass the rule for their action to the store method.

- edit: only the author (in every room, DMs included);
- delete: the author, or the room's owner or an admin (a DM has neither,
  so there only the author);
- react: every member.
"""

from __future__ import annotations

from chatter.errors import ChatError, Forbidden
from chatter.store.models import MessageFacts, MessageRule


def may_edit(facts: MessageFacts) -> ChatError | None:
    if facts.actor != facts.author:
        return Forbidden("only the author can edit a message")
    return None


def may_delete(facts: MessageFacts) -> ChatError | None:
    if facts.actor == facts.author or facts.actor_role in ("owner", "admin"):
        return None
    return Forbidden("only the author, the room's owner or an admin can delete a message")


def may_react(facts: MessageFacts) -> ChatError | None:
    return None  # every member; non-members never reach a rule


RULES: dict[str, MessageRule] = {"edit": may_edit, "delete": may_delete, "react": may_react}
