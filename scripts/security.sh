#!/usr/bin/env bash
# The security gates CI runs after the tests (`make security`; policy in docs/ci.md):
#
#   1. go vet
#   2. gosec (pinned), with a short, documented exclusion list
#   3. govulncheck (pinned) against an OFFLINE database built from the pinned
#      golang.org/x/vulndb module; scripts/vulngate fails on reachable vulnerabilities in
#      third-party modules and warns about the Go standard library
#   4. short fuzz runs of every fuzz target (scripts/fuzz.sh)
#
# Every gate runs even when an earlier one fails; the exit status is non-zero if any failed.
#   SECURITY_SKIP="fuzz gosec"   skip gates by name (vet gosec vulncheck fuzz), for local use
#   FUZZ_TOTAL=60                seconds of fuzzing shared between all targets (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
export CGO_ENABLED=1 # gojieba is C++ through cgo; vet and govulncheck load that package

# Pins. Refresh on purpose (docs/ci.md, "Refreshing the pins").
GOSEC=github.com/securego/gosec/v2/cmd/gosec@v2.30.0
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

# gosec rules switched off for a path, "path-regexp:rule,rule;..." (see docs/ci.md). Every
# entry needs a reason; prefer a fix or a `// #nosec Gxxx -- reason` on the line. None today.
GOSEC_EXCLUDE_RULES=''

started=$(date +%s)
failed=()
timings=()
skip=" ${SECURITY_SKIP:-} "

gate() { # gate NAME FUNCTION: runs one gate, records its time and result
	local name=$1 t0 rc=0
	shift
	if [[ $skip == *" $name "* ]]; then
		echo "==> security: $name skipped (SECURITY_SKIP)"
		timings+=("$(printf '%-9s skipped' "$name")")
		return
	fi
	echo "==> security: $name"
	t0=$(date +%s)
	"$@" || rc=$?
	if [ "$rc" -ne 0 ]; then failed+=("$name"); fi
	timings+=("$(printf '%-9s %-4s %4ss' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo FAIL)" "$(($(date +%s) - t0))")")
}

run_vet() { go vet ./...; }

run_gosec() {
	# -nosec-require-rules/-justification: every `#nosec` must name its rule and give a reason.
	go run "$GOSEC" -quiet -exclude-generated -exclude-dir=scripts \
		-nosec-require-rules -nosec-require-justification \
		-exclude-rules="$GOSEC_EXCLUDE_RULES" ./...
}

# vulndb_dir prints the directory of the offline vulnerability database, building it from
# the pinned golang.org/x/vulndb module into .data/ the first time (about 70 s).
vulndb_dir() {
	local db=$root/.data/vulndb-$VULNDB_VERSION src tmp
	if [ -f "$db/index/db.json" ]; then
		echo "$db"
		return
	fi
	echo "security: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION (once)" >&2
	src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$src" ] || [ ! -d "$src/data/osv" ]; then
		echo "security: go mod download golang.org/x/vulndb@$VULNDB_VERSION gave no usable Dir" >&2
		return 1
	fi
	mkdir -p "$root/.data" && tmp=$(mktemp -d "$root/.data/vulndb-build.XXXXXX") || return 1
	# The module cache is read-only; indexdb runs from a writable copy. The DB is built next
	# to its final place and renamed, so an interrupted build never leaves a half DB behind.
	if ! { cp -R "$src" "$tmp/src" && chmod -R u+w "$tmp/src" &&
		(cd "$tmp/src" && go run ./cmd/indexdb -vulns data/osv -out "$tmp/db") >&2; }; then
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$db"
	mv "$tmp/db" "$db" || return 1
	rm -rf "$tmp"
	echo "$db"
}

run_vulncheck() {
	local db out rc=0
	db=$(vulndb_dir) || return 1
	out=$(mktemp)
	# -format json exits 0 whether or not vulnerabilities are found, and non-zero only when
	# the scan itself failed; vulngate then applies the policy (and rejects an empty stream).
	go run "$GOVULNCHECK" -db "file://$db" -format json ./... >"$out" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "security: govulncheck failed (exit $rc)" >&2
		rm -f "$out"
		return 1
	fi
	go run ./scripts/vulngate "$out" || rc=$?
	rm -f "$out"
	return "$rc"
}

run_fuzz() { FUZZ_TOTAL=${FUZZ_TOTAL:-60} scripts/fuzz.sh; }

gate vet run_vet
gate gosec run_gosec
gate vulncheck run_vulncheck
gate fuzz run_fuzz

echo
echo "security: summary ($(($(date +%s) - started))s in all)"
printf '  %s\n' "${timings[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "security: FAIL: ${failed[*]}" >&2
	exit 1
fi
echo "security: ok"
