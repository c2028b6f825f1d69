"""Graceful restart under traffic with a socket that never reads.

49 ledger sockets (25 users, some with two tabs) send and read; one more
socket says hello and then never reads again (small receive buffer, so
the server's send to it really blocks).  SIGTERM must close the others
with 1001 and the process must exit within ``server.shutdown_grace`` (plus
a small allowance for interpreter exit).  After a restart on the same
database every client resumes with ``hello{since, epoch}``, resends what
was unacked, and nothing is lost; the user of the stuck socket resumes
from the beginning and receives everything.
"""

from __future__ import annotations

import random
import signal
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
from rawws import hello, open_ws

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("socket_path")]  # both socket paths

GRACE = 3.0
EXIT_ALLOWANCE = 2.0  # interpreter and thread shutdown after the grace period


def tx_queue(server_port: int, client_port: int) -> int | None:
    """Bytes the server's kernel holds unsent towards ``client_port`` (/proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, remote, queues = parts[1], parts[2], parts[4]
            if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
                return int(queues.split(":")[0], 16)
    return None


async def test_graceful_restart_loses_nothing(tmp_path):
    """50 sockets incl. a non-reader; SIGTERM exits within the grace; resume loses nothing."""
    rng = random.Random(1125)  # noqa: S311 - seeded test traffic
    db = tmp_path / "chatter.db"
    names = [f"user{i:02d}" for i in range(25)]
    per_client = soak(8, 60)
    membership: dict[str, set[str]] = {n: set() for n in names}
    membership["stuck"] = set()
    acks = Counter()
    args = (
        "--set",
        f"server.shutdown_grace={GRACE}",
    )  # tcp_user_timeout stays at its default (30 s)
    with trio.fail_after(soak(120, 400)):
        async with AsyncExitStack() as stack:
            server = await stack.enter_async_context(live_server(tmp_path, *args, db=db))
            tokens = await make_users(server.url, [*names, "stuck"])
            for r in range(5):
                members = [n for i, n in enumerate(names) if i % 5 == r or (i + 1) % 5 == r] + ["stuck"]
                room = await make_room(server.url, tokens[members[0]], f"room{r}", members[1:])
                for m in members:
                    membership[m].add(room)
            start = db_head(db)
            # 49 reading sockets: every user once, 24 of them with a second tab.
            sockets = names + names[:24]
            clients = [
                LedgerClient(
                    n,
                    tokens[n],
                    sorted(membership[n]),
                    [
                        (room, cmid, body + " " + "x" * 2000)
                        for room, cmid, body in make_plan(rng, n, sorted(membership[n]), per_client)
                    ],
                    acks,
                    rate=4.0,
                    cursor=start,
                )
                for n in sockets
            ]
            total = len(clients) * per_client
            stuck = await open_ws(server.url, tokens["stuck"], rcvbuf=4096)
            await hello(stuck)
            stuck_port = stuck.stream.socket.getsockname()[1]
            server_port = int(server.url.rsplit(":", 1)[1])
            target = Target(server.url)
            async with trio.open_nursery() as nursery:
                for c in clients:
                    nursery.start_soon(c.run, target)
                # Precondition: the server really has bytes stuck towards the non-reader.
                queued = 0
                for step in range(1, 11):
                    await acks.reach(total * step // 20)
                    queued = tx_queue(server_port, stuck_port) or 0
                    if queued > 0 and step >= 5:
                        break
                assert queued > 0, "the non-reading socket never filled up: the test would prove nothing"
                exit_s = await kill(server, signal.SIGTERM)
                rc = server.proc.returncode
                codes_at_shutdown = [c.close_codes[-1] if c.close_codes else None for c in clients]
                acked_before = acks.value
                server = await stack.enter_async_context(live_server(tmp_path, *args, db=db))
                target.move(server.url)
                await acks.reach(total)
                # The stuck user's next connection resumes from the very start.
                late = LedgerClient("stuck", tokens["stuck"], sorted(membership["stuck"]), [], acks, cursor=start)
                nursery.start_soon(late.run, target)
                events = db_events_after(db, start)
                for c in [*clients, late]:
                    last = max(
                        (s for s, room, _t, _d in events if room in membership[c.name]),
                        default=start,
                    )
                    await c.wait_cursor(last)
                target.stop()
                nursery.cancel_scope.cancel()
            await stuck.stream.aclose()
            figures = check_fleet([*clients, late], db, start, membership)
    closed_1001 = sum(1 for code in codes_at_shutdown if code == 1001)
    print(
        f"\nRESULT graceful: exit={exit_s:.2f}s (grace {GRACE}s) rc={rc} "
        f"closed_1001={closed_1001}/{len(clients)} "
        f"stuck_tx_queue={queued}B acked_before_term={acked_before} acked={figures['acked']} "
        f"lost={figures['lost']} duplicated={figures['duplicated']} resent={figures['resent']} "
        f"view_mismatch={figures['view_mismatch']} seen_twice={figures['seen_twice']} "
        f"stuck_user_caught_up={len(late.seen)} events"
    )
    assert exit_s <= GRACE + EXIT_ALLOWANCE
    assert rc == 0
    assert closed_1001 == len(clients)
    assert figures["acked"] == total
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["wrong_ack"] == 0
    assert figures["view_mismatch"] == 0
    assert figures["seen_twice"] == 0 and figures["out_of_order"] == 0
    assert figures["resets"] == 0


async def test_sigterm_exits_within_grace_despite_a_non_reader(tmp_path):
    """SIGTERM drains for at most ``server.shutdown_grace``, then the process exits.

    (Found exiting only after ``server.tcp_user_timeout``, 14.8 s here, because the
    writer was stuck in hypercorn's shielded send; fixed in 0cd1e43.)
    """
    user_timeout = 15.0  # well above the grace: an exit after it is the bug, not the allowance
    args = (
        "--set",
        f"server.shutdown_grace={GRACE}",
        "--set",
        f"server.tcp_user_timeout={user_timeout}",
        "--set",
        "realtime.sends_per_second=100000",
    )  # fill the stuck socket quickly
    with trio.fail_after(60):
        async with live_server(tmp_path, *args) as server:
            tokens = await make_users(server.url, ["alice", "stuck"])
            room = await make_room(server.url, tokens["alice"], "room", ["stuck"])
            stuck = await open_ws(server.url, tokens["stuck"], rcvbuf=4096)
            await hello(stuck)
            alice = await open_ws(server.url, tokens["alice"])
            await hello(alice)
            server_port = int(server.url.rsplit(":", 1)[1])
            stuck_port = stuck.stream.socket.getsockname()[1]
            queued = 0
            for i in range(400):  # bounded: 400 x 3 KB is far more than the stuck socket's buffers
                await alice.send_json({"type": "send", "room": room, "client_msg_id": f"m{i}", "body": "x" * 3000})
                await alice.recv_until(lambda o, i=i: o.get("type") == "ack" and o["client_msg_id"] == f"m{i}")
                queued = tx_queue(server_port, stuck_port) or 0
                if queued > 0 and i >= 50:
                    break
            assert queued > 0
            exit_s = await kill(server, signal.SIGTERM)
            print(
                f"\nRESULT sigterm-exit: {exit_s:.2f}s with grace {GRACE}s, "
                f"tcp_user_timeout {user_timeout}s, "
                f"{queued} B stuck"
            )
            await stuck.stream.aclose()
            await alice.stream.aclose()
    assert exit_s <= GRACE + EXIT_ALLOWANCE
