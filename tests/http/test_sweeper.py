"""The socket sweeper's decisions (``ws.Sweeper.sweep``), at exact times.

End to end, the same deadlines are exercised against real hypercorn in
tests/e2e/test_ws_e2e.py and tests/reliability/test_rel_slow_consumers.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from chatter.actors.socket import Socket
from chatter.http.ws import Sweeper
from chatter.metrics import Metrics


def _endpoint(opened: float, *, said_hello: bool = True, stall: float = 45.0) -> Any:
    socket = Socket("ana", 0, capacity=8, control_capacity=4, metrics=Metrics())
    return SimpleNamespace(socket=socket, cfg=SimpleNamespace(stall_timeout=stall), said_hello=said_hello,
                           opened=opened, closing_since=None, shut=False,
                           transport=SimpleNamespace(closed_below=lambda: False))


async def test_no_hello_closes_at_the_deadline_and_not_before() -> None:
    sweeper, silent, polite = Sweeper(), _endpoint(100.0, said_hello=False), _endpoint(100.0)
    sweeper.add(silent)
    sweeper.add(polite)
    sweeper.sweep(109.9)
    assert silent.socket.close_code is None
    sweeper.sweep(110.0)
    assert (silent.socket.close_code, silent.socket.close_reason) == (1008, "no hello")
    assert polite.socket.close_code is None


async def test_a_stalled_writer_is_closed_4008_only_while_frames_wait() -> None:
    sweeper, idle, stalled = Sweeper(), _endpoint(0.0, stall=45), _endpoint(0.0, stall=45)
    sweeper.add(idle)
    sweeper.add(stalled)
    stalled.socket.offer_control('{"type":"pong"}')  # queued at the current trio time
    start = stalled.socket.last_progress
    sweeper.sweep(start + 45)
    assert stalled.socket.close_code is None
    sweeper.sweep(start + 45.5)
    assert stalled.socket.close_code == 4008
    assert idle.socket.close_code is None  # nothing queued: an idle socket is not stalled


async def test_a_closing_socket_still_open_after_the_grace_is_shut_down_once() -> None:
    sweeper, sock = Sweeper(), _endpoint(0.0)
    sweeper.add(sock)
    sock.socket.close(4001, "logged out")
    assert sweeper.sweep(10.0) == []  # first seen closing now
    assert sweeper.sweep(11.9) == []
    assert sweeper.sweep(12.0) == [sock]
    assert sweeper.sweep(13.0) == []  # once
    sweeper.remove(sock)
    assert sweeper.sweep(20.0) == []


async def test_a_socket_hypercorn_closed_itself_is_closed_in_the_books_and_then_shut_down() -> None:
    """hypercorn answers a message over its size limit with 1009 and tells the app nothing."""
    sweeper, sock, other = Sweeper(), _endpoint(0.0), _endpoint(0.0)
    closed_below = [False]
    sock.transport = SimpleNamespace(closed_below=lambda: closed_below[0])
    sweeper.add(sock)
    sweeper.add(other)
    assert sweeper.sweep(5.0) == []
    assert sock.socket.close_code is None
    closed_below[0] = True
    assert sweeper.sweep(6.0) == []
    assert (sock.socket.close_code, sock.socket.close_reason) == (1009, "message too big")
    assert sweeper.sweep(8.0) == [sock]  # and shut down if still open CLOSE_GRACE later
    assert other.socket.close_code is None
