"""The seam under the socket (``chatter/http/hypercorn_seam.py``): pins, the probe, pure parts.

Its effects on a real server are tested in tests/reliability/
(test_rel_release.py, test_rel_limits.py, test_rel_ws_conformance.py) and
tests/e2e/test_ws_e2e.py, each on both socket paths; the direct writes in
tests/http/test_direct.py.
"""

from __future__ import annotations

import functools
import logging
import struct
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest
import wsproto
import wsproto.events as wse
from hypercorn.protocol import ws_stream
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.trio import task_group, tcp_server
from wsproto.connection import ConnectionState

from chatter.http import conn_limits
from chatter.http import hypercorn_seam as seam
from chatter.metrics import Metrics


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


# -- the probe and start-up -----------------------------------------------------------


def test_the_probe_finds_every_reach_on_the_pinned_libraries() -> None:
    assert seam.probe() == seam.Probe(versions=None, connection=None, socket_writes=None, quart_send=None,
                                      fixes=None)


def _path_metric(metrics: Metrics) -> dict[str, float]:
    return {p: metrics.transport_path.get(p) for p in ("direct", "writer_task")}


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "chatter.http.hypercorn_seam"
            and r.getMessage().startswith("socket writes:")]


def test_start_says_which_path_is_live_in_one_line_and_the_metric(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "chatter.http.hypercorn_seam")
    metrics = Metrics()
    s = seam.start(True, metrics)
    assert _lines(caplog) == []  # the line waits for announce (just before hypercorn serves)
    s.announce()
    assert s.path == "direct"
    assert _lines(caplog) == ["socket writes: direct"]
    assert _path_metric(metrics) == {"direct": 1, "writer_task": 0}
    assert 'chatter_transport_path{path="direct"} 1\nchatter_transport_path{path="writer_task"} 0' \
        in metrics.render()
    caplog.clear()
    metrics = Metrics()
    seam.start(False, metrics).announce()
    assert _lines(caplog) == ["socket writes: writer task (fallback): realtime.direct_writes is off"]
    assert _path_metric(metrics) == {"direct": 0, "writer_task": 1}


def test_a_changed_hypercorn_falls_back_to_the_writer_task_and_says_why(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "chatter.http.hypercorn_seam")
    monkeypatch.delattr(H11Protocol, "stream_send")
    metrics = Metrics()
    s = seam.start(True, metrics)  # never raises
    s.announce()
    assert s.path == "writer_task"
    assert _lines(caplog) == ["socket writes: writer task (fallback): H11Protocol.stream_send is gone"]
    assert any(r.levelno == logging.WARNING and "cannot be reached" in r.getMessage() for r in caplog.records)
    assert _path_metric(metrics) == {"direct": 0, "writer_task": 1}
    # and no socket is handed hypercorn's insides: Quart's API (and its ASGI send) only
    ws_obj = SimpleNamespace(_send=functools.partial(_asgi_send_data, _record))
    transport = s.transport(SimpleNamespace(_get_current_object=lambda: ws_obj))
    assert isinstance(transport, seam.PlainTransport) and not transport.direct and not transport.release()


def test_another_version_falls_back_even_if_the_shape_looks_the_same(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "chatter.http.hypercorn_seam")
    monkeypatch.setitem(seam.WRITTEN_FOR, "hypercorn", "0.17.0")
    s = seam.start(True, Metrics())
    s.announce()
    assert s.path == "writer_task"
    assert _lines(caplog) == ["socket writes: writer task (fallback): "
                              "hypercorn 0.18.0 (the seam was read against 0.17.0)"]


def test_changed_patch_targets_leave_the_fixes_out_with_a_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delattr(tcp_server.TCPServer, "_idle_timeout")
    found = seam.probe()
    assert found.fixes is not None and "_idle_timeout" in found.fixes
    assert found.direct is None  # direct writes do not need the fixes
    seam.start(True, Metrics()).announce()
    assert any(r.levelno == logging.WARNING and "not patched" in r.getMessage() for r in caplog.records)


async def _asgi_send_data(send: Any, data: Any) -> None:  # the shape of Quart's send_data partial
    await send(data)


async def _record(message: Any) -> None:
    pass
