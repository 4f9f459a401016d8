#!/usr/bin/env bash
# Runs every test of the repository: every Go module (the core, the
# framework adapters, the examples) with the race detector and, when
# present, the end-to-end interop suite.
set -euo pipefail
cd "$(dirname "$0")"

# Every directory with a go.mod, except under test/, whose modules and
# packages the interop runner below (or their own READMEs) run.
go_modules() {
	find . \( -path ./test -o -path ./.git -o -name node_modules \) -prune -o -name go.mod -print |
		sed 's|/go.mod$||' | LC_ALL=C sort
}

for dir in $(go_modules); do
	if [ "$dir" = . ]; then name=core; else name=${dir#./}; fi
	echo "== go test: $name module"
	(cd "$dir" && go test -race -count=1 ./...)
done

if [ -x test/interop/run.sh ]; then
	echo "== interop: real authorization server, SMART client and browser"
	test/interop/run.sh
fi
