#!/usr/bin/env bash
# Set up everything the tests need, then run lint, type checks and the whole test suite.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Home Assistant's own MQTT discovery schemas check our payloads (tests/dashboard/test_homeassistant.py) from a separate
# Python 3.12 venv (about 1 min to build). Optional: where no Python 3.12 is found or the build fails, that
# test skips and says why.
HA_VENV="${MASKWATCH_HA_VENV:-/tmp/ha-venv}"
if [ ! -x "$HA_VENV/bin/python" ]; then
  PY312=$(command -v python3.12 || true)
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do [ -n "$PY312" ] || [ ! -x "$c" ] || PY312=$c; done
  if [ -n "$PY312" ]; then
    echo "== Home Assistant venv for the discovery-schema test ($HA_VENV)"
    timeout 600 scripts/ha-venv.sh "$HA_VENV" "$PY312" >/dev/null 2>&1 \
      || { echo "warning: could not build $HA_VENV; tests/dashboard/test_homeassistant.py will skip its schema check"; rm -rf "$HA_VENV"; }
  fi
fi
export PYTHONUNBUFFERED=1
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy (strict on the core)"; .venv/bin/mypy edge_agent/core
echo "== pytest"; .venv/bin/python -m pytest -p no:cacheprovider --timeout=600 "$@"
