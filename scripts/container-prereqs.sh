# What building Chatter's image needs, and how to get it; sourced by
# build-container.sh and test-container.sh (not run on its own).

# The base images the Containerfile starts from (python:3.11-slim, node:20-slim).
base_images() {
  awk 'toupper($1) == "FROM" { print $2 }' Containerfile | sort -u
}

# Those of them that are not in local storage of engine $1 (podman or docker).
missing_base_images() {
  local engine=$1 image
  for image in $(base_images); do
    "$engine" image inspect "$image" >/dev/null 2>&1 || echo "$image"
  done
}

# How to get an engine and the base images, for messages on stderr.
prereq_help() {
  local images
  images=$(base_images | tr '\n' ' ')
  cat >&2 <<EOF
  The image is built with podman (Debian/Ubuntu: apt-get install podman), or docker,
  from the base images ${images% }:
  - with access to a registry they are pulled on the first build, or beforehand:
$(for i in $(base_images); do echo "      podman pull docker.io/library/$i"; done)
  - without registry access, provide local images under exactly those names
    (for example built on this machine and named with: podman tag IMAGE NAME).
  See docs/DEPLOY.md, "The container".
EOF
}
