#!/usr/bin/env bash
# Makes .cache/a2a-venv: a Python virtual environment with the official A2A
# SDK (a2a-sdk, with its gRPC and HTTP server extras) at the versions pinned in
# test/a2a-python/requirements.txt. The A2A tests use it as an independent
# implementation of the protocol: its client talks to Switchboard's flows, its
# server is an A2A agent that a flow stage calls. Does nothing when the
# environment is already current, so it is cheap to run before every test run.
#
#   bash scripts/a2a-python-setup.sh
#
# PYTHON picks the interpreter (default: python3.11, else python3; 3.10 or
# newer is required).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/a2a-venv"
requirements="$root/test/a2a-python/requirements.txt"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "scripts/a2a-python-setup.sh: the A2A SDK needs Python 3.10 or newer; install it or set PYTHON" >&2
  exit 1
fi
want="$(sha256sum "$requirements" | cut -d' ' -f1) $("$python" --version 2>&1)"
stamp="$venv/.switchboard-requirements"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$stamp"
