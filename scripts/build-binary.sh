#!/usr/bin/env bash
# Build bin/chatter: one self-contained executable (PyInstaller --onefile)
# carrying Python, Chatter, its dependencies and the built UI (ui/dist, as
# data under ui/; chatter.http.app.default_ui_dir() finds it in sys._MEIPASS).
#
# Usage: scripts/build-binary.sh
# Needs: ui/dist built (just build-ui) and Python 3.11.  The build runs in
# its own virtual environment, build/venv, holding only Chatter's runtime
# dependencies and the pinned PyInstaller (the `build` extra): the dev venv
# carries test and bench packages (numpy, pillow...) that PyInstaller would
# otherwise pack, doubling the binary.
# Prints the build time and the binary size on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f ui/dist/index.html ]; then
  echo "build-binary: ui/dist/index.html is missing; run 'just build-ui' first" >&2
  exit 2
fi
start=$(date +%s.%N)
venv=build/venv
PY=$venv/bin/python
if [ ! -x "$PY" ]; then
  BASE=$(command -v python3.11 || command -v python3)
  "$BASE" -c 'import sys; assert sys.version_info[:2] == (3, 11), "bin/chatter needs Python 3.11 to build"'
  "$BASE" -m venv "$venv"
  "$PY" -m pip install -q --upgrade pip
fi
if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
  "$PY" -m pip install -q ".[build]" -r scripts/requirements-ship.txt
  touch "$venv/.installed"
else
  # Only Chatter's own code changed: reinstall it alone.
  "$PY" -m pip install -q --no-deps --force-reinstall .
fi

work=build/pyinstaller
rm -rf "$work" bin/chatter.tmp
mkdir -p "$work" bin
# --collect-submodules chatter: the CLI imports its commands lazily;
# hypercorn.trio and quart_trio are imported by name inside chatter.
"$PY" -m PyInstaller --noconfirm --clean --onefile --log-level WARN \
  --name chatter \
  --distpath "$work/dist" --workpath "$work/work" --specpath "$work" \
  --collect-submodules chatter \
  --collect-submodules hypercorn \
  --collect-data quart_schema \
  --add-data "$PWD/ui/dist:ui" \
  "$PWD/scripts/chatter_entry.py"
mv "$work/dist/chatter" bin/chatter.tmp
mv bin/chatter.tmp bin/chatter
end=$(date +%s.%N)
size=$(stat -c %s bin/chatter)
awk -v s="$size" -v t="$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" \
  'BEGIN{printf "build-binary: bin/chatter %.1f MB, built in %.0f s\n", s/1e6, t}'
