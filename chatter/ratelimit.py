"""Sliding-window rate limits: pure policy with an injected ``now``.

Memory is bounded: each key keeps at most ``limit`` timestamps, and keys
idle for a whole window are pruned as new keys arrive (``max_keys`` caps
the table; when full, the oldest key is evicted).
"""

from __future__ import annotations

from collections import OrderedDict, deque


class RateLimiter:
    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: OrderedDict[object, deque[float]] = OrderedDict()

    def retry_after(self, key: object, now: float) -> float | None:
        """Seconds until ``key`` may act again, or None if it may act now."""
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            return None
        return max(hits[0] + self.window - now, 0.001)

    def hit(self, key: object, now: float) -> None:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._prune(now)
            hits = self._hits[key] = deque(maxlen=self.limit)
        else:
            self._hits.move_to_end(key)
        hits.append(now)

    def check_and_hit(self, key: object, now: float) -> float | None:
        """Count one action; return the wait (and count nothing) if over the limit."""
        wait = self.retry_after(key, now)
        if wait is None:
            self.hit(key, now)
        return wait

    def reset(self, key: object) -> None:
        self._hits.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._hits):
            hits = self._hits[key]
            if hits and hits[-1] > now - self.window:
                break
            del self._hits[key]
        while len(self._hits) >= self.max_keys:
            self._hits.popitem(last=False)


class Window:
    """One sliding window with no key table: a socket's own limits.

    Behaves as ``RateLimiter`` with a single key, in a fraction of the memory
    (no table, no deque until the first hit); every open socket holds two.
    """

    __slots__ = ("_hits", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: deque[float] | None = None

    def check_and_hit(self, now: float) -> float | None:
        """Count one action; return the wait (and count nothing) if over the limit."""
        hits = self._hits
        if hits is None:
            hits = self._hits = deque(maxlen=self.limit)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(hits[0] + self.window - now, 0.001)
        hits.append(now)
        return None
