"""Message search: build time, batch cost, index size, query latency, sends with and without the index.

    .venv/bin/python bench/search.py                       # 100,000 messages over 200 rooms
    .venv/bin/python bench/search.py --messages 1000000    # the issue's size
    .venv/bin/python bench/search.py --messages 3000 --queries 5 --sends 300   # smoke (bench/test_smoke.py)

What it does, on a real file (WAL, ``synchronous=FULL``, the store's PRAGMAs) in a temporary directory:

1. Writes ``--messages`` messages over ``--rooms`` rooms at schema version 3 (before search), in
   bulk: words drawn from a Zipf-distributed vocabulary (with accented words), 5 % of the messages
   Chinese/Japanese text without spaces.
2. Migrates to version 4 (times it: the step indexes nothing) and builds the index the way the
   store's background task does, ``chatter.store.search.index_batch`` of ``--batch`` messages per
   write transaction, timing every batch (commit included): total time, p50/p99/max per batch.
   As in the store, a PASSIVE checkpoint on another connection follows each batch (not timed: it
   does not hold the writer).
3. Index size: the pages of the FTS5 shadow tables (``dbstat``) against the bytes of message text.
4. Search latency, p50 and p99 over ``--queries`` queries per class, with and without a room
   filter, through ``chatter.store.search.search_messages`` (planner, membership join, filters,
   mentions and reactions of the page) for a viewer in ``--viewer-rooms`` rooms, next to the raw
   FTS5 query on the same data (``SELECT rowid ... MATCH ? ORDER BY rowid DESC LIMIT 21``, no join)
   as the reference.  One read transaction per query, as SqliteStore runs them.
5. Durable sends per second, ``queries.post_message`` in transactions of ``--group`` sends (the
   writer's group commit), on the indexed database against the same database with the search
   triggers dropped, interleaved over ``--rounds`` rounds.

Figures are printed as measured; the only check is that the built index matches the messages
(``check_index``, what ``chatter doctor`` runs), else exit 1.  The machine is shared: run it more than
once and compare rounds before writing a figure down.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from chatter.service.permissions import may_post, may_read
from chatter.service.search import parse_query
from chatter.store import queries as q
from chatter.store import schema
from chatter.store import search as S
from chatter.store.models import Username
from chatter.store.sqlite import connect

NOW = "2026-01-01T00:00:00.000Z"
SYLLABLES = ["ka", "to", "ri", "ne", "mo", "sa", "lu", "vi", "den", "par", "os", "el", "tra", "quin", "bo", "zu",
             "mer", "al", "ion", "ste", "ph", "gra", "nd", "is", "che", "lo", "fa", "ur", "by", "wex"]
ACCENTED = ["café", "naïve", "résumé", "Zürich", "crème", "façade", "señor", "übung", "élève", "smörgåsbord"]
CJK = ("東京大阪京都日本語会議資料確認予定明日今日週末報告共有検索問題解決対応開発設計仕様変更連絡"
       "電話時間場所参加出席欠席更新完了作業進捗担当責任重要緊急お願いしますありがとうございます"
       "こんにちはよろしくタワー駅前新宿渋谷池袋品川横浜名古屋札幌福岡北京上海広州深圳")


def vocabulary(n: int, rng: random.Random) -> list[str]:
    words: set[str] = set(ACCENTED)
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    out = sorted(words)
    rng.shuffle(out)
    return out


def zipf_weights(n: int, s: float = 1.07) -> list[float]:
    return [1.0 / (k ** s) for k in range(1, n + 1)]


def make_messages(n: int, rooms: int, rng: random.Random, vocab: list[str]) -> list[tuple[str, str]]:
    weights = zipf_weights(len(vocab))
    cum = list(_accumulate(weights))
    cjk_w = list(_accumulate(zipf_weights(len(CJK), 0.9)))
    out = []
    for i in range(n):
        room = f"r{i % rooms:03d}" if rng.random() < 0.5 else f"r{rng.randrange(rooms):03d}"
        if rng.random() < 0.05:
            body = "".join(rng.choices(CJK, cum_weights=cjk_w, k=rng.randint(8, 40)))
        else:
            words = rng.choices(vocab, cum_weights=cum, k=rng.randint(3, 25))
            if rng.random() < 0.03:
                words.append(f"https://{rng.choice(vocab)}.example.com/{rng.choice(vocab)}?id={i}")
            body = " ".join(words)
        out.append((room, body))
    return out


def _accumulate(ws: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in ws:
        total += w
        out.append(total)
    return out


def build_v3(path: Path, messages: list[tuple[str, str]], rooms: int, viewer_rooms: int) -> None:
    with closing(connect(path, busy_timeout=5.0)) as db:
        q.migrate(db, NOW, schema.MIGRATIONS[:3])
        db.execute("BEGIN")
        for u in ("viewer", "poster"):
            q.create_user(db, Username(u), u.title(), "h", NOW)
        db.executemany("INSERT INTO rooms (id, kind, name, created_at, activity_seq) VALUES (?, 'group', ?, ?, 0)",
                       [(f"r{i:03d}", f"room {i}", NOW) for i in range(rooms)])
        db.executemany("INSERT INTO members (room, username, role) VALUES (?, 'poster', 'owner')",
                       [(f"r{i:03d}",) for i in range(rooms)])
        db.executemany("INSERT INTO members (room, username, role) VALUES (?, 'viewer', 'member')",
                       [(f"r{i:03d}",) for i in range(viewer_rooms)])
        db.executemany("INSERT INTO member_spans (username, room, joined_seq) VALUES (?, ?, 1)",
                       [(u, f"r{i:03d}") for i in range(rooms) for u in ("poster",)] +
                       [("viewer", f"r{i:03d}") for i in range(viewer_rooms)])
        db.executemany("INSERT INTO messages (seq, room, sender, body, client_msg_id, created_at) "
                       "VALUES (?, ?, 'poster', ?, ?, ?)",
                       [(i + 1, room, body, f"c{i}", NOW) for i, (room, body) in enumerate(messages)])
        db.execute("INSERT INTO events (seq, room, type, data) VALUES (?, 'r000', 'read', '{}')", (len(messages),))
        db.execute("COMMIT")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def build_index(path: Path, batch: int) -> dict[str, float]:
    with closing(connect(path, busy_timeout=5.0)) as db, closing(connect(path, busy_timeout=5.0, wal=False)) as rd:
        t0 = time.perf_counter()
        q.migrate(db, NOW)
        migrate_s = time.perf_counter() - t0
        times, total = [], 0
        t0 = time.perf_counter()
        while True:
            b0 = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            n, _ = S.index_batch(db, batch)
            db.execute("COMMIT")
            times.append((time.perf_counter() - b0) * 1000)
            if n == 0:
                break
            total += n
            rd.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # as SqliteStore's build: off the writer
        build_s = time.perf_counter() - t0
        db.execute("BEGIN")
        report = S.check_index(db)
        db.execute("COMMIT")
        if not report.ok or report.pending:
            raise SystemExit(f"the built index does not match the messages: {report}")
        return {"migrate_s": migrate_s, "build_s": build_s, "messages": total, "batches": len(times) - 1,
                "batch_p50_ms": pct(times[:-1] or times, 50), "batch_p99_ms": pct(times[:-1] or times, 99),
                "batch_max_ms": max(times)}


def index_size(path: Path) -> dict[str, float]:
    with closing(sqlite3.connect(path)) as db:
        text = db.execute("SELECT SUM(LENGTH(CAST(body AS BLOB))) FROM messages").fetchone()[0]
        sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'messages_fts%' "
                                "OR name LIKE 'messages_trigram%' GROUP BY name").fetchall())
        words = sum(v for k, v in sizes.items() if k.startswith("messages_fts"))
        tri = sum(v for k, v in sizes.items() if k.startswith("messages_trigram"))
        return {"text_mb": text / 1e6, "words_mb": words / 1e6, "trigram_mb": tri / 1e6,
                "words_ratio": words / text, "trigram_ratio": tri / text, "total_ratio": (words + tri) / text}


def query_classes(vocab: list[str], rng: random.Random, n: int) -> dict[str, list[str]]:
    common = vocab[:30]
    rare = vocab[len(vocab) // 2:]
    cjk_runs = [CJK[i:i + 3] for i in range(0, 60, 3)]
    return {
        "rare word": [rng.choice(rare) for _ in range(n)],
        "common word": [rng.choice(common) for _ in range(n)],
        "two words": [f"{rng.choice(common)} {rng.choice(vocab[:2000])}" for _ in range(n)],
        "prefix": [rng.choice(vocab[:500])[:3] for _ in range(n)],
        "phrase": [f'"{rng.choice(common)} {rng.choice(common)}"' for _ in range(n)],
        "accent-free": [rng.choice(["cafe", "naive", "resume", "zurich", "creme"]) for _ in range(n)],
        "CJK 3+ chars": [rng.choice(cjk_runs) for _ in range(n)],
        "CJK 2 chars": [rng.choice(cjk_runs)[:2] for _ in range(n)],
    }


def raw_query(db: sqlite3.Connection, q_text: str, room: str | None) -> int:
    """The reference: the FTS5 index alone (one MATCH, newest first, no membership join)."""
    planned = S.plan(parse_query(q_text).terms)
    match = S._expressions(db, planned)
    if match is None:  # a two-character term that no indexed trigram starts with
        return 0
    table, expr = ("messages_fts", match.words) if match.words else ("messages_trigram", match.substrings)
    if room is None:
        sql = f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT 21"  # noqa: S608
        return len(db.execute(sql, (expr,)).fetchall())
    sql = (f"SELECT f.rowid FROM {table} f JOIN messages m ON m.id = f.rowid WHERE {table} MATCH ? "  # noqa: S608
           "AND m.room = ? ORDER BY f.rowid DESC LIMIT 21")
    return len(db.execute(sql, (expr, room)).fetchall())


def ours(db: sqlite3.Connection, q_text: str, room: str | None) -> int:
    spec = S.SearchSpec(terms=parse_query(q_text).terms, room=room, limit=20)
    return len(S.search_messages(db, Username("viewer"), spec, may_read).messages)


def latency(path: Path, classes: dict[str, list[str]], rooms: int) -> list[tuple[str, str, float, float, float, float]]:
    rows = []
    with closing(connect(path, busy_timeout=5.0, wal=False)) as db:
        for name, queries in classes.items():
            for filtered in (False, True):
                timings: dict[str, list[float]] = {"raw": [], "ours": []}
                for i, text in enumerate(queries):
                    room = f"r{i % min(rooms, 50):03d}" if filtered else None
                    for label, fn in (("raw", raw_query), ("ours", ours)):
                        t0 = time.perf_counter()
                        db.execute("BEGIN")
                        fn(db, text, room)
                        db.execute("COMMIT")
                        timings[label].append((time.perf_counter() - t0) * 1000)
                rows.append((name, "room" if filtered else "all", pct(timings["raw"], 50), pct(timings["raw"], 99),
                             pct(timings["ours"], 50), pct(timings["ours"], 99)))
    return rows


_TRIGGERS = ("messages_search_ai", "messages_search_ad", "messages_search_au")


def sends(path: Path, count: int, group: int, rounds: int, vocab: list[str], rng: random.Random
          ) -> dict[str, float]:
    """Durable sends/s with the index's triggers and without them (dropped on a copy of the file)."""
    plain = path.with_name("plain.db")
    with closing(sqlite3.connect(path)) as src, closing(sqlite3.connect(plain)) as dst:
        src.backup(dst)
        for t in _TRIGGERS:
            dst.execute(f"DROP TRIGGER {t}")
        dst.commit()
    results: dict[str, list[float]] = {"indexed": [], "no index": []}
    bodies = [" ".join(rng.choices(vocab[:5000], k=rng.randint(3, 25))) for _ in range(count)]
    for r in range(rounds):
        for label, p in (("indexed", path), ("no index", plain)) if r % 2 == 0 else (("no index", plain),
                                                                                      ("indexed", path)):
            with closing(connect(p, busy_timeout=5.0)) as db:
                t0 = time.perf_counter()
                for start in range(0, count, group):
                    db.execute("BEGIN IMMEDIATE")
                    for i in range(start, min(count, start + group)):
                        q.post_message(db, Username("poster"), "r001", f"s{r}-{i}", bodies[i], NOW, may_post)
                    db.execute("COMMIT")
                results[label].append(count / (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in results.items()}


def store_sends(path: Path, count: int, tasks: int, rounds: int, vocab: list[str], rng: random.Random
                ) -> dict[str, float]:
    """Durable sends/s through ``SqliteStore.post_message`` (its writer thread, group commit, acks after
    COMMIT) from ``tasks`` concurrent senders, indexed against the copy without the search triggers."""
    import dataclasses

    import trio

    from chatter.config import load_config
    from chatter.store import open_sqlite_store

    plain = path.with_name("plain.db")
    bodies = [" ".join(rng.choices(vocab[:5000], k=rng.randint(3, 25))) for _ in range(count)]
    results: dict[str, list[float]] = {"indexed": [], "no index": []}

    async def one(p: Path, tag: str) -> float:
        cfg = load_config(env={}, use_file=False, overrides={"store.path": str(p)}).store
        cfg = dataclasses.replace(cfg, batch_max=256)
        async with open_sqlite_store(cfg) as store:
            async def sender(k: int) -> None:
                for i in range(k, count, tasks):
                    await store.post_message(Username("poster"), "r002", f"{tag}-{i}", bodies[i], rule=may_post)
            t0 = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for k in range(tasks):
                    nursery.start_soon(sender, k)
            return count / (time.perf_counter() - t0)

    for r in range(rounds):
        order = (("indexed", path), ("no index", plain)) if r % 2 == 0 else (("no index", plain), ("indexed", path))
        for label, p in order:
            results[label].append(trio.run(one, p, f"t{r}"))
    return {k: statistics.median(v) for k, v in results.items()}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--viewer-rooms", type=int, default=50)
    ap.add_argument("--vocab", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=100, help="messages per index batch (store.search_batch)")
    ap.add_argument("--queries", type=int, default=200, help="queries per class")
    ap.add_argument("--sends", type=int, default=5000)
    ap.add_argument("--group", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--tasks", type=int, default=64, help="concurrent senders for the SqliteStore sends")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--dir", help="keep the database here instead of a temporary directory")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    vocab = vocabulary(args.vocab, rng)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "search.db"
        t0 = time.perf_counter()
        build_v3(path, make_messages(args.messages, args.rooms, rng, vocab), args.rooms, args.viewer_rooms)
        print(f"generated {args.messages} messages over {args.rooms} rooms in {time.perf_counter() - t0:.1f} s "
              f"(viewer in {args.viewer_rooms} rooms)")
        b = build_index(path, args.batch)
        print(f"\nindex build: migration step {b['migrate_s'] * 1000:.1f} ms (indexes nothing); "
              f"{b['messages']:.0f} messages in {b['build_s']:.1f} s = {b['messages'] / b['build_s']:.0f} messages/s, "
              f"{b['batches']:.0f} batches of {args.batch}: p50 {b['batch_p50_ms']:.1f} ms, "
              f"p99 {b['batch_p99_ms']:.1f} ms, max {b['batch_max_ms']:.1f} ms per batch (commit included)")
        z = index_size(path)
        print(f"index size: text {z['text_mb']:.1f} MB; words {z['words_mb']:.1f} MB ({z['words_ratio']:.2f}x), "
              f"trigram {z['trigram_mb']:.1f} MB ({z['trigram_ratio']:.2f}x), together {z['total_ratio']:.2f}x the text")
        print(f"\nsearch latency, ms ({args.queries} queries per row; raw = the FTS5 MATCH alone, ours = "
              "search_messages: planner + membership + filters + hydrate)")
        print(f"{'class':<14} {'scope':<5} {'raw p50':>8} {'raw p99':>8} {'ours p50':>9} {'ours p99':>9} {'p99 ratio':>9}")
        for name, scope, r50, r99, o50, o99 in latency(path, query_classes(vocab, rng, args.queries), args.rooms):
            print(f"{name:<14} {scope:<5} {r50:8.2f} {r99:8.2f} {o50:9.2f} {o99:9.2f} {o99 / max(r99, 1e-6):8.1f}x")
        s = sends(path, args.sends, args.group, args.rounds, vocab, rng)
        print(f"\ndurable sends/s (post_message, {args.group} per transaction, synchronous=FULL, median of "
              f"{args.rounds} rounds): with the index {s['indexed']:.0f}, without {s['no index']:.0f} "
              f"({(s['indexed'] / s['no index'] - 1) * 100:+.1f} %)")
        s = store_sends(path, args.sends, args.tasks, args.rounds, vocab, rng)
        print(f"durable sends/s through SqliteStore ({args.tasks} concurrent senders, its group commit, median of "
              f"{args.rounds} rounds): with the index {s['indexed']:.0f}, without {s['no index']:.0f} "
              f"({(s['indexed'] / s['no index'] - 1) * 100:+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
