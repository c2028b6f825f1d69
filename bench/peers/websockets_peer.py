"""Reference peer: Python `websockets` (asyncio), the same JSON frames as Chatter's /ws.

No auth, no storage. Usage: python websockets_peer.py PORT. Binds 127.0.0.1 only and
exits after BENCH_PEER_MAX_S seconds (default 3600) or on SIGTERM/SIGINT. Rooms as in
ws_peer.js ("rooms" in hello is a bench-only extension; default room "r"). Broadcast uses
websockets.broadcast with one encoded frame per event, which is that library's idiom.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from datetime import UTC, datetime
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

rooms: dict[str, set[ServerConnection]] = {}
seq = 0
anon = itertools.count(1)
dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def handler(ws: ServerConnection) -> None:
    global seq
    user: str | None = None
    joined: list[str] = []
    try:
        async for raw in ws:
            try:
                m = json.loads(raw)
                kind = m["type"]
            except (ValueError, TypeError, KeyError):
                await ws.send('{"type":"error","code":"INVALID_INPUT","message":"bad json","ref":null}')
                continue
            if kind == "hello":
                user = m.get("user") or f"peer{next(anon)}"
                joined = [str(r) for r in (m.get("rooms") or ["r"])]
                for r in joined:
                    rooms.setdefault(r, set()).add(ws)
                u = {"username": user, "name": user, "online": True, "last_seen": None}
                await ws.send(dumps({"type": "ready", "epoch": "peer", "seq": seq, "user": u, "online": []}))
            elif kind == "send":
                if user is None:
                    await ws.close(1008)
                    return
                room = str(m.get("room", "r"))
                seq += 1
                cid = m.get("client_msg_id")
                at = now()
                await ws.send(dumps({"type": "ack", "client_msg_id": cid, "id": seq, "seq": seq, "room": room, "created_at": at}))
                frame = dumps({"type": "message", "id": seq, "seq": seq, "room": room, "sender": user,
                               "body": m.get("body"), "client_msg_id": cid, "created_at": at})
                broadcast(rooms.get(room, ()), frame)
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            else:
                await ws.send(dumps({"type": "error", "code": "INVALID_INPUT", "message": "unknown type", "ref": kind}))
    except ConnectionClosed:
        pass  # the load generator closes without a close frame at the end of a run
    finally:
        for r in joined:
            rooms.get(r, set()).discard(ws)


def health(conn: ServerConnection, request: Request) -> Response | None:
    """Answer plain GET /healthz (the bench driver's readiness probe); upgrade anything else."""
    if request.path == "/healthz":
        return conn.respond(HTTPStatus.OK, '{"status":"ok"}')
    return None


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, compression=None, process_request=health, max_size=64 * 1024,
                     ping_interval=None, backlog=4096):
        print(f"websockets peer listening on 127.0.0.1:{port}", flush=True)
        try:
            await asyncio.wait_for(stop, float(os.environ.get("BENCH_PEER_MAX_S", "3600")))
        except TimeoutError:
            pass


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 9003))
