#!/usr/bin/env bash
# Installs the code generators that are not npm packages, at pinned versions:
# protoc-gen-go and protoc-gen-go-grpc into .cache/bin (with `go install`),
# and grpcio-tools into agents/python/.venv (agents/python/setup.sh). Each
# step does nothing when the right version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/.cache/bin"
mkdir -p "$bin"

protoc_gen_go=v1.36.12      # google.golang.org/protobuf
protoc_gen_go_grpc=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc

if ! command -v go >/dev/null 2>&1; then
  echo "scripts/codegen-tools.sh: Go is not on PATH; install Go 1.24 or newer to generate the Go agent's code" >&2
  exit 1
fi
if [ "$("$bin/protoc-gen-go" --version 2>/dev/null)" != "protoc-gen-go $protoc_gen_go" ]; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$protoc_gen_go"
fi
if [ "$("$bin/protoc-gen-go-grpc" --version 2>/dev/null)" != "protoc-gen-go-grpc ${protoc_gen_go_grpc#v}" ]; then
  GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$protoc_gen_go_grpc"
fi
bash agents/python/setup.sh
