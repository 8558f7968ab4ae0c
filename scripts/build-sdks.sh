#!/usr/bin/env bash
# Builds the agent SDKs into the packages teams install, under .cache/sdks/:
#   typescript/switchboard-agent-VERSION.tgz     `npm pack` of packages/agent
#   python/switchboard_agent-VERSION-*.whl       `python -m build` of packages/python
#   java/switchboard-agent-VERSION.jar           `mvn install` of packages/java (also
#                                                into the local Maven repository, ~/.m2)
#   java/sample.classpath                        agents/java built, its runtime classpath
#   contracts/switchboard-contracts-VERSION.tar.gz
#                                                proto/ and the descriptor set, for
#                                                code generation in other languages
# The Go SDK is a module (packages/go) that an agent requires; there is
# nothing to build ahead.
#
#   bash scripts/build-sdks.sh [typescript] [python] [java] [contracts]
#
# Each package is built again only when its inputs changed (a checksum of
# them is kept beside it), so the test setup can run this on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="$root/.cache/sdks"
mkdir -p "$out"
version=0.1.0

# inputs_sum prints one checksum of every file under the given paths.
inputs_sum() {
  find "$@" -type f -not -path '*/__pycache__/*' -not -path '*/dist/*' -not -path '*/target/*' \
    -not -path '*/build/*' -not -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

# current NAME PATHS...: true when NAME was built from these inputs already.
current() {
  local name=$1
  shift
  want=$(inputs_sum "$@")
  [ "$(cat "$out/$name.sum" 2>/dev/null)" = "$want" ]
}

built() {
  echo "$want" > "$out/$1.sum"
  echo "build-sdks: $1 built" >&2
}

build_typescript() {
  current typescript packages/agent/src packages/agent/package.json packages/agent/tsconfig.json \
    packages/agent/README.md src/gen src/server src/core tsconfig.json && return 0
  (cd packages/agent && rm -rf dist && "$root/node_modules/.bin/tsc" -p tsconfig.json &&
    cp "$root/src/gen/switchboard.binpb" dist/src/gen/)
  rm -rf "$out/typescript" && mkdir -p "$out/typescript"
  (cd packages/agent && npm pack --ignore-scripts --silent --pack-destination "$out/typescript" >/dev/null)
  built typescript
}

build_python() {
  current python packages/python && return 0
  local venv="$out/build-venv"
  if [ ! -x "$venv/bin/python" ]; then
    local py=python3
    command -v python3.11 >/dev/null 2>&1 && py=python3.11
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check build==1.6.1
  fi
  # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
  local src
  src=$(mktemp -d)
  cp -r packages/python/. "$src/"
  find "$src" -name __pycache__ -prune -exec rm -rf {} +
  rm -rf "$out/python" && mkdir -p "$out/python"
  "$venv/bin/python" -m build --wheel --outdir "$out/python" "$src" >"$out/python-build.log" 2>&1 ||
    { cat "$out/python-build.log" >&2; rm -rf "$src"; return 1; }
  rm -rf "$src"
  built python
}

build_java() {
  current java packages/java agents/java proto/switchboard && return 0
  mvn -B -q -f packages/java/pom.xml install -DskipTests
  rm -rf "$out/java" && mkdir -p "$out/java"
  cp "packages/java/target/switchboard-agent-$version.jar" "$out/java/"
  mvn -B -q -f agents/java/pom.xml package dependency:build-classpath \
    -Dmdep.includeScope=runtime -Dmdep.outputFile="$out/java/deps.classpath"
  echo "$root/agents/java/target/classes:$(cat "$out/java/deps.classpath")" > "$out/java/sample.classpath"
  built java
}

build_contracts() {
  current contracts proto src/gen/switchboard.binpb packages/contracts/README.md && return 0
  local dir
  dir=$(mktemp -d)
  local top="$dir/switchboard-contracts-$version"
  mkdir -p "$top"
  cp -r proto "$top/proto"
  cp src/gen/switchboard.binpb "$top/switchboard.binpb"
  cp packages/contracts/README.md "$top/README.md"
  rm -rf "$out/contracts" && mkdir -p "$out/contracts"
  tar -C "$dir" -czf "$out/contracts/switchboard-contracts-$version.tar.gz" "switchboard-contracts-$version"
  rm -rf "$dir"
  built contracts
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(typescript python java contracts)
for t in "${targets[@]}"; do
  case "$t" in
    typescript | python | java | contracts) "build_$t" ;;
    *) echo "build-sdks: no package named '$t' (typescript, python, java, contracts)" >&2; exit 2 ;;
  esac
done
