"""kill -9 under traffic (PROTOCOL.md 4.3: idempotent send, ack means durable, resume).

20 clients in 5 rooms send with client_msg_ids and keep a ledger of acks.
The server is killed with SIGKILL at seeded random moments (after a random
number of acks) and restarted on the same database; clients reconnect,
resend everything unacked with the same client_msg_id, and resume with
``hello{since, epoch}``.  At the end the database is read directly: every
acked message is stored exactly once with the acked id/seq, every client's
view equals the database in seq order, and no client saw a seq twice.

Smoke: 20 clients x 24 messages, 5 kills.  ``CHATTER_SOAK=1``: 20 x 200, 20 kills.
"""

from __future__ import annotations

import os
import random
from contextlib import AsyncExitStack

import pytest
import trio
from fleet import (
    Counter,
    LedgerClient,
    Target,
    check_fleet,
    db_events_after,
    db_head,
    kill,
    live_server,
    make_plan,
    make_room,
    make_users,
    soak,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("socket_path")]  # both socket paths

SEED = int(os.environ.get("CHATTER_SEED", "20261125"))


async def test_kill9_under_traffic(tmp_path):
    n_clients, n_rooms = 20, 5
    per_client = soak(24, 200)
    kills = soak(5, 20)
    rng = random.Random(SEED)  # noqa: S311 - seeded test traffic
    db = tmp_path / "chatter.db"
    names = [f"user{i:02d}" for i in range(n_clients)]
    membership: dict[str, set[str]] = {n: set() for n in names}
    acks = Counter()
    kill_times: list[float] = []
    with trio.fail_after(soak(150, 600)):
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(live_server(tmp_path, db=db))
            tokens = await make_users(first.url, names)
            rooms = []
            for r in range(n_rooms):
                members = [n for i, n in enumerate(names) if i % n_rooms == r or (i + 2) % n_rooms == r]
                room = await make_room(first.url, tokens[members[0]], f"room{r}", members[1:])
                rooms.append(room)
                for m in members:
                    membership[m].add(room)
            start = db_head(db)
            clients = [
                LedgerClient(
                    n,
                    tokens[n],
                    sorted(membership[n]),
                    make_plan(rng, n, sorted(membership[n]), per_client),
                    acks,
                    cursor=start,
                )
                for n in names
            ]
            total = n_clients * per_client
            thresholds = sorted(rng.sample(range(total // 10, total * 8 // 10), kills))
            target = Target(first.url)
            server = first
            async with trio.open_nursery() as nursery:
                for c in clients:
                    nursery.start_soon(c.run, target)
                for t in thresholds:
                    await acks.reach(t)  # a random moment in the traffic: the t-th ack
                    kill_times.append(await kill(server))
                    server = await stack.enter_async_context(live_server(tmp_path, db=db))
                    target.move(server.url)
                # Final incarnation: wait until every client's plan is acked ...
                await acks.reach(total)
                # ... then until every client has read everything visible to it.
                head = db_head(db)
                events = db_events_after(db, start)
                for c in clients:
                    last = max(
                        (s for s, room, _t, _d in events if room in membership[c.name]),
                        default=start,
                    )
                    await c.wait_cursor(last)
                target.stop()
                nursery.cancel_scope.cancel()
            figures = check_fleet(clients, db, start, membership)
    figures["kills"] = len(kill_times)
    figures["sessions"] = sum(c.sessions for c in clients)
    figures["head"] = head
    print(
        f"\nRESULT kill9: acked={figures['acked']} lost={figures['lost']} "
        f"duplicated={figures['duplicated']} "
        f"kills={figures['kills']} | resent={figures['resent']} sessions={figures['sessions']} "
        f"events={figures['events']} view_mismatch={figures['view_mismatch']} "
        f"seen_twice={figures['seen_twice']} out_of_order={figures['out_of_order']} "
        f"wrong_ack={figures['wrong_ack']} conflicting_acks={figures['conflicting_acks']} "
        f"resets={figures['resets']}"
    )
    assert figures["acked"] == total
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["wrong_ack"] == 0
    assert figures["conflicting_acks"] == 0
    assert figures["seen_twice"] == 0
    assert figures["out_of_order"] == 0
    assert figures["view_mismatch"] == 0
    assert figures["resets"] == 0
    assert figures["kills"] == kills
    unexpected = [e for c in clients for e in c.errors if e.get("code") != "RATE_LIMITED"]
    assert unexpected == []
