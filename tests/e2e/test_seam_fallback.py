"""A hypercorn whose shape the seam does not recognise: the server still serves sockets, on the writer task.

The server process changes hypercorn before chatter starts, the way a new
hypercorn version could: ``H11Protocol.__init__`` is wrapped, so the probe
can no longer see that it keeps ``send`` (the link from a socket down to its
TCP connection).  The socket suites run on both paths with the shape intact
(the ``socket_path`` fixture); this is the path where the shape is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from helpers import chatter_server
from wsclient import auth, connect, make_user, rest

pytestmark = pytest.mark.e2e

CHANGE_HYPERCORN = """
import hypercorn.protocol.h11 as h11
_init = h11.H11Protocol.__init__
def _wrapped(self, *args, **kwargs):
    _init(self, *args, **kwargs)
h11.H11Protocol.__init__ = _wrapped
"""


def _metric(metrics: str, series: str) -> float:
    lines = [line for line in metrics.splitlines() if line.startswith(series + " ")]
    return float(lines[0].split()[-1]) if lines else 0.0


async def test_an_unrecognised_hypercorn_runs_on_the_writer_task_and_delivers(tmp_path: Path) -> None:
    with chatter_server(tmp_path, before=CHANGE_HYPERCORN) as server, rest(server.url) as http:
        ana_t, ben_t = make_user(http, "ana"), make_user(http, "ben")
        r = http.post("/api/rooms", json={"name": "Fallback", "members": ["ben"]}, headers=auth(ana_t))
        room = r.json()["id"]
        with trio.fail_after(30):
            async with connect(server.ws_url, ana_t) as ana, connect(server.ws_url, ben_t) as ben:
                await ana.hello()
                await ben.hello()
                await ana.send({"type": "send", "room": room, "client_msg_id": "m1", "body": "still here"})
                assert (await ana.next("ack"))["client_msg_id"] == "m1"
                assert (await ben.next("message"))["body"] == "still here"
        metrics = http.get("/metrics").text
    assert _metric(metrics, 'chatter_transport_path{path="writer_task"}') == 1, metrics
    assert _metric(metrics, 'chatter_frames_sent_total{path="direct"}') == 0, metrics
    log = "".join(p.read_text() for p in tmp_path.glob("server-*.log"))  # noqa: ASYNC240 - the server has exited
    assert "socket writes: writer task (fallback): H11Protocol.__init__ no longer uses send" in log, log
    assert "Traceback" not in log, log
