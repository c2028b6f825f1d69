"""Per-call cost of the store's hot paths: plain sqlite3 ``execute`` against sqlite-utils.

    .venv/bin/python bench/store_paths.py                    # 10,000 calls per path, 5 rounds
    .venv/bin/python bench/store_paths.py --calls 300 --event-calls 30 --seed 500 --rounds 1   # smoke

Why it exists: chatter/store/queries.py runs its SQL with ``db.execute``
while the migrations use sqlite-utils; this measures what the hot paths
would cost written with sqlite-utils instead (``Table.insert`` / ``update``
/ ``get`` / ``rows_where``, ``Database.query``), doing the same work:
before timing, each port's answers are checked equal to queries.py's.

Set-up as in SqliteStore: a real file in a temporary directory, WAL,
``synchronous=FULL``, the real schema.  Writes run as the writer runs them,
``--batch`` calls per ``BEGIN IMMEDIATE ... COMMIT`` (each commit an fsync);
reads on a separate read connection, one ``BEGIN ... COMMIT`` per call.
The two variants alternate, round by round; the table gives the median of
the rounds, in µs per call (wall time, commits included).
"""

from __future__ import annotations

import argparse
import heapq
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from chatter.service.permissions import may_post, may_read
from chatter.store import queries as q
from chatter.store import schema
from chatter.store.models import EventPage, EventRow, MessageId, MessageRow, RoomId, Seq, Username
from chatter.store.sqlite import connect

NOW = "2026-01-01T00:00:00.000Z"
_MSG_COLS = "id, seq, room, sender, body, client_msg_id, created_at"


class SqliteUtilsPaths:
    """The four hot paths of queries.py written with sqlite-utils, table objects made once."""

    def __init__(self, conn: Any) -> None:
        self.db = schema.database(conn)
        self.messages = self.db.table("messages")
        self.events = self.db.table("events")
        self.rooms = self.db.table("rooms")
        self.members = self.db.table("members")
        self.spans = self.db.table("member_spans")

    def _role(self, room: str, username: str) -> str:
        row = next(self.db.query("SELECT m.role FROM members m JOIN rooms r ON r.id = m.room "
                                 "WHERE m.room = ? AND m.username = ? AND r.deleted = 0", [room, username]), None)
        if row is None:
            raise LookupError("room not found")
        return str(row["role"])

    def post_message(self, sender: str, room: str, client_msg_id: str, body: str, now: str) -> MessageRow:
        found = next(self.messages.rows_where("sender = ? AND client_msg_id = ?", [sender, client_msg_id],
                                              select=_MSG_COLS), None)
        if found is not None:
            raise AssertionError("the bench never repeats a client_msg_id")
        self._role(room, sender)
        self.events.insert({"room": room, "type": "message", "data": "{}"})
        seq = self.events.last_rowid
        self.messages.insert({"seq": seq, "room": room, "sender": sender, "body": body,
                              "client_msg_id": client_msg_id, "created_at": now})
        msg = MessageRow(id=MessageId(self.messages.last_rowid or 0), seq=Seq(seq or 0), room=RoomId(room),
                         sender=Username(sender), body=body, client_msg_id=client_msg_id, created_at=now)
        data = msgspec.structs.asdict(msg.event())  # the row format queries._emit writes
        del data["seq"]
        self.events.update(seq, {"data": orjson.dumps(data).decode()})
        self.rooms.update(room, {"activity_seq": seq, "last_message": msg.id})
        return msg

    def mark_read(self, username: str, room: str, up_to: int) -> int:
        self._role(room, username)
        last = self.rooms.get(room)["last_message"] or 0
        target = min(up_to, int(last))
        current = int(self.members.get((room, username))["read_up_to"])
        if target <= current:
            return current
        self.members.update((room, username), {"read_up_to": target})
        self.events.insert({"room": room, "type": "read",
                            "data": orjson.dumps({"room": room, "user": username, "up_to": target}).decode()})
        return target

    def history(self, viewer: str, room: str, before: int | None, limit: int) -> tuple[list[MessageRow], bool]:
        self._role(room, viewer)
        rows = list(self.messages.rows_where("room = ? AND id < ?", [room, before if before is not None else 2**63 - 1],
                                             select=_MSG_COLS, order_by="id DESC", limit=limit + 1))
        return [MessageRow(**r) for r in reversed(rows[:limit])], len(rows) > limit

    def events_for_user(self, username: str, since: int, limit: int) -> EventPage:
        head = Seq(next(self.db.query("SELECT seq FROM sqlite_sequence WHERE name = 'events'"))["seq"])
        streams = []
        for span in self.spans.rows_where("username = ? AND (left_seq IS NULL OR left_seq > ?)", [username, since],
                                          select="room, joined_seq, left_seq"):
            lo = max(since, span["joined_seq"] - 1)
            hi = span["left_seq"] if span["left_seq"] is not None else head
            streams.append([(r["seq"], r["room"], r["type"], r["data"]) for r in self.events.rows_where(
                "room = ? AND seq > ? AND seq <= ?", [span["room"], lo, hi], select="seq, room, type, data",
                order_by="seq", limit=limit + 1)])
        merged = list(heapq.merge(*streams))
        events = tuple(EventRow(seq=Seq(s), room=RoomId(r), type=t, data=orjson.loads(d)) for s, r, t, d in merged[:limit])
        return EventPage(events=events, head=head, has_more=len(merged) > limit)


def _write(db: Any, fn: Callable[..., Any], *args: Any) -> Any:
    db.execute("BEGIN IMMEDIATE")
    result = fn(db, *args)
    db.execute("COMMIT")
    return result


def build(path: Path, seed: int, rooms: int) -> tuple[Any, list[str]]:
    """A migrated file with users a, b, c in ``rooms`` group rooms and ``seed`` messages spread over them."""
    db = connect(path, busy_timeout=5.0)
    q.migrate(db, NOW)
    for name in ("a", "b", "c"):
        _write(db, q.create_user, name, name.upper(), "hash", NOW)
    ids = [_write(db, q.create_group, "a", f"room {i}", ["b", "c"], NOW)[0].id for i in range(rooms)]
    db.execute("BEGIN IMMEDIATE")
    for i in range(seed):
        q.post_message(db, "a", ids[i % rooms], f"seed-{i}", f"message {i}", NOW, may_post)
    db.execute("COMMIT")
    return db, ids


def timed_batches(db: Any, calls: int, batch: int, call: Callable[[int], object]) -> float:
    """µs per call, ``batch`` calls per write transaction."""
    start = time.perf_counter()
    for first in range(0, calls, batch):
        db.execute("BEGIN IMMEDIATE")
        for i in range(first, min(first + batch, calls)):
            call(i)
        db.execute("COMMIT")
    return (time.perf_counter() - start) / calls * 1e6


def timed_reads(db: Any, calls: int, call: Callable[[int], object]) -> float:
    """µs per call, one read transaction per call (as SqliteStore's readers do)."""
    start = time.perf_counter()
    for i in range(calls):
        db.execute("BEGIN")
        call(i)
        db.execute("COMMIT")
    return (time.perf_counter() - start) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=10_000, help="calls per path per round")
    ap.add_argument("--batch", type=int, default=256, help="write calls per transaction")
    ap.add_argument("--seed", type=int, default=20_000, help="messages in the file before the reads")
    ap.add_argument("--rooms", type=int, default=20, help="rooms the seed messages and the reader's spans cover")
    ap.add_argument("--event-calls", type=int, default=1_000,
                    help="calls of events_for_user per round (each reads up to 51 rows per room)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        writer, ids = build(Path(tmp) / "bench.db", args.seed, args.rooms)
        reader = connect(Path(tmp) / "bench.db", busy_timeout=5.0, wal=False)
        su_w, su_r = SqliteUtilsPaths(writer), SqliteUtilsPaths(reader)
        newest = args.seed + 1
        page_before = [newest - (i * 7919) % args.seed for i in range(args.calls)]  # spread over the room's pages

        # The ports do the same work: same answers as queries.py, on the same file.
        for i in range(0, args.seed, max(1, args.seed // 50)):
            room = ids[i % args.rooms]
            assert su_r.history("b", room, i + 1, 50) == q.history(reader, "b", room, i + 1, 50, may_read)
        assert su_r.events_for_user("b", args.seed // 2, 50) == q.events_for_user(reader, "b", args.seed // 2, 50)
        db_check = q.post_message(writer, "a", ids[0], "check-plain", "x", NOW, may_post)[0].message
        su_check = su_w.post_message("a", ids[0], "check-su", "x", NOW)
        assert (su_check.id, su_check.seq) == (db_check.id + 1, db_check.seq + 1)
        assert su_w.mark_read("b", ids[0], su_check.id) == su_check.id
        assert q.mark_read(writer, "b", ids[0], su_check.id, may_read) == (su_check.id, [])

        def post(variant: str, rnd: int) -> float:
            room = ids[0]
            if variant == "execute":
                return timed_batches(writer, args.calls, args.batch, lambda i: q.post_message(
                    writer, "a", room, f"{variant}-{rnd}-{i}", f"body {i}", NOW, may_post))
            return timed_batches(writer, args.calls, args.batch, lambda i: su_w.post_message(
                "a", room, f"{variant}-{rnd}-{i}", f"body {i}", NOW))

        def mark(variant: str, rnd: int) -> float:
            # Seed message i (id i + 1) is in room i % rooms, so call i moves c's cursor in that
            # room forward: every call writes the cursor and a read event.  Reset untimed.
            writer.execute("UPDATE members SET read_up_to = 0 WHERE username = 'c'")
            calls = min(args.calls, args.seed)
            if variant == "execute":
                return timed_batches(writer, calls, args.batch,
                                     lambda i: q.mark_read(writer, "c", ids[i % args.rooms], i + 1, may_read))
            return timed_batches(writer, calls, args.batch, lambda i: su_w.mark_read("c", ids[i % args.rooms], i + 1))

        def insert(variant: str, rnd: int) -> float:
            if variant == "execute":
                return timed_batches(writer, args.calls, args.batch, lambda i: writer.execute(
                    "INSERT INTO events (room, type, data) VALUES (?, ?, ?)", ("bench", "x", "{}")))
            return timed_batches(writer, args.calls, args.batch,
                                 lambda i: su_w.events.insert({"room": "bench", "type": "x", "data": "{}"}))

        def history(variant: str, rnd: int) -> float:
            room = ids[0]
            if variant == "execute":
                return timed_reads(reader, args.calls, lambda i: q.history(reader, "b", room, page_before[i], 50, may_read))
            return timed_reads(reader, args.calls, lambda i: su_r.history("b", room, page_before[i], 50))

        def events(variant: str, rnd: int) -> float:
            since = [(i * 104729) % args.seed for i in range(args.event_calls)]
            if variant == "execute":
                return timed_reads(reader, args.event_calls, lambda i: q.events_for_user(reader, "b", since[i], 50))
            return timed_reads(reader, args.event_calls, lambda i: su_r.events_for_user("b", since[i], 50))

        # Statements SQLite runs per call (load-independent): one call of each, traced.
        traced: list[str] = []
        writer.set_trace_callback(traced.append)
        reader.set_trace_callback(traced.append)
        statements: dict[str, dict[str, int]] = {}

        def count(call: Callable[[], object]) -> int:
            traced.clear()
            call()
            return len(traced)

        writer.execute("BEGIN IMMEDIATE")
        statements["one INSERT (events)"] = {
            "execute": count(lambda: writer.execute("INSERT INTO events (room, type, data) VALUES (?, ?, ?)",
                                                                ("bench", "x", "{}"))),
            "sqlite-utils": count(lambda: su_w.events.insert({"room": "bench", "type": "x", "data": "{}"}))}
        statements["post_message"] = {
            "execute": count(lambda: q.post_message(writer, "a", ids[0], "count-plain", "x", NOW, may_post)),
            "sqlite-utils": count(lambda: su_w.post_message("a", ids[0], "count-su", "x", NOW))}
        statements["mark_read"] = {
            "execute": count(lambda: q.mark_read(writer, "a", ids[1], 2, may_read)),
            "sqlite-utils": count(lambda: su_w.mark_read("a", ids[2], 3))}
        writer.execute("ROLLBACK")
        statements["history page (50 of room)"] = {
            "execute": count(lambda: q.history(reader, "b", ids[0], None, 50, may_read)),
            "sqlite-utils": count(lambda: su_r.history("b", ids[0], None, 50))}
        statements["events_for_user (50)"] = {
            "execute": count(lambda: q.events_for_user(reader, "b", 0, 50)),
            "sqlite-utils": count(lambda: su_r.events_for_user("b", 0, 50))}
        writer.set_trace_callback(None)
        reader.set_trace_callback(None)

        paths: list[tuple[str, Callable[[str, int], float]]] = [
            ("one INSERT (events)", insert), ("post_message", post), ("mark_read", mark),
            ("history page (50 of room)", history), ("events_for_user (50)", events)]
        results: dict[str, dict[str, list[float]]] = {name: {"execute": [], "sqlite-utils": []} for name, _ in paths}
        for rnd in range(args.rounds):
            for name, fn in paths:
                order = ("execute", "sqlite-utils") if rnd % 2 == 0 else ("sqlite-utils", "execute")
                for variant in order:
                    results[name][variant].append(fn(variant, rnd))
        reader.close()
        writer.close()

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"store_paths: {args.calls} calls ({args.event_calls} for events_for_user) x {args.rounds} rounds, "
          f"writes {args.batch} per transaction (WAL, synchronous=FULL), {args.seed} seed messages in {args.rooms} rooms; "
          f"µs per call, median of rounds; sqlite {sqlite3.sqlite_version}, load average {load}")
    print("| path | plain execute µs | sqlite-utils µs | ratio | statements per call |\n|---|---|---|---|---|")
    for name, _ in paths:
        a, b = statistics.median(results[name]["execute"]), statistics.median(results[name]["sqlite-utils"])
        n = statements[name]
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.1f}x | {n['execute']} vs {n['sqlite-utils']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
