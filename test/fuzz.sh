#!/usr/bin/env bash
# Runs each fuzz target "PKG:FUNC" given as arguments for FUZZTIME (a
# duration, or Nx executions), one after another; fails on the first crasher.
#
# Go 1.26's fuzz coordinator can fail a duration-bound run with a bare
# "context deadline exceeded" when the deadline races a busy worker
# (go.dev/issue/75804, fixed in Go 1.27): no input is written, nothing is
# reproducible. Such a run is reported and does not fail; any run that wrote
# a failing input, or failed in any other way, does. Count budgets (Nx, what
# make test uses) have no deadline and never hit it.
set -uo pipefail
: "${GO:=go}" "${FUZZTIME:=60s}" "${FUZZMINIMIZETIME:=5s}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	pkg=${t%%:*} fn=${t##*:}
	echo "fuzz: $fn in $pkg for $FUZZTIME"
	if "$GO" test -run '^$' -fuzz "^$fn\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" 2>&1 | tee "$out"; then
		continue
	fi
	if ! grep -q 'Failing input written' "$out" &&
		[ "$(grep -A1 -- "^--- FAIL: $fn " "$out" | tail -n1 | tr -d '[:space:]')" = "contextdeadlineexceeded" ]; then
		echo "fuzz: $fn ended on Go's fuzz deadline race (go.dev/issue/75804), no failing input: not a finding"
		continue
	fi
	echo "fuzz: $fn FAILED (a crasher is in $pkg/testdata/fuzz/$fn/ and now runs as a regression test)" >&2
	exit 1
done
