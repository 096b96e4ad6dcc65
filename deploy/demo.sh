#!/usr/bin/env bash
# MaskWatch in one command: broker + agent + dashboard on this machine.
#
#   ./deploy/demo.sh [maskwatch demo options]      (./deploy/demo.sh --help for them)
#
# Creates .venv (Python >= 3.11) if needed, installs the project with the dashboard and the embedded broker
# (pip install -e '.[dashboard,broker]'; again only when pyproject.toml changes), then runs `maskwatch demo`:
# mosquitto if installed (else the embedded amqtt broker), the first USB camera (else a generated scene),
# the dashboard at a printed URL with printed credentials. State lives in var/demo/. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PYTHON:-python3}"
VENV="${MASKWATCH_VENV:-.venv}"

command -v "$PY" >/dev/null 2>&1 || { echo "demo.sh: $PY not found; install Python 3.11 or newer" >&2; exit 1; }
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "demo.sh: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "demo.sh: creating $VENV"
  "$PY" -m venv "$VENV" || { echo "demo.sh: cannot create a virtualenv (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi

STAMP="$VENV/.maskwatch-demo-installed"
if [ ! -e "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || ! "$VENV/bin/python" -c 'import edge_agent, flask, amqtt' 2>/dev/null; then
  echo "demo.sh: installing MaskWatch into $VENV (first run downloads OpenCV, LiteRT, Flask, amqtt: a few minutes)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e '.[dashboard,broker]'
  touch "$STAMP"
fi

exec "$VENV/bin/maskwatch" demo "$@"
