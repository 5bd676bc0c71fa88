package chart_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gslb/gslb/deploy/tools/chart"
	"github.com/gslb/gslb/test/lab"
	"helm.sh/helm/v4/pkg/action"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := lab.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, values string) []*unstructured.Unstructured {
	t.Helper()
	v, err := chart.Values(values)
	if err != nil {
		t.Fatal(err)
	}
	m, err := chart.Render(chart.Dir(root(t)), v)
	if err != nil {
		t.Fatalf("rendering with\n%s\n%v", values, err)
	}
	objs, err := chart.Objects(m)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// must unwraps unstructured.Nested*: a missing field is a broken test
// assumption, so it panics (the test fails with the stack).
func must[T any](v T, found bool, err error) T {
	if err != nil || !found {
		panic(fmt.Sprintf("field missing (found %v, err %v)", found, err))
	}
	return v
}

// helm lint, strict (warnings fail too), over the defaults and a busy
// variant.
func TestLint(t *testing.T) {
	for _, values := range []string{"", variantAll} {
		v, err := chart.Values(values)
		if err != nil {
			t.Fatal(err)
		}
		l := action.NewLint()
		l.Strict = true
		l.Namespace = chart.Namespace
		res := l.Run([]string{chart.Dir(root(t))}, v)
		for _, m := range res.Messages {
			t.Logf("lint: %s", m)
		}
		if len(res.Errors) > 0 || res.TotalChartsLinted != 1 {
			t.Errorf("helm lint with %q: %v", values, res.Errors)
		}
	}
}

const variantAll = `
kubeconfig: {existingSecret: gslb-config-secret}
rbac: {amko: true}
gslb:
  amko: {enabled: true, context: sitea-tkg-wld01-admin@sitea-tkg-wld01, status: true}
  avi: {enabled: true, controller: "https://avi-leader.sddc.lab", credentials: "username: admin\npassword: x\n", ca: "-----BEGIN CERTIFICATE-----\n"}
  policy: weighted
  weights: {sitea: 3}
  priorities: {siteb: 20}
  downResponse: empty
  health: {interval: 2s, fall: 4, targets: [10.0.0.0/8]}
hostNetwork: true
service: {type: NodePort, nodePorts: {udp: 30053, tcp: 30053}}
metrics: {serviceMonitor: {enabled: true}}
networkPolicy: {enabled: true}
`

// values.schema.json refuses wrong values and says where.
func TestSchemaRejects(t *testing.T) {
	for _, c := range []struct{ values, want string }{
		{"service: {type: LoadBalancr}", `/service/type`},
		{"replicas: 3", `additional properties 'replicas' not allowed`},
		{"zones: []", `/zones`},
		{"zones: [\"not a zone\"]", `/zones/0`},
		{"gslb: {ttl: 90000}", `/gslb/ttl`},
		{"gslb: {sites: [{name: sitea}]}", `/gslb/sites/0`},
		{"gslb: {policy: fastest}", `/gslb/policy`},
		{"gslb: {weights: {sitea: 50}}", `/gslb/weights/sitea`},
		{"gslb: {amko: {enabled: true}}", `/gslb/amko`},
		{"gslb: {avi: {enabled: true, controller: \"http://avi\"}}", `/gslb/avi/controller`},
		{"gslb: {health: {interval: fast}}", `/gslb/health/interval`},
		{"gslb: {ownership: strict}", `/gslb/ownership`},
		{"gslb: {resources: [ingress, gateway]}", `/gslb/resources/1`},
		{"gslb: {gatewaySelection: both}", `/gslb/gatewaySelection`},
		{"gslb: {status: {address: 'localhost:8282'}}", `/gslb/status/address`},
		{"gslb: {owners: {payroll.gslb.sddc.lab: [Payroll]}}", `/gslb/owners/payroll.gslb.sddc.lab/0`},
		{"image: {digest: latest}", `/image/digest`},
		{"ports: {dns: 70000}", `/ports/dns`},
	} {
		v, err := chart.Values(c.values)
		if err != nil {
			t.Fatal(err)
		}
		_, err = chart.Render(chart.Dir(root(t)), v)
		if err == nil {
			t.Errorf("%s: accepted", c.values)
			continue
		}
		t.Logf("%s: %v", c.values, err)
		if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error does not name %q:\n%v", c.values, c.want, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	objs := render(t, "")
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()+"/"+o.GetName()] = true
		if o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" && o.GetNamespace() != chart.Namespace {
			t.Errorf("%s/%s in namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	for _, k := range []string{"Deployment/gslb", "Service/gslb", "Service/gslb-metrics", "ServiceAccount/gslb", "ClusterRole/gslb",
		"ClusterRoleBinding/gslb", "ConfigMap/gslb", "PodDisruptionBudget/gslb"} {
		if !kinds[k] {
			t.Errorf("no %s in %v", k, kinds)
		}
	}
	for k := range kinds {
		if strings.HasPrefix(k, "ServiceMonitor/") || strings.HasPrefix(k, "NetworkPolicy/") || strings.HasPrefix(k, "Secret/") {
			t.Errorf("%s rendered by default", k)
		}
	}

	d := chart.Find(objs, "Deployment", "gslb")
	if r := must(unstructured.NestedInt64(d.Object, "spec", "replicas")); r != 2 {
		t.Errorf("replicas %d", r)
	}
	pod := must(unstructured.NestedMap(d.Object, "spec", "template", "spec"))
	c := pod["containers"].([]any)[0].(map[string]any)
	sc := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false ||
		!reflect.DeepEqual(sc["capabilities"], map[string]any{"drop": []any{"ALL"}, "add": []any{"NET_BIND_SERVICE"}}) {
		t.Errorf("container securityContext %v", sc)
	}
	psc := pod["securityContext"].(map[string]any)
	if psc["runAsNonRoot"] != true || psc["runAsUser"] != int64(65532) {
		t.Errorf("pod securityContext %v", psc)
	}
	if p := c["livenessProbe"].(map[string]any)["httpGet"].(map[string]any); p["path"] != "/health" || p["port"] != "health" {
		t.Errorf("liveness %v", p)
	}
	if p := c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any); p["path"] != "/ready" || p["port"] != "ready" {
		t.Errorf("readiness %v", p)
	}
	if _, ok := pod["affinity"].(map[string]any)["podAntiAffinity"]; !ok {
		t.Errorf("no anti-affinity: %v", pod["affinity"])
	}
	if n := len(pod["topologySpreadConstraints"].([]any)); n != 2 {
		t.Errorf("%d topology spread constraints", n)
	}
	res := c["resources"].(map[string]any)
	if res["requests"] == nil || res["limits"] == nil {
		t.Errorf("resources %v", res)
	}

	svc := chart.Find(objs, "Service", "gslb")
	if typ := must(unstructured.NestedString(svc.Object, "spec", "type")); typ != "LoadBalancer" {
		t.Errorf("service type %s", typ)
	}
	ports := must(unstructured.NestedSlice(svc.Object, "spec", "ports"))
	var got []string
	for _, p := range ports {
		m := p.(map[string]any)
		got = append(got, fmt.Sprintf("%v/%v", m["protocol"], m["port"]))
	}
	if !reflect.DeepEqual(got, []string{"UDP/53", "TCP/53"}) {
		t.Errorf("service ports %v", got)
	}

	// The secret the Pods mount is gslb-members, key gslb-members.
	if s := projectedSecret(t, d); s != "gslb-members/gslb-members" {
		t.Errorf("kubeconfig volume %s", s)
	}
}

func projectedSecret(t *testing.T, d *unstructured.Unstructured) string {
	t.Helper()
	vols := must(unstructured.NestedSlice(d.Object, "spec", "template", "spec", "volumes"))
	for _, v := range vols {
		srcs, _, _ := unstructured.NestedSlice(v.(map[string]any), "projected", "sources")
		for _, s := range srcs {
			if sec, ok := s.(map[string]any)["secret"].(map[string]any); ok {
				item := sec["items"].([]any)[0].(map[string]any)
				if item["path"] == "gslb-members" {
					return sec["name"].(string) + "/" + item["key"].(string)
				}
			}
		}
	}
	return ""
}

// AMKO users' gslb-config-secret (key gslb-members) is mounted as is, and
// the chart makes no Secret of its own.
func TestExistingSecret(t *testing.T) {
	objs := render(t, "kubeconfig: {existingSecret: gslb-config-secret}")
	if s := projectedSecret(t, chart.Find(objs, "Deployment", "gslb")); s != "gslb-config-secret/gslb-members" {
		t.Errorf("kubeconfig volume %s, want gslb-config-secret/gslb-members", s)
	}
	for _, o := range objs {
		if o.GetKind() == "Secret" {
			t.Errorf("a Secret %s is rendered next to the existing one", o.GetName())
		}
	}
	// Given the file instead, the chart makes the Secret.
	objs = render(t, "kubeconfig: {content: \"apiVersion: v1\\nkind: Config\\n\"}")
	if chart.Find(objs, "Secret", "gslb-members") == nil {
		t.Errorf("kubeconfig.content: no Secret gslb-members")
	}
}

// A changed Corefile changes the Pod template, so `helm upgrade` rolls the
// Pods (and the reload plugin picks it up in running ones).
func TestChecksumFollowsCorefile(t *testing.T) {
	sum := func(values string) string {
		d := chart.Find(render(t, values), "Deployment", "gslb")
		return must(unstructured.NestedString(d.Object, "spec", "template", "metadata", "annotations", "checksum/config"))
	}
	a, b, a2 := sum(""), sum("gslb: {ttl: 60}"), sum("")
	if a == "" || a == b || a != a2 {
		t.Errorf("checksum/config: defaults %q, ttl 60 %q, defaults again %q", a, b, a2)
	}
}

// The chart's default Corefile is Corefile.example's gslb stanza, line for
// line (comments aside), so the documented example is what gets installed.
func TestCorefileMirrorsExample(t *testing.T) {
	cm := chart.Find(render(t, ""), "ConfigMap", "gslb")
	got := gslbStanza(must(unstructured.NestedString(cm.Object, "data", "Corefile")))
	ex, err := os.ReadFile(filepath.Join(root(t), "Corefile.example"))
	if err != nil {
		t.Fatal(err)
	}
	want := gslbStanza(string(ex))
	if len(want) < 5 || !reflect.DeepEqual(got, want) {
		t.Errorf("the chart's gslb stanza\n%s\nis not Corefile.example's\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range []string{"errors", "health :8080", "ready :8181", "prometheus :9153", "reload", "cache 30"} {
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(p) + `( \{)?$`).MatchString(must(unstructured.NestedString(cm.Object, "data", "Corefile"))) {
			t.Errorf("the chart's Corefile has no %q line", p)
		}
	}
}

func gslbStanza(corefile string) []string {
	var lines []string
	in := false
	for _, l := range strings.Split(corefile, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		switch {
		case l == "gslb {":
			in = true
		case in && l == "}":
			return lines
		case in:
			lines = append(lines, l)
		}
	}
	return lines
}

// Ownership values become ownership and owner lines of the gslb stanza.
func TestOwnershipValues(t *testing.T) {
	cm := chart.Find(render(t, `gslb: {ownership: first_claim, owners: {"*.payroll.gslb.sddc.lab": [sitea/payroll, payroll-prod]}}`), "ConfigMap", "gslb")
	lines := gslbStanza(must(unstructured.NestedString(cm.Object, "data", "Corefile")))
	for _, want := range []string{"ownership first_claim", "owner *.payroll.gslb.sddc.lab sitea/payroll payroll-prod"} {
		if !slices.Contains(lines, want) {
			t.Errorf("the gslb stanza has no %q line:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// Every word of the Corefile's resources is a value (the ClusterRole
// grants the Gateway API kinds and Routes already), and gatewaySelection
// becomes a gateway_selection line, none by default (the Corefile's route).
func TestResourcesGatewaySelectionValues(t *testing.T) {
	cm := chart.Find(render(t, `gslb: {resources: [ingress, httproute, grpcroute, tlsroute, tcproute, udproute, gatewayapi, route], gatewaySelection: gateway}`), "ConfigMap", "gslb")
	lines := gslbStanza(must(unstructured.NestedString(cm.Object, "data", "Corefile")))
	for _, want := range []string{"resources ingress httproute grpcroute tlsroute tcproute udproute gatewayapi route", "gateway_selection gateway"} {
		if !slices.Contains(lines, want) {
			t.Errorf("the gslb stanza has no %q line:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	cm = chart.Find(render(t, ``), "ConfigMap", "gslb")
	for _, l := range gslbStanza(must(unstructured.NestedString(cm.Object, "data", "Corefile"))) {
		if strings.HasPrefix(l, "gateway_selection") {
			t.Errorf("default values render %q", l)
		}
	}
}

// Status and events values become status and events lines; both are off
// by default (the default stanza equals Corefile.example's, tested above).
func TestStatusEventsValues(t *testing.T) {
	cm := chart.Find(render(t, `gslb: {status: {enabled: true}, events: true}`), "ConfigMap", "gslb")
	lines := gslbStanza(must(unstructured.NestedString(cm.Object, "data", "Corefile")))
	for _, want := range []string{"status 127.0.0.1:8282", "events"} {
		if !slices.Contains(lines, want) {
			t.Errorf("the gslb stanza has no %q line:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	cm = chart.Find(render(t, ``), "ConfigMap", "gslb")
	for _, l := range gslbStanza(must(unstructured.NestedString(cm.Object, "data", "Corefile"))) {
		if strings.HasPrefix(l, "status") || l == "events" {
			t.Errorf("default values render %q", l)
		}
	}
}

// The chart's ClusterRole grants exactly deploy/rbac.yaml's rules when
// events are on, and nothing on Events when they are off (the default).
func TestRBACMatchesDeployRBAC(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := chart.Objects(string(b))
	if err != nil {
		t.Fatal(err)
	}
	got := chart.Find(render(t, `gslb: {events: true}`), "ClusterRole", "gslb")
	w := chart.Find(want, "ClusterRole", "gslb-reader")
	if got == nil || w == nil || !reflect.DeepEqual(got.Object["rules"], w.Object["rules"]) {
		t.Errorf("chart ClusterRole rules %v, deploy/rbac.yaml %v", got, w)
	}
	off := chart.Find(render(t, ""), "ClusterRole", "gslb")
	if off == nil || strings.Contains(fmt.Sprint(off.Object["rules"]), "events") {
		t.Errorf("events off: the ClusterRole still grants Events: %v", off)
	}
}

// deploy/manifests/gslb.yaml is the chart rendered with its defaults.
func TestManifestsInSync(t *testing.T) {
	want, err := chart.PlainManifests(chart.Dir(root(t)))
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(chart.ManifestsFile(root(t)))
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != string(want) {
		t.Errorf("deploy/manifests/gslb.yaml is stale: run `make manifests` and commit it")
	}
}
