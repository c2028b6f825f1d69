"""The only SQL in Chatter: plain sync functions ``fn(db, ...)``.

Writers return ``(result, events)``; the caller runs them inside one
transaction (see ``sqlite.py``'s group commit), so a multi-step write either
happens whole or not at all.  Values are always bound parameters.

Who may do what is not decided here: each guarded function takes a
``rule`` (``chatter.store.models.Rule``, from ``chatter.service.permissions``)
and calls it on the facts it read inside the transaction (``RoomFacts``), so
a check and the write it guards can never race.  What is checked here is
only what the data says: a user that does not exist, a member already in.
"""

from __future__ import annotations

import dataclasses
import heapq
import secrets
import sqlite3
from collections.abc import Sequence
from typing import Any, cast

import msgspec
import orjson

from chatter import markup
from chatter.errors import Conflict, Invalid, NotFound, Unavailable
from chatter.store import schema
from chatter.store.models import (
    AroundPage,
    EventPage,
    EventRow,
    MemberRow,
    MessageId,
    MessageRow,
    PostResult,
    ReactionRow,
    Role,
    RoomFacts,
    RoomId,
    RoomKind,
    RoomRow,
    Rule,
    Seq,
    Username,
    UserRow,
)
from chatter.store.schema import MIGRATIONS, Migration
from chatter.wire import (
    DurableEvent,
    MemberAddedEvent,
    MemberRemovedEvent,
    MemberUpdatedEvent,
    MessageDeletedEvent,
    MessageUpdatedEvent,
    ReactionEvent,
    ReadEvent,
    RoomDeletedEvent,
    RoomUpdatedEvent,
    tag,
)

Events = list[EventRow]


# -- schema -----------------------------------------------------------------


def configure(db: sqlite3.Connection, *, busy_timeout: float, wal: bool) -> None:
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    db.execute("PRAGMA foreign_keys = ON")
    if wal:
        db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    # A deleted message's body must be gone from the file, not left in a freed page
    # (PROTOCOL 10): SQLite zeroes what it frees.  Only deletions pay for it.
    db.execute("PRAGMA secure_delete = ON")


def schema_version(db: sqlite3.Connection) -> int:
    """The last migration applied; 0 for a new database.  Only reads."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone() is None:
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite3.Connection, now: str, steps: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply pending steps in one transaction each (with their ``schema_version`` row); return the version.

    The version is read again inside each transaction, so a step that
    another program applied while this one waited for the lock is not run
    twice.
    """
    latest = len(steps)
    version = schema_version(db)
    if version == latest:
        return latest  # the usual start: nothing to do, and sqlite-utils is not even imported
    if version > latest:
        raise _newer(version, latest)
    su = schema.database(db)
    while version < latest:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(db)
            if version < latest:
                if version == 0:
                    su.table("schema_version").create({"version": int, "applied_at": str},
                                                      not_null={"version", "applied_at"}, if_not_exists=True)
                version += 1
                steps[version - 1](su)
                su.table("schema_version").insert({"version": version, "applied_at": now})
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # an error may have ended it already; keep the original exception
                db.execute("ROLLBACK")
            raise
    if version > latest:  # a newer program migrated the file while this one waited
        raise _newer(version, latest)
    return latest


def _newer(version: int, latest: int) -> Unavailable:
    return Unavailable(f"database schema version {version} is newer than this program ({latest}); upgrade Chatter")


def get_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               (key, value))


def head(db: sqlite3.Connection) -> Seq:
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return Seq(int(row[0]) if row else 0)


# -- events -----------------------------------------------------------------


def _next_seq(db: sqlite3.Connection) -> Seq:
    """The seq the next event will have: the events table's AUTOINCREMENT counter plus one.

    Only the one writer appends events, inside its transaction, so nothing
    can take this seq before ``_emit`` does.
    """
    return Seq(head(db) + 1)


def _emit(db: sqlite3.Connection, event: DurableEvent, message: int | None = None) -> EventRow:
    """Append a durable event, built by the caller from its ``chatter.wire`` struct with ``seq=_next_seq(db)``.

    The row keeps the format of every existing database: ``data`` is the
    frame's JSON without ``type`` and ``seq``, keys in the struct's order.
    The seq is written explicitly (it is the AUTOINCREMENT's next value) so
    that the frame, which carries it, is complete before the row is.
    ``message``: the message an edit, deletion or reaction is about (``events.message``),
    so deleting the message finds the events that hold its body or reactions.
    """
    if event.seq != _next_seq(db):
        raise RuntimeError(f"event built with seq {event.seq}, but the next seq is {_next_seq(db)}")
    kind = tag(event)
    data = msgspec.structs.asdict(event)
    del data["seq"]
    raw = orjson.dumps(data).decode()
    db.execute("INSERT INTO events (seq, room, type, data, message) VALUES (?, ?, ?, ?, ?)",
               (event.seq, event.room, kind, raw, message))
    return EventRow(seq=Seq(event.seq), room=RoomId(event.room), type=kind, data=data, raw=raw)


def events_for_user(db: sqlite3.Connection, username: Username, since: int, limit: int) -> EventPage:
    """Durable events visible to ``username`` with ``seq > since``, oldest first.

    One indexed range scan per membership span, merged by seq: each page
    costs O(spans x limit) rows however large the gap is.
    """
    now_head = head(db)
    spans = db.execute(
        "SELECT room, joined_seq, left_seq FROM member_spans "
        "WHERE username = ? AND (left_seq IS NULL OR left_seq > ?)",
        (username, since),
    ).fetchall()
    streams = []
    for room, joined, left in spans:
        lo = max(since, joined - 1)
        hi = left if left is not None else now_head
        rows = db.execute(
            "SELECT seq, room, type, data FROM events WHERE room = ? AND seq > ? AND seq <= ? "
            "ORDER BY seq LIMIT ?",
            (room, lo, hi, limit + 1),
        ).fetchall()
        streams.append(rows)
    merged = list(heapq.merge(*streams))
    page = merged[:limit]
    events = tuple(EventRow(seq=Seq(s), room=RoomId(r), type=t, data=orjson.loads(d), raw=d) for s, r, t, d in page)
    return EventPage(events=events, head=now_head, has_more=len(merged) > limit)


def members_at(db: sqlite3.Connection, room: RoomId, seq: int) -> frozenset[Username]:
    """Who receives events of ``room`` right after event ``seq`` was applied."""
    rows = db.execute(
        "SELECT username FROM member_spans WHERE room = ? AND joined_seq <= ? AND (left_seq IS NULL OR left_seq > ?)",
        (room, seq, seq),
    ).fetchall()
    return frozenset(Username(r[0]) for r in rows)


def _open_span(db: sqlite3.Connection, room: RoomId, username: Username, seq: Seq) -> None:
    db.execute("INSERT INTO member_spans (username, room, joined_seq) VALUES (?, ?, ?)", (username, room, seq))


def _close_span(db: sqlite3.Connection, room: RoomId, username: Username, seq: Seq) -> None:
    db.execute("UPDATE member_spans SET left_seq = ? WHERE username = ? AND room = ? AND left_seq IS NULL",
               (seq, username, room))


# -- users ------------------------------------------------------------------

_USER_COLS = "username, name, password_hash, token_version, created_at, last_seen"


def _user(row: tuple[Any, ...]) -> UserRow:
    return UserRow(username=Username(row[0]), name=row[1], password_hash=row[2], token_version=row[3],
                   created_at=row[4], last_seen=row[5])


def get_user(db: sqlite3.Connection, username: str) -> UserRow | None:
    row = db.execute(f"SELECT {_USER_COLS} FROM users WHERE username = ?", (username,)).fetchone()  # noqa: S608
    return None if row is None else _user(row)


def require_user(db: sqlite3.Connection, username: str) -> UserRow:
    user = get_user(db, username)
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def search_key(name: str) -> str:
    """What display-name search matches against: Unicode case folding (SQLite's NOCASE is ASCII-only)."""
    return name.casefold()


def create_user(db: sqlite3.Connection, username: Username, name: str, password_hash: str, now: str
                ) -> tuple[UserRow, Events]:
    try:
        db.execute("INSERT INTO users (username, name, name_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                   (username, name, search_key(name), password_hash, now))
    except sqlite3.IntegrityError:
        raise Conflict(f"username {username!r} is taken") from None
    return require_user(db, username), []


def search_users(db: sqlite3.Connection, q: str, limit: int) -> list[UserRow]:
    """Users whose username or display name starts with ``q`` (Unicode case-insensitive)."""
    key = search_key(q)
    upper = key + "\U0010ffff"
    rows = db.execute(
        f"SELECT {_USER_COLS} FROM users WHERE (username >= ? AND username < ?) OR (name_key >= ? AND name_key < ?) "  # noqa: S608
        "ORDER BY username LIMIT ?",
        (key, upper, key, upper, limit),
    ).fetchall()
    return [_user(r) for r in rows]


def rename_user(db: sqlite3.Connection, username: Username, name: str) -> tuple[UserRow, Events]:
    db.execute("UPDATE users SET name = ?, name_key = ? WHERE username = ?", (name, search_key(name), username))
    return require_user(db, username), []


def set_password(db: sqlite3.Connection, username: Username, password_hash: str) -> tuple[UserRow, Events]:
    db.execute("UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE username = ?",
               (password_hash, username))
    return require_user(db, username), []


def bump_token_version(db: sqlite3.Connection, username: Username) -> tuple[int, Events]:
    db.execute("UPDATE users SET token_version = token_version + 1 WHERE username = ?", (username,))
    return require_user(db, username).token_version, []


def set_last_seen_many(db: sqlite3.Connection, usernames: list[Username], when: str) -> tuple[None, Events]:
    """One write for a batch of presence changes (a connection storm makes thousands a second)."""
    db.executemany("UPDATE users SET last_seen = ? WHERE username = ?", [(when, u) for u in usernames])
    return None, []


def contacts(db: sqlite3.Connection, username: Username, max_room: int | None = None) -> frozenset[Username]:
    """Everyone who shares a room with ``username`` (not themself).

    With ``max_room``, only rooms of at most that many members count (DMs
    always do): live presence in a large room would cost N^2 deliveries when
    N members connect.
    """
    if max_room is None:
        sql = ("SELECT DISTINCT o.username FROM members m JOIN members o ON o.room = m.room "
               "WHERE m.username = ? AND o.username != ?")
        args: tuple[object, ...] = (username, username)
    else:
        # The room-size test counts at most max_room + 1 rows, so a user in a room of
        # 5,000 costs 201 index steps per call, not 5,000 (it runs at every connect).
        limit = max(max_room, 2)
        sql = ("SELECT DISTINCT o.username FROM members o WHERE o.username != ? AND o.room IN ("
               "SELECT m.room FROM members m WHERE m.username = ? "
               "AND (SELECT COUNT(*) FROM (SELECT 1 FROM members c WHERE c.room = m.room LIMIT ?)) <= ?)")
        args = (username, username, limit + 1, limit)
    return frozenset(Username(r[0]) for r in db.execute(sql, args).fetchall())


# -- rooms ------------------------------------------------------------------


def role_of(db: sqlite3.Connection, room: str, username: str) -> str | None:
    row = db.execute(
        "SELECT m.role FROM members m JOIN rooms r ON r.id = m.room "
        "WHERE m.room = ? AND m.username = ? AND r.deleted = 0",
        (room, username),
    ).fetchone()
    return None if row is None else str(row[0])


def facts(db: sqlite3.Connection, room: str, actor: str, *, target: str | None = None,
          new_role: str | None = None) -> RoomFacts:
    """What a rule decides on, read in one query (two with a target)."""
    row = db.execute(
        "SELECT m.role, r.kind FROM members m JOIN rooms r ON r.id = m.room "
        "WHERE m.room = ? AND m.username = ? AND r.deleted = 0",
        (room, actor),
    ).fetchone()
    role, kind = (None, None) if row is None else (str(row[0]), str(row[1]))
    target_role = None if target is None or role is None else role_of(db, room, target)
    return RoomFacts(actor=actor, role=role, kind=kind, target=target, target_role=target_role, new_role=new_role)


def enforce(rule: Rule, facts_: RoomFacts) -> RoomFacts:
    """Raise the error ``rule`` gives for ``facts_``, if any; the facts when allowed."""
    error = rule(facts_)
    if error is not None:
        raise error
    return facts_


_MSG_COLS = "id, seq, room, sender, body, client_msg_id, created_at, edited_at, deleted, reply_to"


def _message(row: tuple[Any, ...]) -> MessageRow:
    """A message row without its mentions and reactions (``_hydrate`` adds them)."""
    return MessageRow(id=MessageId(row[0]), seq=Seq(row[1]), room=RoomId(row[2]), sender=Username(row[3]),
                      body=row[4], client_msg_id=row[5], created_at=row[6], edited_at=row[7],
                      deleted=bool(row[8]), reply_to=None if row[9] is None else MessageId(row[9]))


def _members(db: sqlite3.Connection, room: str) -> tuple[MemberRow, ...]:
    rows = db.execute(
        "SELECT m.username, u.name, m.role, m.read_up_to FROM members m JOIN users u ON u.username = m.username "
        "WHERE m.room = ? ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.username",
        (room,),
    ).fetchall()
    return tuple(MemberRow(username=Username(r[0]), name=r[1], role=r[2], read_up_to=r[3]) for r in rows)


def get_room(db: sqlite3.Connection, room: str, viewer: Username, rule: Rule) -> RoomRow:
    enforce(rule, facts(db, room, viewer))
    return _room(db, room, viewer)


def _room(db: sqlite3.Connection, room: str, viewer: Username) -> RoomRow:
    """The room as ``viewer`` (a member: the caller checked) sees it."""
    row = db.execute("SELECT id, kind, name, created_at, last_message FROM rooms WHERE id = ?", (room,)).fetchone()
    rid, kind, name, created_at, last_id = row
    members = _members(db, rid)
    if kind == "dm":
        others = [m.name for m in members if m.username != viewer]
        name = others[0] if others else name
    last = None
    if last_id is not None:
        mrow = db.execute(f"SELECT {_MSG_COLS} FROM messages WHERE id = ?", (last_id,)).fetchone()  # noqa: S608
        last = _hydrate(db, [_message(mrow)])[0] if mrow else None
    me = next(m for m in members if m.username == viewer)
    unread = db.execute(
        "SELECT COUNT(*) FROM messages WHERE room = ? AND id > ? AND sender != ?", (rid, me.read_up_to, viewer)
    ).fetchone()[0]
    return RoomRow(id=RoomId(rid), kind=kind, name=name, created_at=created_at, members=members,
                   last_message=last, unread=int(unread), mentions=_unread_mentions(db, rid, viewer, me.read_up_to))


def list_rooms(db: sqlite3.Connection, viewer: Username) -> list[RoomRow]:
    rows = db.execute(
        "SELECT r.id FROM members m JOIN rooms r ON r.id = m.room WHERE m.username = ? AND r.deleted = 0 "
        "ORDER BY r.activity_seq DESC",
        (viewer,),
    ).fetchall()
    return [_room(db, r[0], viewer) for r in rows]


def _new_room_id(db: sqlite3.Connection) -> RoomId:
    while True:
        rid = "r_" + secrets.token_urlsafe(9)
        if db.execute("SELECT 1 FROM rooms WHERE id = ?", (rid,)).fetchone() is None:
            return RoomId(rid)


def _add(db: sqlite3.Connection, room: RoomId, room_name: str, kind: str, user: UserRow, role: str) -> EventRow:
    # Roles and kinds are strings in the Store API; the caller's rule checked this one; the tables' CHECKs agree.
    ev = _emit(db, MemberAddedEvent(seq=_next_seq(db), room=room, username=user.username, role=cast(Role, role),
                                    name=user.name, room_name=room_name, kind=cast(RoomKind, kind)))
    db.execute("INSERT INTO members (room, username, role) VALUES (?, ?, ?)", (room, user.username, role))
    _open_span(db, room, user.username, ev.seq)
    return ev


def create_group(db: sqlite3.Connection, owner: Username, name: str, members: list[Username], now: str
                 ) -> tuple[RoomRow, Events]:
    users = [require_user(db, owner)]
    for username in dict.fromkeys(members):
        if username != owner:
            users.append(require_user(db, username))
    rid = _new_room_id(db)
    db.execute("INSERT INTO rooms (id, kind, name, created_at, activity_seq) VALUES (?, 'group', ?, ?, ?)",
               (rid, name, now, head(db) + 1))
    events = [_add(db, rid, name, "group", u, "owner" if i == 0 else "member") for i, u in enumerate(users)]
    return _room(db, rid, owner), events


def open_dm(db: sqlite3.Connection, me: Username, other: Username, now: str
            ) -> tuple[tuple[RoomRow, bool], Events]:
    if me == other:
        raise Invalid("you cannot open a direct message with yourself")
    other_user = require_user(db, other)
    key = ":".join(sorted((me, other)))
    row = db.execute("SELECT id FROM rooms WHERE dm_key = ? AND deleted = 0", (key,)).fetchone()
    if row is not None:
        return (_room(db, row[0], me), False), []
    rid = _new_room_id(db)
    db.execute("INSERT INTO rooms (id, kind, name, dm_key, created_at, activity_seq) VALUES (?, 'dm', '', ?, ?, ?)",
               (rid, key, now, head(db) + 1))
    events = [_add(db, rid, "", "dm", require_user(db, me), "member"), _add(db, rid, "", "dm", other_user, "member")]
    return (_room(db, rid, me), True), events


def rename_room(db: sqlite3.Connection, actor: Username, room: str, name: str, rule: Rule
                ) -> tuple[RoomRow, Events]:
    enforce(rule, facts(db, room, actor))
    db.execute("UPDATE rooms SET name = ? WHERE id = ?", (name, room))
    r = _room(db, room, actor)
    ev = _emit(db, RoomUpdatedEvent(seq=_next_seq(db), room=r.id, id=r.id, kind=r.kind, name=name,
                                    created_at=r.created_at))
    return r, [ev]


def delete_room(db: sqlite3.Connection, actor: Username, room: str, rule: Rule) -> tuple[None, Events]:
    enforce(rule, facts(db, room, actor))
    rid = RoomId(room)
    ev = _emit(db, RoomDeletedEvent(seq=_next_seq(db), room=rid))
    db.execute("UPDATE member_spans SET left_seq = ? WHERE room = ? AND left_seq IS NULL", (ev.seq, rid))
    db.execute("DELETE FROM members WHERE room = ?", (rid,))
    db.execute("UPDATE rooms SET deleted = 1, last_message = NULL, dm_key = NULL WHERE id = ?", (rid,))
    db.execute("DELETE FROM messages WHERE room = ?", (rid,))
    # Deleting means deleting: only room_deleted and earlier member_removed
    # events stay, so that everyone who was ever in the room -- members now,
    # and users removed before -- learns it is gone when they resume.
    db.execute("DELETE FROM events WHERE room = ? AND seq < ? AND type != 'member_removed'", (rid, ev.seq))
    return None, [ev]


def _member(db: sqlite3.Connection, room: str, username: str) -> MemberRow:
    for m in _members(db, room):
        if m.username == username:
            return m
    raise NotFound(f"{username!r} is not a member of this room")


def add_member(db: sqlite3.Connection, actor: Username, room: str, username: Username, role: str, rule: Rule
               ) -> tuple[MemberRow, Events]:
    kind = str(enforce(rule, facts(db, room, actor, new_role=role)).kind)
    user = require_user(db, username)
    if role_of(db, room, username) is not None:
        raise Conflict(f"{username!r} is already a member")
    name = str(db.execute("SELECT name FROM rooms WHERE id = ?", (room,)).fetchone()[0])
    ev = _add(db, RoomId(room), name, kind, user, role)
    return _member(db, room, username), [ev]


def set_role(db: sqlite3.Connection, actor: Username, room: str, username: Username, role: str, rule: Rule
             ) -> tuple[MemberRow, Events]:
    target_role = enforce(rule, facts(db, room, actor, target=username, new_role=role)).target_role
    rid = RoomId(room)
    events = []
    if role == "owner":  # transfer: the previous owner stays on as admin
        db.execute("UPDATE members SET role = 'admin' WHERE room = ? AND username = ?", (room, actor))
        events.append(_emit(db, MemberUpdatedEvent(seq=_next_seq(db), room=rid, username=actor, role="admin")))
    if target_role != role:
        db.execute("UPDATE members SET role = ? WHERE room = ? AND username = ?", (role, room, username))
        events.append(_emit(db, MemberUpdatedEvent(seq=_next_seq(db), room=rid, username=username,
                                                   role=cast(Role, role))))  # the rule checked it
    return _member(db, room, username), events


def remove_member(db: sqlite3.Connection, actor: Username, room: str, username: Username, rule: Rule
                  ) -> tuple[None, Events]:
    enforce(rule, facts(db, room, actor, target=username))
    rid = RoomId(room)
    ev = _emit(db, MemberRemovedEvent(seq=_next_seq(db), room=rid, username=username))
    db.execute("DELETE FROM members WHERE room = ? AND username = ?", (room, username))
    _close_span(db, rid, username, ev.seq)
    return None, [ev]


# -- messages ---------------------------------------------------------------


def history(db: sqlite3.Connection, viewer: Username, room: str, before: int | None, limit: int, rule: Rule
            ) -> tuple[list[MessageRow], bool]:
    enforce(rule, facts(db, room, viewer))
    rows = db.execute(
        f"SELECT {_MSG_COLS} FROM messages WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?",  # noqa: S608
        (room, before if before is not None else 2**63 - 1, limit + 1),
    ).fetchall()
    has_more = len(rows) > limit
    return _hydrate(db, [_message(r) for r in reversed(rows[:limit])]), has_more


def post_message(db: sqlite3.Connection, sender: Username, room: str, client_msg_id: str, body: str, now: str,
                 rule: Rule, reply_to: int | None = None) -> tuple[PostResult, Events]:
    """Store a message once per (sender, client_msg_id); a repeat returns the original.

    A repeat of a message deleted since is answered with its tombstone (the
    retry of a send that was committed); ``reply_to`` must be a message of the
    same room that is not deleted, and is part of what a repeat must match.
    """
    row = db.execute(f"SELECT {_MSG_COLS} FROM messages WHERE sender = ? AND client_msg_id = ?",  # noqa: S608
                     (sender, client_msg_id)).fetchone()
    if row is not None:
        original = _message(row)
        if original.room != room or (not original.deleted and (
                original.body != body or original.reply_to != reply_to)):
            raise Conflict("client_msg_id was already used for a different message")
        enforce(rule, facts(db, room, sender))
        return PostResult(message=_hydrate(db, [original])[0], created=False), []
    enforce(rule, facts(db, room, sender))
    rid = RoomId(room)
    if reply_to is not None:
        _require_reply_target(db, rid, reply_to)
    seq = _next_seq(db)
    cur = db.execute(
        "INSERT INTO messages (seq, room, sender, body, client_msg_id, created_at, reply_to) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, room, sender, body, client_msg_id, now, reply_to),
    )
    mid = MessageId(int(cur.lastrowid or 0))
    msg = MessageRow(id=mid, seq=seq, room=rid, sender=sender, body=body, client_msg_id=client_msg_id,
                     created_at=now, reply_to=None if reply_to is None else MessageId(reply_to),
                     mentions=_record_mentions(db, rid, mid, body))
    ev = _emit(db, msg.event())
    db.execute("UPDATE rooms SET activity_seq = ?, last_message = ? WHERE id = ?", (ev.seq, msg.id, room))
    return PostResult(message=msg, created=True), [ev]


def mark_read(db: sqlite3.Connection, username: Username, room: str, up_to: int, rule: Rule
              ) -> tuple[int, Events]:
    """Move the read cursor forward (never back), clamped to the newest message."""
    enforce(rule, facts(db, room, username))
    last = db.execute("SELECT last_message FROM rooms WHERE id = ?", (room,)).fetchone()[0] or 0
    target = min(up_to, int(last))
    current = int(db.execute("SELECT read_up_to FROM members WHERE room = ? AND username = ?",
                             (room, username)).fetchone()[0])
    if target <= current:
        return current, []
    db.execute("UPDATE members SET read_up_to = ? WHERE room = ? AND username = ?", (target, room, username))
    rid = RoomId(room)
    return target, [_emit(db, ReadEvent(seq=_next_seq(db), room=rid, user=username, up_to=target))]


# -- working with messages: edits, deletions, reactions, replies, mentions (PROTOCOL 10) --
#
# Each write reads the rows it decides on inside its transaction, asks the
# caller's permission rule on the room's facts with the message's ``author``, and appends
# exactly one durable event -- or none for a no-op (an unchanged body, a
# reaction already in the requested state, a message already deleted).


def _ids_json(ids: Sequence[int]) -> str:
    return orjson.dumps(list(ids)).decode()


def _hydrate(db: sqlite3.Connection, msgs: list[MessageRow]) -> list[MessageRow]:
    """The messages with their mentions and reactions: two indexed queries for a whole page."""
    live = [m.id for m in msgs if not m.deleted]
    if not live:
        return msgs
    ids = _ids_json(live)
    mentions: dict[int, list[Username]] = {}
    for mid, username in db.execute(
            "SELECT message, username FROM mentions WHERE message IN (SELECT value FROM json_each(?)) "
            "ORDER BY message, position", (ids,)):
        mentions.setdefault(mid, []).append(Username(username))
    reactions: dict[int, dict[str, list[Username]]] = {}
    for mid, emoji, username in db.execute(
            "SELECT message, emoji, username FROM reactions WHERE message IN (SELECT value FROM json_each(?)) "
            "ORDER BY seq", (ids,)):
        reactions.setdefault(mid, {}).setdefault(emoji, []).append(Username(username))
    if not mentions and not reactions:
        return msgs
    return [m if m.id not in mentions and m.id not in reactions else dataclasses.replace(
        m, mentions=tuple(mentions.get(m.id, ())),
        reactions=tuple(ReactionRow(emoji=e, users=tuple(u)) for e, u in reactions.get(m.id, {}).items()))
        for m in msgs]


def _unread_mentions(db: sqlite3.Connection, room: str, viewer: Username, read_up_to: int) -> int:
    """Messages from others after the read cursor that mention ``viewer`` (one range of mentions_by_user_room)."""
    row = db.execute(
        "SELECT COUNT(*) FROM mentions n JOIN messages m ON m.id = n.message "
        "WHERE n.username = ? AND n.room = ? AND n.message > ? AND m.sender != ?",
        (viewer, room, read_up_to, viewer)).fetchone()
    return int(row[0])


def _record_mentions(db: sqlite3.Connection, room: RoomId, message: MessageId, body: str) -> tuple[Username, ...]:
    """Store who ``body`` mentions among the room's current members; return them in order."""
    candidates = markup.mention_candidates(body)
    if not candidates:
        return ()
    members = {r[0] for r in db.execute(
        "SELECT username FROM members WHERE room = ? AND username IN (SELECT value FROM json_each(?))",
        (room, orjson.dumps(candidates).decode()))}
    found = tuple(Username(c) for c in candidates if c in members)
    db.executemany("INSERT INTO mentions (message, username, room, position) VALUES (?, ?, ?, ?)",
                   [(message, u, room, i) for i, u in enumerate(found)])
    return found


def _require_reply_target(db: sqlite3.Connection, room: RoomId, reply_to: int) -> None:
    row = db.execute("SELECT room, deleted FROM messages WHERE id = ?", (reply_to,)).fetchone()
    if row is None or row[0] != room or row[1]:
        # Not NotFound: the room is the one being written to; the reply target is bad input.
        raise Invalid("reply_to must be a message of this room that is not deleted")


def _target(db: sqlite3.Connection, actor: Username, room: str, message_id: int, rule: Rule
            ) -> tuple[RoomFacts, MessageRow]:
    """The room's facts with the message's author, and the message.

    Outsiders get the rule's answer (NotFound "room not found") before the
    message is looked at, so a message id reveals nothing about other rooms;
    members get NotFound "message not found" for an id that is not in this room.
    """
    known = facts(db, room, actor)
    if known.role is None:
        enforce(rule, known)
        raise NotFound("room not found")  # whatever the rule says, there is no room to act in
    row = db.execute(f"SELECT {_MSG_COLS} FROM messages WHERE id = ?", (message_id,)).fetchone()  # noqa: S608
    if row is None or row[2] != room:
        raise NotFound("message not found")
    msg = _message(row)
    return dataclasses.replace(known, author=msg.sender), msg


def get_message(db: sqlite3.Connection, viewer: Username, room: str, message_id: int, rule: Rule) -> MessageRow:
    """One message as it is now (tombstones included)."""
    known, msg = _target(db, viewer, room, message_id, rule)
    enforce(rule, known)
    return _hydrate(db, [msg])[0]


def edit_message(db: sqlite3.Connection, actor: Username, room: str, message_id: int, body: str, now: str,
                 rule: Rule) -> tuple[MessageRow, Events]:
    """Replace a message's body and recompute its mentions; one ``message_updated``, none if unchanged.

    ``body`` is valid already (the caller's ``validation.body``: trimmed, 1..4000
    characters).  A deleted message is NotFound (PROTOCOL 10), whoever asks.
    """
    known, msg = _target(db, actor, room, message_id, rule)
    if msg.deleted:
        raise NotFound("message not found")
    enforce(rule, known)
    if body == msg.body:
        return _hydrate(db, [msg])[0], []
    rid, mid = RoomId(room), msg.id
    db.execute("UPDATE messages SET body = ?, edited_at = ? WHERE id = ?", (body, now, mid))
    db.execute("DELETE FROM mentions WHERE message = ?", (mid,))
    mentions = _record_mentions(db, rid, mid, body)
    ev = _emit(db, MessageUpdatedEvent(seq=_next_seq(db), room=rid, id=mid, body=body, edited_at=now,
                                       mentions=list(mentions)), message=mid)
    edited = dataclasses.replace(msg, body=body, edited_at=now, mentions=mentions)
    return _hydrate(db, [edited])[0], [ev]


def delete_message(db: sqlite3.Connection, actor: Username, room: str, message_id: int, rule: Rule
                   ) -> tuple[bool, Events]:
    """Make a message a tombstone; one ``message_deleted``, none if it already was (returns whether it changed).

    Its body goes from every row that held it: the message (body ''), its
    ``message`` event (rewritten as the tombstone, keeping its seq), its
    ``message_updated`` events, and its mentions and reactions with their
    ``reaction`` events (deleted: the tombstone supersedes them).  Replies to
    it keep their ``reply_to``: they now quote a tombstone.
    """
    known, msg = _target(db, actor, room, message_id, rule)
    if msg.deleted:
        return False, []
    enforce(rule, known)
    mid = msg.id
    db.execute("UPDATE messages SET body = '', deleted = 1, edited_at = NULL, reply_to = NULL WHERE id = ?", (mid,))
    db.execute("DELETE FROM mentions WHERE message = ?", (mid,))
    db.execute("DELETE FROM reactions WHERE message = ?", (mid,))
    db.execute("DELETE FROM events WHERE message = ? AND type IN ('message_updated', 'reaction')", (mid,))
    tombstone = dataclasses.replace(msg, body="", deleted=True, edited_at=None, reply_to=None)
    data = msgspec.structs.asdict(tombstone.event())
    del data["seq"]
    db.execute("UPDATE events SET data = ? WHERE seq = ? AND type = 'message'", (orjson.dumps(data).decode(), msg.seq))
    ev = _emit(db, MessageDeletedEvent(seq=_next_seq(db), room=RoomId(room), id=mid), message=mid)
    return True, [ev]


def set_reaction(db: sqlite3.Connection, actor: Username, room: str, message_id: int, emoji: str, on: bool,
                 rule: Rule) -> tuple[bool, Events]:
    """Add (``on``) or remove the actor's reaction; one ``reaction`` event, none if it already was so.

    ``emoji`` is normalised (``markup.reaction_emoji``); a message holds at most
    ``markup.MAX_REACTIONS`` distinct emoji.  A deleted message is NotFound.
    """
    emoji = markup.reaction_emoji(emoji)
    known, msg = _target(db, actor, room, message_id, rule)
    if msg.deleted:
        raise NotFound("message not found")
    enforce(rule, known)
    mid = msg.id
    present = db.execute("SELECT 1 FROM reactions WHERE message = ? AND emoji = ? AND username = ?",
                         (mid, emoji, actor)).fetchone() is not None
    if present == on:
        return False, []
    if on:
        used = {r[0] for r in db.execute("SELECT DISTINCT emoji FROM reactions WHERE message = ?", (mid,))}
        if emoji not in used and len(used) >= markup.MAX_REACTIONS:
            raise Invalid(f"a message can have at most {markup.MAX_REACTIONS} different emoji")
    ev = _emit(db, ReactionEvent(seq=_next_seq(db), room=RoomId(room), id=mid, emoji=emoji, user=actor, on=on),
               message=mid)
    if on:
        db.execute("INSERT INTO reactions (message, emoji, username, seq) VALUES (?, ?, ?, ?)",
                   (mid, emoji, actor, ev.seq))
    else:
        db.execute("DELETE FROM reactions WHERE message = ? AND emoji = ? AND username = ?", (mid, emoji, actor))
    return True, [ev]


def messages_around(db: sqlite3.Connection, viewer: Username, room: str, message_id: int, limit: int,
                    rule: Rule) -> AroundPage:
    """The message with up to ``limit // 2`` messages on each side (PROTOCOL 10 ``around=``), ascending."""
    known, target = _target(db, viewer, room, message_id, rule)
    enforce(rule, known)
    half = limit // 2
    before = db.execute(
        f"SELECT {_MSG_COLS} FROM messages WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?",  # noqa: S608
        (room, target.id, half + 1)).fetchall()
    after = db.execute(
        f"SELECT {_MSG_COLS} FROM messages WHERE room = ? AND id > ? ORDER BY id LIMIT ?",  # noqa: S608
        (room, target.id, half + 1)).fetchall()
    page = [_message(r) for r in reversed(before[:half])] + [target] + [_message(r) for r in after[:half]]
    return AroundPage(messages=tuple(_hydrate(db, page)), has_more_before=len(before) > half,
                      has_more_after=len(after) > half)


def mentions_page(db: sqlite3.Connection, viewer: Username, before: int | None, limit: int
                  ) -> tuple[list[MessageRow], bool]:
    """The ``limit`` newest messages from others that mention ``viewer`` with ``id < before``, in the rooms
    they are in now; ascending id order, as ``history``."""
    rows = db.execute(
        f"SELECT {', '.join('m.' + c for c in _MSG_COLS.split(', '))} FROM mentions n "  # noqa: S608
        "JOIN messages m ON m.id = n.message "
        "JOIN members mb ON mb.room = n.room AND mb.username = n.username "
        "WHERE n.username = ? AND n.message < ? AND m.sender != ? ORDER BY n.message DESC LIMIT ?",
        (viewer, before if before is not None else 2**63 - 1, viewer, limit + 1),
    ).fetchall()
    return _hydrate(db, [_message(r) for r in reversed(rows[:limit])]), len(rows) > limit
