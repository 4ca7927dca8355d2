#!/usr/bin/env bash
# Runs the whole test suite the way CI does (`make test` calls this).
#
#   scripts/test.sh                 all packages
#   scripts/test.sh ./pgserver/...  some packages (arguments go to `go test`)
#
# Tests need a real PostgreSQL: this script makes sure the server binaries are installed;
# the first test that needs a database starts the shared private cluster
# (.data/testpg on 127.0.0.1:55432, see internal/testpg). Set INFOWORK_TEST_DATABASE_URL
# to use another server instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

started=$(date +%s)
if [ -z "${INFOWORK_TEST_DATABASE_URL:-}" ]; then
	bindir=$(scripts/ensure-postgres.sh)
	echo "test.sh: PostgreSQL server binaries in $bindir"
fi

# The engine conformance suites run against a real OpenSearch node (deploy/opensearch-dev),
# started here unless INFOWORK_TEST_OPENSEARCH_URL points at one already. Like the test
# PostgreSQL it keeps running for the next run (`make opensearch-stop` stops it). Set
# INFOWORK_TEST_OPENSEARCH=off to skip it locally; in CI (CI=true) those suites then fail.
if [ -z "${INFOWORK_TEST_OPENSEARCH_URL:-}" ] && [ "${INFOWORK_TEST_OPENSEARCH:-on}" != off ]; then
	if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
		os_port=${INFOWORK_TEST_OPENSEARCH_PORT:-9209}
		if deploy/opensearch-dev/run.sh start --port "$os_port" --data "$PWD/.data/opensearch-test"; then
			export INFOWORK_TEST_OPENSEARCH_URL="http://127.0.0.1:$os_port"
		else
			echo "test.sh: OpenSearch did not start; its conformance suites will skip (or fail in CI)" >&2
		fi
	else
		echo "test.sh: java and mvn are needed for the OpenSearch test node (apt-get install maven openjdk-17-jdk-headless)" >&2
	fi
fi

# Browser libraries the pages embed (webapp/static/vendor) come from npm, pinned by a lock file.
scripts/assets.sh

export CGO_ENABLED=1 # gojieba is C++ through cgo; -race needs cgo too
if [ $# -eq 0 ]; then
	set -- ./...
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
go test -race -count=1 -timeout 15m "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

ok=$(grep -cE '^ok[[:space:]]' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]+[^[:space:]]' "$log" || true)
notests=$(grep -cE '^\?[[:space:]]' "$log" || true)
elapsed=$(( $(date +%s) - started ))
echo
echo "test.sh: packages ok ${ok}, failed ${failed}, without tests ${notests}; go test exit status ${status}; ${elapsed}s"
if [ "$status" -ne 0 ] && [ "$failed" -gt 0 ]; then
	echo "test.sh: failing packages:"
	grep -E '^FAIL[[:space:]]+[^[:space:]]' "$log" | sed 's/^/  /'
fi
exit "$status"
