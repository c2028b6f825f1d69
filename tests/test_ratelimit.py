"""Sliding-window limits (``chatter/ratelimit.py``) at exact times."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatter.ratelimit import RateLimiter, Window


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
