#!/usr/bin/env bash
# servedns-vs-base.sh [ROUNDS] [BENCH]: runs the root package's benchmark
# BENCH (default BenchmarkServeDNS$) of this tree and of BASE (default main,
# a git ref) alternately, ROUNDS times each (default 15), in one run, and
# prints min and median ns/op and the allocations of each. Alternating in
# one run is what makes the two comparable on a shared, noisy machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-15}
bench=${2:-'BenchmarkServeDNS$'}
base=${BASE:-main}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base"
git archive "$base" | tar -x -C "$tmp/base"
(cd "$tmp/base" && go test -c -o "$tmp/base.test" .)
go test -c -o "$tmp/tree.test" .
for _ in $(seq "$rounds"); do
	for v in base tree; do
		(cd "$tmp" && "./$v.test" -test.run '^$' -test.bench "$bench" -test.benchmem -test.count 1 | grep '^Benchmark' | sed "s/^/$v /")
	done
done >"$tmp/out"
for v in base tree; do
	name=$v
	[ "$v" = base ] && name="base ($base)"
	alloc=$(grep "^$v " "$tmp/out" | awk '{print $6 " B/op " $8 " allocs/op"}' | sort -u | paste -sd,)
	grep "^$v " "$tmp/out" | awk '{print $4}' | sort -g | awk -v name="$name" -v alloc="$alloc" '
		{ ns[NR] = $1 }
		END { printf "%-16s n=%d  min %s ns/op  median %s ns/op  %s\n", name, NR, ns[1], ns[int((NR + 1) / 2)], alloc }'
done
