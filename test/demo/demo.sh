#!/usr/bin/env bash
# make demo: two real Kubernetes clusters on loopback, the onlineshop seed in
# both, and CoreDNS with the gslb plugin answering for gslb.sddc.lab.
# Never reads stdin; stops on Ctrl-C or after DEMO_SECONDS (0 = until Ctrl-C).
set -euo pipefail

DNS_PORT=${DNS_PORT:-1053}
HEALTH_PORT=${HEALTH_PORT:-18080}
READY_PORT=${READY_PORT:-18181}
METRICS_PORT=${METRICS_PORT:-19153}
STATUS_PORT=${STATUS_PORT:-8282}
DEMO_SECONDS=${DEMO_SECONDS:-0}
DEMO_DIR=${DEMO_DIR:-.lab}
export GSLB_LAB_BASE_PORT=${GSLB_LAB_BASE_PORT:-0}

cd "$(dirname "$0")/../.."
for tool in dig curl; do
	command -v "$tool" >/dev/null || { echo "demo: '$tool' is missing: apt-get install -y dnsutils curl" >&2; exit 1; }
done
for port in "$DNS_PORT" "$HEALTH_PORT" "$READY_PORT" "$METRICS_PORT" "$STATUS_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "demo: port $port on 127.0.0.1 is in use; set DNS_PORT, HEALTH_PORT, READY_PORT, METRICS_PORT or STATUS_PORT to a free one" >&2
		exit 1
	fi
done

rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"
ready="$DEMO_DIR/ready.env"
lab_pid="" dns_pid=""
cleanup() {
	trap - EXIT INT TERM
	[ -n "$dns_pid" ] && kill "$dns_pid" 2>/dev/null && wait "$dns_pid" 2>/dev/null
	[ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null
	echo "demo: stopped; nothing left running."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> starting two clusters (etcd + kube-apiserver each, on 127.0.0.1) and seeding onlineshop"
bin/gslb-lab up -clusters 2 -seed -dir "$DEMO_DIR/clusters" -ready-file "$ready" </dev/null &
lab_pid=$!
for _ in $(seq 1 240); do
	[ -f "$ready" ] && break
	kill -0 "$lab_pid" 2>/dev/null || { echo "demo: the lab failed to start (see above)" >&2; exit 1; }
	sleep 0.5
done
[ -f "$ready" ] || { echo "demo: the lab did not become ready in 120 s" >&2; exit 1; }
# shellcheck disable=SC1090
. "$ready"

corefile="$DEMO_DIR/Corefile"
# Zone transfers to 127.0.0.1 only (dig AXFR below); the transfer plugin
# also sends NOTIFY to 127.0.0.1:53 on each change, which nothing needs here.
sed -e "s|^gslb.sddc.lab {|gslb.sddc.lab:$DNS_PORT {\n    bind 127.0.0.1\n    transfer {\n        to 127.0.0.1\n    }|" \
	-e "s|kubeconfig /etc/coredns/gslb-members|kubeconfig $KUBECONFIG\n        health_targets 127.0.0.0/8 ::1/128\n        status 127.0.0.1:$STATUS_PORT|" \
	-e "s|health :8080|health 127.0.0.1:$HEALTH_PORT|" \
	-e "s|ready :8181|ready 127.0.0.1:$READY_PORT|" \
	-e "s|prometheus :9153|prometheus 127.0.0.1:$METRICS_PORT|" \
	Corefile.example >"$corefile"

echo "==> starting CoreDNS with the gslb plugin on 127.0.0.1:$DNS_PORT (Corefile: $corefile, log: $DEMO_DIR/coredns.log)"
bin/coredns -conf "$corefile" >"$DEMO_DIR/coredns.log" 2>&1 </dev/null &
dns_pid=$!
for _ in $(seq 1 120); do
	curl -fsS "http://127.0.0.1:$READY_PORT/ready" >/dev/null 2>&1 && break
	kill -0 "$dns_pid" 2>/dev/null || { echo "demo: coredns exited:" >&2; cat "$DEMO_DIR/coredns.log" >&2; exit 1; }
	sleep 0.5
done

echo
echo "==> dig @127.0.0.1 -p $DNS_PORT onlineshop.gslb.sddc.lab +short (round robin, one site per answer, as Avi's num_dns_ip 1)"
answers=""
for i in 1 2 3 4; do
	one=$(dig @127.0.0.1 -p "$DNS_PORT" onlineshop.gslb.sddc.lab +short +norec)
	echo "--- query $i: $one"
	[ "$(wc -l <<<"$one")" -eq 1 ] || { echo "demo: FAILED: want one address per answer (answers 1), got: $one" >&2; exit 1; }
	answers+="$one"$'\n'
done
for vip in 172.26.17.21 172.27.17.21; do
	grep -qx "$vip" <<<"$answers" || { echo "demo: FAILED: $vip never answered in 4 queries" >&2; exit 1; }
done
dig @127.0.0.1 -p "$DNS_PORT" onlineshop.gslb.sddc.lab +noall +answer +norec
echo "--- the zone's name servers and SOA"
dig @127.0.0.1 -p "$DNS_PORT" gslb.sddc.lab NS +noall +answer +additional +norec
dig @127.0.0.1 -p "$DNS_PORT" gslb.sddc.lab SOA +noall +answer +norec
echo "--- the zone as a secondary sees it: dig AXFR gslb.sddc.lab @127.0.0.1 -p $DNS_PORT"
axfr=$(dig AXFR gslb.sddc.lab @127.0.0.1 -p "$DNS_PORT" +nocmd +nostats)
echo "$axfr"
grep -q '^onlineshop\.gslb\.sddc\.lab\..*A.172\.27\.17\.21$' <<<"$axfr" ||
	{ echo "demo: FAILED: the zone transfer lacks onlineshop's site B VIP" >&2; exit 1; }
echo "--- the status page's JSON: curl -s http://127.0.0.1:$STATUS_PORT/status.json"
status=$(curl -fsS "http://127.0.0.1:$STATUS_PORT/status.json?name=onlineshop")
grep -q '"name": "onlineshop.gslb.sddc.lab."' <<<"$status" ||
	{ echo "demo: FAILED: the status page does not list onlineshop: $status" >&2; exit 1; }
echo "    onlineshop.gslb.sddc.lab is listed with its members; the page: http://127.0.0.1:$STATUS_PORT/"

cat <<MSG

Both sites answer. In another terminal, try:
  dig @127.0.0.1 -p $DNS_PORT onlineshop.gslb.sddc.lab
  dig @127.0.0.1 -p $DNS_PORT nothere.gslb.sddc.lab          # NXDOMAIN with the SOA
  dig AXFR gslb.sddc.lab @127.0.0.1 -p $DNS_PORT              # the zone, as a secondary gets it
  $KUBECTL --kubeconfig $KUBECONFIG config get-contexts
  $KUBECTL --kubeconfig $KUBECONFIG --context $CONTEXT_2 -n boutique-app get ingress
Take site B's VIP away (as if AKO withdrew it), then watch every answer become site A's:
  $KUBECTL --kubeconfig $KUBECONFIG --context $CONTEXT_2 -n boutique-app delete ingress onlineshop-ingress
Take site B's API server away: its last known members keep being answered:
  kill $APISERVER_PID_2          # and later: kill -USR1 $GSLB_LAB_PID to start it again
Metrics:  curl -s 127.0.0.1:$METRICS_PORT/metrics | grep coredns_gslb
Status page: http://127.0.0.1:$STATUS_PORT/   (JSON: /status.json); why this answer:
  curl -s '127.0.0.1:$STATUS_PORT/explain?name=onlineshop.gslb.sddc.lab&type=A&client=192.0.2.0/24'
MSG
if [ "$DEMO_SECONDS" -gt 0 ]; then
	echo "Serving for $DEMO_SECONDS s (DEMO_SECONDS); Ctrl-C stops earlier."
	sleep "$DEMO_SECONDS" &
	wait $! || true
else
	echo "Serving until Ctrl-C."
	while kill -0 "$dns_pid" 2>/dev/null && kill -0 "$lab_pid" 2>/dev/null; do sleep 1 & wait $!; done
	echo "demo: a process ended on its own; see $DEMO_DIR/coredns.log" >&2
	exit 1
fi
