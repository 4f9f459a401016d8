#!/usr/bin/env bash
# Runs every test of the repository: both Go modules (with the race
# detector) and, when present, the end-to-end interop suite.
set -euo pipefail
cd "$(dirname "$0")"

echo "== go test: core module"
go test -race -count=1 ./...

if [ -f examples/go.mod ]; then
	echo "== go test: examples module"
	(cd examples && go test -race -count=1 ./...)
fi

if [ -x test/interop/run.sh ]; then
	echo "== interop: real authorization server, SMART client and browser"
	test/interop/run.sh
fi
