#!/usr/bin/env bash
# System packages needed by the test suite: Debian's chromium for the
# browser end-to-end tests (Playwright's own browser download is not
# reachable) and nginx for the reverse-proxy tests (tests/security/
# test_sec_proxy.py starts its own nginx on a loopback port; the system
# service is not used).  Idempotent; needs root (or sudo) and Debian's
# package mirror.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-system-deps: installing ${need[*]}" >&2
# Keep the packages' services (nginx on port 80) from being started by the
# install: the tests run their own nginx.  policy-rc.d exit 101 = "not allowed".
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy" && added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
