"""Accounts on their own: sign-up, login, logout, password change, profiles, tokens, the signing key."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from kit import IP, TIMEOUT, config, open_service, users

from chatter.errors import ConfigError, Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthenticated
from chatter.service import validation
from chatter.service.accounts import resolve_secret
from chatter.store import open_sqlite_store

PASSWORD = "ana has a long password"


async def test_a_registered_user_logs_in_and_the_token_authenticates(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            user = await service.accounts.register("ana", "Ana", PASSWORD, ip=IP)
            assert (user.username, user.name) == ("ana", "Ana") and user.password_hash != PASSWORD
            done = await service.accounts.login("ana", PASSWORD, ip=IP, via="/api/auth/login")
            assert done.user == user and done.expires_at.endswith("Z")
            session = await service.accounts.authenticate(done.token)
            assert session.user == user and session.claims.sub == "ana"


async def test_a_taken_username_is_a_conflict_and_changes_nothing(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            first = await service.accounts.register("ana", "Ana", PASSWORD, ip=IP)
            with pytest.raises(Conflict, match="^username 'ana' is taken$"):
                await service.accounts.register("ana", "Other", "another long password", ip=IP)
            assert await service.accounts.profile("ana") == first


async def test_wrong_password_and_unknown_user_get_the_same_answer(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana")
            for name, password in (("ana", "wrong password!"), ("nobody", PASSWORD), ("not a name", PASSWORD)):
                with pytest.raises(Unauthenticated, match="^wrong username or password$"):
                    await service.accounts.login(name, password, ip=IP, via="/api/auth/login")


async def test_logins_from_one_address_are_limited(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path, **{"auth.login_per_ip_per_minute": 2}) as (service, system):
            await users(service, "ana")
            for _ in range(2):
                with pytest.raises(Unauthenticated):
                    await service.accounts.login("ana", "wrong password!", ip=IP, via="/api/auth/login")
            with pytest.raises(RateLimited, match="^too many attempts from this address; try again in"):
                service.accounts.admit_login(IP)
            assert system.metrics.login_refused.get(limit="address") == 1
            service.accounts.admit_login("192.0.2.8")  # another address is not limited


async def test_registrations_from_one_address_are_limited(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path, **{"auth.register_per_ip_per_minute": 1}) as (service, _):
            service.accounts.admit_registration(IP)
            await users(service, "ana")
            with pytest.raises(RateLimited, match="^too many registrations from this address; try again in"):
                service.accounts.admit_registration(IP)


async def test_logout_ends_every_token_issued_before(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana")
            token = (await service.accounts.login("ana", PASSWORD, ip=IP, via="/")).token
            await service.accounts.logout("ana")
            with pytest.raises(Unauthenticated, match="^session ended; log in again$"):
                await service.accounts.authenticate(token)
            with pytest.raises(Unauthenticated, match="^invalid token$"):
                await service.accounts.authenticate("not a token")


async def test_a_password_change_checks_the_current_one_and_keeps_only_the_callers_session(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana")
            mine = await service.accounts.authenticate((await service.accounts.login("ana", PASSWORD, ip=IP,
                                                                                      via="/")).token)
            other = (await service.accounts.login("ana", PASSWORD, ip=IP, via="/")).token
            with pytest.raises(Forbidden, match="^current password is wrong$"):
                await service.accounts.change_password(mine, "not the password", "a new long password",
                                                       keep_sid=mine.claims.sid, ip=IP, via="/")
            await service.accounts.authenticate(other)  # nothing changed
            token = await service.accounts.change_password(mine, PASSWORD, "a new long password",
                                                           keep_sid=mine.claims.sid, ip=IP, via="/")
            assert token is not None
            kept = await service.accounts.authenticate(token)
            assert kept.claims.sid == mine.claims.sid
            with pytest.raises(Unauthenticated):
                await service.accounts.authenticate(other)
            await service.accounts.login("ana", "a new long password", ip=IP, via="/")
            assert await service.accounts.change_password(kept, "a new long password", "a third long password",
                                                          keep_sid=None, ip=IP, via="/") is None


async def test_profiles_rename_and_search(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_service(tmp_path) as (service, _):
            await users(service, "ana", "anton", "ben")
            assert (await service.accounts.profile("ANA")).username == "ana"
            with pytest.raises(NotFound, match="^user 'nobody' not found$"):
                await service.accounts.profile("nobody")
            with pytest.raises(NotFound, match=f"^user '{'x' * 64}' not found$"):
                await service.accounts.profile("x" * 100)
            assert (await service.accounts.rename("ana", "Ana Ω")).name == "Ana Ω"
            assert [u.username for u in await service.accounts.search("an")] == ["ana", "anton"]
            assert await service.accounts.search("") == []


def test_login_input_is_checked_before_any_lookup() -> None:
    with pytest.raises(Invalid, match="^username and password must be strings$"):
        validation.credentials("ana", 12345678)
    with pytest.raises(Invalid, match="^username or password too long$"):
        validation.credentials("ana", "x" * (validation.MAX_PASSWORD + 1))
    assert validation.credentials("ANA", "pw") == ("ana", "pw")
    with pytest.raises(Invalid, match="^current must be a string$"):
        validation.current_password(None)


async def test_the_dev_secret_is_kept_in_the_database_and_production_refuses_a_weak_one(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        dev = config(tmp_path / "t.db")
        async with open_sqlite_store(dev.store) as store:
            first = await resolve_secret(dev, store)
            assert len(first) >= 32 and await resolve_secret(dev, store) == first
        prod = config(tmp_path / "t.db", **{"server.dev": False, "auth.secret": "short"})
        async with open_sqlite_store(prod.store) as store:
            with pytest.raises(ConfigError):
                await resolve_secret(prod, store)
