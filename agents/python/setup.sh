#!/usr/bin/env bash
# Makes agents/python/.venv: a virtual environment with the Python agent's
# pinned dependencies and grpcio-tools for code generation. Does nothing when
# the environment is already current (the requirements files' checksum is
# kept in the environment), so it is cheap to run before every test run.
#
#   npm run agents:python:setup        or        bash agents/python/setup.sh
#
# PYTHON picks the interpreter (default: python3.11, else python3; 3.10 or
# newer is required).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
if ! command -v "$python" >/dev/null 2>&1; then
  echo "agents/python/setup.sh: no $python on PATH; install Python 3.10 or newer (3.11 is what CI uses) or set PYTHON" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "agents/python/setup.sh: $("$python" --version 2>&1) is too old; the agent needs Python 3.10 or newer (set PYTHON)" >&2
  exit 1
fi
want="$(cat "$here/requirements.txt" "$here/requirements-dev.txt" | sha256sum | cut -d' ' -f1) $("$python" --version 2>&1)"
stamp="$venv/.switchboard-requirements"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "agents/python/setup.sh: creating $venv with $("$python" --version 2>&1)" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$here/requirements-dev.txt"
echo "$want" > "$stamp"
