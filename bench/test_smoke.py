"""Benchmark smoke test: every peer and Chatter at tiny sizes, < 60 s.

Fails unless every scenario ran with 0 lost messages and 0 failures (bench.py --smoke exits 1
otherwise).  Also runs store_paths.py at tiny sizes, which fails unless its sqlite-utils ports of
the store's hot paths answer exactly as chatter/store/queries.py does. Run: .venv/bin/python -m pytest -q bench/test_smoke.py   (or: python bench/bench.py --smoke)
Needs bench/requirements.txt installed in .venv, node + npm, and gcc (lg is built on demand).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def test_bench_smoke(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, str(BENCH / "bench.py"), "--smoke", "--out", str(tmp_path / "smoke")],
                       capture_output=True, text=True, timeout=240, cwd=BENCH.parent)
    sys.stderr.write(p.stderr[-6000:])
    assert p.returncode == 0, "benchmark smoke failed (see stderr above):\n" + p.stderr[-3000:]


def test_store_paths_smoke() -> None:
    p = subprocess.run([sys.executable, str(BENCH / "store_paths.py"), "--calls", "300", "--event-calls", "30",
                        "--seed", "500", "--rounds", "1"], capture_output=True, text=True, timeout=120, cwd=BENCH.parent)
    assert p.returncode == 0, "store_paths smoke failed:\n" + p.stderr[-3000:]
    assert "| post_message |" in p.stdout, p.stdout


def test_resume_mixed_smoke() -> None:
    """The catch-up of a mixed log (sends, reactions, edits) serves every event written (it exits 1 otherwise)."""
    p = subprocess.run([sys.executable, str(BENCH / "resume_mixed.py"), "--events", "600", "--members", "20",
                        "--rounds", "1"], capture_output=True, text=True, timeout=120, cwd=BENCH.parent)
    assert p.returncode == 0, "resume_mixed smoke failed:\n" + p.stderr[-3000:]
    assert "resume_mixed mix=mixed events=600" in p.stdout, p.stdout


def test_search_smoke() -> None:
    """bench/search.py at a tiny size: the built index matches the messages (it exits 1 otherwise)."""
    p = subprocess.run([sys.executable, str(BENCH / "search.py"), "--messages", "2000", "--queries", "3",
                        "--sends", "300", "--rounds", "2", "--tasks", "8"], capture_output=True, text=True,
                       timeout=120, cwd=BENCH.parent)
    assert p.returncode == 0, "search smoke failed:\n" + p.stderr[-3000:]
    assert "index build:" in p.stdout and "durable sends/s through SqliteStore" in p.stdout, p.stdout
