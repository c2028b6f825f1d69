"""The use cases on their own: a real SQLite file, the actor system, no HTTP.

``open_service`` opens them inside the test (``async with``: a pytest-trio
fixture's nursery would be cancelled silently at the test's end).  No mock
clock: SqliteStore works through threads, which autojump does not see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chatter.actors.system import ChatSystem, open_actor_system
from chatter.config import load_config
from chatter.service import Service, build_service
from chatter.store import open_sqlite_store

TIMEOUT = 20
SECRET = "s" * 48
IP = "192.0.2.7"


def config(path: Path, **overrides: Any) -> Any:
    return load_config(env={}, use_file=False,
                       overrides={"store.path": str(path), "auth.bcrypt_rounds": 4, **overrides})


@asynccontextmanager
async def open_service(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Service, ChatSystem]]:
    cfg = config(tmp_path / "t.db", **overrides)
    async with open_sqlite_store(cfg.store) as store, open_actor_system(cfg.realtime, store) as system:
        yield build_service(cfg, store, system, SECRET), system


async def users(service: Service, *names: str) -> None:
    for name in names:
        await service.accounts.register(name, name.capitalize(), f"{name} has a long password", ip=IP)
