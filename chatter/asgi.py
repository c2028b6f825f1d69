"""ASGI entry point for plain hypercorn:

    hypercorn -k trio --bind 127.0.0.1:8080 chatter.asgi:app

Configuration comes from ``config.yml`` / ``CHATTER_*`` as for ``chatter
serve``; the store and actors open inside the ASGI lifespan.  (``chatter
serve`` adds what hypercorn's CLI cannot: backlog 4096 with TCP_USER_TIMEOUT
on the listening socket, and closing sockets with 1001 before the drain.)
"""

from __future__ import annotations

import sys

from chatter.config import check_secret, load_config
from chatter.errors import ConfigError
from chatter.http.server import ChatterASGI
from chatter.logs import setup_logging

try:
    _cfg = load_config()
    _reason = None if _cfg.auth.secret_file else check_secret(_cfg.auth.secret, dev=_cfg.server.dev)
    if _reason:
        raise ConfigError(_reason)
except ConfigError as e:
    print(f"chatter: {e}", file=sys.stderr)
    raise SystemExit(2) from None

setup_logging(_cfg.server.log_level)
app = ChatterASGI(_cfg)
