"""ASGI entry point for plain hypercorn:

    hypercorn -k trio --bind 127.0.0.1:8080 chatter.asgi:app

Configuration comes from ``config.yml`` / ``CHATTER_*`` as for ``chatter
serve``; the store and actors open inside the ASGI lifespan.  (``chatter
serve`` adds what hypercorn's CLI cannot: backlog 4096 with TCP_USER_TIMEOUT
on the listening socket, and closing sockets with 1001 before the drain.)

At import, before hypercorn serves anything, the same preflight as ``chatter
serve`` runs and the database lock is taken for the life of the process; a
failure prints one line ``chatter: <reason>`` and exits 2.  A failure while
the lifespan opens the store does the same through ``_startup_failed``: the
process exits at once, since hypercorn would otherwise log "Running on ..."
and a traceback after it.  (One hypercorn worker per database: a second
worker, ``-w 2``, is refused by the lock like a second server.)
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from chatter.config import load_config
from chatter.errors import ChatError, ConfigError
from chatter.http.server import ChatterASGI
from chatter.logs import setup_logging
from chatter.preflight import preflight
from chatter.store.lock import acquire


def _exit_with(message: str) -> NoReturn:
    print(f"chatter: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Nothing was opened that needs closing (the lock goes with the process); a plain
    # exit would go back through hypercorn, which then claims to be running.
    os._exit(2)


def _startup_failed(error: Exception) -> None:
    from chatter.cli import describe_error

    message = describe_error(error)
    if message is not None:
        _exit_with(message)


try:
    _cfg = load_config()
    preflight(_cfg)
    _lock = acquire(_cfg.store.path, role="server")
except (ConfigError, ChatError) as e:
    _exit_with(e.message if isinstance(e, ChatError) else str(e))

setup_logging(_cfg.server.log_level)
app = ChatterASGI(_cfg, on_startup_failure=_startup_failed)
