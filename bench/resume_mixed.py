"""Resume speed: a client catching up on N durable events, as the socket's catch-up serves them.

What is timed is the server's whole catch-up path below the socket:
``SqliteStore.events_for_user`` in pages of ``realtime.catchup_page`` (500)
on a real file (WAL, the reader threads), and ``frames.encode_event`` of
every event.  The events are written first, straight through the store's
queries in a few large transactions:

- ``--mix send``: only messages (what any version of Chatter can write:
  run it from an older checkout to compare);
- ``--mix mixed`` (default): the issue #15 mix, 70 % sends, 20 % reaction
  toggles, 10 % edits, in a room of ``--members`` members.

Prints one line per round and the median in events/s.  No timing target here
(that is BENCHMARKS.md's business); the smoke test runs it at a tiny size.

    python bench/resume_mixed.py --events 10000 --rounds 7
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from chatter.actors.frames import encode_event
from chatter.config import load_config
from chatter.store import open_sqlite_store
from chatter.store import queries as q
from chatter.store.sqlite import connect

NOW = "2026-11-25T10:00:00.000Z"
EMOJI = ["👍", "❤️", "😂", "🎉", "👀", "🙏", "🔥", "✅"]


def write_events(path: Path, n: int, mix: str, members: int, seed: int) -> tuple[int, dict[str, int]]:
    """Fill the file; return the seq to resume from and how many events of each type follow it."""
    rnd = random.Random(seed)
    db = connect(path, busy_timeout=5.0)
    q.migrate(db, NOW)
    names = [f"u{i:04d}" for i in range(members)]
    db.execute("BEGIN IMMEDIATE")
    for u in names:
        q.create_user(db, u, u.upper(), "h", NOW)
    room, _ = q.create_group(db, names[0], "Bench", names[1:], NOW)
    db.execute("COMMIT")
    since = q.head(db)
    from chatter.service.permissions import may_post  # noqa: PLC0415 - the use case's rule for a send
    rules: Any = None
    if mix == "mixed":
        from chatter.service import permissions as rules  # noqa: PLC0415 - message rules absent from older checkouts
    posted: list[tuple[int, str]] = []
    db.execute("BEGIN IMMEDIATE")
    for i in range(n):
        if i and i % 2000 == 0:
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
        roll = rnd.random()
        if rules is None or not posted or roll < 0.70:
            sender = rnd.choice(names[:50])
            body = f"message {i} from {sender}" + (f" cc @{rnd.choice(names)}" if rnd.random() < 0.1 else "")
            r, _ = q.post_message(db, sender, room.id, f"c{i}", body, NOW, may_post)
            posted.append((r.message.id, sender))
        elif roll < 0.90:
            mid, _ = rnd.choice(posted[-200:])
            user = rnd.choice(names)
            emoji = rnd.choice(EMOJI)
            on = db.execute("SELECT 1 FROM reactions WHERE message = ? AND emoji = ? AND username = ?",
                            (mid, emoji, user)).fetchone() is None
            q.set_reaction(db, user, room.id, mid, emoji, on, rules.may_react)
        else:
            mid, sender = rnd.choice(posted[-200:])
            q.edit_message(db, sender, room.id, mid, f"edited {i}", NOW, rules.may_edit_message)
    db.execute("COMMIT")
    counts = dict(db.execute("SELECT type, COUNT(*) FROM events WHERE seq > ? GROUP BY type", (since,)).fetchall())
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return since, counts


async def resume(path: Path, user: str, since: int, page: int) -> tuple[int, float, float, int]:
    """Events served, wall seconds, CPU seconds (all threads), bytes: one full catch-up from ``since``.

    CPU time is what to compare on a busy machine: wall time there includes other processes' turns.
    """
    cfg = load_config(env={}, use_file=False, overrides={"store.path": str(path)}).store
    async with open_sqlite_store(cfg) as store:
        start, cpu = time.perf_counter(), time.process_time()
        cursor, served, size = since, 0, 0
        while True:
            got = await store.events_for_user(user, cursor, page)
            for ev in got.events:
                size += len(encode_event(ev))
            served += len(got.events)
            if got.events:
                cursor = got.events[-1].seq
            if not got.has_more:
                break
        return served, time.perf_counter() - start, time.process_time() - cpu, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--mix", choices=["mixed", "send"], default="mixed")
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--page", type=int, default=500, help="realtime.catchup_page")
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resume.db"
        t0 = time.perf_counter()
        since, counts = write_events(path, args.events, args.mix, args.members, args.seed)
        print(f"wrote {sum(counts.values())} events {counts} in {time.perf_counter() - t0:.1f} s "
              f"({path.stat().st_size / 1e6:.1f} MB, sqlite {sqlite3.sqlite_version})", file=sys.stderr)
        rates, cpu_rates = [], []
        for r in range(args.rounds):
            served, secs, cpu, size = trio.run(resume, path, "u0999" if args.members >= 1000 else "u0001", since,
                                               args.page)
            if served != sum(counts.values()):
                sys.exit(f"resume served {served} events, {sum(counts.values())} were written")
            rates.append(served / secs)
            cpu_rates.append(served / cpu)
            print(f"round {r + 1}: {served} events in {secs * 1000:.1f} ms = {served / secs:,.0f} events/s "
                  f"({cpu * 1000:.1f} ms CPU), {size / served:.0f} bytes/event", file=sys.stderr)
        print(f"resume_mixed mix={args.mix} events={served}: median {statistics.median(rates):,.0f} events/s "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f}), per CPU second {statistics.median(cpu_rates):,.0f} "
              f"over {args.rounds} rounds")


if __name__ == "__main__":
    main()
