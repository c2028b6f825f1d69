# Chatter task runner.  `pip install rust-just` provides `just`.
#   just serve   install everything into ./.venv and ui/node_modules, build the UI, serve
#   just test    install everything (incl. chromium via apt) and run every test
set shell := ["bash", "-euo", "pipefail", "-c"]

venv := justfile_directory() / ".venv"
py := venv / "bin" / "python"

# Start the server on 127.0.0.1:8080 with ./chatter.db and the built UI.
serve *ARGS: setup build-ui
    {{py}} -m chatter serve {{ARGS}}

# Run every test: Python (unit, protocol, end-to-end, the built binary under env -i), UI unit tests, browser e2e.
# All three runners run even if one fails; a summary of each follows, and the recipe fails if any did.
test: setup setup-system setup-bench build-ui build
    bash scripts/run-tests.sh \
      "pytest=TEST_CHATTER_BINARY=1 {{py}} -m pytest -q -p no:cacheprovider tests bench/test_smoke.py" \
      "vitest=cd ui && npm run --silent test" \
      "playwright=cd ui && npm run --silent e2e"

# Python virtual environment with pinned dependencies (re-installs when pyproject.toml changes).
setup-py:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x "{{py}}" ]; then
      PY=$(command -v python3.11 || command -v python3)
      "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Chatter needs Python 3.11, found " + sys.version' 
      "$PY" -m venv "{{venv}}"
      "{{py}}" -m pip install -q --upgrade pip
    fi
    if [ ! -f "{{venv}}/.installed" ] || [ pyproject.toml -nt "{{venv}}/.installed" ]; then
      "{{py}}" -m pip install -q -e ".[test]"
      touch "{{venv}}/.installed"
    fi

# UI dependencies from the lockfile.
setup-ui:
    #!/usr/bin/env bash
    set -euo pipefail
    cd ui
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi

setup: setup-py setup-ui

# Benchmark dependencies: pinned Python packages, the Node peers' lockfile, the C load generator.
setup-bench: setup-py
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -f "{{venv}}/.bench-installed" ] || [ bench/requirements.txt -nt "{{venv}}/.bench-installed" ]; then
      "{{py}}" -m pip install -q -r bench/requirements.txt
      touch "{{venv}}/.bench-installed"
    fi
    if [ ! -d bench/peers/node_modules ] || [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
      (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)
    fi
    make -s -C bench/loadgen

# Benchmark smoke: every peer and Chatter at tiny sizes (~1 min); fails unless 0 lost, 0 failures.
bench-smoke: setup-bench
    {{py}} bench/bench.py --smoke

# Full benchmarks (30-40 min on a quiet machine; loopback only): bench/results/, BENCHMARKS.md, bench/latency-vs-load.png.
bench: setup-bench
    {{py}} bench/bench.py
    {{py}} bench/report

# System packages the tests need (chromium for the browser tests).
setup-system:
    bash scripts/install-system-deps.sh

# Build the UI into ui/dist (served by `chatter serve`).
build-ui: setup-ui
    cd ui && npm run --silent build

# Python tests only.
test-py *ARGS: setup-py
    {{py}} -m pytest -q -p no:cacheprovider {{ARGS}}

# Regenerate what comes from the wire structs (chatter/wire): the UI's types and validators, and their test samples.
gen-wire: setup-py
    {{py}} -m chatter.wire.gen_ts
    {{py}} tests/wire/wire_samples.py

# Lint and type-check: ruff + mypy on the Python, ESLint + Prettier on the UI.
lint: setup-py setup-ui
    {{py}} -m ruff check chatter tests bench
    {{py}} -m mypy chatter
    cd ui && npm run --silent lint

# --- shipping (docs/DEPLOY.md) ---------------------------------------------

# One self-contained executable, bin/chatter (PyInstaller one-file with the UI inside); prints size and time.
build: build-ui
    bash scripts/build-binary.sh

# The container image chatter:latest from ./Containerfile (podman; docker as a fallback).
container TAG="chatter:latest":
    bash scripts/build-container.sh {{TAG}}

# Dev loop: the server restarts on Python changes (watchfiles) + Vite's dev server with hot reload; Ctrl-C stops both.
dev PORT="8080" UI_PORT="5173": setup
    bash scripts/dev.sh {{PORT}} {{UI_PORT}}

# Shipping checks: build bin/chatter and test it under env -i, lifecycle, operator commands, dev reload.
test-ship: setup build
    TEST_CHATTER_BINARY=1 {{py}} -m pytest -q -p no:cacheprovider tests/ship tests/ops
    bash scripts/test-dev-reload.sh

# Build the container image and test it with podman (skips, saying why, where podman cannot run).
test-container:
    bash scripts/test-container.sh

# Reliability and security suite at smoke sizes (also part of `just test`).
test-reliability: setup-py
    {{py}} -m pytest -q -p no:cacheprovider -s tests/reliability tests/security

# Reliability suite at soak sizes (bounded: well under 15 minutes); prints RESULT lines.
soak: setup-py
    CHATTER_SOAK=1 {{py}} -m pytest -q -p no:cacheprovider -s tests/reliability tests/security
