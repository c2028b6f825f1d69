"""The package's import rules, checked on the source: each layer uses only those below it.

http -> actors + events; actors -> store Protocol; store -> nothing of ours
above it. actors/ never imports quart or hypercorn; http/ never touches SQL.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "chatter"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules(sub: str) -> list[Path]:
    return sorted((PKG / sub).glob("*.py"))


@pytest.mark.parametrize("path", modules("actors"), ids=lambda p: p.name)
def test_actors_do_not_import_web_frameworks_or_sql(path: Path) -> None:
    bad = {m for m in imports(path) if m.split(".")[0] in ("quart", "quart_trio", "hypercorn", "quart_schema",
                                                            "sqlite3")
           or m.startswith("chatter.http") or m == "chatter.store.queries" or m == "chatter.store.sqlite"}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", modules("http"), ids=lambda p: p.name)
def test_http_never_touches_sql(path: Path) -> None:
    bad = {m for m in imports(path) if m in ("sqlite3", "sqlite_utils", "chatter.store.queries")}
    assert not bad, f"{path.name} imports {bad}"
    assert "execute(" not in path.read_text(encoding="utf-8"), f"{path.name} runs SQL"


@pytest.mark.parametrize("path", modules("store"), ids=lambda p: p.name)
def test_store_imports_nothing_of_ours_above_it(path: Path) -> None:
    bad = {m for m in imports(path) if m.startswith(("chatter.http", "chatter.actors"))}
    assert not bad, f"{path.name} imports {bad}"


def test_sql_lives_in_the_store() -> None:
    """SQL runs only in store/ (queries, migrations, and the executors' BEGIN/COMMIT) and in ops.py,
    the operator commands (backup, restore, doctor), which work on the file itself."""
    allowed = {PKG / "store" / n for n in ("queries.py", "schema.py", "sqlite.py", "memory.py")} | {PKG / "ops.py"}
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                 if p not in allowed and ".execute(" in p.read_text(encoding="utf-8")]
    assert offenders == []
