"""The direct write path (``chatter/http/hypercorn_seam.py``, reach 1) on real sockets.

The frames are checked against wsproto's own encoding; ordering with a full
kernel buffer is checked on a real socket pair whose receiver stops
reading, with hypercorn-style sends through the gate in between.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import pytest
import trio
import trio.testing
import wsproto
import wsproto.events as wse
from hypercorn.protocol.ws_stream import ASGIWebsocketState
from wsproto.connection import ConnectionState

from chatter.http.hypercorn_seam import HypercornTransport, SendGate, Under, _hypercorn_connection, text_frame


def _server_encoded(text: str) -> bytes:
    """What wsproto (hypercorn's encoder) sends for one text message from a server."""
    conn = wsproto.Connection(wsproto.ConnectionType.SERVER)
    return conn.send(wse.TextMessage(data=text))


@pytest.mark.parametrize("n", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_text_frame_is_byte_for_byte_what_wsproto_sends(n: int) -> None:
    text = ("é" * n)[: n // 2] + "x" * (n - n // 2)
    assert text_frame(text.encode()) == _server_encoded(text)


class _Tcp:
    """Stands in for hypercorn's TCPServer: records what it was told."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.send_lock = trio.Lock()
        self.protocol = SimpleNamespace(handle=self._handle)

    async def _handle(self, event: Any) -> None:
        self.events.append(event)


def _direct(server: trio.SocketStream) -> tuple[HypercornTransport, SendGate, _Tcp, Any]:
    tcp = _Tcp()
    ws = SimpleNamespace(closed=False, state=ASGIWebsocketState.CONNECTED,
                         connection=SimpleNamespace(state=ConnectionState.OPEN))
    direct = HypercornTransport(None, None, Under(ws, tcp, server, server), direct=True)  # type: ignore[arg-type]
    assert isinstance(tcp.send_lock, SendGate) and direct.gate is tcp.send_lock  # hypercorn's lock, gated
    return direct, direct.gate, tcp, ws


def _pair() -> tuple[trio.SocketStream, socket.socket]:
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return trio.SocketStream(trio.socket.from_stdlib_socket(a)), b


def _read_frames(data: bytes) -> list[str]:
    client = wsproto.Connection(wsproto.ConnectionType.CLIENT)
    client.receive_data(data)
    out, parts = [], ""
    for ev in client.events():
        assert isinstance(ev, wse.TextMessage)
        parts += ev.data
        if ev.message_finished:
            out.append(parts)
            parts = ""
    return out


async def _drain(peer: socket.socket, expect: int) -> bytes:
    got = bytearray()
    peer.setblocking(False)
    while len(got) < expect:
        await trio.lowlevel.wait_readable(peer)
        got += peer.recv(1 << 20)
    return bytes(got)


async def test_a_full_buffer_leaves_bytes_that_go_first_through_the_gate() -> None:
    server, peer = _pair()
    direct, gate, tcp, _ = _direct(server)
    sent: list[str] = []
    i = 0
    with trio.fail_after(10):
        while direct.ready():  # direct writes until the kernel buffer is full
            text = f'{{"n":{i},"pad":"{"p" * 3000}"}}'
            sent.append(text)
            complete = direct.write(text)
            i += 1
            if not complete:
                break
        assert direct.pending and not direct.ready(), "the buffer never filled"
        # hypercorn sends something of its own (a pong, say) through the gate meanwhile:
        own = _server_encoded("hypercorn's own frame")
        expected = b"".join(text_frame(t.encode()) for t in sent) + own

        async def hypercorn_send() -> None:
            async with gate:
                await server.send_all(own)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(hypercorn_send)
            nursery.start_soon(gate.flush)  # the writer task's part
            got = await _drain(peer, len(expected))
    assert got == expected
    assert _read_frames(got) == [*sent, "hypercorn's own frame"]
    assert not direct.pending and direct.ready()
    assert tcp.events == []
    peer.close()
    await server.aclose()


async def test_not_ready_while_a_send_holds_the_gate_or_the_socket_is_closing() -> None:
    server, peer = _pair()
    direct, gate, _, ws = _direct(server)
    assert direct.ready()
    await gate.__aenter__()
    assert not direct.ready()
    await gate.__aexit__(None, None, None)
    assert direct.ready()
    ws.connection.state = ConnectionState.LOCAL_CLOSING
    assert not direct.ready()
    ws.connection.state = ConnectionState.OPEN
    ws.state = ASGIWebsocketState.CLOSED
    assert not direct.ready()
    peer.close()
    await server.aclose()


async def test_a_broken_connection_is_reported_to_hypercorn_by_the_flush() -> None:
    server, peer = _pair()
    direct, gate, tcp, _ = _direct(server)
    peer.close()
    with trio.fail_after(10):
        for _ in range(100):  # the first write may still succeed; later ones see the reset
            if not direct.write('{"type":"pong"}'):
                break
        assert direct.pending
        await gate.flush()
    assert [type(e).__name__ for e in tcp.events] == ["Closed"]
    assert not direct.pending
    await server.aclose()


def test_a_send_without_hypercorns_http11_chain_behind_it_is_refused() -> None:
    assert _hypercorn_connection(print) is None  # type: ignore[arg-type]  # no WSStream behind it


async def test_writer_task_transport_leaves_hypercorns_lock_alone_and_never_writes() -> None:
    server, peer = _pair()
    tcp = _Tcp()
    lock = tcp.send_lock
    ws = SimpleNamespace(closed=False, state=ASGIWebsocketState.CONNECTED,
                         connection=SimpleNamespace(state=ConnectionState.OPEN))
    transport = HypercornTransport(None, None, Under(ws, tcp, server, server), direct=False)  # type: ignore[arg-type]
    assert tcp.send_lock is lock and transport.gate is None
    assert not transport.ready() and not transport.pending
    peer.close()
    await server.aclose()


async def test_a_connection_the_socket_shares_gets_no_direct_writes_and_is_not_released() -> None:
    """HTTP/2 (RFC 8441): other streams share the TCP connection."""
    server, peer = _pair()
    tcp = _Tcp()
    lock = tcp.send_lock
    ws = SimpleNamespace(closed=False, state=ASGIWebsocketState.CONNECTED,
                         connection=SimpleNamespace(state=ConnectionState.OPEN))
    transport = HypercornTransport(None, None, Under(ws, None, None, None), direct=True)  # type: ignore[arg-type]
    assert not transport.direct and not transport.ready() and tcp.send_lock is lock
    assert not transport.release()
    peer.close()
    await server.aclose()


async def test_release_shuts_the_connection_down_so_a_blocked_send_fails() -> None:
    """What shutdown does to a socket whose client stopped reading (reach 5)."""
    server, peer = _pair()
    tcp = _Tcp()
    ws = SimpleNamespace(closed=False, state=ASGIWebsocketState.CONNECTED,
                         connection=SimpleNamespace(state=ConnectionState.OPEN))
    transport = HypercornTransport(None, None, Under(ws, tcp, server, server), direct=False)  # type: ignore[arg-type]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            failed = trio.Event()

            async def stuck_send() -> None:
                with pytest.raises(trio.BrokenResourceError):
                    while True:  # the peer never reads: this blocks once the buffers are full
                        await server.send_all(b"x" * 65536)
                failed.set()

            nursery.start_soon(stuck_send)
            await trio.testing.wait_all_tasks_blocked()
            assert transport.release()
            await failed.wait()
    peer.close()
    await server.aclose()


async def test_closed_below_only_while_hypercorn_closes_without_the_app() -> None:
    server, peer = _pair()
    direct, _, _, ws = _direct(server)
    assert not direct.closed_below()
    ws.connection.state = ConnectionState.LOCAL_CLOSING  # hypercorn sent its own 1009
    assert direct.closed_below()
    ws.state = ASGIWebsocketState.CLOSED  # the app closed (its close frame is refused by wsproto)
    assert not direct.closed_below()
    peer.close()
    await server.aclose()
