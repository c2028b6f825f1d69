#!/usr/bin/env bash
# The dev loop (`just dev`): two processes in one command.
#   - the server on 127.0.0.1:PORT in dev mode, restarted by watchfiles
#     whenever a .py file under chatter/ changes (SIGINT -> graceful stop,
#     then a fresh `python -m chatter serve`);
#   - Vite's dev server on 127.0.0.1:UI_PORT (hot module reload), proxying
#     /api, /ws and /healthz to the server.
# Open http://127.0.0.1:UI_PORT/.  Ctrl-C (or SIGTERM) stops both; if one
# dies the other is stopped too.  Database: ./chatter.db unless
# CHATTER_STORE_PATH says otherwise.
# Usage: scripts/dev.sh [PORT] [UI_PORT]   (default 8080 5173)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8080}
UI_PORT=${2:-5173}
PY=${CHATTER_DEV_PYTHON:-.venv/bin/python}
say() { printf 'dev: %s\n' "$*" >&2; }

if ! "$PY" -c 'import watchfiles, sys; sys.exit(watchfiles.__version__ != "1.3.0")' 2>/dev/null; then
  say "installing watchfiles (scripts/requirements-dev.txt)"
  "$PY" -m pip install -q -r scripts/requirements-dev.txt
fi
if [ ! -d ui/node_modules ]; then
  say "ui/node_modules is missing; run 'just setup-ui' (just dev does it)"
  exit 2
fi

pids=()
stop_all() {
  trap - INT TERM
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'say "stopping"; stop_all; exit 0' INT TERM

# Each child leads its own process group (setsid), so one kill reaches
# watchfiles and the server it runs, or npm and the node under it.
server="$PY -m chatter serve --dev --host 127.0.0.1 --port $PORT --set server.shutdown_grace=1"
setsid "$PY" -m watchfiles --target-type command --filter python --sigint-timeout 5 "$server" chatter &
pids+=($!)
# The UI's vite.config.ts reads UI_DEV_PORT and UI_DEV_API_ORIGIN.
(cd ui && UI_DEV_PORT=$UI_PORT UI_DEV_API_ORIGIN=http://127.0.0.1:$PORT exec setsid npm run --silent dev -- --strictPort) &
pids+=($!)
say "server http://127.0.0.1:$PORT (restarts on chatter/**/*.py changes), UI http://127.0.0.1:$UI_PORT/ ; Ctrl-C stops both"

set +e
wait -n "${pids[@]}"
code=$?
set -e
say "a process exited (status $code); stopping the other"
stop_all
exit "$code"
