#!/usr/bin/env bash
# Check the dev loop (`just dev`, scripts/dev.sh) from outside:
#   1. both come up: the server's /healthz, Vite's page, /healthz through Vite's proxy;
#   2. adding (then removing) a Python module under chatter/ restarts the server;
#   3. a UI source file edited on disk is served changed by Vite;
#   4. Ctrl-C (SIGINT to dev.sh) stops both: ports closed, no process left.
# Uses probe files of its own (chatter/_dev_reload_probe.py,
# ui/src/__dev_reload_probe.ts) and removes them, so it never edits a file
# someone else is working on.  Temporary database; free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test-dev-reload: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; say "--- dev.sh output ---"; tail -40 "$tmp/dev.log" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); UI_PORT=$(free_port)
tmp=$(mktemp -d)
py_probe=chatter/_dev_reload_probe.py
ui_probe=ui/src/__dev_reload_probe.ts
dev_pid=
cleanup() {
  rm -f "$py_probe" "$ui_probe"
  if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then kill -TERM -- "-$dev_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

get() { python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        sys.stdout.write(r.read().decode("utf-8", "replace"))
except Exception:
    sys.exit(1)
PY
}
until_true() {  # $1 = seconds, rest = command
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
serving_count() { grep -c "Chatter is serving on" "$tmp/dev.log" || true; }
at_least() { [ "$(serving_count)" -ge "$1" ]; }
contains() { get "$1" | grep -q "$2"; }

say "starting scripts/dev.sh $PORT $UI_PORT"
# A background job of a non-interactive shell starts with SIGINT ignored, and
# bash cannot trap a signal ignored on entry: restore the default (as in a
# terminal, where Ctrl-C reaches `just dev`) and give it its own session.
CHATTER_STORE_PATH=$tmp/dev.db python3 -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp("bash", ["bash", "scripts/dev.sh", *sys.argv[1:]])' "$PORT" "$UI_PORT" > "$tmp/dev.log" 2>&1 &
dev_pid=$!

until_true 60 get "http://127.0.0.1:$PORT/healthz" || fail "server /healthz did not answer"
until_true 60 contains "http://127.0.0.1:$UI_PORT/" "@vite/client" || fail "Vite did not serve its page"
contains "http://127.0.0.1:$UI_PORT/healthz" '"ok"' || fail "Vite does not proxy /healthz to the server"
at_least 1 || fail "no 'serving on' line"
say "both up: server :$PORT, Vite :$UI_PORT (proxy ok)"

# 2. Python change -> restart.
before=$(serving_count)
printf '"""Temporary file of scripts/test-dev-reload.sh."""\n' > "$py_probe"
until_true 30 at_least $((before + 1)) || fail "the server did not restart after $py_probe was added"
until_true 30 get "http://127.0.0.1:$PORT/healthz" || fail "no /healthz after the restart"
rm -f "$py_probe"
until_true 30 at_least $((before + 2)) || fail "the server did not restart after $py_probe was removed"
until_true 30 get "http://127.0.0.1:$PORT/healthz" || fail "no /healthz after the second restart"
say "server restarted on Python changes ($(serving_count) starts)"

# 3. UI change -> Vite serves it.
printf 'export const probe = "first-%s";\n' "$$" > "$ui_probe"
until_true 30 contains "http://127.0.0.1:$UI_PORT/src/__dev_reload_probe.ts" "first-$$" || fail "Vite did not serve the new UI file"
printf 'export const probe = "second-%s";\n' "$$" > "$ui_probe"
until_true 30 contains "http://127.0.0.1:$UI_PORT/src/__dev_reload_probe.ts" "second-$$" || fail "Vite kept serving the old UI file"
rm -f "$ui_probe"
say "Vite served the edited UI file"

# 4. Ctrl-C stops both.
kill -INT "$dev_pid"
for _ in $(seq 1 100); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$dev_pid" 2>/dev/null && fail "dev.sh still runs 10 s after SIGINT"
get "http://127.0.0.1:$PORT/healthz" >/dev/null && fail "the server still answers after Ctrl-C"
get "http://127.0.0.1:$UI_PORT/" >/dev/null && fail "Vite still answers after Ctrl-C"
if pgrep -s "$dev_pid" >/dev/null 2>&1; then fail "processes left in dev.sh's session: $(pgrep -s "$dev_pid" -a)"; fi
for port in "$PORT" "$UI_PORT"; do
  python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$port))==0)" || fail "port $port still open"
done
say "PASS: Ctrl-C stopped the server and Vite"
