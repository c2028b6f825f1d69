"""Reaction emoji and @mentions as PROTOCOL.md section 10 defines them (chatter.markup)."""

from __future__ import annotations

import pytest

from chatter.errors import Invalid
from chatter.markup import MAX_EMOJI_CHARS, mention_candidates, reaction_emoji

# -- emoji -------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "canonical"), [
    ("👍", "👍"),
    ("👍🏽", "👍🏽"),  # skin tone
    ("👋🏿", "👋🏿"),
    ("👩\u200d💻", "👩\u200d💻"),  # ZWJ sequence
    ("👨\u200d👩\u200d👧\u200d👦", "👨\u200d👩\u200d👧\u200d👦"),  # four people joined
    ("🧑🏻\u200d🤝\u200d🧑🏿", "🧑🏻\u200d🤝\u200d🧑🏿"),  # ZWJ with two skin tones
    ("🏳️\u200d🌈", "🏳️\u200d🌈"),
    ("🇫🇷", "🇫🇷"),  # flag: two regional indicators
    ("🇯🇵", "🇯🇵"),
    ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),  # Scotland
    ("1️⃣", "1️⃣"),  # keycap
    ("#️⃣", "#️⃣"),
    ("❤️", "❤️"),
    # Unqualified and minimally qualified forms are the same reaction as the fully-qualified one.
    ("❤", "❤️"),
    ("1⃣", "1️⃣"),
    ("🏳\u200d🌈", "🏳️\u200d🌈"),
    ("☺", "☺️"),
])
def test_one_emoji_is_accepted_in_its_fully_qualified_form(raw: str, canonical: str) -> None:
    assert reaction_emoji(raw) == canonical


@pytest.mark.parametrize("raw", [
    "", "a", "ok", "+1", ":thumbsup:", "1", "#",
    "👍👍",  # two emoji
    "👍🏽👍",
    "🇫🇷🇯🇵",  # two flags
    "👍 ", " 👍", "👍\n",
    "\u0301",  # a lone combining mark
    "👍\u0301",  # an emoji with a combining mark on it
    "e\u0301",
    "🏽",  # a lone skin tone (a component, not an emoji on its own)
    "\u200d", "👍\u200d",  # a lone or dangling ZWJ
    "🇫",  # one regional indicator
    "\ufe0f", "⃣",  # a lone variation selector, a lone keycap mark
    "\x00", "👍\x00",
    "x" * (MAX_EMOJI_CHARS + 1),
    "👍" * 40,
])
def test_anything_but_exactly_one_emoji_is_refused(raw: str) -> None:
    with pytest.raises(Invalid, match="emoji"):
        reaction_emoji(raw)


@pytest.mark.parametrize("raw", [None, 7, ["👍"], {"e": "👍"}, True])
def test_non_strings_are_refused(raw: object) -> None:
    with pytest.raises(Invalid):
        reaction_emoji(raw)


# -- mentions ----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "expected"), [
    ("hello", []),
    ("@ann", ["ann"]),
    ("hi @ann!", ["ann"]),
    ("@ANN and @Bob_2", ["ann", "bob_2"]),  # case-insensitive, lower-cased
    ("(@ann) [@bob] @cyd, @dee. @eve: 'x@bad'", ["ann", "bob", "cyd", "dee", "eve"]),
    ("@bob then @ann then @bob again and @BOB", ["bob", "ann"]),  # once each, first appearance
    ("ann@example.com", []),  # after a word character: an address, not a mention
    ("éé@ann", []),  # word characters of any script
    ("@annie", ["annie"]),  # never a prefix of a longer name
    ("@ann's idea", ["ann"]),
    ("@ab", []),  # shorter than any username
    ("@" + "a" * 33, []),  # longer than any username
    ("@" + "a" * 32, ["a" * 32]),
    ("@@ann", ["ann"]),
    ("line one\n@ann", ["ann"]),
    ("@annü", []),  # followed by a word character: not the username ann
])
def test_mentions_where_they_count(body: str, expected: list[str]) -> None:
    assert mention_candidates(body) == expected


@pytest.mark.parametrize(("body", "expected"), [
    ("`@ann` @bob", ["bob"]),
    ("``@ann ` still code`` @bob", ["bob"]),  # a span closes on a run of the same length
    ("`` @ann ` @bob", ["ann", "bob"]),  # unmatched runs are literal text
    ("a ` b @ann", ["ann"]),
    ("`x` @ann `y`", ["ann"]),
    ("```\n@ann\n```\n@bob", ["bob"]),  # fenced block
    ("```python\n@ann\n```", []),
    ("~~~\n@ann\n~~~ \n@bob", ["bob"]),
    ("   ```\n@ann\n   ```\n@bob", ["bob"]),  # fences may be indented up to three spaces
    ("````\n```\n@ann\n````\n@bob", ["bob"]),  # a shorter fence does not close a longer one
    ("```\n@ann\n~~~\n@bob", []),  # nor does the other kind; unclosed runs to the end
    ("```\n@ann", []),
    ("``` not a fence ` here\n@ann", ["ann"]),  # a backtick in the info string: not a fence
])
def test_code_spans_and_blocks_do_not_mention(body: str, expected: list[str]) -> None:
    assert mention_candidates(body) == expected


@pytest.mark.parametrize(("body", "expected"), [
    ("https://example.com/@ann @bob", ["bob"]),
    ("see http://x.org/users/@ann?x=@cyd", []),
    ("HTTPS://X.ORG/@ANN", []),
    ("www.example.com/@ann and @bob", ["bob"]),
    ("mastodon: https://social.example/@ann, ask @ann", ["ann"]),  # the URL ends at whitespace
    ("<https://x.org/@ann>", []),
])
def test_urls_do_not_mention(body: str, expected: list[str]) -> None:
    assert mention_candidates(body) == expected


def test_bodies_made_of_backtick_runs() -> None:
    """Distinct run lengths with no closer (found by bisection, not a quadratic scan), and thousands of pairs."""
    body = " ".join("`" * n for n in range(1, 88)) + " @ann"
    assert len(body) < 4000
    assert mention_candidates(body) == ["ann"]
    assert mention_candidates("` " * 1998 + "`@ann`") == []
    assert mention_candidates("` " * 1999 + "@ann") == ["ann"]  # the last backtick has no closer
