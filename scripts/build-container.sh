#!/usr/bin/env bash
# Build the container image from ./Containerfile (`just container`).
# Usage: scripts/build-container.sh [TAG]   (default chatter:latest)
# Uses podman (--format docker keeps the HEALTHCHECK, which the OCI format
# drops); falls back to docker.  Base images are pulled only if missing, so
# a machine with local python:3.11-slim and node:20-slim builds offline.
# Prints the build time and the image size on its last line.
# When the engine or the base images are missing it says what is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/container-prereqs.sh
tag=${1:-chatter:latest}
start=$(date +%s)
if command -v podman >/dev/null; then
  engine=podman
  build=(podman build --format docker --pull=missing)
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
  build=(docker build)
else
  echo "build-container: neither podman nor a running docker engine was found." >&2
  prereq_help
  exit 2
fi
missing=$(missing_base_images "$engine" | tr '\n' ' ')
if [ -n "$missing" ]; then
  echo "build-container: base image(s) not here yet, $engine will pull them: $missing" >&2
fi
if ! "${build[@]}" -f Containerfile -t "$tag" .; then
  echo "build-container: $engine build failed." >&2
  if [ -n "$missing" ]; then
    echo "build-container: the base image(s) $missing were not available locally; if no registry is reachable:" >&2
    prereq_help
  fi
  exit 1
fi
size=$("$engine" image inspect --format '{{.Size}}' "$tag")
awk -v tag="$tag" -v s="$size" -v t="$(( $(date +%s) - start ))" \
  'BEGIN{printf "build-container: %s %.0f MB, built in %d s\n", tag, s/1e6, t}'
