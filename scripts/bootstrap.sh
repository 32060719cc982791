#!/usr/bin/env bash
# Create .venv and install the project's Python dependencies from the committed constraints.
# Idempotent: does nothing when the stamp matches the requirement files.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed
want=$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -c1-16)

if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
  exit 0
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "PIAK Ops needs Python 3.10-3.13 ('$PYTHON' is missing or too old)." >&2
  echo "Debian/Ubuntu: sudo apt-get install python3 python3-venv" >&2
  exit 1
fi
if [[ ! -x $VENV/bin/python ]]; then
  echo "Creating $VENV"
  "$PYTHON" -m venv "$VENV" || {
    echo "Could not create a venv. Debian/Ubuntu: sudo apt-get install python3-venv" >&2
    exit 1
  }
fi
echo "Installing Python dependencies into $VENV (about a minute on a fresh machine)"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
echo "$want" > "$STAMP"
