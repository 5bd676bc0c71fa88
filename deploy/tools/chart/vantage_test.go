package chart_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gslb/gslb/deploy/tools/chart"
)

// With gslb.vantage and rbac.vantage the chart writes the vantage block and
// grants exactly deploy/rbac-vantage.yaml's rules, objects included.
func TestVantageMatchesDeployRBAC(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "deploy", "rbac-vantage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := chart.Objects(strings.ReplaceAll(string(b), "sitea", "dns-a"))
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, `
replicaCount: 1
rbac: {vantage: true}
gslb:
  sites: [{name: sitea, context: ctx-a}, {name: siteb, context: ctx-b}]
  vantage: {enabled: true, name: dns-a, context: sitea, peers: [dns-b], quorum: "2"}
`)
	for _, pair := range [][3]string{
		{"Role", "gslb-vantage-reader", "gslb-vantage-reader"},
		{"Role", "gslb-vantage-writer", "gslb-vantage-dns-a"},
	} {
		g, w := chart.Find(got, pair[0], pair[1]), chart.Find(want, pair[0], pair[2])
		if g == nil || w == nil || !reflect.DeepEqual(g.Object["rules"], w.Object["rules"]) {
			t.Errorf("chart %s %s %v, deploy/rbac-vantage.yaml %s %v", pair[0], pair[1], g, pair[2], w)
		}
	}
	for _, kind := range []string{"Lease", "ConfigMap"} {
		g := chart.Find(got, kind, "gslb-vantage-dns-a")
		if g == nil || g.GetLabels()["gslb.io/vantage"] != "dns-a" {
			t.Errorf("chart %s gslb-vantage-dns-a: %v", kind, g)
		}
	}
	cm := chart.Find(got, "ConfigMap", "gslb")
	corefile := must(unstructuredString(cm.Object, "data", "Corefile"))
	for _, line := range []string{"vantage dns-a {", "context sitea", "namespace " + chart.Namespace, "peers dns-b", "health_quorum 2"} {
		if !strings.Contains(corefile, line) {
			t.Errorf("Corefile lacks %q:\n%s", line, corefile)
		}
	}
	// Without rbac.vantage nothing of it is rendered.
	if chart.Find(render(t, ""), "Role", "gslb-vantage-reader") != nil {
		t.Error("vantage RBAC rendered by default")
	}
}

// Replicas of one release would all publish as the same vantage (the
// plugin's duplicate_vantage): the chart refuses more than one, saying why
// and what to do instead.
func TestVantageRefusesReplicas(t *testing.T) {
	for _, values := range []string{
		"gslb: {vantage: {enabled: true, name: sitea, context: sitea}}", // replicaCount defaults to 2
		"replicaCount: 3\ngslb: {vantage: {enabled: true, name: siteb, context: siteb}}",
	} {
		v, err := chart.Values(values)
		if err != nil {
			t.Fatal(err)
		}
		_, err = chart.Render(chart.Dir(root(t)), v)
		if err == nil {
			t.Errorf("%s: accepted", values)
			continue
		}
		for _, want := range []string{"gslb.vantage needs replicaCount 1", "duplicate_vantage", "one release per site with replicaCount 1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error lacks %q:\n%v", values, want, err)
			}
		}
	}
	// One replica, or several without a vantage, render.
	render(t, "replicaCount: 1\ngslb: {vantage: {enabled: true, name: sitea, context: sitea}}")
	render(t, "replicaCount: 3")
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[f]
	}
	s, ok := cur.(string)
	return s, ok, nil
}
