#!/usr/bin/env bash
# kubelet-pod.sh (make kubelet-pod): the chart's Pod from bin/gslb-image.tar under a real kubelet,
# containerd and runc, against the lab's API servers; it must answer the seed from both sites.
# Not part of make test: the kubelet build alone takes 10-20 minutes on 2 cores. Needs root,
# containerd, runc and ctr (apt-get install containerd runc). deploy/README.md says what each
# setting below works around on this machine kind.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export GSLB_LAB_BIN_DIR=${GSLB_LAB_BIN_DIR:-.cache/kube/v1.37.2}
DNS_PORT=${DNS_PORT:-25353}
NODE=gslb-kubelet-node
for c in containerd runc ctr; do command -v $c >/dev/null || { echo "kubelet-pod: $c missing: apt-get install containerd runc" >&2; exit 1; }; done

work=$(mktemp -d /tmp/gslb-kubelet-XXXXXX)
lab_pid= ctd_pid= kubelet_pid=
cleanup() {
	set +e
	[ -n "$kubelet_pid" ] && kubectl -n gslb-system delete pod gslb-0 --wait=true --timeout=30s >/dev/null 2>&1
	[ -n "$kubelet_pid" ] && kill "$kubelet_pid" && wait "$kubelet_pid" 2>/dev/null
	if [ -n "$ctd_pid" ]; then
		for t in $(ctr -a "$work/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr -a "$work/containerd.sock" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
		done
		sleep 1
		kill "$ctd_pid"; wait "$ctd_pid" 2>/dev/null
		pkill -f "containerd-shim-runc-v2 .* -address $work/containerd.sock" 2>/dev/null
	fi
	# go run does not pass the signal on: stop the lab itself (its children follow).
	if [ -n "${GSLB_LAB_PID:-}" ] && kill "$GSLB_LAB_PID" 2>/dev/null; then
		for _ in $(seq 100); do kill -0 "$GSLB_LAB_PID" 2>/dev/null || break; sleep 0.2; done
	fi
	[ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null
	grep -o " $work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

echo "== kubelet v1.37.2 (from test/kubebin, cached in bin/kubelet)"
if [ ! -x bin/kubelet ]; then
	v=v1.37.2
	(cd test/kubebin && go build -o "$root/bin/kubelet" -ldflags "-X k8s.io/component-base/version.gitVersion=$v \
		-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" k8s.io/kubernetes/cmd/kubelet)
fi

echo "== images: bin/gslb-image.tar and a stand-in pause image"
(cd deploy/tools && CGO_ENABLED=0 go build -trimpath -o "$work/pause" ./cmd/gslb-pause &&
	go run ./cmd/gslb-image -binary "linux/amd64=$work/pause" -out "$work/pause.tar" -ref registry.k8s.io/pause:3.10 -created 0 >/dev/null)

echo "== lab"
go run ./test/lab/cmd/gslb-lab up -clusters 2 -seed -dir "$work/lab" -ready-file "$work/lab.env" -seconds 1200 >"$work/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 300); do [ -s "$work/lab.env" ] && break; sleep 1; done
# shellcheck disable=SC1091
. "$work/lab.env"
kubectl() { "$KUBECTL" --kubeconfig "$KUBECONFIG" --context "$CONTEXT_1" "$@"; }

echo "== containerd"
cat >"$work/containerd.toml" <<TOML
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
[grpc]
  address = "$work/containerd.sock"
[ttrpc]
  address = "$work/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  stream_server_address = "127.0.0.1"
  # This machine's sandbox forbids lowering oom_score_adj (runc: "failed to update
  # /proc/self/oom_score_adj: Permission denied"): clamp it instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$work/cni/bin"
    conf_dir = "$work/cni/net.d"
TOML
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
ctd_pid=$!
for _ in $(seq 60); do [ -S "$work/containerd.sock" ] && break; sleep 0.5; done
ctr -a "$work/containerd.sock" -n k8s.io images import "$work/pause.tar" >/dev/null
ctr -a "$work/containerd.sock" -n k8s.io images import bin/gslb-image.tar
image=$(ctr -a "$work/containerd.sock" -n k8s.io images ls -q | grep -v pause | grep -v '^sha256:' | head -1)

echo "== the chart in both clusters, gslb-config-secret from the ServiceAccount's tokens"
cat >"$work/values.yaml" <<YAML
image: {repository: ${image%:*}, tag: ${image##*:}, pullPolicy: Never}
# No CNI here: the Pod uses the node's network, DNS on 127.0.0.1 only.
hostNetwork: true
service: {type: ClusterIP}
replicaCount: 1
ports: {dns: $DNS_PORT, health: $((DNS_PORT + 1)), ready: $((DNS_PORT + 2)), metrics: $((DNS_PORT + 3))}
corefile: {bind: [127.0.0.1]}
kubeconfig: {existingSecret: gslb-config-secret}
gslb:
  sites:
    - {name: sitea, context: $CONTEXT_1}
    - {name: siteb, context: $CONTEXT_2}
  health: {targets: [127.0.0.0/8]}
YAML
(cd deploy/tools && go run ./cmd/gslb-render -f "$work/values.yaml") >"$work/chart.yaml"
for ctx in "$CONTEXT_1" "$CONTEXT_2"; do
	"$KUBECTL" --kubeconfig "$KUBECONFIG" --context "$ctx" create namespace gslb-system >/dev/null
	"$KUBECTL" --kubeconfig "$KUBECONFIG" --context "$ctx" apply --server-side -f "$work/chart.yaml" >/dev/null
	cluster=$("$KUBECTL" --kubeconfig "$KUBECONFIG" config view -o jsonpath="{.contexts[?(@.name=='$ctx')].context.cluster}")
	"$KUBECTL" --kubeconfig "$KUBECONFIG" config view --raw -o jsonpath="{.clusters[?(@.name=='$cluster')].cluster.certificate-authority-data}" | base64 -d >"$work/ca.pem"
	"$KUBECTL" config --kubeconfig "$work/gslb-members" set-cluster "$cluster" --embed-certs --certificate-authority "$work/ca.pem" \
		--server "$("$KUBECTL" --kubeconfig "$KUBECONFIG" config view -o jsonpath="{.clusters[?(@.name=='$cluster')].cluster.server}")" >/dev/null
	"$KUBECTL" config --kubeconfig "$work/gslb-members" set-credentials "gslb@$cluster" \
		--token "$("$KUBECTL" --kubeconfig "$KUBECONFIG" --context "$ctx" -n gslb-system create token gslb --duration 1h)" >/dev/null
	"$KUBECTL" config --kubeconfig "$work/gslb-members" set-context "$ctx" --cluster "$cluster" --user "gslb@$cluster" >/dev/null
done
kubectl -n gslb-system create secret generic gslb-config-secret --from-file=gslb-members="$work/gslb-members" >/dev/null

echo "== kubelet"
"$KUBECTL" --kubeconfig "$KUBECONFIG" config view --raw --minify --context "$CONTEXT_1" >"$work/kubelet.kubeconfig"
cat >"$work/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false          # this kernel has cgroup v1 only
cgroupDriver: cgroupfs       # containerd 1.6 cannot tell (no CRI RuntimeConfig)
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
address: 127.0.0.1
port: $((DNS_PORT + 4))
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$work/containerd.sock
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
resolvConf: /etc/resolv.conf
YAML
# --node-ip 127.0.0.1: kubelet refuses it ("nodeIP can't be loopback"), so the node has no address
# and nothing (probes included) is sent to the host's other interfaces.
bin/kubelet --config "$work/kubelet.yaml" --kubeconfig "$work/kubelet.kubeconfig" --root-dir "$work/kubelet" \
	--cert-dir "$work/kubelet-pki" --hostname-override "$NODE" --node-ip 127.0.0.1 >"$work/kubelet.log" 2>&1 &
kubelet_pid=$!
for _ in $(seq 120); do kubectl get node "$NODE" >/dev/null 2>&1 && break; sleep 1; done
kubectl get node "$NODE" -o wide

echo "== the Deployment's Pod on $NODE (no scheduler or controller-manager in the lab)"
(cd deploy/tools && go run ./cmd/gslb-render -f "$work/values.yaml" -pod-on "$NODE" -probe-host 127.0.0.1) | kubectl create -f -
if ! kubectl -n gslb-system wait --for=condition=Ready pod/gslb-0 --timeout=180s; then
	kubectl -n gslb-system describe pod gslb-0 | tail -20
	tail -20 "$work/kubelet.log"
	exit 1
fi
kubectl -n gslb-system get pod -o wide

echo "== dig @127.0.0.1 -p $DNS_PORT onlineshop.gslb.sddc.lab"
answer=$(dig +norec +short @127.0.0.1 -p "$DNS_PORT" onlineshop.gslb.sddc.lab A | sort | tr '\n' ' ')
echo "$answer"
pid=$(pgrep -f '^/coredns -conf /etc/coredns/Corefile' | while read -r p; do grep -q '^CapBnd:.*0000000000000400' /proc/$p/status && echo "$p"; done | head -1)
grep -E '^(Uid|Gid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$pid/status"
if [ "$answer" != "$VIP_1 $VIP_2 " ] && [ "$answer" != "$VIP_2 $VIP_1 " ]; then
	echo "kubelet-pod: FAIL: want $VIP_1 and $VIP_2" >&2
	exit 1
fi
echo "kubelet-pod: OK: the chart's Pod, run by kubelet $(bin/kubelet --version | cut -d' ' -f2) with containerd $(containerd --version | cut -d' ' -f3), answers both sites"
