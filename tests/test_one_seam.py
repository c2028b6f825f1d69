"""One module knows hypercorn's, wsproto's and Quart's insides: ``chatter/http/hypercorn_seam.py``.

An AST walk over every other module of ``chatter/`` fails on:

- an import of a private module or name of those libraries
  (``from hypercorn.trio.tcp_server import _x``, ``import quart._y``);
- a private attribute (``_name``, not dunder) read or written on anything
  that comes from them: an imported name, what is assigned from one (calls
  included, so ``app = QuartTrio(...)`` counts), or a parameter annotated
  with one; ``getattr``/``setattr``/``hasattr``/``delattr`` with a private
  name count the same;
- a walk through bound methods and functions (``__self__``, ``__func__``,
  ``__closure__``, ``__code__``, ``__globals__``, ``__wrapped__``), which is
  how the old direct path found hypercorn's connection;
- monkeypatching: assigning to, or ``setattr``/``delattr`` on, an attribute
  of an imported module or class of those libraries.

The walker is checked against the patterns the old code used, so that it
cannot pass by finding nothing.  Other modules import from the seam only
what its ``__all__`` exports.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from chatter.http import hypercorn_seam

PKG = Path(__file__).resolve().parents[1] / "chatter"
SEAM = PKG / "http" / "hypercorn_seam.py"
LIBS = ("hypercorn", "quart", "quart_trio", "wsproto")
WALKS = frozenset({"__self__", "__func__", "__closure__", "__code__", "__globals__", "__wrapped__"})
ATTR_FUNCS = ("getattr", "setattr", "hasattr", "delattr")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _from_libs(module: str) -> bool:
    return module.split(".")[0] in LIBS


def _root(node: ast.AST) -> ast.Name | None:
    """The name an attribute chain, call or subscript starts from (``a`` in ``a.b().c[0]``)."""
    while True:
        if isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Await):
            node = node.value
        else:
            return node if isinstance(node, ast.Name) else None


def _bound(target: ast.AST) -> set[str]:
    """The names an assignment target binds (``a``, ``a, *b``), not those it reads (``a`` in ``a.x = 1``)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return set().union(*(_bound(e) for e in target.elts)) if target.elts else set()
    if isinstance(target, ast.Starred):
        return _bound(target.value)
    return set()


def _mentions(node: ast.AST | None, names: set[str]) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            node = ast.parse(node.value, mode="eval")
        except SyntaxError:
            return False
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def reaches(source: str) -> list[str]:
    """Every reach into the libraries' insides in ``source``, as ``line: what``."""
    tree = ast.parse(source)
    found: list[str] = []
    imported: set[str] = set()  # names bound to anything imported from the libraries
    definitions: set[str] = set()  # those that name a module, class or function (what a patch would replace)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _from_libs(a.name):
                    if any(_private(part) for part in a.name.split(".")):
                        found.append(f"{node.lineno}: imports private module {a.name}")
                    imported.add((a.asname or a.name).split(".")[0])
                    definitions.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and _from_libs(node.module):
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"{node.lineno}: imports from private module {node.module}")
            for a in node.names:
                if _private(a.name):
                    found.append(f"{node.lineno}: imports private name {a.name} from {node.module}")
                imported.add(a.asname or a.name)
                if _is_definition(node.module, a.name):
                    definitions.add(a.asname or a.name)

    # What comes from the libraries: imported names, and what is bound from them (to a fixpoint).
    tainted = set(imported)
    while True:
        before = len(tainted)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                value = node.value
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                rooted = value is not None and (r := _root(value)) is not None and r.id in tainted
                annotated = isinstance(node, ast.AnnAssign) and _mentions(node.annotation, tainted)
                if rooted or annotated:
                    tainted.update(*(_bound(t) for t in targets))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                r = _root(node.context_expr)
                if r is not None and r.id in tainted:
                    tainted.update(_bound(node.optional_vars))
            elif isinstance(node, ast.arg) and _mentions(node.annotation, tainted):
                tainted.add(node.arg)
        if len(tainted) == before:
            break

    def comes_from_libs(node: ast.AST) -> bool:
        r = _root(node)
        return r is not None and r.id in tainted

    for node in ast.walk(tree):  # a subclass of one of their classes: its private attributes are theirs
        if isinstance(node, ast.ClassDef) and any(_mentions(b, tainted) for b in node.bases):
            for inner in ast.walk(node):
                if (isinstance(inner, ast.Attribute) and _private(inner.attr) and isinstance(inner.value, ast.Name)
                        and inner.value.id in ("self", "cls")):
                    found.append(f"{inner.lineno}: private attribute {ast.unparse(inner)} of a subclass")

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in WALKS:
                found.append(f"{node.lineno}: walks {ast.unparse(node)}")
            elif _private(node.attr) and comes_from_libs(node.value):
                found.append(f"{node.lineno}: private attribute {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ATTR_FUNCS:
            args = node.args
            if len(args) >= 2 and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
                name = args[1].value
                if (_private(name) or name in WALKS) and comes_from_libs(args[0]):
                    found.append(f"{node.lineno}: private attribute via {ast.unparse(node)}")
            if node.func.id in ("setattr", "delattr") and args and _patchable(args[0], definitions):
                found.append(f"{node.lineno}: monkeypatches {ast.unparse(node)}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = (node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target])
            for t in targets:
                if isinstance(t, ast.Attribute) and _patchable(t.value, definitions):
                    found.append(f"{node.lineno}: monkeypatches {ast.unparse(t)}")
    return sorted(set(found), key=lambda s: int(s.split(":")[0]))


def _is_definition(module: str, name: str) -> bool:
    """``from module import name`` binds a module, class or function (not an object such as Quart's ``g``,
    whose attributes are there to be set).  Unknown names count as definitions."""
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        try:
            importlib.import_module(f"{module}.{name}")
            return True
        except ImportError:
            return True
    return inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj)


def _patchable(node: ast.AST, definitions: set[str]) -> bool:
    """An imported module, class or function of the libraries, or an attribute chain of one (no calls)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in definitions


def _others() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p != SEAM)


@pytest.mark.parametrize("path", _others(), ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_seam_reaches_into_hypercorn_wsproto_or_quart(path: Path) -> None:
    assert reaches(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(PKG)} reaches into a library's insides: move it into http/hypercorn_seam.py")


@pytest.mark.parametrize("path", _others(), ids=lambda p: str(p.relative_to(PKG)))
def test_the_rest_imports_only_the_seams_public_names(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "chatter.http.hypercorn_seam"
            for a in n.names}
    assert used <= set(hypercorn_seam.__all__), used - set(hypercorn_seam.__all__)


OLD_REACHES = '''
import quart._private
from hypercorn.protocol import ws_stream
from hypercorn.trio import tcp_server
from hypercorn.trio.tcp_server import _hidden
from quart import websocket

ws_stream.Handshake.__init__ = _handshake_without_extensions
tcp_server.TCPServer._close = _close
setattr(tcp_server.TCPServer, "run", _run)
inner = getattr(websocket._get_current_object(), "_send", None)


def attach(asgi_send):
    ws = asgi_send.__self__
    tcp = ws.send.__self__.send.__self__
    sock = tcp.stream.socket._sock


async def endpoint(app: QuartTrio, ws: "ws_stream.WSStream") -> None:
    ws._buffer.clear()


class FailWithCloseFrame(ws_stream.Connection):
    def events(self):
        self._state = None
'''


def test_the_walker_finds_every_reach_the_old_code_made() -> None:
    found = reaches("from quart_trio import QuartTrio\n" + OLD_REACHES)
    text = "\n".join(found)
    for what in ("imports private module quart._private", "imports private name _hidden",
                 "monkeypatches ws_stream.Handshake.__init__", "monkeypatches tcp_server.TCPServer._close",
                 "private attribute tcp_server.TCPServer._close", "monkeypatches setattr(tcp_server.TCPServer",
                 "private attribute websocket._get_current_object", "private attribute via getattr(",
                 "walks asgi_send.__self__", "walks ws.send.__self__", "private attribute ws._buffer",
                 "private attribute self._state of a subclass"):
        assert what in text, f"missed {what!r} in:\n{text}"


def test_the_walker_leaves_public_use_and_our_own_privates_alone() -> None:
    assert reaches('''
from hypercorn.config import Config as HyperConfig
from quart import websocket
from quart_trio import QuartTrio

from quart import g

hc = HyperConfig()
hc.bind = ["fd://3"]
g.started = 1.0
app = QuartTrio("chatter")
app.extensions["chatter"] = object()


class Mine:
    def __init__(self) -> None:
        self._x = 1


async def handler(thing: Mine) -> None:
    thing._x += 1
    await websocket.send("hi")
''') == []


def test_the_seam_itself_is_where_the_reaches_are() -> None:
    assert len(reaches(SEAM.read_text(encoding="utf-8"))) >= 5
