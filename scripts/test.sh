#!/usr/bin/env bash
# Set up everything the tests need, then run lint, type checks and the whole test suite.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PYTHONUNBUFFERED=1
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy (strict on the core)"; .venv/bin/mypy edge_agent/core
echo "== pytest"; .venv/bin/python -m pytest -p no:cacheprovider --timeout=600 "$@"
