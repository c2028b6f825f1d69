"""Message search: the query planner, its SQL, and the index's background build and checks.

The indexes are schema step 4's (``chatter.store.schema``): ``messages_fts`` (words,
``unicode61 remove_diacritics 2``, prefix index on 2 and 3 characters) and
``messages_trigram`` (substrings, contentless, only the messages with a character of a
script written without spaces, each body indexed with a trailing space), plus
``messages_trigram_terms`` (``fts5vocab``: the trigrams in the index).

The planner picks the index per term (``plan``):

- a term with a character of a script written without spaces between words (Han, kana,
  Hangul, Thai, Lao, Khmer, Myanmar) is a substring: 3 or more characters are a trigram
  phrase; 2 characters are every indexed trigram that starts with them (the trailing space
  makes a pair at the very end a trigram too; at most ``PAIR_TERMS`` of them, in code point
  order: past that, messages where the pair is followed by a later character are missed, a
  bound on the FTS5 expression); a single such character is too short to search for;
- a term with a letter or digit (Unicode L*, N*, or private use: what ``unicode61`` keeps)
  is a word phrase in ``messages_fts``; the query's last word also matches as a prefix;
- anything else (punctuation) is no term at all.

Every term reaches FTS5 as a double-quoted string with its quotes doubled, so FTS5's own
syntax (``NEAR``, ``*``, ``-``, ``:``, ``^``, ``AND``/``OR``/``NOT``, parentheses, quotes)
is always plain text.  All terms must match.  Results are newest first; the membership
filter (rooms the viewer is a member of now: ``members``) is a join in the same query.
"""

from __future__ import annotations

import heapq
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from chatter.store import queries as q
from chatter.store.models import MessageRow, Rule, Username
from chatter.store.schema import NO_SPACE_GLOB, NO_SPACE_RANGES

PENDING_KEY = "search_pending_below"
PAIR_TERMS = 2000  # most trigrams one two-character term expands to (a bound on the FTS5 expression)
MAX_ID = 2**63 - 1

def no_space_script(c: str) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in NO_SPACE_RANGES)


def token_char(c: str) -> bool:
    """What FTS5's unicode61 keeps in a token by default: letters, numbers, private use."""
    cat = unicodedata.category(c)
    return cat[0] in "LN" or cat == "Co"


Kind = Literal["word", "substring", "pair"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    """One term of a query as the user typed it: a word or the inside of a quoted phrase."""

    text: str
    phrase: bool = False  # typed in quotes
    prefix: bool = False  # the query's last word: also matches as a prefix


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    """A term with the index that answers it."""

    term: Term
    kind: Kind


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchSpec:
    """What to look for; the filters narrow the viewer's rooms (all of them must hold)."""

    terms: tuple[Term, ...] = ()
    room: str | None = None  # a room id (the caller checks membership with its rule)
    room_names: tuple[str, ...] = ()  # ``in:#name`` filters: rooms of the viewer with this name (casefolded)
    senders: tuple[str, ...] = ()  # usernames; more than one distinct: nothing matches
    before: str | None = None  # created_at < before (RFC 3339, the store's format)
    after: str | None = None  # created_at > after
    below: int | None = None  # message id < below (the cursor)
    limit: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    messages: tuple[MessageRow, ...]
    has_more: bool
    planned: tuple[Planned, ...]  # how each term was searched (the service builds snippets from it)
    indexed: bool  # False while the background build has older messages left to index


def kind_of(term: Term) -> Kind | None:
    """The index that answers ``term`` (see the module docstring), or None when it has nothing to search."""
    text = term.text
    if any(no_space_script(c) for c in text):
        n = len(text.strip())
        return "substring" if n >= 3 else "pair" if n == 2 else None
    if any(token_char(c) for c in text):
        return "word"
    return None


def plan(terms: Sequence[Term]) -> tuple[Planned, ...]:
    return tuple(Planned(term=t, kind=k) for t in terms if (k := kind_of(t)) is not None)


def fts_string(text: str) -> str:
    """``text`` as one FTS5 string: double-quoted, inner quotes doubled; nothing in it is syntax.

    NUL becomes a space: FTS5 reads its query as a C string and would stop there.
    """
    return '"' + text.replace("\x00", " ").replace('"', '""') + '"'


def _pair_expression(db: sqlite3.Connection, pair: str) -> str | None:
    """An OR of the indexed trigrams that start with ``pair``; None when there are none."""
    key = pair.casefold()  # the trigram tokenizer folds case (case_sensitive 0)
    rows = db.execute("SELECT term FROM messages_trigram_terms WHERE term >= ? AND term < ? LIMIT ?",
                      (key, key + "\U0010ffff", PAIR_TERMS)).fetchall()
    if not rows:
        return None
    return "(" + " OR ".join(fts_string(r[0]) for r in rows) + ")"


@dataclass(frozen=True, slots=True)
class _Match:
    words: str | None  # a MATCH expression on messages_fts
    substrings: str | None  # a MATCH expression on messages_trigram


def _expressions(db: sqlite3.Connection, planned: Sequence[Planned]) -> _Match | None:
    """The two MATCH expressions (implicit AND of phrases); None when some term can match nothing."""
    words, subs = [], []
    for p in planned:
        if p.kind == "word":
            words.append(fts_string(p.term.text) + (" *" if p.term.prefix else ""))
        elif p.kind == "substring":
            subs.append(fts_string(p.term.text))
        else:
            expr = _pair_expression(db, p.term.text.strip())
            if expr is None:
                return None
            subs.append(expr)
    return _Match(" ".join(words) or None, " ".join(subs) or None)


_COLS = "m.id, m.seq, m.room, m.sender, m.body, m.client_msg_id, m.created_at, m.edited_at, m.deleted, m.reply_to"


def _rooms(db: sqlite3.Connection, viewer: Username, spec: SearchSpec) -> list[str]:
    """The rooms to search: the viewer's rooms now, narrowed by ``room`` and ``in:`` names."""
    rows = db.execute("SELECT r.id, r.name, r.kind FROM members m JOIN rooms r ON r.id = m.room "
                      "WHERE m.username = ? AND r.deleted = 0", (viewer,)).fetchall()
    rooms = [(rid, name, kind) for rid, name, kind in rows if spec.room is None or rid == spec.room]
    for wanted in spec.room_names:
        rooms = [(rid, name, kind) for rid, name, kind in rooms
                 if rid == wanted or (kind == "group" and name.casefold() == wanted)]
    return [rid for rid, _, _ in rooms]


def search_messages(db: sqlite3.Connection, viewer: Username, spec: SearchSpec, rule: Rule) -> SearchPage:
    """Messages matching ``spec`` in the viewer's rooms, newest first (``limit``, and whether there are more).

    With ``spec.room``, ``rule`` decides on the viewer's facts in that room (not a member: the rule's
    NotFound).  The membership join and every filter are in the SQL; deleted messages are never
    returned (their body is '', so the index holds nothing of them, and ``deleted = 0`` says it again).
    """
    if spec.room is not None:
        q.enforce(rule, q.facts(db, spec.room, viewer))
    planned = plan(spec.terms)
    indexed = pending_below(db) == 0
    senders = set(spec.senders)
    rooms = _rooms(db, viewer, spec)
    empty = SearchPage(messages=(), has_more=False, planned=planned, indexed=indexed)
    if not rooms or len(senders) > 1:
        return empty
    match = _expressions(db, planned)
    if match is None:
        return empty
    below = spec.below if spec.below is not None else MAX_ID
    where = ["m.deleted = 0", "m.room IN (SELECT value FROM json_each(:rooms))"]
    args: dict[str, Any] = {"me": viewer, "rooms": _json(rooms), "below": below, "n": spec.limit + 1}
    if senders:
        where.append("m.sender = :sender")
        args["sender"] = next(iter(senders))
    if spec.before is not None:
        where.append("m.created_at < :before")
        args["before"] = spec.before
    if spec.after is not None:
        where.append("m.created_at > :after")
        args["after"] = spec.after
    if match.words is None and match.substrings is None:
        rows = _newest(db, rooms, where, args, spec.limit + 1)
    else:
        # Drive from one index newest first (FTS5 walks its doclist by rowid DESC and stops at the
        # limit); the other index, when both are needed, is a set the candidates must be in.
        driver, other = ("messages_fts", "messages_trigram") if match.words else ("messages_trigram", None)
        args["drive"] = match.words or match.substrings
        if other is not None and match.substrings is not None:
            where.append("f.rowid IN (SELECT rowid FROM messages_trigram WHERE messages_trigram MATCH :other)")
            args["other"] = match.substrings
        sql = (f"SELECT {_COLS} FROM {driver} f JOIN messages m ON m.id = f.rowid "  # noqa: S608 - names are ours
               "JOIN members mb ON mb.room = m.room AND mb.username = :me "
               f"WHERE {driver} MATCH :drive AND f.rowid < :below AND {' AND '.join(where)} "
               "ORDER BY f.rowid DESC LIMIT :n")
        rows = db.execute(sql, args).fetchall()
    msgs = [q._message(r) for r in rows[:spec.limit]]
    return SearchPage(messages=tuple(q._hydrate(db, msgs)), has_more=len(rows) > spec.limit, planned=planned,
                      indexed=indexed)


def _newest(db: sqlite3.Connection, rooms: list[str], where: list[str], args: dict[str, Any], n: int
            ) -> list[tuple[Any, ...]]:
    """Filters only (``from:ana``): the newest messages of each room (``messages_by_room``), merged."""
    streams = []
    for room in rooms:
        sql = (f"SELECT {_COLS} FROM messages m JOIN members mb ON mb.room = m.room AND mb.username = :me "  # noqa: S608
               f"WHERE m.room = :room AND m.id < :below AND {' AND '.join(where)} ORDER BY m.id DESC LIMIT :n")
        streams.append(db.execute(sql, {**args, "room": room, "n": n}).fetchall())
    return list(heapq.merge(*streams, key=lambda r: -int(r[0])))[:n]


def _json(values: Sequence[str]) -> str:
    return orjson.dumps(list(values)).decode()


# -- the background build -------------------------------------------------------------


def pending_below(db: sqlite3.Connection) -> int:
    """Messages with an id below this are not in the index yet; 0 when the index is complete."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (PENDING_KEY,)).fetchone()
    if row is None:
        return 0
    boundary = int(row[0])
    if boundary <= 0:
        return 0
    if db.execute("SELECT 1 FROM messages WHERE id < ? LIMIT 1", (boundary,)).fetchone() is None:
        return 0
    return boundary


def index_batch(db: sqlite3.Connection, limit: int) -> tuple[int, list[Any]]:
    """Index the newest ``limit`` messages below the boundary and move it; (messages indexed, no events).

    One batch is one bounded piece of work for the writer (``limit`` rows, each indexed twice), so
    other writes wait at most that long.  0 once nothing is left (the boundary is then 0).
    """
    boundary = pending_below(db)
    if boundary == 0:
        _set_boundary(db, 0)
        return 0, []
    row = db.execute("SELECT id FROM messages WHERE id < ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                     (boundary, limit - 1)).fetchone()
    low = int(row[0]) if row is not None else 0
    n = db.execute("INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages WHERE id >= ? AND id < ?",
                   (low, boundary)).rowcount
    db.execute("INSERT INTO messages_trigram (rowid, body) SELECT id, body || ' ' FROM messages "
               "WHERE id >= ? AND id < ? AND body GLOB ?", (low, boundary, NO_SPACE_GLOB))
    _set_boundary(db, low)
    return n, []


def _set_boundary(db: sqlite3.Connection, value: int) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               (PENDING_KEY, str(value)))


def reset_index(db: sqlite3.Connection) -> tuple[None, list[Any]]:
    """Empty both indexes and mark every message pending (a short write: the build refills them)."""
    db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
    db.execute("INSERT INTO messages_trigram (messages_trigram) VALUES ('delete-all')")
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    _set_boundary(db, (int(row[0]) if row else 0) + 1)
    return None, []


# -- checks (``chatter doctor``) --------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexReport:
    messages: int  # rows in messages
    pending: int  # of them, not indexed yet (the build is running or was interrupted)
    missing: int  # indexed region: messages with no entry in one of the indexes
    extra: int  # index entries for no message (or one below the boundary)
    mismatched: int  # sampled messages their own text does not find
    sampled: int

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.mismatched == 0


def check_index(db: sqlite3.Connection, sample: int = 200) -> IndexReport:
    """Compare the indexes with the table, reading only (beside a running server).

    Every message at or above the boundary must have one entry in each index (its ``docsize``
    row) and nothing else may; then the newest and a spread of older messages (``sample`` in all)
    must each be found by their own text as a phrase, in the word index (and, 3+ characters, the
    trigram index).  An edited message's old text cannot be checked for, so the entry count and
    the sampled lookups are what is compared.
    """
    boundary = pending_below(db)
    total = int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    pending = int(db.execute("SELECT COUNT(*) FROM messages WHERE id < ?", (boundary,)).fetchone()[0])
    missing = extra = 0
    for shadow, only in (("messages_fts_docsize", "*"), ("messages_trigram_docsize", NO_SPACE_GLOB)):
        missing += int(db.execute(
            f"SELECT COUNT(*) FROM messages m WHERE m.id >= ? AND m.body GLOB ? AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {shadow} d WHERE d.id = m.id)", (boundary, only)).fetchone()[0])
        extra += int(db.execute(
            f"SELECT COUNT(*) FROM {shadow} d WHERE d.id < ? OR NOT EXISTS "  # noqa: S608 - our names
            "(SELECT 1 FROM messages m WHERE m.id = d.id AND m.body GLOB ?)", (boundary, only)).fetchone()[0])
    half = max(1, sample // 2)
    rows = db.execute("SELECT id, body FROM messages WHERE id >= ? AND deleted = 0 ORDER BY id DESC LIMIT ?",
                      (boundary, half)).fetchall()
    rows += db.execute("SELECT id, body FROM messages WHERE id >= ? AND deleted = 0 AND id % 97 = 0 "
                       "ORDER BY id LIMIT ?", (boundary, half)).fetchall()
    mismatched = sampled = 0
    for mid, body in dict(rows).items():
        sampled += 1
        words = any(token_char(c) for c in body) and db.execute(
            "SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? AND rowid = ?",
            (fts_string(body), mid)).fetchone() is None
        substring = any(no_space_script(c) for c in body) and db.execute(
            "SELECT 1 FROM messages_trigram WHERE messages_trigram MATCH ? AND rowid = ?",
            (fts_string(body), mid)).fetchone() is None
        mismatched += words or substring
    return IndexReport(messages=total, pending=pending, missing=missing, extra=extra, mismatched=mismatched,
                       sampled=sampled)
