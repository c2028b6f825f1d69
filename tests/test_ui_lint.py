"""The UI's house rules that tools can check: ESLint (typescript-eslint, rules of hooks) and Prettier on ui/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[1] / "ui"


def test_ui_eslint_and_prettier_are_clean() -> None:
    if not (UI / "node_modules" / ".bin" / "eslint").exists():
        pytest.skip("ui/node_modules is missing: run `just setup-ui` (npm ci in ui/) first")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH")
    p = subprocess.run([npm, "run", "--silent", "lint"], cwd=UI, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
