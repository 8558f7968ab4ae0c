#!/usr/bin/env bash
# Builds FerretDB (a MongoDB-wire-protocol server on SQLite) from its Go
# module into .cache/bin/ferretdb, for the tests. Idempotent: exits at once
# when the binary is there. Needs Go and the Go module proxy.
#
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@VERSION` cannot be
# used: the proxy serves the module's versions but not its version list,
# which `go install` reads. So: download the module, then build it in a
# writable copy with the version file its build expects.
set -euo pipefail
version="${FERRETDB_VERSION:-v1.24.2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.cache/bin/ferretdb"
if [ -x "$out" ]; then
  have=$("$out" --version 2>/dev/null || true)
  case "$have" in *"version: $version"*) exit 0 ;; esac
fi
mkdir -p "$root/.cache/bin"
dir=$(cd "$(mktemp -d)" && go mod init ferretdb-build >/dev/null 2>&1 && go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "install-ferretdb: could not download github.com/FerretDB/FerretDB@$version with the Go module proxy" >&2
  exit 1
fi
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cp -r "$dir/." "$src/"
chmod -R u+w "$src"
echo "$version" > "$src/build/version/version.txt"
(cd "$src" && go build -trimpath -o "$out" ./cmd/ferretdb)
# Print the version line (read it whole: a closed pipe would fail the script).
version_line=$("$out" --version 2>&1 || true)
echo "${version_line%%$'\n'*}"
