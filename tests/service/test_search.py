"""The search query language and snippets (``chatter.service.search``): pure functions.

Properties over arbitrary Unicode (NUL, unpaired surrogates, bidirectional marks, up to 10,000
characters): ``parse_query`` either returns terms that the store can always run or raises
``Invalid``; it never raises anything else.  Snippets are always plain text pieces of the
body, in order.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter.errors import Invalid
from chatter.service.search import (
    MAX_Q,
    SNIPPET_CHARS,
    decode_cursor,
    encode_cursor,
    parse_query,
    parse_time,
    snippet,
)
from chatter.store.search import Planned, Term, plan


def texts(q: str) -> list[tuple[str, bool, bool]]:
    return [(t.text, t.phrase, t.prefix) for t in parse_query(q).terms]


def test_words_phrases_and_the_last_word_as_a_prefix() -> None:
    assert texts("hello wor") == [("hello", False, False), ("wor", False, True)]
    assert texts('"hello world" again') == [("hello world", True, False), ("again", False, True)]
    assert texts('again "hello world"') == [("again", False, False), ("hello world", True, False)]
    assert texts("tokyo -") == [("tokyo", False, True)]  # punctuation after the last word does not count
    assert texts("  東京 タワー ") == [("東京", False, False), ("タワー", False, True)]


@pytest.mark.parametrize("q", ['NEAR(a b)', "a*", "-a", "a:b", "^a", "a AND b", "(a OR b)", "NOT a"])
def test_fts_syntax_stays_in_the_terms_as_text(q: str) -> None:
    """The store quotes every term; the parser only splits on white space and quotes."""
    got = texts(q)
    assert " ".join(t for t, _, _ in got) == " ".join(q.split())


def test_unbalanced_quotes_are_plain_text() -> None:
    assert texts('"hello world') == [("hello", False, False), ("world", False, True)]
    assert texts('say "hi" "there') == [("say", False, False), ("hi", True, False), ("there", False, True)]
    assert texts('a"b') == [("a", False, False), ("b", False, True)]


def test_filters_inside_q() -> None:
    p = parse_query("from:Ana in:#General before:2026-02-01 after:2026-01-01T10:00:00+01:00 report")
    assert [t.text for t in p.terms] == ["report"]
    assert p.senders == ("ana",) and p.room_names == ("general",)
    assert p.before == "2026-02-01T00:00:00.000Z" and p.after == "2026-01-01T09:00:00.000Z"
    assert parse_query("from:@bob").senders == ("bob",)
    assert parse_query("from:ana").terms == ()  # filters only are a search too
    for bad in ("from:a", "from:no-dashes", "before:tomorrow", "after:2026-13-01", "before:2026-01-01T25:00Z"):
        with pytest.raises(Invalid):
            parse_query(bad)


@pytest.mark.parametrize("q", ["", "   ", "\x00", '""', "!!! ... ???", "-", "*", "京", "\u200f\u200e", '" "'])
def test_nothing_to_search_for_is_refused(q: str) -> None:
    with pytest.raises(Invalid):
        parse_query(q)


def test_q_over_256_characters_is_refused() -> None:
    parse_query("a" * MAX_Q)
    with pytest.raises(Invalid, match="at most 256"):
        parse_query("a" * (MAX_Q + 1))


def test_times() -> None:
    assert parse_time("2026-01-31T10:00:00Z", "before") == "2026-01-31T10:00:00.000Z"
    assert parse_time("2026-01-31T10:00:00.5-02:00", "before") == "2026-01-31T12:00:00.500Z"
    for bad in ("2026-01-31", "yesterday", "2026-01-31T10:00:00", "9999-12-31T23:59:59-23:59", "\x00"):
        with pytest.raises(Invalid):
            parse_time(bad, "before")
    assert parse_time("2026-01-31", "before:", date_ok=True) == "2026-01-31T00:00:00.000Z"


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    for mid in (1, 42, 2**63 - 1):
        assert decode_cursor(encode_cursor(mid)) == mid
    for bad in ("", "x", "bTA", "bS0x", "====", "m1", "é", "a" * 40, encode_cursor(1) + "!"):
        with pytest.raises(Invalid):
            decode_cursor(bad)


# -- properties over arbitrary Unicode ----------------------------------------------------

ODD = st.sampled_from(["\x00", "\ud800", "\udfff", "\u200f", "\u202e", "\u2066", '"', "*", ":", "^", "-", "(",
                       ")", "NEAR", "AND", "OR", "NOT", "from:", "in:#", "before:", "after:", " ", "\t", "\n",
                       "東京", "é", "e\u0301", "👩\u200d💻", "\uffff", "\U0010ffff"])
QUERIES = st.one_of(st.text(max_size=300), st.lists(st.one_of(ODD, st.text(max_size=5)), max_size=60).map("".join),
                    st.text(min_size=9000, max_size=10_000))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(QUERIES)
def test_parse_query_returns_runnable_terms_or_refuses(q: str) -> None:
    try:
        parsed = parse_query(q)
    except Invalid as e:
        assert e.code == "INVALID_INPUT" and e.message
        return
    assert len(q) <= MAX_Q
    planned = plan(parsed.terms)
    assert len(planned) == len(parsed.terms)  # every term kept is searchable
    assert parsed.terms or parsed.filtered
    for t in parsed.terms:
        t.text.encode("utf-8")  # no unpaired surrogate reaches SQLite
        assert "\x00" not in t.text and t.text == t.text.strip() and t.text
    assert sum(t.prefix for t in parsed.terms) <= 1


@settings(max_examples=300, deadline=None)
@given(body=st.text(min_size=1, max_size=600), q=st.text(max_size=40))
def test_snippets_are_ordered_plain_pieces_of_the_body(body: str, q: str) -> None:
    terms = tuple(Term(text=w) for w in q.split())
    pieces = snippet(body, plan(terms))
    text = "".join(p for p, _ in pieces)
    inner = text.removeprefix("…").removesuffix("…") if len(body) > SNIPPET_CHARS else text
    assert inner in body
    assert len(inner) <= SNIPPET_CHARS
    assert all(isinstance(p, str) and p and isinstance(m, bool) for p, m in pieces)


def test_snippet_marks_words_diacritics_prefixes_and_substrings() -> None:
    def marked(body: str, *terms: Term) -> list[str]:
        return [p for p, m in snippet(body, plan(terms)) if m]

    assert marked("Un Café à Paris", Term(text="cafe")) == ["Café"]
    assert marked("cafeteria and cafe", Term(text="cafe")) == ["cafe"]
    assert marked("cafeteria and cafe", Term(text="caf", prefix=True)) == ["cafeteria", "cafe"]
    assert marked("明日は東京タワー", Term(text="東京")) == ["東京"]
    assert marked("see example.com/x", Term(text="example.com")) == ["example", "com"]
    assert snippet("no match here", (Planned(term=Term(text="zzz"), kind="word"),)) == [("no match here", False)]
    long = "x " * 200 + "needle " + "y " * 200
    pieces = snippet(long, plan([Term(text="needle")]))
    assert pieces[0] == ("…", False) and pieces[-1] == ("…", False) and ("needle", True) in pieces
