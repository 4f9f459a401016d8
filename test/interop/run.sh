#!/usr/bin/env bash
# End-to-end SMART on FHIR interop tests (see README.md in this folder).
# Checks the tools, installs the pinned npm packages when needed, runs `npm test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

CHROMIUM="${INTEROP_CHROMIUM:-/usr/bin/chromium}"
missing=()
command -v node >/dev/null 2>&1 || missing+=("node (Node.js >= 20.19: apt-get install -y nodejs, or your usual Node install)")
command -v npm  >/dev/null 2>&1 || missing+=("npm (apt-get install -y npm, or comes with Node.js)")
[ -x "$CHROMIUM" ] || missing+=("$CHROMIUM (Debian's browser: apt-get update && apt-get install -y chromium)")
if [ "${INTEROP_SERVER:-go}" = go ] && { [ -z "${INTEROP_DEMO_BIN:-}" ] || [ -z "${INTEROP_HYDRA_BIN:-}" ]; }; then
  command -v "${INTEROP_GO:-go}" >/dev/null 2>&1 || missing+=("go (the Go toolchain, to build examples/demo and Ory Hydra)")
fi
command -v "${INTEROP_REDIS_SERVER:-redis-server}" >/dev/null 2>&1 || missing+=("redis-server (the store the demo's replicas share in 11-dpop: apt-get install -y redis-server)")
if [ -z "${INTEROP_HYDRA_BIN:-}" ]; then
  command -v "${CC:-gcc}" >/dev/null 2>&1 || missing+=("${CC:-gcc} (a C compiler: Ory Hydra's in-memory storage is SQLite, built with cgo; apt-get install -y gcc)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "test/interop: cannot run, missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 2
fi

# npm ci when node_modules is absent or was installed from another lock file.
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.interop-lock-sha256
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# Build the Go demo once (the test files would otherwise `go run` it each time).
if [ "${INTEROP_SERVER:-go}" = go ] && [ -z "${INTEROP_DEMO_BIN:-}" ] && [ -d ../../examples/demo ]; then
  mkdir -p .state
  echo "test/interop: building examples/demo" >&2
  (cd ../../examples && "${INTEROP_GO:-go}" build -o ../test/interop/.state/demo ./demo)
  export INTEROP_DEMO_BIN="$PWD/.state/demo"
fi

# Build Ory Hydra once: the module in hydra/ pins v2.3.0 (and the pop
# replacement it needs), fetched from the Go module proxy. Rebuilt only when
# that module or the Go version changes; the Go build cache keeps later
# builds short.
if [ "${INTEROP_SERVER:-go}" = go ] && [ -z "${INTEROP_HYDRA_BIN:-}" ]; then
  mkdir -p .state
  want="$(cat hydra/go.mod hydra/go.sum | sha256sum | cut -d' ' -f1) $("${INTEROP_GO:-go}" env GOVERSION)"
  if [ ! -x .state/hydra ] || [ "$(cat .state/hydra.stamp 2>/dev/null)" != "$want" ]; then
    echo "test/interop: building Ory Hydra v2.3.0 (the first build takes minutes)" >&2
    start=$(date +%s)
    (cd hydra && GOFLAGS="${GOFLAGS:-} -buildvcs=false" "${INTEROP_GO:-go}" build \
      -tags sqlite,sqlite_omit_load_extension -o ../.state/hydra.tmp github.com/ory/hydra/v2)
    mv .state/hydra.tmp .state/hydra
    echo "$want" > .state/hydra.stamp
    echo "test/interop: Ory Hydra built in $(( $(date +%s) - start )) s" >&2
  fi
  export INTEROP_HYDRA_BIN="$PWD/.state/hydra"
fi

rm -f .state/fhir-*.log .state/hydra-*.log
exec npm test
