#!/usr/bin/env bash
# Builds the console (console/, with Vite) into dist/console, which the
# orchestrator serves at /console/. Like `tsc -b`, a second build with
# nothing changed does nothing: the build is skipped while dist/console is
# newer than the console's sources, the generated code it imports and the
# lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/console/index.html
if [ -f "$stamp" ] && [ -z "$(find console src/gen package-lock.json -newer "$stamp" -type f -print -quit)" ]; then
  exit 0
fi
npx --no-install vite build -c console/vite.config.mjs
