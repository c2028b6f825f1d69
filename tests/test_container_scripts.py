"""scripts/build-container.sh and test-container.sh say what a machine needs.

They run here with a PATH that holds the ordinary tools and, in place of
podman, either nothing or a stub that knows no images and cannot reach a
registry; the real podman is never called.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("bash", "awk", "sort", "tr", "date", "dirname", "cat", "grep", "tail", "env", "python3", "sed", "head")

NO_REGISTRY_PODMAN = """#!/usr/bin/env bash
# A podman with empty storage and no registry.
echo "$*" >> "$(dirname "$0")/podman.calls"
case "$1 $2" in
  "image inspect"|"image exists") exit 125 ;;
  "build "*) echo "Error: initializing source docker://python:3.11-slim: dial tcp: no route to host" >&2; exit 125 ;;
  "run "*) echo "Error: python:3.11-slim: image not known" >&2; exit 125 ;;
esac
exit 125
"""


def tool_path(tmp_path: Path, podman: str | None) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    if podman is not None:
        (bin_dir / "podman").write_text(podman)
        (bin_dir / "podman").chmod(0o755)
    return str(bin_dir)


def run(script: str, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", f"scripts/{script}", "chatter:probe"], cwd=ROOT, env={"PATH": path, "HOME": "/"},
                          capture_output=True, text=True, timeout=60, check=False)


def assert_guidance(err: str) -> None:
    assert "apt-get install podman" in err
    assert "podman pull docker.io/library/python:3.11-slim" in err
    assert "podman pull docker.io/library/node:20-slim" in err
    assert "without registry access, provide local images under exactly those names" in err
    assert "/work" not in err and "podman-setup" not in err


def test_build_without_podman_or_docker_says_what_is_needed(tmp_path: Path) -> None:
    r = run("build-container.sh", tool_path(tmp_path, None))
    assert r.returncode == 2
    assert "neither podman nor a running docker engine" in r.stderr
    assert_guidance(r.stderr)


def test_build_without_base_images_or_registry_says_how_to_provide_them(tmp_path: Path) -> None:
    path = tool_path(tmp_path, NO_REGISTRY_PODMAN)
    r = run("build-container.sh", path)
    assert r.returncode == 1
    assert "base image(s) not here yet, podman will pull them: node:20-slim python:3.11-slim" in r.stderr
    assert "podman build failed" in r.stderr
    assert_guidance(r.stderr)
    calls = (Path(path) / "podman.calls").read_text()
    assert "build --format docker --pull=missing -f Containerfile -t chatter:probe ." in calls


def test_container_test_skips_with_the_guidance(tmp_path: Path) -> None:
    r = run("test-container.sh", tool_path(tmp_path, None))
    assert r.returncode == 0 and "SKIP: podman is not installed" in r.stderr
    assert_guidance(r.stderr)
    r = run("test-container.sh", tool_path(tmp_path / "2", NO_REGISTRY_PODMAN))
    assert r.returncode == 0 and "SKIP: podman cannot run a container here" in r.stderr
    assert_guidance(r.stderr)


def test_no_script_names_a_path_of_the_authors_machines() -> None:
    for script in sorted((ROOT / "scripts").glob("*.sh")):
        text = script.read_text()
        assert "/work/" not in text and "podman-setup" not in text, script.name
