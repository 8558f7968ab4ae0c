#!/usr/bin/env bash
# Fails when src/gen/ is not what `npm run generate` makes from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx buf generate --template buf.gen.yaml -o "$tmp"
npx buf build -o "$tmp/src/gen/switchboard.binpb"
if ! diff -r "$tmp/src/gen" src/gen > "$tmp/diff.txt"; then
  echo "src/gen/ is out of date with proto/: run 'npm run generate' and commit the result." >&2
  head -40 "$tmp/diff.txt" >&2
  exit 1
fi
echo "generated code is current"
