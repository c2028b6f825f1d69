"""RFC 6455 conformance, scripted with raw frames (the Autobahn testsuite runs on Python 2 only).

Each case opens a socket, says hello, sends bytes, and checks the server's
answer: the right close frame.  A frame the server cannot accept fails the
connection (RFC 6455 7.1.7) with a close frame of 1002, or 1007 for invalid
UTF-8, before the TCP connection is closed; until chatter/http/hypercorn_seam.py
marked wsproto's state for it, hypercorn dropped the connection without one.
After every case a second, well-behaved socket must still get a pong: one
bad client never takes the server down.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
import trio
from fleet import shared_server
from rawws import (
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    Closed,
    RawWS,
    close_payload,
    frame,
    hello,
    open_ws,
    roundtrip_ok,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_path")]  # every test on both socket paths

server = shared_server(both_socket_paths=True)

PROTOCOL_ERROR = {1002}  # RFC 6455 7.1.7: fail the connection with a close frame (SHOULD), here always sent


async def _ws(srv: Any) -> RawWS:
    ws = await open_ws(srv.url, srv.user("conf"))
    await hello(ws)
    return ws


async def expect_closed(ws: RawWS, allowed: set[int | None]) -> int | None:
    c = await ws.expect_close()
    assert c.code in allowed, f"closed with {c.code} ({c.how}), expected one of {allowed}"
    return c.code


async def c_ping_pong(ws: RawWS) -> str:
    await ws.send_raw(frame(PING, b"hello-ping"))
    op, payload = await ws.recv_message()
    assert (op, payload) == (PONG, b"hello-ping")
    return "pong echoes payload"


async def c_ping_empty(ws: RawWS) -> str:
    await ws.send_raw(frame(PING, b""))
    op, payload = await ws.recv_message()
    assert (op, payload) == (PONG, b"")
    return "pong (empty)"


async def c_close_handshake(ws: RawWS) -> str:
    await ws.send_raw(frame(CLOSE, close_payload(1000, "bye")))
    fin, _rsv, op, payload = await ws.recv_frame()
    assert op == CLOSE and struct.unpack("!H", payload[:2])[0] == 1000, (op, payload)
    with trio.fail_after(5):  # the server then closes TCP
        try:
            await ws.recv_frame()
            raise AssertionError("data after close")
        except Closed as c:
            assert c.code is None
    return "close 1000 echoed, TCP closed"


async def c_unmasked(ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"type":"ping"}', mask=False))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_rsv1(ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"type":"ping"}', rsv=4))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_rsv23(ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"type":"ping"}', rsv=3))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_fragmented_ping(ws: RawWS) -> str:
    await ws.send_raw(frame(PING, b"ab", fin=False))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_control_too_long(ws: RawWS) -> str:
    await ws.send_raw(frame(PING, b"x" * 126))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_interleaved_data(ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"type":', fin=False))
    await ws.send_raw(frame(TEXT, b'{"type":"ping"}'))  # new data frame before the first finished
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_continuation_without_start(ws: RawWS) -> str:
    await ws.send_raw(frame(CONT, b'{"type":"ping"}'))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_unknown_opcode(ws: RawWS) -> str:
    await ws.send_raw(frame(0x3, b"?"))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_invalid_utf8(ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"type":"ping","x":"\xc3\x28"}'))
    return f"close {await expect_closed(ws, {1007})}"


async def c_invalid_utf8_fragmented(ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"type":"ping","x":"', fin=False))
    await ws.send_raw(frame(CONT, b'\xed\xa0\x80"}'))  # an encoded surrogate: not UTF-8
    return f"close {await expect_closed(ws, {1007})}"


async def c_fragmented_text_ok(ws: RawWS) -> str:
    await ws.send_raw(frame(TEXT, b'{"ty', fin=False))
    await ws.send_raw(frame(PING, b"mid"))  # control frames may be interleaved
    await ws.send_raw(frame(CONT, b'pe":"pi', fin=False))
    await ws.send_raw(frame(CONT, b'ng"}'))
    op, payload = await ws.recv_message()
    assert (op, payload) == (PONG, b"mid")
    assert (await ws.recv_until(lambda o: True)).get("type") == "pong"
    return "reassembled, ping answered mid-message"


async def c_utf8_split_across_fragments_ok(ws: RawWS) -> str:
    data = '{"type":"ping","x":"é€😀"}'.encode()
    cut = data.index("€".encode()) + 1  # inside a multi-byte sequence
    await ws.send_raw(frame(TEXT, data[:cut], fin=False))
    await ws.send_raw(frame(CONT, data[cut:]))
    assert (await ws.recv_until(lambda o: True)).get("type") == "pong"
    return "valid UTF-8 split inside a code point accepted"


async def c_oversize_fragmented(ws: RawWS) -> str:
    chunk = b"a" * (16 * 1024)
    await ws.send_raw(frame(TEXT, b'{"type":"ping","x":"', fin=False))
    try:
        for _ in range(5):  # 80 KiB in total > 64 KiB
            await ws.send_raw(frame(CONT, chunk, fin=False))
        await ws.send_raw(frame(CONT, b'"}'))
    except (trio.BrokenResourceError, OSError):
        pass
    return f"close {await expect_closed(ws, {1009})}"


async def c_close_bad_code(ws: RawWS) -> str:
    await ws.send_raw(frame(CLOSE, struct.pack("!H", 999)))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_close_one_byte(ws: RawWS) -> str:
    await ws.send_raw(frame(CLOSE, b"\x03"))
    return f"close {await expect_closed(ws, PROTOCOL_ERROR)}"


async def c_huge_length(ws: RawWS) -> str:
    """A header announcing 1 GiB, then 80 KiB of payload (mask key 0): refused at 64 KiB."""
    head = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 1 << 30) + b"\0\0\0\0"  # mask key 0
    await ws.send_raw(head)
    try:
        for _ in range(5):
            await ws.send_raw(b"a" * (16 * 1024))
    except (trio.BrokenResourceError, OSError):
        pass
    return f"close {await expect_closed(ws, {1009})}"


CASES = [
    c_ping_pong,
    c_ping_empty,
    c_close_handshake,
    c_unmasked,
    c_rsv1,
    c_rsv23,
    c_fragmented_ping,
    c_control_too_long,
    c_interleaved_data,
    c_continuation_without_start,
    c_unknown_opcode,
    c_invalid_utf8,
    c_invalid_utf8_fragmented,
    c_fragmented_text_ok,
    c_utf8_split_across_fragments_ok,
    c_oversize_fragmented,
    c_close_bad_code,
    c_close_one_byte,
    c_huge_length,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[2:] for c in CASES])
async def test_ws_conformance(server, case):
    with trio.fail_after(20):
        other = await _ws(server)
        ws = await _ws(server)
        outcome = await case(ws)
        await ws.stream.aclose()
        await roundtrip_ok(other)  # the server keeps serving others
        await other.aclose()
    print(f"\nRESULT ws-conformance {case.__name__[2:]}: {outcome}")
