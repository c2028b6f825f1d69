#!/usr/bin/env bash
# Build the container image from ./Containerfile (`just container`).
# Usage: scripts/build-container.sh [TAG]   (default chatter:latest)
# Uses podman (--format docker keeps the HEALTHCHECK, which the OCI format
# drops); falls back to docker.  Base images are pulled only if missing, so
# a machine with local python:3.11-slim and node:20-slim builds offline.
# Prints the build time and the image size on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-chatter:latest}
start=$(date +%s)
if command -v podman >/dev/null; then
  podman build --format docker --pull=missing -f Containerfile -t "$tag" .
  size=$(podman image inspect --format '{{.Size}}' "$tag")
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -f Containerfile -t "$tag" .
  size=$(docker image inspect --format '{{.Size}}' "$tag")
else
  echo "build-container: neither podman nor a running docker engine found (see /work/shared/tools/podman-setup.sh or docs/DEPLOY.md)" >&2
  exit 2
fi
awk -v tag="$tag" -v s="$size" -v t="$(( $(date +%s) - start ))" \
  'BEGIN{printf "build-container: %s %.0f MB, built in %d s\n", tag, s/1e6, t}'
