"""A WebSocket over HTTP/2 (RFC 8441 extended CONNECT, cleartext with prior knowledge) to a real server.

hypercorn offers it (``ENABLE_CONNECT_PROTOCOL``), and such a socket shares
its TCP connection with other HTTP/2 streams: its frames must go inside
HTTP/2 DATA frames.  The direct path writes WebSocket frames straight to the
TCP socket, so the seam gives such a socket no direct writes.  (Before the
seam, the direct path took it: the ``ready`` frame reached the client as raw
bytes between HTTP/2 frames and the client's HTTP/2 parser never saw it.)
permessage-deflate is refused on it as on HTTP/1.1.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from helpers import chatter_server
from wsclient import make_user, rest

pytestmark = pytest.mark.e2e


def _masked_text(payload: bytes) -> bytes:
    assert len(payload) < 126
    key = os.urandom(4)
    return bytes((0x81, 0x80 | len(payload))) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_a_socket_over_http2_gets_its_frames_inside_http2_data_frames(tmp_path: Path) -> None:
    with chatter_server(tmp_path) as server, rest(server.url) as http:
        token = make_user(http, "ana")
        host, port = server.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=10)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        status: str | None = None
        ws_bytes = b""
        enabled = False

        def pump() -> None:
            nonlocal status, ws_bytes, enabled
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection"
            for ev in conn.receive_data(chunk):  # raises ProtocolError on bytes that are not HTTP/2
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    enabled = bool(conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL))
                elif isinstance(ev, h2.events.ResponseReceived):
                    headers = dict(ev.headers)
                    status = headers[":status"]
                    assert "sec-websocket-extensions" not in headers, headers  # deflate refused here too
                elif isinstance(ev, h2.events.DataReceived):
                    ws_bytes += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    raise AssertionError(f"stream reset: {ev.error_code}")
            sock.sendall(conn.data_to_send())

        try:
            for _ in range(20):
                if enabled:
                    break
                pump()
            assert enabled, "hypercorn no longer offers extended CONNECT: this test has nothing to check"
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                                       (":path", "/ws"), (":authority", f"{host}:{port}"),
                                       ("sec-websocket-version", "13"), ("authorization", f"Bearer {token}"),
                                       ("sec-websocket-extensions", "permessage-deflate")])
            sock.sendall(conn.data_to_send())
            for _ in range(20):
                if status is not None:
                    break
                pump()
            assert status == "200"
            conn.send_data(stream, _masked_text(json.dumps({"type": "hello"}).encode()))
            sock.sendall(conn.data_to_send())
            for _ in range(50):
                if len(ws_bytes) >= 4:
                    n = ws_bytes[1] & 0x7F
                    head = 2 if n < 126 else 4
                    size = n if n < 126 else int.from_bytes(ws_bytes[2:4], "big")
                    if len(ws_bytes) >= head + size:
                        break
                pump()
            assert ws_bytes[0] == 0x81  # one unmasked text frame, inside the stream's DATA frames
            assert json.loads(ws_bytes[head:head + size])["type"] == "ready"
        finally:
            sock.close()
        metrics = http.get("/metrics").text
    direct = [line for line in metrics.splitlines() if line.startswith('chatter_frames_sent_total{path="direct"}')]
    assert not direct or float(direct[0].split()[-1]) == 0, metrics  # the ready frame went by the writer task
