#!/usr/bin/env bash
# Build the image and check it from outside (`just test-container`):
#   /healthz and the HEALTHCHECK, register + login, a socket message, the
#   non-root user, SIGTERM via `podman stop -t 30` -> exit code 0 and a
#   clean log, an open socket closed with 1001, then a new container on the
#   same named volume still has the account and the message; a new
#   operator's mistakes (a second server on the volume, a read-only /data, a
#   bind mount uid 10001 cannot write, a short key) each end in one line with
#   exit 2; doctor warns about an anonymous volume; and, when bin/chatter
#   exists, the single binary serves /healthz and the UI in a bare Debian
#   container (no Python, no Node).
# Skips (exit 0, saying why) only when podman cannot run a container here.
# Env: CHATTER_IMAGE (default chatter:test), CHATTER_TEST_PORT (default: a free port).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/container-prereqs.sh
say() { printf 'test-container: %s\n' "$*" >&2; }

if ! command -v podman >/dev/null; then
  say "SKIP: podman is not installed."
  prereq_help
  exit 0
fi
if ! podman run --rm --pull=never python:3.11-slim true >/dev/null 2>&1 \
   && ! podman run --rm python:3.11-slim true >/dev/null 2>&1; then
  say "SKIP: podman cannot run a container here (no python:3.11-slim image and no registry, or no runtime):"
  podman run --rm --pull=never python:3.11-slim true 2>&1 | tail -3 >&2 || true
  prereq_help
  exit 0
fi

image=${CHATTER_IMAGE:-chatter:test}
name=chatter-test-$$
volume=chatter-test-data-$$
port=${CHATTER_TEST_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
base=http://127.0.0.1:$port
hostdirs=()
cleanup() {
  podman rm -f -v "$name" "$name-2" "$name-bin" "$name-anon" "$name-bind" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  for d in "${hostdirs[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

bash scripts/build-container.sh "$image" >&2

wait_healthy() {  # $1 = container
  for _ in $(seq 1 100); do
    if python3 -c "import sys,urllib.request as u; sys.exit(u.urlopen('$base/healthz', timeout=2).status != 200)" 2>/dev/null; then
      return 0
    fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$1")" != "true" ]; then
      say "FAIL: container $1 exited"; podman logs "$1" >&2; return 1
    fi
    sleep 0.2
  done
  say "FAIL: /healthz did not answer within 20 s"; podman logs "$1" >&2; return 1
}

say "run $image on 127.0.0.1:$port with volume $volume"
# Without systemd podman cannot schedule the HEALTHCHECK timer (it says so on
# stderr); the check itself is run below with `podman healthcheck run`.
run() { podman run -d --pull=never "$@" 2> >(grep -v 'systemd connection' >&2) >/dev/null; }
stop() { podman stop -t 30 "$1" 2> >(grep -v 'systemd connection' >&2) >/dev/null; }
run --name "$name" -p "127.0.0.1:$port:8080" -v "$volume:/data" "$image"
wait_healthy "$name"

uid=$(podman exec "$name" id -u)
[ "$uid" != 0 ] || { say "FAIL: the server runs as root"; exit 1; }
podman healthcheck run "$name" >/dev/null || { say "FAIL: HEALTHCHECK failed"; exit 1; }
mode=$(podman exec "$name" stat -c %a /data/secret)
[ "$mode" = 600 ] || { say "FAIL: /data/secret has mode $mode, expected 600"; exit 1; }

# A start that must be refused: exit 2, one line containing $1, nothing claiming to run.
refused() {  # $1 = text the line must contain; the rest = podman run arguments before the image
  local want=$1 out code=0
  shift
  out=$(podman run --rm --pull=never "$@" "$image" 2>&1) || code=$?
  out=$(grep -v 'systemd connection' <<<"$out" || true)
  if [ "$code" != 2 ] || [ "$(printf '%s\n' "$out" | wc -l)" != 1 ] || ! grep -qF -- "$want" <<<"$out" \
     || grep -qE 'Running on|serving' <<<"$out"; then
    say "FAIL: expected exit 2 and one line containing '$want'; got exit $code:"; printf '%s\n' "$out" >&2
    exit 1
  fi
  say "refused in one line: $out"
}

# A second server on the same volume: the lock is shared through the file, across containers.
refused "is in use by another Chatter server (pid 1 on " -v "$volume:/data"
podman exec "$name" chatter doctor > "/tmp/$name.doctor" || true  # exit 1: no backup yet
grep -q "^OK volume: /data is the named volume $volume" "/tmp/$name.doctor" \
  || { say "FAIL: doctor does not see the named volume"; cat "/tmp/$name.doctor" >&2; exit 1; }

# Register, log in, send a message over the socket; remember it.
python3 scripts/ship_probe.py "$base" write > "/tmp/$name.json"

# An open socket during the stop must get close code 1001.
python3 scripts/ship_probe.py "$base" hold > "/tmp/$name.hold" 2>&1 &
hold_pid=$!
for _ in $(seq 1 50); do grep -q holding "/tmp/$name.hold" 2>/dev/null && break; sleep 0.1; done
grep -q holding "/tmp/$name.hold" || { say "FAIL: the socket for the stop test did not open"; cat "/tmp/$name.hold" >&2; exit 1; }

say "stop with SIGTERM (podman stop -t 30)"
t0=$(date +%s.%N)
stop "$name"
if ! wait "$hold_pid"; then say "FAIL: open socket not closed with 1001"; cat "/tmp/$name.hold" >&2; exit 1; fi
tail -1 "/tmp/$name.hold" >&2
rm -f "/tmp/$name.hold"
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
[ "$code" = 0 ] || { say "FAIL: exit code $code after SIGTERM"; podman logs "$name" >&2; exit 1; }
# Read the log once: `podman logs | grep -q` under pipefail fails when grep exits before podman has written it all.
log=$(podman logs "$name" 2>&1)
grep -q "received SIGTERM" <<<"$log" || { say "FAIL: the server did not see SIGTERM"; exit 1; }
if grep -q Traceback <<<"$log"; then say "FAIL: traceback in the log"; printf '%s\n' "$log" >&2; exit 1; fi
tail -1 <<<"$log" | grep -q "shutdown complete: .* closed in" \
  || { say "FAIL: the log does not end with 'shutdown complete'"; tail -3 <<<"$log" >&2; exit 1; }
printf 'test-container: exit code 0 after SIGTERM, %.1f s\n' "$took" >&2

say "new container on the same volume"
run --name "$name-2" -p "127.0.0.1:$port:8080" -v "$volume:/data" "$image"
wait_healthy "$name-2"
python3 scripts/ship_probe.py "$base" check < "/tmp/$name.json"
stop "$name-2"
[ "$(podman inspect --format '{{.State.ExitCode}}' "$name-2")" = 0 ] || { say "FAIL: second container exit code"; exit 1; }
rm -f "/tmp/$name.json"

say "a new operator's mistakes, each refused in one line"
refused "directory /data is on a read-only file system" -v "$volume:/data:ro"
refused "auth.secret is shorter than 32 bytes" -e CHATTER_AUTH_SECRET=short -v "$volume:/data"
root_owned=$(mktemp -d); hostdirs+=("$root_owned"); chmod 755 "$root_owned"
refused "not writable by uid 10001" -v "$root_owned:/data"
refused "add :U to the volume" -v "$root_owned:/data"
short_key=$(mktemp -d); hostdirs+=("$short_key"); echo short > "$short_key/secret"
refused "auth.secret_file /data/secret: the key in it is shorter than 32 bytes" -v "$short_key:/data:U"
# With :U the same kind of bind mount works.
bound=$(mktemp -d); hostdirs+=("$bound")
run --name "$name-bind" -p "127.0.0.1:$port:8080" -v "$bound:/data:U" "$image"
wait_healthy "$name-bind"
stop "$name-bind"
podman rm -f "$name-bind" >/dev/null
[ -s "$bound/chatter.db" ] || { say "FAIL: no database in the :U bind mount"; exit 1; }

say "doctor without -v: the image's VOLUME /data is an anonymous volume"
run --name "$name-anon" -p "127.0.0.1:$port:8080" "$image"
wait_healthy "$name-anon"
podman exec "$name-anon" chatter doctor > "/tmp/$name.doctor" || true
grep -q "^WARN volume: /data is an anonymous volume" "/tmp/$name.doctor" \
  || { say "FAIL: doctor did not warn about the anonymous volume"; cat "/tmp/$name.doctor" >&2; exit 1; }
stop "$name-anon"
podman rm -f -v "$name-anon" >/dev/null
rm -f "/tmp/$name.doctor"
# bin/chatter on a system with no Python and no Node: a bare Debian image.
if [ -x bin/chatter ] && podman image exists debian:bookworm; then
  if podman run --rm --pull=never debian:bookworm sh -c 'command -v python3 || command -v python || command -v node' >/dev/null; then
    say "note: debian:bookworm has Python or Node; the bare-system check proves less"
  fi
  run --name "$name-bin" -p "127.0.0.1:$port:8080" -v "$PWD/bin/chatter:/usr/local/bin/chatter:ro" \
    -e CHATTER_SERVER_HOST=0.0.0.0 -w /tmp debian:bookworm chatter
  wait_healthy "$name-bin"
  python3 -c "import sys,urllib.request as u; sys.exit(b'<div id=\"root\"' not in u.urlopen('$base/', timeout=5).read())" \
    || { say "FAIL: bin/chatter in a bare Debian container does not serve the UI"; exit 1; }
  stop "$name-bin"
  [ "$(podman inspect --format '{{.State.ExitCode}}' "$name-bin")" = 0 ] || { say "FAIL: bin/chatter exit code"; exit 1; }
  podman rm -f "$name-bin" >/dev/null
  say "bin/chatter serves /healthz and the UI in a bare Debian container (no Python, no Node)"
else
  say "note: no bin/chatter or no debian:bookworm image (podman pull docker.io/library/debian:bookworm): bare-system check of the binary skipped"
fi

size=$(podman image inspect --format '{{.Size}}' "$image")
awk -v i="$image" -v s="$size" 'BEGIN{printf "test-container: PASS (image %s, %.0f MB)\n", i, s/1e6}' >&2
