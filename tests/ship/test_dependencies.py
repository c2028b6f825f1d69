"""Every third-party module the server imports is a pinned runtime dependency.

A module that is only installed in the dev venv (because a test tool pulled
it in, or because someone ran ``pip install`` by hand) passes every test
there and then fails in a clean ``pip install .``, in ``bin/chatter`` and
in the container: sign-up answered 500 when zxcvbn fell out of
pyproject.toml in a merge.  This reads the imports rather than trusting the
venv.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_top_level_modules() -> dict[str, str]:
    """Top-level module name -> first file importing it, for chatter/**/*.py."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "chatter").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _declared() -> dict[str, str]:
    """Normalised distribution name -> its pin, from [project].dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {}
    for spec in project["dependencies"]:
        name = re.split(r"[=<>!~\[; ]", spec, maxsplit=1)[0]
        out[_norm(name)] = spec
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_a_declared_dependency():
    by_module = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = []
    for module, where in _imported_top_level_modules().items():
        if module == "chatter" or module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = by_module.get(module)
        assert dists, f"{where} imports {module!r}, which no installed distribution provides"
        if not any(_norm(d) in declared for d in dists):
            missing.append(f"{module} (from {dists[0]}, imported by {where})")
    assert not missing, "imported but not in pyproject.toml [project].dependencies: " + ", ".join(missing)


def test_every_runtime_dependency_is_pinned_exactly():
    loose = [spec for spec in _declared().values() if "==" not in spec]
    assert not loose, loose
