"""`just test` runs every runner and reports each one (scripts/run-tests.sh).

The runners are stubs that print what pytest, vitest and Playwright print
and exit as they would; each also leaves a file behind, so that "it ran"
is checked directly and not only from the output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "run-tests.sh"

PYTEST_FAIL = "..F.\nFAILED tests/test_x.py::test_a - assert 1 == 2\n1 failed, 3 passed in 0.12s\n"
PYTEST_PASS = "....\n4 passed, 1 skipped in 0.12s\n"
VITEST_PASS = (
    " \x1b[32m✓\x1b[39m tests/unit/outbox.test.ts (2 tests) 16ms\n\n"
    "\x1b[2m Test Files \x1b[22m \x1b[1m\x1b[32m6 passed\x1b[39m\x1b[22m\x1b[90m (6)\x1b[39m\n"
    "\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[32m61 passed\x1b[39m\x1b[22m\x1b[90m (61)\x1b[39m\n"
    "\x1b[2m   Start at \x1b[22m 06:08:02\n"
    "\x1b[2m   Duration \x1b[22m 2.83s\n"
)
PLAYWRIGHT_FAIL = (
    "Running 5 tests using 1 worker\n"
    "  ✘  2 [chromium] › e2e/chat.spec.ts:10:1 › sends (3.1s)\n\n"
    "  1 failed\n"
    "    [chromium] › e2e/chat.spec.ts:10:1 › sends\n"
    "  4 passed (12.3s)\n"
)


def stub(tmp_path: Path, name: str, output: str, code: int) -> str:
    """A NAME=COMMAND argument whose command prints ``output``, marks that it ran, exits ``code``."""
    out = tmp_path / f"{name}.out"
    out.write_text(output)
    return f"{name}=cat {out}; touch {tmp_path / (name + '.ran')}; exit {code}"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def summary(stdout: str) -> list[str]:
    block = stdout.split("test summary", 1)[1]
    return [line for line in block.splitlines()[1:] if line and not line.startswith("=")]


def test_a_pytest_failure_still_runs_vitest_and_playwright_and_fails_at_the_end(tmp_path: Path) -> None:
    r = run(
        stub(tmp_path, "pytest", PYTEST_FAIL, 1),
        stub(tmp_path, "vitest", VITEST_PASS, 0),
        stub(tmp_path, "playwright", PLAYWRIGHT_FAIL, 1),
    )
    assert r.returncode == 1
    assert all((tmp_path / f"{n}.ran").exists() for n in ("pytest", "vitest", "playwright"))
    assert "FAILED tests/test_x.py::test_a" in r.stdout  # the runners' own output is shown as it comes
    assert summary(r.stdout) == [
        "pytest:     FAILED (exit 1) (1 failed, 3 passed in 0.12s)",
        "vitest:     passed (Test Files 6 passed (6); Tests 61 passed (61))",
        "playwright: FAILED (exit 1) (1 failed, 4 passed (12.3s))",
    ]


def test_all_passing_exits_zero(tmp_path: Path) -> None:
    r = run(stub(tmp_path, "pytest", PYTEST_PASS, 0), stub(tmp_path, "vitest", VITEST_PASS, 0))
    assert r.returncode == 0, r.stdout + r.stderr
    assert summary(r.stdout) == [
        "pytest:     passed (4 passed, 1 skipped in 0.12s)",
        "vitest:     passed (Test Files 6 passed (6); Tests 61 passed (61))",
    ]


def test_a_runner_that_dies_without_a_result_line_is_a_failure(tmp_path: Path) -> None:
    r = run(stub(tmp_path, "vitest", "Error: Cannot find module 'vitest'\n", 127),
            stub(tmp_path, "pytest", PYTEST_PASS, 0))
    assert r.returncode == 1
    assert summary(r.stdout) == [
        "vitest:     FAILED (exit 127) (no result line in its output)",
        "pytest:     passed (4 passed, 1 skipped in 0.12s)",
    ]


def test_bad_arguments_are_refused() -> None:
    assert run().returncode == 2
    r = run("no-equals-sign")
    assert r.returncode == 2 and "is not NAME=COMMAND" in r.stderr


def test_the_just_test_recipe_runs_all_three_runners_through_the_script() -> None:
    text = (ROOT / "justfile").read_text()
    m = re.search(r"^test:[^\n]*\n((?:[ \t]+[^\n]*\n)+)", text, re.M)
    assert m, "no test recipe in the justfile"
    body = m.group(1).replace("\\\n", " ")
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bash scripts/run-tests.sh "), lines
    names = re.findall(r'"(\w+)=', lines[0])
    assert names == ["pytest", "vitest", "playwright"]
    assert "-m pytest -q -p no:cacheprovider tests bench/test_smoke.py" in lines[0]
    assert "npm run --silent test" in lines[0] and "npm run --silent e2e" in lines[0]


def test_just_test_with_a_failing_pytest_still_runs_vitest_and_playwright(tmp_path: Path) -> None:
    """The real recipe (its set-up dependencies skipped) with fake python and npm on PATH."""
    just = shutil.which("just")
    if just is None:
        pytest.skip("just is not installed (pip install rust-just)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, output in (("pytest", PYTEST_FAIL), ("vitest", VITEST_PASS), ("playwright", PLAYWRIGHT_FAIL)):
        (tmp_path / f"{name}.out").write_text(output)
    python = bin_dir / "python"
    python.write_text(f'''#!/usr/bin/env bash
echo "$TEST_CHATTER_BINARY $*" > {tmp_path}/pytest.ran
cat {tmp_path}/pytest.out
exit 1
''')
    (bin_dir / "npm").write_text(f'''#!/usr/bin/env bash
case "$*" in
  "run --silent test") basename "$PWD" > {tmp_path}/vitest.ran; cat {tmp_path}/vitest.out; exit 0 ;;
  "run --silent e2e") basename "$PWD" > {tmp_path}/playwright.ran; cat {tmp_path}/playwright.out; exit 1 ;;
esac
exit 99
''')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run([just, "--justfile", str(ROOT / "justfile"), "--no-deps", "--set", "py", str(python), "test"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode != 0
    assert (tmp_path / "pytest.ran").read_text().split() == [
        "1", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", "bench/test_smoke.py"]
    assert (tmp_path / "vitest.ran").read_text().strip() == "ui"
    assert (tmp_path / "playwright.ran").read_text().strip() == "ui"
    assert summary(r.stdout) == [
        "pytest:     FAILED (exit 1) (1 failed, 3 passed in 0.12s)",
        "vitest:     passed (Test Files 6 passed (6); Tests 61 passed (61))",
        "playwright: FAILED (exit 1) (1 failed, 4 passed (12.3s))",
    ]


def test_ci_runs_just_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "just test"
