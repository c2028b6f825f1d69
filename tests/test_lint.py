"""The house rules that tools can check: ruff (incl. ASYNC and S rules) on all Python, mypy --strict on chatter/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "chatter", "tests", "bench"], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-4000:]


def test_mypy_strict_is_clean() -> None:
    p = subprocess.run([sys.executable, "-m", "mypy", "chatter"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-4000:]


def test_every_cited_document_is_in_the_repository() -> None:
    """A comment that names a Markdown document must name one a reader of this repository has."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    have = {Path(p).name for p in tracked}
    roots = ("chatter/", "tests/", "bench/", "scripts/", "ui/", "docs/", ".ci/")
    sources = [p for p in tracked if (p.startswith(roots) and not p.startswith("bench/results/"))
               or "/" not in p]
    cited = re.compile(r"\b([A-Z][A-Z0-9_-]*\.md)\b")
    missing = []
    for p in sources:
        try:
            text = (ROOT / p).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        missing += [f"{p}: {name}" for name in cited.findall(text) if name not in have]
    assert not missing, missing
