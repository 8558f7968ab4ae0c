#!/usr/bin/env bash
# Generates the code of every language from proto/ (`npm run generate`):
#   src/gen/                      TypeScript (protoc-gen-es) and switchboard.binpb,
#                                 the descriptor set that reflection serves
#   packages/go/gen/              Go (protoc-gen-go, protoc-gen-go-grpc), in the Go SDK's module
#   packages/python/src/switchboard/
#                                 Python (grpcio-tools: messages, stubs, .pyi), in the Python SDK
# (The Java SDK, packages/java, runs its generator in its Maven build.)
# With an argument, writes under that directory instead of the repository
# (scripts/check-gen.sh compares such a copy with the committed code).
# The Go and Python generators are installed first at pinned versions
# (scripts/codegen-tools.sh), so the output depends only on proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="${1:-$root}"
bash scripts/codegen-tools.sh
export PATH="$root/.cache/bin:$root/node_modules/.bin:$PATH"

# TypeScript and Go, from buf.gen.yaml.
if [ "$out" = "$root" ]; then
  buf generate --template buf.gen.yaml
else
  buf generate --template buf.gen.yaml -o "$out"
fi
buf build -o "$out/src/gen/switchboard.binpb"

# Python. Only switchboard.v1: grpcio-health-checking and grpcio-reflection
# ship the standard services, and a package named `grpc.health` of our own
# would shadow grpcio's `grpc` package.
py_out="$out/packages/python/src"
rm -rf "$py_out/switchboard"
mkdir -p "$py_out"
(cd proto && "$root/agents/python/.venv/bin/python" -m grpc_tools.protoc -I . \
  --python_out="$py_out" --pyi_out="$py_out" --grpc_python_out="$py_out" \
  switchboard/v1/*.proto)
# PEP 561: the .pyi stubs are the package's types (switchboard is a namespace
# package, so the marker goes in switchboard/v1).
touch "$py_out/switchboard/v1/py.typed"
