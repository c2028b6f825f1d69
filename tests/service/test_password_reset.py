"""Password-reset links on their own: made on the file, used once, before they expire."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import trio
from kit import IP, TIMEOUT, config, open_service, users

from chatter.errors import NotFound, RateLimited, Unauthenticated
from chatter.service import password_reset
from chatter.service.password_reset import RESET_TTL, create_reset_link, reset_key, reset_username, used_entry


def token_of(url: str) -> str:
    return url.split("#", 1)[1]


async def test_a_link_sets_the_password_once_and_ends_every_session(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db")
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana")
            old = (await service.accounts.login("ana", "ana has a long password", ip=IP, via="/")).token
            link = await trio.to_thread.run_sync(
                lambda: create_reset_link(cfg, "ana", url="https://chat.example.org/"))
            assert link.url.startswith("https://chat.example.org/reset#") and link.username == "ana"
            await service.password_reset.reset(token_of(link.url), "a brand new password", ip=IP)
            with pytest.raises(Unauthenticated):
                await service.accounts.authenticate(old)
            await service.accounts.login("ana", "a brand new password", ip=IP, via="/")
            with pytest.raises(Unauthenticated, match="^this reset link has already been used;"):
                await service.password_reset.reset(token_of(link.url), "yet another password", ip=IP)


async def test_a_new_link_voids_the_older_one_and_a_bad_token_costs_a_login_attempt(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db", **{"auth.login_per_ip_per_minute": 2})
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path, **{"auth.login_per_ip_per_minute": 2}) as (service, _):
            await users(service, "ana")
            first = await trio.to_thread.run_sync(lambda: create_reset_link(cfg, "ana"))
            await trio.to_thread.run_sync(lambda: create_reset_link(cfg, "ana"))
            for token in (token_of(first.url), "guessed"):
                with pytest.raises(Unauthenticated, match="^this reset link is not valid;"):
                    await service.password_reset.reset(token, "a brand new password", ip=IP)
            with pytest.raises(RateLimited, match="^too many attempts from this address"):
                service.password_reset.admit(IP)


def test_a_link_for_an_unknown_user_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path / "t.db")
    with pytest.raises(NotFound, match="^database .* does not exist$"):
        create_reset_link(cfg, "ana")


def test_the_entry_rules() -> None:
    now = time.time()
    entry = json.dumps({"user": "ana", "expires": now + RESET_TTL, "used": False})
    assert reset_username(entry, now) == "ana"
    assert reset_key("t") == reset_key("t") != reset_key("u") and reset_key("t").startswith("password_reset:")
    for raw, when, says in ((None, now, "is not valid"), ("{", now, "is not valid"),
                            (entry, now + RESET_TTL, "has expired"), (used_entry(entry, now), now, "has already been used")):
        with pytest.raises(Unauthenticated, match=f"^this reset link {says}; ask an administrator for a new one$"):
            reset_username(raw, when)
    assert password_reset.base_url(config(Path("x.db"), **{"server.host": "::1"})) == "http://localhost:8080"
