"""What a message body says beyond its text: @mentions and reaction emoji (PROTOCOL.md section 10).

Pure functions, no I/O; the store calls them inside the write that records
their result, so a mention is checked against the members of that moment.

- ``mention_candidates(body)``: the usernames written as ``@name`` where
  they count, lower-cased, once each, in order of first appearance.  The
  store keeps those that are members of the room.  They count at the start
  of the body or after a non-word character, and not inside Markdown code
  (backtick code spans, ```` ``` ```` and ``~~~`` fenced blocks) or a URL
  (``scheme://...``, ``www....``), where ``@`` is part of something else.
- ``reaction_emoji(raw)``: exactly one emoji sequence, as the Unicode emoji
  data of the ``emoji`` package lists them (ZWJ sequences, skin tones,
  flags, keycaps, tag sequences), in its fully-qualified form, so ``❤`` and
  ``❤️`` are one reaction.  Anything else is ``Invalid``.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import emoji

from chatter.errors import Invalid

MAX_REACTIONS = 20  # distinct emoji per message
MAX_EMOJI_CHARS = 32  # code points; the longest sequence in Unicode 16 has 10

_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")
_TICKS = re.compile(r"`+")
_URL = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.\-]*://|\bwww\.)\S+")
# Usernames are ^[a-z0-9_]{3,32}$ (typed in any case): "@ann" in "@anne" is not ann.
_MENTION = re.compile(r"(?<!\w)@([A-Za-z0-9_]{3,32})(?!\w)")


def _without_fenced_blocks(body: str) -> str:
    """The body with fenced code blocks (CommonMark: ``` or ~~~, closed by the same kind, or the end) dropped."""
    out: list[str] = []
    fence: str | None = None
    for line in body.split("\n"):
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m is not None and not (m.group(1)[0] == "`" and "`" in line[m.end():]):
                fence = m.group(1)
                continue
            out.append(line)
        else:
            stripped = line.strip()
            if (len(line) - len(line.lstrip(" "))) <= 3 and stripped and set(stripped) == {fence[0]} \
                    and len(stripped) >= len(fence):
                fence = None
    return "\n".join(out)


def _without_code_spans(text: str) -> str:
    """The text with backtick code spans blanked: a run of N backticks up to the next run of exactly N.

    An unmatched run is literal text (CommonMark), so what follows it still counts.  The next run
    of each length is found by bisection: a body of many distinct runs stays O(n log n).
    """
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for k, (a, b) in enumerate(runs):
        by_length.setdefault(b - a, []).append(k)
    out: list[str] = []
    pos = i = 0
    while i < len(runs):
        a, b = runs[i]
        same = by_length[b - a]
        nxt = bisect.bisect_right(same, i)
        if nxt == len(same):
            i += 1  # no closer: literal backticks
            continue
        j = same[nxt]
        out.append(text[pos:a])
        out.append(" ")
        pos = runs[j][1]
        i = j + 1
    out.append(text[pos:])
    return "".join(out)


def mention_candidates(body: str) -> list[str]:
    """Usernames mentioned in ``body`` where a mention counts, lower-cased, once each, in order."""
    if "@" not in body:
        return []  # the usual message: no parsing at all
    text = _URL.sub(" ", _without_code_spans(_without_fenced_blocks(body)))
    return list(dict.fromkeys(m.group(1).lower() for m in _MENTION.finditer(text)))


def _fully_qualified() -> dict[str, str]:
    data: dict[str, dict[str, Any]] = emoji.EMOJI_DATA
    return {d["en"]: e for e, d in data.items() if d["status"] == emoji.STATUS["fully_qualified"]}


_CANONICAL = _fully_qualified()


def reaction_emoji(raw: Any) -> str:
    """``raw`` as one reaction emoji in fully-qualified form, or ``Invalid``."""
    if not isinstance(raw, str) or not raw:
        raise Invalid("emoji must be one emoji")
    if len(raw) > MAX_EMOJI_CHARS:
        raise Invalid("emoji must be exactly one emoji")
    data = emoji.EMOJI_DATA.get(raw)
    if data is None or data["status"] == emoji.STATUS["component"]:
        # Not one whole sequence: text, two emoji, a lone skin tone, a lone regional indicator...
        raise Invalid("emoji must be exactly one emoji")
    return _CANONICAL.get(data["en"], raw)
