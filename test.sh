#!/usr/bin/env bash
# Runs every test of the repository: each Go module (every go.mod, with
# the race detector) and the end-to-end interop suite. It sets itself up
# first, on a Debian machine with Go and Node.js: what the tests need and
# is missing is installed (Debian's redis-server for the Redis store's
# tests, chromium, and gcc for Ory Hydra's SQLite, with apt-get, as root or
# through sudo; the suite's pinned npm packages with npm ci, and Ory Hydra
# built from the Go module proxy, in test/interop/run.sh).
#
#   ./test.sh                      # everything
#   SMARTGUARD_INTEROP=0 ./test.sh # the Go modules only, nothing installed
#
# The Redis store's tests (store/redis) and the load generator's DPoP
# phase (test/load) start their own redis-server on loopback. Without one
# they skip, unless SMARTGUARD_REQUIRE_REDIS=1 (set here whenever
# redis-server is installed or was installed, and by CI), or when CI is set
# (as CI services do): then they fail. SMARTGUARD_REQUIRE_REDIS=1 also installs redis-server
# under SMARTGUARD_INTEROP=0.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '== %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "test.sh: installing needs root (or sudo): $*" >&2
		exit 2
	fi
}

apt_updated=
apt_install() {
	if [ -z "$apt_updated" ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		apt_updated=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

interop=
if [ -x test/interop/run.sh ] && [ "${SMARTGUARD_INTEROP:-1}" != 0 ]; then
	interop=1
fi

# Set-up for the Redis store's tests: Debian's redis-server, which they
# start themselves (never as a service: Debian's does not start one in a
# container, and the tests use a port of their own).
if ! command -v redis-server >/dev/null 2>&1 &&
	{ [ "${SMARTGUARD_INTEROP:-1}" != 0 ] || [ "${SMARTGUARD_REQUIRE_REDIS:-0}" = 1 ]; }; then
	step "set-up: installing Debian's redis-server (apt-get)"
	apt_install redis-server
fi
if command -v redis-server >/dev/null 2>&1; then
	export SMARTGUARD_REQUIRE_REDIS=1
fi

# Set-up for the interop suite: chromium, and Node.js >= 20.19 with npm.
if [ -n "$interop" ]; then
	start=$SECONDS
	chromium="${INTEROP_CHROMIUM:-/usr/bin/chromium}"
	if ! [ -x "$chromium" ]; then
		step "set-up: installing Debian's chromium (apt-get)"
		apt_install chromium
	fi
	# Ory Hydra (test/interop/hydra) keeps its in-memory storage in
	# SQLite, built with cgo.
	if [ -d test/interop/hydra ] && [ -z "${INTEROP_HYDRA_BIN:-}" ] && ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
		step "set-up: installing a C compiler for Ory Hydra's SQLite (apt-get)"
		apt_install gcc libc6-dev
	fi
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		step "set-up: installing Node.js and npm (apt-get)"
		apt_install nodejs npm
	fi
	if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || a === 20 && b >= 19 ? 0 : 1)'; then
		echo "test.sh: the interop suite needs Node.js >= 20.19, this is $(node --version); install a newer one" \
			"or run SMARTGUARD_INTEROP=0 ./test.sh" >&2
		exit 2
	fi
	if [ $((SECONDS - start)) -gt 0 ]; then
		step "set-up done in $((SECONDS - start)) s"
	fi
fi

# Every directory with a go.mod: the core, the framework adapters, the
# examples, test/bench and test/load (not the interop suite, run below).
go_modules() {
	find . \( -path ./test/interop -o -path ./.git -o -name node_modules \) -prune -o -name go.mod -print |
		sed 's|/go.mod$||' | LC_ALL=C sort
}

for dir in $(go_modules); do
	if [ "$dir" = . ]; then name=core; else name=${dir#./}; fi
	start=$SECONDS
	step "go test: $name module"
	(cd "$dir" && go test -race -count=1 ./...)
	step "$name module done in $((SECONDS - start)) s"
done

if [ -n "$interop" ]; then
	start=$SECONDS
	step "interop: real authorization server, SMART client and browser"
	test/interop/run.sh
	step "interop done in $((SECONDS - start)) s"
fi
