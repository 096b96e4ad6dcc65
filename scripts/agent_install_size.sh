#!/usr/bin/env bash
# The agent's install (`pip install .`, no extras) for one platform, measured without installing it here:
# pip resolves and unpacks the wheels for that platform into a --target folder, then `du` sizes it.
#   scripts/agent_install_size.sh [aarch64|x86_64] [TARGET_DIR]
# Prints the total and the ten largest top-level entries. Needs access to a package index.
set -euo pipefail
ARCH="${1:-aarch64}"
TARGET="${2:-/tmp/maskwatch-agent-${ARCH}}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT
case "$ARCH" in
  aarch64) PLAT=(--platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux_2_28_aarch64) ;;
  x86_64) PLAT=(--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64) ;;
  *) echo "usage: $0 aarch64|x86_64 [TARGET_DIR]" >&2; exit 2 ;;
esac
# The project and any pure-Python dependency published only as a source archive, built here as wheels.
"$PY" -m pip wheel -q --no-deps -w "$WHEELS" "$HERE" sdnotify >/dev/null
rm -rf "$TARGET"
"$PY" -m pip install -q --no-compile --target "$TARGET" "${PLAT[@]}" --python-version 3.11 --implementation cp \
  --only-binary=:all: --find-links "$WHEELS" "$WHEELS"/maskwatch-*.whl
echo "agent install for ${ARCH} / CPython 3.11: $(du -sm "$TARGET" | cut -f1) MB in $TARGET"
du -sm "$TARGET"/* | sort -rn | head -10
