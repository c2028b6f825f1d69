"""The seam under the socket (``chatter/http/hypercorn_seam.py``): pins, the probe, pure parts.

Its effects on a real server are tested in tests/reliability/
(test_rel_release.py, test_rel_limits.py, test_rel_ws_conformance.py) and
tests/e2e/test_ws_e2e.py, each on both socket paths; the direct writes in
tests/http/test_direct.py.
"""

from __future__ import annotations

import struct
from importlib.metadata import version

import wsproto
import wsproto.events as wse
from hypercorn.protocol import ws_stream
from hypercorn.trio import task_group, tcp_server
from wsproto.connection import ConnectionState

from chatter.http import conn_limits
from chatter.http import hypercorn_seam as seam


def test_written_for_these_versions() -> None:
    # Every reach in hypercorn_seam.py was read against these; a new version must be read again.
    assert version("hypercorn") == "0.18.0"
    assert version("wsproto") == "1.3.2"
    assert version("quart") == "0.22.0"
    assert version("quart-trio") == "0.12.0"
    assert seam.WRITTEN_FOR == {"hypercorn": "0.18.0", "wsproto": "1.3.2", "quart": "0.22.0",
                                "quart-trio": "0.12.0"}


def test_the_patches_are_installed_once() -> None:
    seam.install_fixes()  # what start() does; the import alone patches nothing
    assert tcp_server.TCPServer.run is seam._run
    assert tcp_server.TCPServer._close is seam._close
    assert tcp_server.TCPServer._read_data is seam._read_data
    assert tcp_server.TCPServer._idle_timeout is seam._idle_timeout
    assert task_group.TaskGroup.spawn_app is seam._spawn_app
    assert ws_stream.Connection is seam.FailWithCloseFrame
    seam.install_fixes()
    assert tcp_server.TCPServer.run is seam._run  # not wrapped twice


def _client_frame(opcode: int, payload: bytes, *, mask: bool = True, rsv: int = 0) -> bytes:
    head = bytes([0x80 | (rsv << 4) | opcode, (0x80 if mask else 0) | len(payload)])
    return head + (b"\0\0\0\0" + payload if mask else payload)  # mask key 0: payload unchanged


def _server() -> wsproto.Connection:
    return seam.FailWithCloseFrame(wsproto.ConnectionType.SERVER)


def test_a_frame_that_cannot_be_parsed_is_answered_with_a_close_frame_of_its_code() -> None:
    for data, code in ((_client_frame(0x1, b"hi", mask=False), 1002),  # unmasked
                       (_client_frame(0x1, b"hi", rsv=4), 1002),  # RSV1 without an extension
                       (_client_frame(0x3, b"?"), 1002),  # reserved opcode
                       (_client_frame(0x1, b"\xc3\x28"), 1007)):  # invalid UTF-8
        conn = _server()
        conn.receive_data(data)
        events = list(conn.events())
        assert [type(e) for e in events] == [wse.CloseConnection]
        assert events[0].code == code
        assert conn.state is ConnectionState.REMOTE_CLOSING  # so hypercorn answers it
        answer = conn.send(events[0].response())
        assert answer[0] == 0x88 and struct.unpack("!H", answer[2:4])[0] == code
        assert conn.state is ConnectionState.CLOSED


def test_a_peer_close_and_a_parse_failure_after_our_close_are_left_as_wsproto_has_them() -> None:
    conn = _server()
    conn.receive_data(_client_frame(0x8, struct.pack("!H", 1000)))
    assert [e.code for e in conn.events()] == [1000]  # type: ignore[attr-defined]
    assert conn.state is ConnectionState.REMOTE_CLOSING  # wsproto's own move
    conn = _server()
    conn.send(wse.CloseConnection(code=1008))
    conn.receive_data(_client_frame(0x1, b"hi", mask=False))
    assert [e.code for e in conn.events()] == [1002]  # type: ignore[attr-defined]
    assert conn.state is ConnectionState.LOCAL_CLOSING  # a second close frame may not be sent


def test_the_cap_counts_per_address_and_frees_on_leave() -> None:
    cap = conn_limits.ConnectionCap(2)
    assert cap.enter("10.0.0.1") and cap.enter("10.0.0.1")
    assert not cap.enter("10.0.0.1")
    assert cap.enter("10.0.0.2")  # another address has its own count
    assert cap.refused == 1
    cap.leave("10.0.0.1")
    assert cap.enter("10.0.0.1")
    for host in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
        cap.leave(host)
    assert cap.open == {}  # addresses with nothing open are not kept


def test_no_cap_counts_but_never_refuses() -> None:
    cap = conn_limits.ConnectionCap(0)
    assert all(cap.enter("10.0.0.1") for _ in range(1000))
    assert cap.open == {"10.0.0.1": 1000} and cap.refused == 0
