"""The use cases: the only thing REST, the socket and the CLI call.

One module per family, each taking clean, typed input (``validation.py``
parses raw input for the adapters), deciding permissions with the pure
rules of ``permissions.py``, and calling the store or an actor:

- ``accounts``: sign-up, login, logout, password change, profiles, tokens;
- ``rooms``: groups and direct messages, members and roles;
- ``messages``: send, history, reads, typing, the event log's pages;
- ``search``: message search (PROTOCOL 11): the query language, snippets;
- ``password_reset``: one-time links (made by the operator, used over HTTP);
- ``operator``: migrate, create-user, backup, restore, doctor (the CLI's
  commands, on the database file; their SQL is ``chatter.store.maintenance``).

``Service`` is what the HTTP app holds: the use cases over one running
store and actor system.  This package never imports ``chatter.http``, Quart
or hypercorn (``tests/test_layering.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

from chatter import auth
from chatter.actors.system import ChatSystem
from chatter.service.accounts import Accounts, Guard
from chatter.service.messages import Messages
from chatter.service.password_reset import PasswordResets
from chatter.service.rooms import Rooms
from chatter.service.search import Search
from chatter.store.base import Store

READY_TIMEOUT = 2.0  # seconds


@dataclass(frozen=True, slots=True)
class Service:
    accounts: Accounts
    rooms: Rooms
    messages: Messages
    password_reset: PasswordResets
    search: Search
    store: Store  # for the two status questions below; the adapters ask them here

    async def database_ready(self) -> bool:
        """Whether the database answers within ``READY_TIMEOUT`` seconds (``/healthz``)."""
        try:
            with trio.fail_after(READY_TIMEOUT):
                await self.store.head()
        except Exception:  # noqa: BLE001 - any failure means: not ready
            return False
        return True

    def store_counters(self) -> tuple[int, int]:
        """(write batches, writes) committed so far, for ``/metrics`` (0 for a store that does not count)."""
        return int(getattr(self.store, "batches", 0)), int(getattr(self.store, "writes", 0))


def build_service(cfg: Any, store: Store, system: ChatSystem, secret: str) -> Service:
    """The use cases over a running store and actor system; ``cfg`` is the whole Config."""
    passwords = auth.Passwords(cfg.auth.bcrypt_rounds, cfg.auth.bcrypt_threads)
    guard = Guard(cfg.auth, passwords, system.metrics)
    return Service(
        accounts=Accounts(cfg.auth, store, system, secret, guard),
        rooms=Rooms(store),
        messages=Messages(store, system),
        password_reset=PasswordResets(store, system, guard),
        search=Search(store),
        store=store,
    )


__all__ = ["Service", "build_service"]
