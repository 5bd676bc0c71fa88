#!/usr/bin/env bash
# test/bench/bench.sh: what `make bench` runs (after `make build`).
#
# 1. The Go micro-benchmarks of ServeDNS (when gslb_test.go has them).
# 2. dnsperf QPS over loopback against bin/coredns pinned to one CPU, comparing
#    in one run, with the same chain (errors + prometheus) around the plugin:
#      gslb    the gslb plugin serving 1000 static names, two sites' A each
#      file    CoreDNS `file` serving the same 1000 names from a zone file
#      whoami  CoreDNS `whoami`, the ceiling: the chain with a trivial plugin
#    Configurations run interleaved (gslb, file, whoami, gslb, ...) for
#    BENCH_ROUNDS rounds; the summary gives the median QPS per configuration.
#    Every server is checked to answer all 1000 names correctly first.
#    With BENCH_ALGORITHMS=1 (default) gslb also runs with each other policy
#    (gslb-weighted, gslb-hash, gslb-topology), reported as ratios to gslb
#    (round robin).
#    With BENCH_DNSSEC=1 (default) gslb-signed runs gslb behind CoreDNS's
#    dnssec plugin (an ECDSA P-256 key from dnssec-keygen), queried with the
#    DO bit as validating resolvers ask; reported as a ratio to gslb
#    (unsigned). Every answer is checked to carry its RRSIG and one is
#    validated with delv first.
# 3. Failover time (test/bench/failover): from killing a member's HTTP server
#    to the first answer without it, BENCH_FAILOVER_TRIALS (20) times, with
#    the default health settings; prints p50 and p99.
# 4. Shared verdicts (test/bench/vantage, on three lab clusters): the time
#    until three gslb servers (vantages, health_quorum majority) all answer
#    without a stopped member, p50/p99 over BENCH_VANTAGE_TRIALS, and the API
#    write rate of one vantage publishing BENCH_VANTAGE_MEMBERS verdicts.
#
# Everything listens on 127.0.0.1 only. Generated files and raw dnsperf output
# go to test/bench/out/ (git-ignored). Settings, all overridable by env:
#   BENCH_DNS_PORT      (15353) DNS port of the server under test
#   BENCH_METRICS_PORT  (19153) prometheus port of the server under test
#   BENCH_PPROF_PORT    (16060) pprof port, only with BENCH_PROFILE
#   BENCH_SECONDS       (6)     dnsperf -l, per measured run
#   BENCH_WARMUP        (1)     unmeasured dnsperf seconds before each run
#   BENCH_ROUNDS        (5)     interleaved rounds (more, shorter runs resist
#                               bursts of other load better than few long ones)
#   BENCH_CLIENTS       (32)    dnsperf -c (client sockets)
#   BENCH_THREADS       (1)     dnsperf -T
#   BENCH_OUTSTANDING   (100)   dnsperf -q (queries in flight)
#   BENCH_SERVER_CPU    (1)     CPU for coredns (GOMAXPROCS=1)
#   BENCH_CLIENT_CPU    (0)     CPU for dnsperf
#   BENCH_NICE          ()      e.g. -10: run coredns and dnsperf at this nice
#                               level (needs root), against other load on the
#                               machine; off by default so as not to starve it
#   BENCH_MICRO         (1)     0 skips the Go micro-benchmarks
#   BENCH_PROFILE       ()      e.g. "gslb file": after the rounds, run each
#                               named config with the pprof plugin under load
#                               and print `go tool pprof -top` of its CPU profile
#   BENCH_ALGORITHMS    (1)     0 skips the per-policy gslb configurations
#   BENCH_DNSSEC        (1)     0 skips the signed gslb configuration
#   BENCH_FAILOVER_TRIALS (20)  0 skips the failover measurement
#   BENCH_VANTAGE_TRIALS (10)   0 skips the time until three vantages agree
#   BENCH_VANTAGE_MEMBERS (10000) 0 skips the API write rate of one vantage
#   BENCH_OUT           (test/bench/out)
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
GO=${GO:-go}
COREDNS=$ROOT/bin/coredns

DNS_PORT=${BENCH_DNS_PORT:-15353}
METRICS_PORT=${BENCH_METRICS_PORT:-19153}
PPROF_PORT=${BENCH_PPROF_PORT:-16060}
SECONDS_PER_RUN=${BENCH_SECONDS:-6}
WARMUP=${BENCH_WARMUP:-1}
ROUNDS=${BENCH_ROUNDS:-5}
CLIENTS=${BENCH_CLIENTS:-32}
THREADS=${BENCH_THREADS:-1}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
NICE=${BENCH_NICE:-}
MICRO=${BENCH_MICRO:-1}
PROFILE=${BENCH_PROFILE:-}
OUT=${BENCH_OUT:-$ROOT/test/bench/out}

CONFIGS=(gslb file whoami)
ALGORITHMS=(gslb-weighted gslb-hash gslb-topology)
if [ "${BENCH_ALGORITHMS:-1}" != 0 ]; then CONFIGS+=("${ALGORITHMS[@]}"); fi
DNSSEC=${BENCH_DNSSEC:-1}
if [ "$DNSSEC" != 0 ]; then CONFIGS+=(gslb-signed); fi
FAILOVER_TRIALS=${BENCH_FAILOVER_TRIALS:-20}
VANTAGE_TRIALS=${BENCH_VANTAGE_TRIALS:-10}
VANTAGE_MEMBERS=${BENCH_VANTAGE_MEMBERS:-10000}
ZONE=gslb.bench.
NAMES=1000

die() { echo "bench: $*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
need() { # need TOOL DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return
	die "$1 not found; install it: apt-get install -y $2"
}
need dnsperf dnsperf
need dig bind9-dnsutils
need taskset util-linux
need awk gawk
if [ "$DNSSEC" != 0 ]; then
	need dnssec-keygen bind9-utils
	need delv bind9-dnsutils
fi
[ -x "$COREDNS" ] || die "$COREDNS missing: run make build (make bench does)"
if [ -n "$PROFILE" ]; then need curl curl; fi

ncpu=$(nproc)
if [ "$ncpu" -lt 2 ] || [ "$SERVER_CPU" -ge "$ncpu" ] || [ "$CLIENT_CPU" -ge "$ncpu" ]; then
	die "need two CPUs (coredns on $SERVER_CPU, dnsperf on $CLIENT_CPU), this machine has $ncpu; set BENCH_SERVER_CPU/BENCH_CLIENT_CPU"
fi

NICE_CMD=()
if [ -n "$NICE" ]; then
	[ "$(nice -n "$NICE" nice 2>/dev/null)" = "$(($(nice) + NICE))" ] ||
		die "cannot run at nice $NICE (BENCH_NICE); negative levels need root"
	NICE_CMD=(nice -n "$NICE")
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# --- processes ---------------------------------------------------------------
SERVER_PID=
stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# --- machine -----------------------------------------------------------------
echo "== machine"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpus:     $ncpu ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
echo "kernel:   $(uname -r)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (other work on these CPUs lowers and scatters the QPS)"
echo "nice:     ${NICE:-not changed (BENCH_NICE)}"
echo "go:       $($GO env GOVERSION)"
echo "coredns:  $("$COREDNS" -version 2>&1 | head -1)"
echo "dnsperf:  $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}')"
echo

# --- 1. micro-benchmarks -----------------------------------------------------
MICRO_FAILED=0
echo "== Go micro-benchmarks: go test -run '^\$' -bench ServeDNS -benchmem ."
if [ "$MICRO" = 0 ]; then
	echo "skipped (BENCH_MICRO=0)"
elif grep -qs '^func BenchmarkServeDNS' ./*_test.go; then
	if ! $GO test -run '^$' -bench ServeDNS -benchmem . 2>&1 | tee "$OUT/micro.txt"; then
		echo "bench: the micro-benchmarks failed; continuing with dnsperf" >&2
		MICRO_FAILED=1
	fi
else
	echo "skipped: no BenchmarkServeDNS in the package's tests yet"
fi
echo

# --- data --------------------------------------------------------------------
# Names svc0000..svc0999; site a answers 172.26.x.y, site b 172.27.x.y.
# queries: every name once, A, in a scattered order (k*389+17 mod 1000).
awk -v n=$NAMES -v zone=$ZONE -v out="$OUT" '
function name(i) { return sprintf("svc%04d.%s", i, zone) }
function addr(net, i) { return sprintf("172.%d.%d.%d", net, int(i / 250), i % 250 + 1) }
BEGIN {
	zf = out "/db.gslb.bench"
	gm = out "/members.conf"
	ex = out "/expected.txt"
	qf = out "/queries.txt"
	bf = out "/dig-batch.txt"
	printf "$ORIGIN %s\n$TTL 30\n", zone > zf
	printf "@ IN SOA ns1.%s hostmaster.%s 1 7200 1800 86400 30\n", zone, zone > zf
	printf "@ IN NS ns1.%s\n@ IN NS ns2.%s\n", zone, zone > zf
	printf "ns1 IN A 127.0.0.1\nns2 IN A 127.0.0.2\n" > zf
	for (i = 0; i < n; i++) {
		printf "%s IN A %s\n%s IN A %s\n", name(i), addr(26, i), name(i), addr(27, i) > zf
		printf "\t\tmember %s %s site sitea\n\t\tmember %s %s site siteb\n", name(i), addr(26, i), name(i), addr(27, i) > gm
		printf "%s A %s\n%s A %s\n", name(i), addr(26, i), name(i), addr(27, i) > ex
		printf "%s A +noall +answer\n", name(i) > bf
	}
	for (k = 0; k < n; k++) printf "%s A\n", name((k * 389 + 17) % n) > qf
}'
sort -o "$OUT/expected.txt" "$OUT/expected.txt"

# policy_of CONFIG: the gslb policy lines of a configuration. Topology gets a
# rule for the client (127.0.0.1) so every query takes the rule path.
policy_of() {
	case $1 in
	gslb-weighted) printf 'policy weighted\n\t\tweight sitea 3\n\t\tweight siteb 1' ;;
	gslb-hash) printf 'policy consistent-hash' ;;
	gslb-topology) printf 'policy topology\n\t\ttopology 10.0.0.0/8 siteb sitea\n\t\ttopology 127.0.0.0/8 sitea siteb' ;;
	*) printf 'policy round-robin' ;;
	esac
}

corefile() { # corefile CONFIG [EXTRA-DIRECTIVE] > file
	local cfg=$1 extra=${2:-}
	cat <<EOF
# $cfg: generated by test/bench/bench.sh
$ZONE:$DNS_PORT {
	bind 127.0.0.1
	errors
	prometheus 127.0.0.1:$METRICS_PORT
$extra
EOF
	case $cfg in
	gslb | gslb-*)
		cat <<EOF
	gslb {
		$(policy_of "$cfg")
		ttl 30
		nameserver ns1.$ZONE 127.0.0.1
		nameserver ns2.$ZONE 127.0.0.2
		hostmaster hostmaster@${ZONE%.}
EOF
		cat "$OUT/members.conf"
		printf '\t}\n'
		;;
	file) printf '\tfile %s\n' "$OUT/db.gslb.bench" ;;
	whoami) printf '\twhoami\n' ;;
	esac
	echo "}"
}
# The signed configuration's zone key, made as the README says.
KEY=
if [ "$DNSSEC" != 0 ]; then
	rm -f "$OUT"/K"${ZONE}"*
	KEY=$OUT/$(dnssec-keygen -q -a ECDSAP256SHA256 -f KSK -K "$OUT" "${ZONE%.}")
	# delv's trust anchor: the DNSKEY's flags, protocol, algorithm, key.
	awk '!/^;/ { for (d = 2; d <= NF && $d != "DNSKEY"; d++); if (d > NF) next
		k = ""; for (i = d + 4; i <= NF; i++) k = k $i
		printf "trust-anchors {\n\t\"%s\" static-key %s %s %s \"%s\";\n};\n", $1, $(d + 1), $(d + 2), $(d + 3), k }' "$KEY.key" >"$OUT/anchor.conf"
fi
for cfg in "${CONFIGS[@]}"; do
	if [ "$cfg" = gslb-signed ]; then
		printf '\tdnssec {\n\t\tkey file %s\n\t}\n' "$KEY" >"$OUT/dnssec.conf"
		corefile "$cfg" "$(cat "$OUT/dnssec.conf")" >"$OUT/Corefile.$cfg"
	else
		corefile "$cfg" >"$OUT/Corefile.$cfg"
	fi
done

# --- server ------------------------------------------------------------------
q() { dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +time=1 "$@"; }

start_server() { # start_server CONFIG COREFILE
	local cfg=$1 conf=$2 i
	stop_server
	GOMAXPROCS=1 "${NICE_CMD[@]}" taskset -c "$SERVER_CPU" "$COREDNS" -conf "$conf" -quiet >"$OUT/coredns.$cfg.log" 2>&1 &
	SERVER_PID=$!
	for i in $(seq 100); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			cat "$OUT/coredns.$cfg.log" >&2
			SERVER_PID=
			die "coredns ($cfg) exited; its log is above"
		fi
		# Up when the first name gets its answer (gslb publishes its
		# table just after startup).
		if [ "$cfg" = whoami ]; then
			q "svc0000.$ZONE" A 2>/dev/null | grep -q 'status: NOERROR' && return 0
		elif [ "$cfg" != gslb ] && [ "$cfg" != gslb-signed ] && [ "${cfg#gslb-}" != "$cfg" ]; then
			# One record per answer: a pick, not the whole set.
			q +short "svc0000.$ZONE" A 2>/dev/null | grep -q '^172\.2[67]\.0\.1$' && return 0
		else
			[ "$(q +short "svc0000.$ZONE" A 2>/dev/null | grep -c '^172\.2[67]\.0\.1$')" = 2 ] && return 0
		fi
		sleep 0.1
	done
	die "coredns ($cfg) does not answer on 127.0.0.1:$DNS_PORT after 10 s; log: $OUT/coredns.$cfg.log"
}

# verify CONFIG: a benchmark of wrong answers is worthless.
verify() {
	local cfg=$1 got name
	case $cfg in
	gslb | file | gslb-signed)
		# Every name: exactly its two addresses.
		{ q -f "$OUT/dig-batch.txt" || true; } | awk '$4 == "A" {print $1, $4, $5}' | sort >"$OUT/got.$cfg.txt"
		if ! cmp -s "$OUT/expected.txt" "$OUT/got.$cfg.txt"; then
			diff "$OUT/expected.txt" "$OUT/got.$cfg.txt" | head -20 >&2
			die "$cfg: the answers for the $NAMES names differ from $OUT/expected.txt (diff above)"
		fi
		got=$(q "svc0123.$ZONE" A || true)
		grep -q 'status: NOERROR' <<<"$got" || die "$cfg: svc0123 is not NOERROR: $got"
		grep -q 'flags:.* aa' <<<"$got" || die "$cfg: svc0123 answer is not authoritative: $got"
		echo "$cfg: all $NAMES names answer NOERROR/AA with their 2 addresses"
		if [ "$cfg" = gslb-signed ]; then
			[ "$(q +dnssec -f "$OUT/dig-batch.txt" | awk '$4 == "RRSIG" && $5 == "A"' | wc -l)" = "$NAMES" ] ||
				die "$cfg: not every name's answer carries an RRSIG"
			got=$(delv @127.0.0.1 -p "$DNS_PORT" -a "$OUT/anchor.conf" +root="${ZONE%.}" "svc0123.$ZONE" A 2>&1 || true)
			grep -q '^; fully validated' <<<"$got" || die "$cfg: delv does not validate svc0123: $got"
			echo "$cfg: all $NAMES answers carry an RRSIG; delv validates them with the zone key as trust anchor"
		fi
		;;
	gslb-*)
		# A per-query pick: one of the name's two addresses, NOERROR/AA.
		for name in svc0000 svc0500 svc0999; do
			got=$(q "$name.$ZONE" A || true)
			grep -q 'flags:.* aa' <<<"$got" || die "$cfg: $name answer is not authoritative: $got"
			[ "$(awk '$4 == "A" {print $1, $4, $5}' <<<"$got" | grep -cFf - "$OUT/expected.txt")" -ge 1 ] ||
				die "$cfg: $name does not answer one of its addresses: $got"
		done
		echo "$cfg: answers NOERROR/AA with one of each name's addresses"
		;;
	whoami)
		for name in svc0000 svc0500 svc0999; do
			got=$(q "$name.$ZONE" A || true)
			grep -q 'status: NOERROR' <<<"$got" || die "whoami: $name is not NOERROR: $got"
			grep -Eq "^$name\.$ZONE[[:space:]].*IN[[:space:]]+A[[:space:]]+127\.0\.0\.1" <<<"$got" ||
				die "whoami: $name does not carry the client address: $got"
		done
		echo "whoami: answers NOERROR with the client address 127.0.0.1"
		;;
	esac
}

# cpu_ticks: user+system clock ticks the running coredns has used so far.
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }

perf() { # perf SECONDS [DNSPERF-FLAG...] > dnsperf output
	local secs=$1
	shift
	"${NICE_CMD[@]}" taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$OUT/queries.txt" \
		-l "$secs" -c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" "$@" 2>&1
}

# flags_of CONFIG: extra dnsperf flags; the signed server is asked with the
# DO bit (-D), as a validating resolver asks, or it would not sign.
flags_of() { if [ "$1" = gslb-signed ]; then echo -D; fi; }

# parse FILE: qps avg-latency-ms sent completed lost noerror response-bytes
parse() {
	awk '
	/Queries sent:/      { sent = $3 }
	/Queries completed:/ { done = $3 }
	/Queries lost:/      { lost = $3 }
	/Response codes:/    { for (i = 3; i <= NF; i++) if ($i == "NOERROR") noerr = $(i + 1) }
	/Queries per second:/ { qps = $4 }
	/Average packet size:/ { resp = $NF }
	/Average Latency \(s\):/ { lat = $4 * 1000 }
	END {
		if (qps == "") exit 1
		printf "%.1f %.3f %d %d %d %d %d\n", qps, lat, sent, done, lost, noerr + 0, resp
	}' "$1"
}

# --- 2. dnsperf ----------------------------------------------------------------
echo "== dnsperf: coredns on CPU $SERVER_CPU (GOMAXPROCS=1), dnsperf on CPU $CLIENT_CPU, 127.0.0.1:$DNS_PORT"
echo "dnsperf -s 127.0.0.1 -p $DNS_PORT -d queries.txt -l $SECONDS_PER_RUN -c $CLIENTS -T $THREADS -q $OUTSTANDING"
echo "($NAMES names, A, scattered order; chain: errors, prometheus, <plugin>; $ROUNDS interleaved rounds, ${WARMUP}s warm-up each)"
for cfg in "${CONFIGS[@]}"; do
	start_server "$cfg" "$OUT/Corefile.$cfg"
	verify "$cfg"
done
stop_server

RESULTS=$OUT/results.txt
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
	for cfg in "${CONFIGS[@]}"; do
		start_server "$cfg" "$OUT/Corefile.$cfg"
		# shellcheck disable=SC2046
		if [ "$WARMUP" -gt 0 ]; then perf "$WARMUP" $(flags_of "$cfg") >/dev/null; fi
		raw=$OUT/dnsperf.$cfg.$round.txt
		t0=$(cpu_ticks)
		# shellcheck disable=SC2046
		perf "$SECONDS_PER_RUN" $(flags_of "$cfg") >"$raw" || { cat "$raw" >&2; die "dnsperf failed ($cfg, round $round)"; }
		t1=$(cpu_ticks)
		stop_server
		r=$(parse "$raw") || { cat "$raw" >&2; die "cannot read dnsperf output $raw"; }
		read -r qps lat sent completed lost noerr resp <<<"$r"
		# coredns's own CPU time in the run: how much of its CPU it got
		# (others' load on the machine shows here), and queries per
		# CPU-second, a figure that such load disturbs much less.
		cpus=$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.3f", t / hz }')
		echo "$cfg $round $r $cpus" >>"$RESULTS"
		printf 'round %d %-11s %9.0f qps  avg %.3f ms  lost %d  NOERROR %d/%d  coredns CPU %.0f%%  %.0f q/CPU-s\n' \
			"$round" "$cfg" "$qps" "$lat" "$lost" "$noerr" "$completed" \
			"$(awk -v c="$cpus" -v s="$SECONDS_PER_RUN" 'BEGIN { print 100 * c / s }')" \
			"$(awk -v n="$completed" -v c="$cpus" 'BEGIN { print (c > 0 ? n / c : 0) }')"
	done
done

# --- summary -----------------------------------------------------------------
# summarize CONFIG -> median min max avg-latency sent done lost noerror response-bytes q/CPU-s
summarize() {
	awk -v c="$1" '$1 == c' "$RESULTS" | sort -k3,3g | awk '
	{ q[NR] = $3; lat += $4; sent += $5; done += $6; lost += $7; ok += $8; resp = $9; cpu += $10 }
	END {
		med = (NR % 2) ? q[(NR + 1) / 2] : (q[NR / 2] + q[NR / 2 + 1]) / 2
		printf "%.1f %.1f %.1f %.3f %d %d %d %d %d %.0f\n", med, q[1], q[NR], lat / NR, sent, done, lost, ok, resp, (cpu > 0 ? done / cpu : 0)
	}'
}
echo
echo "== summary ($ROUNDS rounds x ${SECONDS_PER_RUN}s per config)"
printf '%-14s %10s %10s %10s %11s %6s %8s %9s %6s\n' config "median qps" "min qps" "max qps" "avg lat ms" lost NOERROR "q/CPU-s" "bytes"
declare -A MEDIAN EFF
BAD=0
for cfg in "${CONFIGS[@]}"; do
	read -r med min max lat sent completed lost ok resp eff <<<"$(summarize "$cfg")"
	MEDIAN[$cfg]=$med
	EFF[$cfg]=$eff
	[ "$lost" = 0 ] && [ "$ok" = "$completed" ] || BAD=1
	printf '%-14s %10.0f %10.0f %10.0f %11.3f %6d %7.2f%% %9.0f %6d\n' "$cfg" "$med" "$min" "$max" "$lat" "$lost" \
		"$(awk -v a="$ok" -v b="$completed" 'BEGIN { print b ? 100 * a / b : 0 }')" "$eff" "$resp"
done
echo "(q/CPU-s: queries answered per second of coredns CPU time, over all rounds; bytes: average response size;"
echo " load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
if [ "$BAD" = 1 ]; then
	echo "WARNING: some queries were lost or not answered NOERROR: the QPS above are not comparable; lower BENCH_OUTSTANDING or see $OUT/dnsperf.*.txt"
fi
printf 'per CPU-second: gslb/file %.2f, gslb/whoami %.2f\n' \
	"$(awk -v a="${EFF[gslb]}" -v b="${EFF[file]}" 'BEGIN { print a / b }')" \
	"$(awk -v a="${EFF[gslb]}" -v b="${EFF[whoami]}" 'BEGIN { print a / b }')"

# --- optional profile --------------------------------------------------------
for cfg in $PROFILE; do
	echo
	echo "== CPU profile of $cfg under dnsperf load (pprof on 127.0.0.1:$PPROF_PORT)"
	extra="	pprof 127.0.0.1:$PPROF_PORT"
	if [ "$cfg" = gslb-signed ]; then extra="$(cat "$OUT/dnssec.conf")
$extra"; fi
	corefile "$cfg" "$extra" >"$OUT/Corefile.$cfg.pprof"
	start_server "$cfg" "$OUT/Corefile.$cfg.pprof"
	# shellcheck disable=SC2046
	perf $((SECONDS_PER_RUN + 2)) $(flags_of "$cfg") >"$OUT/dnsperf.$cfg.pprof.txt" &
	sleep 1
	curl -fsS -o "$OUT/$cfg.cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$SECONDS_PER_RUN"
	curl -fsS -o "$OUT/$cfg.allocs.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/allocs"
	wait $!
	stop_server
	echo "qps under profiling: $(parse "$OUT/dnsperf.$cfg.pprof.txt" | cut -d' ' -f1)"
	$GO tool pprof -top -nodecount=35 "$COREDNS" "$OUT/$cfg.cpu.pprof" 2>/dev/null
	echo "-- cumulative"
	$GO tool pprof -top -cum -nodecount=35 "$COREDNS" "$OUT/$cfg.cpu.pprof" 2>/dev/null | tail -n +6
done

if [ "${BENCH_ALGORITHMS:-1}" != 0 ]; then
	echo
	echo "== policies, QPS as a ratio to round robin (gslb), same run"
	for cfg in "${ALGORITHMS[@]}"; do
		printf 'ratio %s/round-robin: %.2f\n' "${cfg#gslb-}" "$(awk -v a="${MEDIAN[$cfg]}" -v b="${MEDIAN[gslb]}" 'BEGIN { print a / b }')"
	done
fi

if [ "$DNSSEC" != 0 ]; then
	echo
	echo "== DNSSEC: gslb behind the dnssec plugin (DO queries), same run"
	printf 'ratio signed/unsigned: %.2f (QPS); per CPU-second %.2f\n' \
		"$(awk -v a="${MEDIAN[gslb-signed]}" -v b="${MEDIAN[gslb]}" 'BEGIN { print a / b }')" \
		"$(awk -v a="${EFF[gslb-signed]}" -v b="${EFF[gslb]}" 'BEGIN { print a / b }')"
fi

# --- 3. failover ---------------------------------------------------------------
if [ "$FAILOVER_TRIALS" -gt 0 ]; then
	echo
	echo "== failover: go run ./test/bench/failover -trials $FAILOVER_TRIALS (members on 127.26.17.21 and 127.27.17.21)"
	$GO run ./test/bench/failover -coredns "$COREDNS" -trials "$FAILOVER_TRIALS" | tee "$OUT/failover.txt"
fi

# --- 4. shared verdicts (vantages) -----------------------------------------------
if [ "$VANTAGE_TRIALS" -gt 0 ] || [ "$VANTAGE_MEMBERS" -gt 0 ]; then
	echo
	echo "== vantages: go run ./test/bench/vantage -trials $VANTAGE_TRIALS -members $VANTAGE_MEMBERS (three lab clusters)"
	$GO run ./test/bench/vantage -coredns "$COREDNS" -trials "$VANTAGE_TRIALS" -members "$VANTAGE_MEMBERS" 2>"$OUT/vantage.log" | tee "$OUT/vantage.txt"
fi

echo
printf 'ratio gslb/file: %.2f\n' "$(awk -v a="${MEDIAN[gslb]}" -v b="${MEDIAN[file]}" 'BEGIN { print a / b }')"
printf 'ratio gslb/whoami: %.2f\n' "$(awk -v a="${MEDIAN[gslb]}" -v b="${MEDIAN[whoami]}" 'BEGIN { print a / b }')"
exit "$MICRO_FAILED"
