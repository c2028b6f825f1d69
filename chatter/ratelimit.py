"""Sliding-window rate limits and the password-guessing policy: pure, with an injected ``now``.

Memory is bounded: each key keeps at most ``limit`` timestamps, and keys
idle for a whole window are pruned as new keys arrive (``max_keys`` caps
the table; when full, the oldest key is evicted).

``LoginGuard`` is the policy for every check of a password (login and
``POST /me/password``); its model is written in its docstring and in
docs/DEPLOY.md ("Password guessing").
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass


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

    def count(self, key: object, now: float) -> int:
        """Actions of ``key`` within the window (at most ``limit``)."""
        hits = self._hits.get(key)
        if hits is None:
            return 0
        return sum(1 for t in hits if t > now - self.window)

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


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one password attempt: refuse it (``retry_after``), or go on after ``delay`` seconds."""

    retry_after: float | None = None
    limit: str = ""  # which limit refused it: "address" or "account_address"
    delay: float = 0.0


ALLOW = Verdict()


class LoginGuard:
    """Limits on guessing passwords, for login and for ``POST /me/password`` alike.

    - Per client address, every attempt counts: more than ``per_address`` a
      window is refused (429, ``limit="address"``).
    - Per (account, address), failures count: more than ``per_account``
      failures a window is refused (429, ``limit="account_address"``). A
      success clears the pair.
    - Per account, failures from every address only slow the guessers down:
      an attempt from an address that has a failure for the account within
      the window waits ``delay`` first, doubling for every ``per_account``
      account-wide failures past the first ``per_account``, starting at
      ``DELAY_BASE`` and capped at ``max_delay``.  An address with no recent
      failure for the account is never delayed nor refused because of other
      addresses: the owner logs in from a fresh address whatever a botnet is
      doing to the account.

    There is no hard lock on an account.  What an attacker with N addresses
    gets is at most N x ``per_account`` guesses a window on one account, all
    but the first from each address slowed by the delay, on top of bcrypt's
    own cost and the per-address cap across accounts.
    """

    DELAY_BASE = 0.25

    def __init__(self, per_address: int, per_account: int, max_delay: float, window: float = 60.0,
                 max_keys: int = 100_000) -> None:
        self.per_account = per_account
        self.max_delay = max_delay
        self._address = RateLimiter(per_address, window, max_keys)
        self._pair = RateLimiter(per_account, window, max_keys)
        # Enough history to reach the cap: the delay doubles every per_account failures.
        self._account = RateLimiter(per_account * 16, window, max_keys)

    def address_verdict(self, address: str, now: float) -> Verdict:
        """The per-address limit alone (before the request body is read); counts nothing."""
        wait = self._address.retry_after(address, now)
        return Verdict(wait, "address") if wait is not None else ALLOW

    def attempt(self, account: str, address: str, now: float) -> Verdict:
        """Decide on one attempt and, unless refused, count it against the address."""
        verdict = self.address_verdict(address, now)
        if verdict.retry_after is None:
            verdict = self.pair_verdict(account, address, now)
        if verdict.retry_after is not None:
            return verdict
        self._address.hit(address, now)
        if self._pair.count((account, address), now) == 0:
            return ALLOW  # never slowed by what other addresses did
        return Verdict(delay=self.delay_for(self._account.count(account, now)))

    def pair_verdict(self, account: str, address: str, now: float) -> Verdict:
        """The (account, address) failure limit alone; counts nothing."""
        wait = self._pair.retry_after((account, address), now)
        return Verdict(wait, "account_address") if wait is not None else ALLOW

    def delay_for(self, account_failures: int) -> float:
        excess = account_failures - self.per_account
        if excess <= 0 or self.max_delay <= 0:
            return 0.0
        return float(min(self.max_delay, self.DELAY_BASE * 2 ** min((excess - 1) // self.per_account, 30)))

    def failed(self, account: str, address: str, now: float) -> None:
        self._pair.hit((account, address), now)
        self._account.hit(account, now)

    def succeeded(self, account: str, address: str) -> None:
        self._pair.reset((account, address))

    def count_address(self, address: str, now: float) -> None:
        """Count an attempt that is not a password check against the address (a reset-token guess)."""
        self._address.hit(address, now)
