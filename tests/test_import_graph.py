"""chatter's import graph, read from the source (AST): the actors form no cycle, and neither
the actors nor the service layer reach the HTTP adapter.

Every import counts, including those under ``if TYPE_CHECKING:`` and inside
functions: a cycle that only the type checker sees still ties the modules
together, and it is how the last one started (presence, registry, room and
session imported each other).  The HTTP rule is transitive: importing a
module that imports ``chatter.http`` is importing ``chatter.http``.

An actor module (presence, room, session, dispatcher) imports no other
actor's module, nor the registry or the system that build them: it knows
the others only through ``actors/ports.py``.

``chatter/service/`` may not exist yet; the rule applies to it once it does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "chatter"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path) -> dict[str, Path]:
    return {module_name(root, p): p for p in sorted(root.rglob("*.py"))}


def imports_of(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules of the package that ``path`` (module ``name``) imports, anywhere in its body."""
    known = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # ``import a.b.c`` runs a, a.b and a.b.c; the deepest of ours is the one that matters.
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:  # ``from chatter.actors import frames`` imports the submodule
                sub = f"{module}.{alias.name}"
                add(sub if sub in known else module)
    found.discard(name)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    mods = package_modules(root)
    return {name: imports_of(name, path, mods) for name, path in mods.items()}


def cycles(graph: Mapping[str, set[str]], within: str) -> list[list[str]]:
    """Each strongly connected group of two or more modules under ``within`` (Tarjan), sorted."""
    nodes = sorted(n for n in graph if n == within or n.startswith(within + "."))
    inside = set(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v] & inside):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for n in nodes:
        if n not in index:
            visit(n)
    return sorted(groups)


def paths_into(graph: Mapping[str, set[str]], start: str, forbidden: str) -> list[str] | None:
    """The shortest import chain from ``start`` to ``forbidden`` (or a module under it), or None."""
    seen = {start}
    frontier: list[list[str]] = [[start]]
    while frontier:
        nxt: list[list[str]] = []
        for chain in frontier:
            for w in sorted(graph.get(chain[-1], ())):
                if w == forbidden or w.startswith(forbidden + "."):
                    return [*chain, w]
                if w not in seen:
                    seen.add(w)
                    nxt.append([*chain, w])
        frontier = nxt
    return None


GRAPH = import_graph(PKG)
GUARDED = sorted(n for n in GRAPH if n.startswith(("chatter.actors.", "chatter.service.")) or n in (
    "chatter.actors", "chatter.service"))


def test_the_actors_form_no_import_cycle() -> None:
    assert cycles(GRAPH, "chatter.actors") == []


@pytest.mark.parametrize("name", GUARDED)
def test_actors_and_the_service_layer_never_reach_http(name: str) -> None:
    chain = paths_into(GRAPH, name, "chatter.http")
    assert chain is None, " -> ".join(chain or [])


ACTORS = ("chatter.actors.presence", "chatter.actors.room", "chatter.actors.session", "chatter.actors.dispatcher")
WIRING = ("chatter.actors.registry", "chatter.actors.system")  # they build actors, so they import them


@pytest.mark.parametrize("name", ACTORS)
def test_an_actor_knows_the_others_only_through_ports(name: str) -> None:
    assert GRAPH[name] & {*ACTORS, *WIRING} == set()


def test_the_graph_sees_the_actors_and_their_ports() -> None:
    """The walk reads what it should: the system imports its parts, the parts import the ports."""
    assert "chatter.actors.ports" in GRAPH["chatter.actors.room"]
    assert {"chatter.actors.dispatcher", "chatter.actors.registry", "chatter.actors.presence"} <= GRAPH[
        "chatter.actors.system"]
    assert "chatter.actors.frames" in GRAPH["chatter.actors.session"]  # ``from chatter.actors import frames``


# -- the checks themselves, on a package made for them ---------------------------------


def _package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = tmp_path / "chatter"
    for rel, text in {"__init__.py": "", "actors/__init__.py": "", "http/__init__.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_a_cycle_under_type_checking_or_by_relative_import_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "actors/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chatter.actors.b import B\n",
        "actors/b.py": "from . import c\n",
        "actors/c.py": "def f():\n    from chatter.actors import a\n",
        "actors/d.py": "import chatter.actors.a\n",
    })
    assert cycles(import_graph(root), "chatter.actors") == [
        ["chatter.actors.a", "chatter.actors.b", "chatter.actors.c"]]


def test_a_path_into_http_through_another_module_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "actors/a.py": "from chatter import helpers\n",
        "helpers.py": "from chatter.http.app import x\n",
        "http/app.py": "x = 1\n",
        "service/__init__.py": "",
        "service/ok.py": "from chatter.actors import a as _  # noqa\n",
    })
    graph = import_graph(root)
    assert paths_into(graph, "chatter.actors.a", "chatter.http") == [
        "chatter.actors.a", "chatter.helpers", "chatter.http.app"]
    assert paths_into(graph, "chatter.service.ok", "chatter.http") == [
        "chatter.service.ok", "chatter.actors.a", "chatter.helpers", "chatter.http.app"]
    assert paths_into(graph, "chatter.helpers", "chatter.actors") is None
