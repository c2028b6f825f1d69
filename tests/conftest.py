import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))

import pytest  # noqa: E402  (after the path set-up above)

# The two ways a socket's frames can leave the server (chatter/http/hypercorn_seam.py): straight
# from the fan-out, or every frame through the socket's writer task (realtime.direct_writes=false,
# also what the server falls back to when the start-up probe refuses hypercorn's shape).
SOCKET_PATHS = ("direct", "writer_task")
SOCKET_PATH_ENV = "TEST_SOCKET_PATH"  # read by helpers.chatter_server


@pytest.fixture(scope="module", params=SOCKET_PATHS)
def socket_path(request: pytest.FixtureRequest) -> object:
    """Run every test of a module that uses this on both socket paths, each against its own servers.

    Module-scoped so that a module's shared server is started once per path.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SOCKET_PATH_ENV, request.param)
        yield request.param
