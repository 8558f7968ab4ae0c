#!/usr/bin/env bash
# Fails when the committed generated code (src/gen/, packages/go/gen/,
# packages/python/src/switchboard/) is not what `npm run generate` makes from proto/.
# Installs the pinned generators first, so it works on a clean machine.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash scripts/generate.sh "$tmp" >&2
stale=0
for dir in src/gen packages/go/gen packages/python/src/switchboard; do
  # __pycache__: what running the Python agent leaves beside its code.
  if ! diff -r -x __pycache__ "$tmp/$dir" "$dir" > "$tmp/diff.txt" 2>&1; then
    echo "$dir/ is out of date with proto/: run 'npm run generate' and commit the result." >&2
    head -40 "$tmp/diff.txt" >&2
    stale=1
  fi
done
[ "$stale" = 0 ] || exit 1
echo "generated code is current"
