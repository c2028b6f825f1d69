"""bin/chatter, the single executable from ``just build``, under ``env -i``.

Policy: the test runs when ``TEST_CHATTER_BINARY=1`` (``just test-ship``
builds first and sets it; a missing binary is then a failure), or when
bin/chatter exists and is newer than every source it is built from
(chatter/**/*.py, pyproject.toml, ui/dist/index.html, the build script).
Otherwise it is skipped with the reason: testing a stale binary would
report on code that is no longer there, and building one takes ~30 s.

``env -i`` leaves no PATH, no PYTHONPATH, no virtual environment and no
HOME: the binary must carry Python, Chatter, its dependencies and the UI.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import trio
from ship.shipkit import BINARY, ROOT, Proc, binary_skip_reason, launch, round_trip

pytestmark = pytest.mark.e2e


@pytest.fixture
def binary() -> Path:
    reason = binary_skip_reason()
    if reason:
        pytest.skip(reason)
    return BINARY


def bare_env(**values: str) -> list[str]:
    return ["env", "-i", *(f"{k}={v}" for k, v in values.items())]


def test_help_lists_the_subcommands(binary, tmp_path):
    out = subprocess.run([*bare_env(), str(binary), "--help"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    for command in ("serve", "migrate", "create-user", "print-config", "backup", "restore", "doctor",
                    "reset-password"):
        assert command in out.stdout


async def test_serves_healthz_ui_and_a_socket_round_trip_with_no_environment(binary, tmp_path):
    # Bare `chatter` (no subcommand) serves; port 0 from the environment so tests never collide.
    cmd = [*bare_env(CHATTER_SERVER_PORT="0", CHATTER_AUTH_BCRYPT_ROUNDS="4"), str(binary)]
    with trio.fail_after(90), launch(cmd, cwd=tmp_path, env={}, name="binary") as srv:
        await _check(srv, tmp_path)
        srv.signal(signal.SIGTERM)
        assert await trio.to_thread.run_sync(srv.wait) == 0, srv.log_text()[-2000:]
    assert (tmp_path / "chatter.db").exists(), "embedded default: ./chatter.db in the working directory"
    # The operator commands are in the binary too.
    backup = await trio.run_process([*bare_env(), str(binary), "backup", "copy.db"], cwd=tmp_path,
                                    capture_stdout=True, capture_stderr=True, check=False)
    assert backup.returncode == 0 and b"integrity ok" in backup.stdout, backup.stderr
    doctor = await trio.run_process([*bare_env(), str(binary), "doctor"], cwd=tmp_path, capture_stdout=True,
                                    capture_stderr=True, check=False)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr  # dev mode warns
    assert b"OK backup:" in doctor.stdout and b"OK integrity:" in doctor.stdout


def test_reads_config_yml_from_the_working_directory(binary, tmp_path):
    (tmp_path / "config.yml").write_text("server:\n  port: 0\nstore:\n  path: from-config.db\n")
    with launch([*bare_env(), str(binary), "serve"], cwd=tmp_path, env={}) as srv:
        r = httpx.get(srv.url + "/healthz", timeout=10)
        assert r.status_code == 200
    assert (tmp_path / "from-config.db").exists()


async def _check(srv: Proc, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        r = await http.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        index = (await http.get("/")).text
        assert index == (ROOT / "ui" / "dist" / "index.html").read_text(), "the UI bundled at build time"
        deep = await http.get("/rooms/some-room")  # client-side route: index.html too
        assert deep.status_code == 200 and "<!doctype html>" in deep.text.lower()
    ack = await round_trip(srv.url)
    assert ack["seq"] >= 1
