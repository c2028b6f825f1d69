"""Counting open TCP connections per client address, and the answer past the cap.

``server.max_connections_per_ip``: the seam (``http/hypercorn_seam.py``,
reach 8) asks ``ConnectionCap.enter`` when hypercorn accepts a connection
and ``leave`` when it ends; a refused connection is answered with
``REFUSED_RESPONSE`` before its request is read.  Pure bookkeeping: nothing
here touches a library.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

REFUSE_LINGER = 1.0  # seconds a refused connection may take to read the 429 and go
_REFUSED_BODY = b'{"error":{"code":"RATE_LIMITED","message":"too many connections from this address"}}'
REFUSED_RESPONSE = (b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 10\r\n"
                    b"connection: close\r\ncontent-length: " + str(len(_REFUSED_BODY)).encode() + b"\r\n\r\n"
                    + _REFUSED_BODY)


class ConnectionCap:
    """Open TCP connections per peer address; ``enter`` refuses past ``limit`` (0: no cap).

    Invariant: ``open[host]`` is the number of ``enter(host)`` calls that
    returned True and have not been matched by ``leave(host)``; hosts at 0
    are not kept, so the table holds only addresses with open connections.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}
        self.refused = 0
        self._refusing: set[str] = set()  # hosts already logged as over the cap

    def enter(self, host: str) -> bool:
        n = self.open.get(host, 0)
        if self.limit and n >= self.limit:
            self.refused += 1
            if host not in self._refusing:
                self._refusing.add(host)
                log.warning("refusing connections from %s: %d open (server.max_connections_per_ip)", host, n)
            return False
        self.open[host] = n + 1
        return True

    def leave(self, host: str) -> None:
        n = self.open.get(host, 0) - 1
        if n > 0:
            self.open[host] = n
        else:
            self.open.pop(host, None)
        if n < self.limit:
            self._refusing.discard(host)
