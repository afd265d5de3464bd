#!/usr/bin/env bash
# First step of `make setup`: uv (pinned, from PyPI) into the tool cache, then the platform's own
# environment. Everything after that is `mlp setup`, in Python.
set -euo pipefail
: "${UV_VERSION:?set by the Makefile}"
: "${UV_DIR:?set by the Makefile}"
if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "Error: python3 must be Python 3.11 (found: $(python3 --version 2>&1)). Install 3.11 and put it first on PATH." >&2
  exit 1
fi
if [ ! -x "$UV_DIR/bin/uv" ]; then
  echo "Installing uv $UV_VERSION into $UV_DIR"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$UV_DIR" "uv==$UV_VERSION"
fi
# Bytecode compiled up front, ours too: where Python may not write its cache (PYTHONDONTWRITEBYTECODE, a
# read-only checkout), every `mlp` call would otherwise compile ~300 modules, over half a second.
"$UV_DIR/bin/uv" sync --quiet --locked --compile-bytecode --project "$(dirname "$0")"
"$(dirname "$0")/.venv/bin/python" -m compileall -q "$(dirname "$0")/src"
