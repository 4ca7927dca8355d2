#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) are installed, with the
# same search order as pgserver.FindBinaries, and prints their directory.
#
#   scripts/ensure-postgres.sh           find, or install Debian's postgresql when root
#   scripts/ensure-postgres.sh --check   find only; exit 1 when missing
#
# The tests start their own private cluster (internal/testpg); this script only makes sure
# the binaries exist before `go test` compiles anything.
set -euo pipefail

has_server() {
	local d=$1
	[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]
}

find_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then
		if has_server "$PG_BINDIR"; then echo "$PG_BINDIR"; return 0; fi
		echo "PG_BINDIR=$PG_BINDIR does not contain initdb, pg_ctl and postgres" >&2
		return 1
	fi
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if has_server "$d"; then echo "$d"; return 0; fi
	done
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -n "$d" ] && has_server "$d"; then echo "$d"; return 0; fi
	fi
	if command -v pg_ctl >/dev/null 2>&1; then
		d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
		if has_server "$d"; then echo "$d"; return 0; fi
	fi
	return 1
}

if bindir=$(find_bindir); then
	echo "$bindir"
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
	exit 1
fi
if [ -n "${PG_BINDIR:-}" ]; then
	exit 1
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "PostgreSQL server not found: install it with \`sudo apt-get install postgresql\` (Debian/Ubuntu) or set INFOWORK_TEST_DATABASE_URL / PG_BINDIR" >&2
	exit 1
fi
echo "PostgreSQL server not found; installing Debian's postgresql package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends postgresql >&2
if bindir=$(find_bindir); then
	echo "$bindir"
	exit 0
fi
echo "apt-get installed postgresql but its server binaries were not found under /usr/lib/postgresql" >&2
exit 1
