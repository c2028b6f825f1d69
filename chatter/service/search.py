"""Message search (PROTOCOL 11): parse ``q``, ask the store, build plain-text snippets.

The query language (docs/PROTOCOL.md section 5.9), parsed by ``parse_query``, a pure function:

- words, separated by white space, and ``"quoted phrases"``; all must match.  A quote
  without its partner is plain text (a separator), and so is everything FTS5 would read as
  syntax: each term reaches the index as one quoted string (``chatter.store.search``);
- the last word also matches as a prefix (search as you type);
- ``from:USERNAME``, ``in:#room`` (a room name or id, ``#`` optional), ``before:`` and
  ``after:`` (a date ``2026-01-31``, midnight UTC, or an RFC 3339 time) narrow the search
  like the query parameters of the same names; a bad value there is 400;
- ``q`` over 256 characters, empty, or with nothing searchable in it (only punctuation, or a
  single CJK character, and no filter) is 400.  NUL, unpaired surrogates and other control
  characters are separators.

Which index answers each term is the store's planner (``chatter.store.search.plan``).
Snippets are built here from the message body: plain text pieces, each marked matched or
not, never HTML.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from chatter.errors import Invalid
from chatter.service import permissions
from chatter.service.validation import USERNAME_RE
from chatter.store.base import Store
from chatter.store.models import MessageRow, Username
from chatter.store.search import Planned, SearchSpec, Term, kind_of, plan, token_char

MAX_Q = 256
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
SNIPPET_CHARS = 200  # longest snippet, ellipses aside
SNIPPET_LEAD = 60  # characters of context kept before the first match

Snippet = list[tuple[str, bool]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """What ``q`` asks for."""

    terms: tuple[Term, ...]
    senders: tuple[str, ...] = ()
    room_names: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.senders or self.room_names or self.before or self.after)


_PHRASE = re.compile(r'"([^"]*)"')
_OPERATOR = re.compile(r"(?i)(from|in|before|after):(.+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?"
                   r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _clean(q: str) -> str:
    """Separators for what can never be searched: controls (NUL...), unpaired surrogates, unassigned."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs", "Cn", "Zl", "Zp") else c for c in q)


def parse_time(raw: str, field: str, *, date_ok: bool = False) -> str:
    """An RFC 3339 time (or, with ``date_ok``, a date: midnight UTC) in the store's format; else Invalid."""
    text = raw.strip()
    try:
        if date_ok and _DATE.fullmatch(text):
            when = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        elif _TIME.fullmatch(text):
            when = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        else:
            raise ValueError(text)
        when = when.astimezone(UTC)
    except (ValueError, OverflowError):
        hint = "a date (2026-01-31) or " if date_ok else ""
        raise Invalid(f"{field} must be {hint}an RFC 3339 time (2026-01-31T10:00:00Z)") from None
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_query(q: str) -> Parsed:
    """Terms and filters of ``q`` (see the module docstring); Invalid for what PROTOCOL 11 refuses."""
    if len(q) > MAX_Q:
        raise Invalid(f"q must be at most {MAX_Q} characters")
    text = _clean(q)
    items: list[Term] = []
    senders: list[str] = []
    rooms: list[str] = []
    before: str | None = None
    after: str | None = None
    pos = 0
    for m in [*_PHRASE.finditer(text), None]:
        bare = text[pos:m.start() if m else len(text)].replace('"', " ")  # a lone quote is plain text
        for word in bare.split():
            op = _OPERATOR.fullmatch(word)
            if op is None:
                items.append(Term(text=word))
                continue
            key, value = op.group(1).lower(), op.group(2)
            if key == "from":
                name = value.lstrip("@").lower()
                if not USERNAME_RE.fullmatch(name):
                    raise Invalid("from: must be a username")
                senders.append(name)
            elif key == "in":
                rooms.append(value.lstrip("#").casefold())
            elif key == "before":
                t = parse_time(value, "before:", date_ok=True)
                before = t if before is None else min(before, t)
            else:
                t = parse_time(value, "after:", date_ok=True)
                after = t if after is None else max(after, t)
        if m is None:
            break
        if m.group(1).strip():
            items.append(Term(text=m.group(1).strip(), phrase=True))
        pos = m.end()
    terms = [t for t in items if kind_of(t) is not None]
    if terms and not terms[-1].phrase:  # the last word typed (punctuation after it does not count)
        terms[-1] = Term(text=terms[-1].text, prefix=True)
    parsed = Parsed(terms=tuple(terms), senders=tuple(senders), room_names=tuple(rooms), before=before, after=after)
    if not terms and not parsed.filtered:
        if not text.strip():
            raise Invalid("q must not be empty")
        raise Invalid("q has nothing to search for: type a word (or 2 or more characters of Chinese or Japanese)")
    return parsed


# -- snippets -----------------------------------------------------------------------


def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` without case and accents, and for each folded character the index it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, c in enumerate(text):
        for d in unicodedata.normalize("NFD", c):
            if unicodedata.category(d) == "Mn":
                continue
            f = d.casefold()
            out.append(f)
            where.extend([i] * len(f))
    return "".join(out), where


def _tokens(text: str) -> list[str]:
    """The word tokens of ``text`` as unicode61 sees them (runs of letters, digits, private use)."""
    found, current = [], []
    for c in text:
        if token_char(c):
            current.append(c)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def _spans(body: str, planned: tuple[Planned, ...]) -> list[tuple[int, int]]:
    """Where the terms occur in ``body`` (original indexes, end exclusive), merged and sorted."""
    folded, where = _fold(body)
    spans: list[tuple[int, int]] = []

    def add(start: int, end: int) -> None:
        spans.append((where[start], where[end - 1] + 1))

    for p in planned:
        needle_text, _ = _fold(p.term.text)
        if p.kind == "word":
            tokens = _tokens(needle_text)
            for k, token in enumerate(tokens):
                prefix = p.term.prefix and k == len(tokens) - 1
                start = folded.find(token)
                while start != -1:
                    end = start + len(token)
                    if (start == 0 or not token_char(folded[start - 1])) and (
                            prefix or end == len(folded) or not token_char(folded[end])):
                        while prefix and end < len(folded) and token_char(folded[end]):
                            end += 1
                        add(start, end)
                    start = folded.find(token, start + 1)
        else:
            needle = needle_text.strip()
            start = folded.find(needle) if needle else -1
            while start != -1:
                add(start, start + len(needle))
                start = folded.find(needle, start + 1)
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def snippet(body: str, planned: tuple[Planned, ...]) -> Snippet:
    """The part of ``body`` around its first match, as ``[text, matched]`` pieces (plain text).

    At most ``SNIPPET_CHARS`` characters of the body, starting up to ``SNIPPET_LEAD`` characters
    before the first match (at a space when there is one near), with "…" where it was cut.
    """
    spans = _spans(body, planned)
    start = 0
    if len(body) > SNIPPET_CHARS and spans:
        start = max(0, spans[0][0] - SNIPPET_LEAD)
        space = body.find(" ", start, spans[0][0])
        if start > 0 and space != -1 and space - start < 20:
            start = space + 1
    end = min(len(body), start + SNIPPET_CHARS)
    pieces: Snippet = []
    pos = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        if s > pos:
            pieces.append((body[pos:s], False))
        pieces.append((body[s:e], True))
        pos = e
    if pos < end:
        pieces.append((body[pos:end], False))
    if start > 0:
        pieces.insert(0, ("…", False))
    if end < len(body):
        pieces.append(("…", False))
    return pieces


# -- the use case -----------------------------------------------------------------


def encode_cursor(message_id: int) -> str:
    return base64.urlsafe_b64encode(f"m{message_id}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> int:
    """The message id a ``next`` cursor stands for; Invalid for anything this server did not give."""
    bad = Invalid("cursor must be a next value from an earlier search")
    if not 1 <= len(raw) <= 32 or not raw.isascii():
        raise bad
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if not re.fullmatch(r"m[1-9][0-9]{0,18}", text) or int(text[1:]) >= 2**63:
        raise bad
    return int(text[1:])


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    results: list[tuple[MessageRow, Snippet]]
    next: str | None  # the cursor for the next page
    indexing: bool  # the index is still being built: older messages may be missing


class Search:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def search(self, viewer: Username, q: str, *, room: str | None = None, sender: str | None = None,
                     before: str | None = None, after: str | None = None, limit: int = LIMIT_DEFAULT,
                     cursor: str | None = None) -> Found:
        """Messages matching ``q`` in ``viewer``'s rooms now, newest first, with snippets.

        ``room`` must be one of the viewer's rooms (else NotFound, as everywhere); ``sender``,
        ``before`` and ``after`` are clean values (``parse_time``); they and ``q``'s own filters all hold.
        """
        parsed = parse_query(q)
        below = decode_cursor(cursor) if cursor else None
        befores = [t for t in (before, parsed.before) if t is not None]
        afters = [t for t in (after, parsed.after) if t is not None]
        spec = SearchSpec(terms=parsed.terms, room=room, room_names=parsed.room_names,
                          senders=tuple(dict.fromkeys([*([sender] if sender else []), *parsed.senders])),
                          before=min(befores) if befores else None, after=max(afters) if afters else None,
                          below=below, limit=limit)
        page = await self.store.search_messages(viewer, spec, rule=permissions.may_read)
        planned = page.planned or plan(parsed.terms)
        results = [(m, snippet(m.body, planned)) for m in page.messages]
        nxt = encode_cursor(page.messages[-1].id) if page.has_more and page.messages else None
        return Found(results=results, next=nxt, indexing=not page.indexed)
