"""The package's layer rules, checked on the source, with no per-file exceptions.

    http/, cli, asgi -> service (the use cases) -> actors handles + store
    actors -> their own store port;  store -> nothing of ours above it

- Only ``chatter/service/`` and ``chatter/actors/`` (which holds its own store
  port) touch the store: no ``.store`` attribute anywhere else, except a
  Config's ``store`` section (``cfg.store.path``).
- SQL runs only in ``chatter/store/``: ``.execute(``, ``sqlite3`` and
  ``sqlite_utils`` appear nowhere else.
- ``chatter/service/`` never imports ``chatter.http``, Quart or hypercorn.
- ``chatter/actors/`` imports no web framework and no store implementation.
- ``chatter/store/`` imports nothing of ours above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "chatter"
WEB = ("quart", "quart_trio", "quart_schema", "hypercorn", "werkzeug")
ALL = sorted(PKG.rglob("*.py"))


def rel(path: Path) -> str:
    return str(path.relative_to(PKG.parent))


def layer(path: Path) -> str:
    """The top-level package of ``chatter`` the module is in, or its own name for a top-level module."""
    return path.relative_to(PKG).parts[0].removesuffix(".py")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _is_config(node: ast.expr) -> bool:
    """``cfg``, ``_cfg``, ``self.cfg``, ``config``...: a Config, whose ``store`` is a settings section."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.lstrip("_").endswith(("cfg", "config"))


def store_reaches(path: Path) -> list[int]:
    """Lines with a ``.store`` attribute that is not a Config's store section."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and n.attr == "store" and not _is_config(n.value)]


OUTSIDE_THE_USE_CASES = [p for p in ALL if layer(p) not in ("service", "actors", "store")]


@pytest.mark.parametrize("path", OUTSIDE_THE_USE_CASES, ids=rel)
def test_only_the_service_and_the_actors_touch_the_store(path: Path) -> None:
    assert store_reaches(path) == [], f"{rel(path)} reaches the store; call chatter.service instead"


@pytest.mark.parametrize("path", [p for p in ALL if layer(p) != "store"], ids=rel)
def test_sql_lives_in_the_store(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ".execute(" not in text, f"{rel(path)} runs SQL; put it in chatter/store/"
    bad = {m for m in imports(path) if m.split(".")[0] in ("sqlite3", "sqlite_utils")}
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in ALL if layer(p) == "service"], ids=rel)
def test_the_service_knows_nothing_of_http(path: Path) -> None:
    bad = {m for m in imports(path) if m.split(".")[0] in WEB or m.startswith("chatter.http")}
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in ALL if layer(p) == "actors"], ids=rel)
def test_actors_do_not_import_web_frameworks_or_sql(path: Path) -> None:
    bad = {m for m in imports(path) if m.split(".")[0] in (*WEB, "sqlite3", "sqlite_utils")
           or m.startswith(("chatter.http", "chatter.service", "chatter.store.queries", "chatter.store.sqlite",
                            "chatter.store.maintenance"))}
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in ALL if layer(p) == "store"], ids=rel)
def test_store_imports_nothing_of_ours_above_it(path: Path) -> None:
    bad = {m for m in imports(path) if m.startswith(("chatter.http", "chatter.actors", "chatter.service"))}
    assert not bad, f"{rel(path)} imports {bad}"


def test_the_rules_see_every_layer() -> None:
    """A rule over an empty set proves nothing: each layer has modules, and the checks find a reach."""
    layers = {layer(p) for p in ALL}
    assert {"http", "service", "actors", "store", "cli", "asgi"} <= layers
    sample = PKG / "actors" / "system.py"
    assert store_reaches(sample), "the .store check should see the actor layer's own store port"
