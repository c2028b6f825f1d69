"""Sliding-window limits (``chatter/ratelimit.py``) at exact times."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatter.ratelimit import LoginGuard, RateLimiter, Verdict, Window


def test_a_window_allows_the_limit_then_says_how_long_to_wait() -> None:
    w = Window(3, 1.0)
    assert [w.check_and_hit(t) for t in (0.0, 0.1, 0.2)] == [None, None, None]
    assert w.check_and_hit(0.5) == 0.5  # the first hit leaves the window at 1.0
    assert w.check_and_hit(1.0) is None  # ...and it has; a refused action was not counted
    assert w.check_and_hit(1.05) == pytest.approx(0.05)


def test_the_table_is_bounded_and_evicts_the_oldest_key() -> None:
    r = RateLimiter(1, 10.0, max_keys=2)
    for key, t in (("a", 0.0), ("b", 1.0), ("c", 2.0)):
        assert r.check_and_hit(key, t) is None
    assert len(r._hits) == 2
    assert r.check_and_hit("a", 3.0) is None  # "a" was evicted, so it starts afresh
    assert r.check_and_hit("c", 3.0) == 9.0


@given(limit=st.integers(1, 5), window=st.sampled_from([0.5, 1.0, 60.0]),
       gaps=st.lists(st.floats(0.0, 2.0, allow_nan=False), max_size=60))
def test_a_window_answers_as_a_one_key_rate_limiter(limit: int, window: float, gaps: list[float]) -> None:
    w, r = Window(limit, window), RateLimiter(limit, window, max_keys=1)
    now = 0.0
    for gap in gaps:
        now += gap
        assert w.check_and_hit(now) == r.check_and_hit(None, now)


# -- LoginGuard: the password-guessing model (docs/DEPLOY.md "Password guessing") ----------------


def test_guard_refuses_an_address_and_account_pair_after_its_failures():
    g = LoginGuard(per_address=100, per_account=3, max_delay=5.0)
    for t in (0.0, 1.0, 2.0):
        assert g.attempt("alice", "a", t).retry_after is None
        g.failed("alice", "a", t)
    v = g.attempt("alice", "a", 3.0)
    assert v.limit == "account_address" and v.retry_after == pytest.approx(57.0)
    assert g.attempt("alice", "b", 3.0) == Verdict()  # another address: untouched
    assert g.attempt("bob", "a", 3.0) == Verdict()  # another account from that address: untouched
    assert g.attempt("alice", "a", 60.0).retry_after is None  # the first failure left the window


def test_guard_success_clears_the_pair():
    g = LoginGuard(per_address=100, per_account=3, max_delay=5.0)
    for t in (0.0, 1.0):
        g.attempt("alice", "a", t)
        g.failed("alice", "a", t)
    g.succeeded("alice", "a")
    assert g.attempt("alice", "a", 2.0) == Verdict()


def test_guard_counts_every_attempt_per_address():
    g = LoginGuard(per_address=2, per_account=10, max_delay=5.0)
    assert g.attempt("x", "a", 0.0).retry_after is None
    assert g.attempt("y", "a", 0.5).retry_after is None
    v = g.attempt("z", "a", 1.0)
    assert v.limit == "address" and v.retry_after == pytest.approx(59.0)
    assert g.address_verdict("a", 1.0).retry_after == pytest.approx(59.0)
    assert g.address_verdict("a", 60.5).retry_after is None


def test_account_wide_failures_delay_only_addresses_that_failed_for_it():
    g = LoginGuard(per_address=1000, per_account=2, max_delay=1.0)
    # Five addresses, one failure each: 5 account-wide failures, none refused.
    for i in range(5):
        assert g.attempt("alice", f"10.0.0.{i}", float(i)) == Verdict()
        g.failed("alice", f"10.0.0.{i}", float(i))
    # An address that failed before waits: 5 failures = 3 past the free 2 -> 2nd doubling step.
    assert g.attempt("alice", "10.0.0.0", 5.0) == Verdict(delay=0.5)
    # A fresh address is never slowed, however hot the account is.
    assert g.attempt("alice", "192.0.2.1", 5.0) == Verdict()
    # The delay doubles every per_account failures and stops at max_delay.
    assert [g.delay_for(n) for n in (2, 3, 4, 5, 6, 7, 8, 9, 100)] == [0, 0.25, 0.25, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    # The account's failures age out with the window.
    assert g.attempt("alice", "10.0.0.1", 64.5) == Verdict(delay=0.0)


def test_a_zero_max_delay_turns_the_tarpit_off():
    g = LoginGuard(per_address=1000, per_account=1, max_delay=0.0)
    for i in range(10):
        g.attempt("alice", str(i), 0.0)
        g.failed("alice", str(i), 0.0)
    assert g.delay_for(10) == 0.0


@given(events=st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["u", "v"]), st.booleans(),
                                 st.floats(0.0, 5.0, allow_nan=False)), max_size=80))
def test_a_clean_address_is_never_delayed_or_refused_by_other_addresses(events):
    """Whatever the other addresses did, an address with no attempts is never slowed nor refused."""
    g = LoginGuard(per_address=5, per_account=2, max_delay=3.0)
    now = 0.0
    for i, (address, account, ok, gap) in enumerate(events):
        now += gap
        v = g.attempt(account, address, now)
        if v.retry_after is None:
            (g.succeeded(account, address) if ok else g.failed(account, address, now))
        assert g.attempt(account, f"fresh-{i}", now) == Verdict()
