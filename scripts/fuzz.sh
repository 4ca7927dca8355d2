#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for a short while (`make fuzz`; also called
# by scripts/security.sh). One target per `go test -fuzz` run, as Go requires.
#
#   scripts/fuzz.sh                   every target, FUZZTIME each (default 10s)
#   FUZZTIME=5m scripts/fuzz.sh       longer runs, e.g. before a release
#   FUZZ_TOTAL=90 scripts/fuzz.sh     share about 90 s of fuzzing between all targets
#                                     (at least 3 s and at most FUZZTIME each)
#   scripts/fuzz.sh FuzzParse         only targets whose name matches the regexp
#
# Fails when any target finds a crash. Go then saves the input under
# <package>/testdata/fuzz/<FuzzName>/; commit it with the fix so it becomes a regression test
# (every `go test` runs that corpus).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
export CGO_ENABLED=1 # analyzers (gojieba) are C++ through cgo

FUZZTIME=${FUZZTIME:-10s}
filter=${1:-.}

# Targets as "<package dir> <FuzzName>", from every _test.go file outside build output.
targets=()
while IFS= read -r file; do
	dir=./$(dirname "${file#./}")
	while IFS= read -r name; do
		if [[ $name =~ $filter ]]; then targets+=("$dir $name"); fi
	done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file")
done < <(grep -rl '^func Fuzz' --include='*_test.go' \
	--exclude-dir=.data --exclude-dir=.git --exclude-dir=node_modules --exclude-dir=vendor . | sort)

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets match $filter" >&2
	exit 1
fi

fuzztime=$FUZZTIME
if [ -n "${FUZZ_TOTAL:-}" ]; then
	share=$((FUZZ_TOTAL / ${#targets[@]}))
	((share < 3)) && share=3
	# FUZZTIME stays the upper bound when it is a plain duration in seconds.
	if [[ $FUZZTIME =~ ^([0-9]+)s$ ]] && ((share > BASH_REMATCH[1])); then share=${BASH_REMATCH[1]}; fi
	fuzztime=${share}s
fi

echo "fuzz.sh: ${#targets[@]} targets, $fuzztime each"
started=$(date +%s)
failed=()
summary=()
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	echo "==> fuzz $dir $name ($fuzztime)"
	t0=$(date +%s)
	result=FAIL
	for attempt in 1 2; do
		log=$(mktemp)
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
			result=ok
		fi
		# On a loaded machine Go's fuzz coordinator sometimes stops at -fuzztime while a worker is
		# still busy and reports "context deadline exceeded" without any failing input ("Failing
		# input written to" is absent). That is the harness timing out, not a crash: run once more.
		# A real crash always names its saved input and is never retried.
		flaky=no
		if [ "$result" = FAIL ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
			flaky=yes
		fi
		rm -f "$log"
		if [ "$result" = ok ] || [ "$flaky" = no ] || [ "$attempt" -eq 2 ]; then break; fi
		echo "fuzz.sh: $name stopped with 'context deadline exceeded' and no failing input; running it once more"
	done
	if [ "$result" = FAIL ]; then failed+=("$dir $name"); fi
	summary+=("$(printf '%-4s %4ss  %s %s' "$result" "$(($(date +%s) - t0))" "$dir" "$name")")
done

echo
echo "fuzz.sh: summary ($(($(date +%s) - started))s in all)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAIL: ${#failed[@]} targets failed; crashing inputs are under <package>/testdata/fuzz/<FuzzName>/" >&2
	echo "         reproduce with: go test -run '<FuzzName>/<file>' <package>" >&2
	exit 1
fi
