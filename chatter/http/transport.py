"""Forcing a stuck connection closed, below hypercorn.

hypercorn's send to a client is shielded from cancellation (0.18 runs
``send_all`` in a shielded cancel scope): if the client stopped reading,
nothing in the app can end that send, and
shutdown would wait for TCP_USER_TIMEOUT.  ASGI does not expose the socket,
but it gives both addresses; this module finds the process's TCP socket
with that address pair under /proc/self/fd and shuts it down, which makes
the pending send fail at once.  Linux only; elsewhere it does nothing and
TCP_USER_TIMEOUT remains the bound.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable

log = logging.getLogger(__name__)

Addr = tuple[str, int]


def _norm(addr: Iterable[object]) -> Addr | None:
    parts = list(addr) if isinstance(addr, tuple | list) else []
    if len(parts) < 2:
        return None  # not an IP socket address
    return str(parts[0]).removeprefix("::ffff:"), int(str(parts[1]))


def shutdown_connections(pairs: set[tuple[Addr, Addr]]) -> int:
    """Shut down every socket of this process whose (local, peer) is in ``pairs``."""
    if not pairs:
        return 0
    wanted = {(_norm(a), _norm(b)) for a, b in pairs} - {(None, None)}
    done = 0
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for name in fds:
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            for family in (socket.AF_INET, socket.AF_INET6):
                try:
                    s = socket.fromfd(fd, family, socket.SOCK_STREAM)  # a dup: closing it keeps fd open
                except OSError:
                    continue
                try:
                    pair = (_norm(s.getsockname()), _norm(s.getpeername()))
                    if None not in pair and pair in wanted:
                        s.shutdown(socket.SHUT_RDWR)
                        done += 1
                except OSError:
                    pass
                finally:
                    s.close()
                break
        except OSError:
            continue
    if done:
        log.info("forced %d stuck connection(s) closed", done)
    return done
