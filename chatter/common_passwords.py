"""The most common passwords, refused wherever a password is chosen.

Sign-up, ``POST /me/password``, the reset link and ``chatter create-user``
all go through ``policy.password``, which asks ``is_common``.

The list is zxcvbn's ``passwords`` frequency list (the zxcvbn package, MIT
licence, pinned in pyproject.toml): the 30,000 most frequent passwords of
Xato's corpus of ten million leaked passwords.  It is read from the
installed package, so it ships inside the single binary and nothing calls
out to a service.  Only entries at least as long as the minimum length
matter (shorter ones are refused by length): 11,611 of them, loaded once on
first use (about 20 ms, 1 MB).

Comparison ignores case and surrounding whitespace: ``Password1`` is as
guessable as ``password1``.
"""

from __future__ import annotations

import functools


@functools.cache
def _common(min_length: int) -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    return frozenset(p for p in FREQUENCY_LISTS["passwords"] if len(p) >= min_length)


def is_common(password: str, min_length: int) -> bool:
    return password.strip().lower() in _common(min_length)


def count(min_length: int) -> int:
    return len(_common(min_length))
