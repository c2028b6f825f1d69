"""The UI route: built files, the index fallback for client routes, 404 for missing files,
source maps in dev mode only (docs/DEPLOY.md, "Source maps")."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from helpers import chatter_server, make_config, running_app

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "ui" / "dist"
SECRET = "s" * 48  # outside dev mode a real-looking secret is required

INDEX = '<!doctype html><title>Chatter UI</title><script type="module" src="/assets/index-Ab12.js"></script>'
MAP = {"version": 3, "sources": ["../src/main.tsx"], "sourcesContent": ["const hidden = 'source';"], "mappings": ""}


def vite_like_dist(root: Path) -> Path:
    """What ``vite build`` with ``sourcemap: true`` writes, in small."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "assets" / "index-Ab12.js").write_text("console.log(1);\n//# sourceMappingURL=index-Ab12.js.map\n")
    (root / "assets" / "index-Ab12.js.map").write_text(json.dumps(MAP))
    return root


def config(ui: Path, tmp_path: Path, *, dev: bool) -> Any:
    extra: dict[str, Any] = {} if dev else {"auth__secret": SECRET}
    return make_config(tmp_path, server__ui_dir=str(ui), server__dev=dev, **extra)


async def body(r: Any) -> str:
    return str(await r.get_data(as_text=True))


@pytest.mark.parametrize("dev", [True, False])
async def test_missing_files_are_404_and_only_extensionless_paths_fall_back(tmp_path: Path, dev: bool) -> None:
    with trio.fail_after(10):
        ui = vite_like_dist(tmp_path / "ui")
        async with running_app(config(ui, tmp_path, dev=dev)) as app:
            c = app.test_client(use_cookies=False)
            for path in ("/assets/nope.js", "/assets/index-Old1.css", "/assets/sub/dir", "/assets/",
                         "/nope.js", "/favicon.ico", "/robots.txt", "/rooms/r_abc/logo.png"):
                r = await c.get(path)
                assert r.status_code == 404, path
                assert r.mimetype == "application/json", path
                assert (await r.get_json())["error"]["code"] == "NOT_FOUND", path
                assert "Chatter UI" not in await body(r), path
            for path in ("/", "/rooms/r_abc", "/login", "/some/client/route"):
                r = await c.get(path)
                assert r.status_code == 200 and "Chatter UI" in await body(r), path
                assert r.headers["Cache-Control"] == "no-cache", path
            r = await c.get("/assets/index-Ab12.js")
            assert r.status_code == 200 and "sourceMappingURL" in await body(r)
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            r = await c.get("/favicon.svg")
            assert r.status_code == 200 and "<svg" in await body(r)


@pytest.mark.parametrize("dev", [True, False])
async def test_source_maps_are_served_in_dev_mode_only(tmp_path: Path, dev: bool) -> None:
    with trio.fail_after(10):
        ui = vite_like_dist(tmp_path / "ui")
        async with running_app(config(ui, tmp_path, dev=dev)) as app:
            c = app.test_client(use_cookies=False)
            for path in ("/assets/index-Ab12.js.map", "/assets/INDEX-AB12.JS.MAP"):
                r = await c.get(path)
                if dev and path == "/assets/index-Ab12.js.map":
                    assert r.status_code == 200
                    assert json.loads(await body(r))["sourcesContent"] == MAP["sourcesContent"]
                else:
                    assert r.status_code == 404, path
                    assert "hidden" not in await body(r)


@pytest.mark.e2e
@pytest.mark.skipif(not (BUILT / "index.html").is_file(), reason="the UI is not built (just build-ui)")
@pytest.mark.parametrize("dev", [True, False])
def test_the_built_ui_maps_follow_the_mode(tmp_path: Path, dev: bool) -> None:
    """The real ``vite build`` output from a real server: its bundle names a map with the sources."""
    ui = tmp_path / "ui"
    shutil.copytree(BUILT, ui)
    bundles = sorted((ui / "assets").glob("*.js"))
    assert bundles, "vite build wrote no JavaScript"
    mode = ["--set", "server.dev=true"] if dev else ["--set", "server.dev=false", "--set", f"auth.secret={SECRET}"]
    with chatter_server(tmp_path, "--set", f"server.ui_dir={ui}", *mode) as server, \
            httpx.Client(base_url=server.url, timeout=10) as http:
        for js in bundles:
            r = http.get(f"/assets/{js.name}")
            assert r.status_code == 200
            m = re.search(r"sourceMappingURL=(\S+)", r.text)
            assert m, f"{js.name} names no source map (ui/vite.config.ts build.sourcemap)"
            assert json.loads((ui / "assets" / m.group(1)).read_text())["sourcesContent"]
            r = http.get(f"/assets/{m.group(1)}")
            assert r.status_code == (200 if dev else 404)
            assert ("sourcesContent" in r.text) is dev
        assert http.get("/assets/nope.js").status_code == 404
        assert "<title>" in http.get("/rooms/r_abc").text
