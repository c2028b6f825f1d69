"""The raw test client itself: its writes never interleave.

The reader answers close frames and pings while another task of the same
client may be sending (the ledger clients of the reliability tests do that
at every graceful restart).  trio allows one ``send_all`` at a time on a
stream, so the client must queue its writes; RFC 6455 5.5.1 lets the close
answer wait until the message being sent is out.

Each test blocks the sender inside ``send_all`` for real (the peer of a
socket pair does not read yet, and the payload is larger than the socket
buffers), lets the peer send a control frame, and checks that the answer
comes out whole, after the data frame, instead of a ``BusyResourceError``.
"""

from __future__ import annotations

import socket
import struct

import trio
import trio.testing
from rawws import CLOSE, PING, PONG, TEXT, Closed, RawWS, close_payload, frame

BIG = 4 * 1024 * 1024  # far more than a socket pair buffers, so the sender blocks in send_all


async def stream_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    a, b = trio.socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return trio.SocketStream(a), trio.SocketStream(b)


def _frame_size(buf: bytearray) -> tuple[int, int] | None:
    """(payload length, header length without the mask key) once a whole frame is in ``buf``."""
    if len(buf) < 2:
        return None
    n, pos = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", buf[2:10])[0], 10
    return (n, pos) if len(buf) >= pos + 4 + n else None


async def read_frames(peer: trio.SocketStream, count: int) -> list[tuple[int, bytes]]:
    """``count`` client frames as the peer receives them: (opcode, payload).

    Payloads over 64 bytes are shortened to their first 64 bytes, ``...`` and their length.
    """
    buf = bytearray()
    out: list[tuple[int, bytes]] = []
    while len(out) < count:
        size = _frame_size(buf)
        if size is None:
            data = await peer.receive_some(1 << 20)
            assert data, f"the client closed after {len(out)} of {count} frames"
            buf += data
            continue
        n, pos = size
        assert buf[1] & 0x80, "client frames are masked"
        key = bytes(buf[pos : pos + 4])
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(buf[pos + 4 : pos + 4 + min(n, 64)]))
        out.append((buf[0] & 0xF, payload if n <= 64 else payload + b"..." + str(n).encode()))
        del buf[: pos + 4 + n]
    return out


async def blocked_sender(ws: RawWS, nursery: trio.Nursery, sent: trio.Event) -> None:
    """Start a task whose ``send_text`` is stuck in ``send_all`` when this returns."""

    async def send() -> None:
        await ws.send_text("x" * BIG)
        sent.set()

    nursery.start_soon(send)
    await trio.testing.wait_all_tasks_blocked()  # the sender is parked in send_all, the buffers full


async def test_close_answer_waits_for_the_message_being_sent() -> None:
    """A close frame arriving mid-send is answered after that send, not with BusyResourceError."""
    with trio.fail_after(20):
        client, peer = await stream_pair()
        ws = RawWS(client)
        sent = trio.Event()
        async with trio.open_nursery() as n:
            await blocked_sender(ws, n, sent)
            await peer.send_all(frame(CLOSE, close_payload(1001, "server shutting down"), mask=False))
            closed: list[Closed] = []

            async def reader() -> None:
                try:
                    await ws.recv_message()
                except Closed as c:
                    closed.append(c)

            n.start_soon(reader)
            frames = await read_frames(peer, 2)
        assert [c.code for c in closed] == [1001]
        assert sent.is_set()
        assert frames[0][0] == TEXT and frames[0][1].endswith(b"..." + str(BIG).encode())
        assert frames[1] == (CLOSE, struct.pack("!H", 1001))
        await ws.aclose()
        await peer.aclose()


async def test_pong_waits_for_the_message_being_sent() -> None:
    """A ping arriving mid-send is answered after that send, and reading goes on."""
    with trio.fail_after(20):
        client, peer = await stream_pair()
        ws = RawWS(client)
        sent = trio.Event()
        got: list[tuple[int, bytes]] = []
        async with trio.open_nursery() as n:
            await blocked_sender(ws, n, sent)
            await peer.send_all(frame(PING, b"are-you-there", mask=False))
            await peer.send_all(frame(TEXT, b'{"type":"pong"}', mask=False))

            async def reader() -> None:
                got.append(await ws.recv_message())

            n.start_soon(reader)
            frames = await read_frames(peer, 2)
        assert sent.is_set()
        assert frames[0][0] == TEXT
        assert frames[1] == (PONG, b"are-you-there")
        assert got == [(TEXT, b'{"type":"pong"}')]
        await ws.aclose()
        await peer.aclose()


async def test_aclose_waits_for_the_message_being_sent() -> None:
    """``aclose`` during a send queues its close frame behind that send."""
    with trio.fail_after(20):
        client, peer = await stream_pair()
        ws = RawWS(client)
        sent = trio.Event()
        async with trio.open_nursery() as n:
            await blocked_sender(ws, n, sent)
            n.start_soon(ws.aclose)
            frames = await read_frames(peer, 2)
        assert sent.is_set()
        assert frames[0][0] == TEXT
        assert frames[1] == (CLOSE, struct.pack("!H", 1000))
        assert await peer.receive_some(10) == b""  # then the client closed the stream
        await peer.aclose()
