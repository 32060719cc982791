#!/usr/bin/env bash
# make test: lint, format check, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/include${PYTHONPATH:+:$PYTHONPATH}"
echo "== ruff check"
.venv/bin/ruff check .
echo "== ruff format --check"
.venv/bin/ruff format --check .
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
