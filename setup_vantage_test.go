package gslb

import (
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/vantage"
)

func TestParseVantage(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)
	block := func(props ...string) string {
		return "gslb example.org {\n\tkubeconfig KUBECONFIG\n\tsite sitea " + ctxA + "\n\tsite siteb " + ctxB + "\n\t" + strings.Join(props, "\n\t") + "\n}"
	}
	tests := []struct {
		name                 string
		input                string
		self, site, ns       string
		peers                string
		quorum               vantage.Quorum
		heartbeat, stale     time.Duration
		withoutVantageBlocks bool
	}{
		{name: "defaults from the context's site", input: block("vantage {\n\t\tcontext " + ctxB + "\n\t}"),
			self: "siteb", site: "siteb", ns: "gslb-system", peers: "sitea", heartbeat: 2 * time.Second, stale: 8 * time.Second},
		{name: "everything set, quorum before the block", input: block("health_quorum 2", "vantage dns1 {\n\t\tcontext sitea\n\t\tnamespace gslb-health\n\t\tpeers dns2 dns3 dns1\n\t\theartbeat 1s\n\t}"),
			self: "dns1", site: "sitea", ns: "gslb-health", peers: "dns2 dns3", quorum: vantage.Quorum{Kind: vantage.AtLeast, N: 2}, heartbeat: time.Second, stale: 4 * time.Second},
		{name: "quorum after the block", input: block("vantage {\n\t\tcontext sitea\n\t}", "health_quorum all"),
			self: "sitea", site: "sitea", ns: "gslb-system", peers: "siteb", quorum: vantage.Quorum{Kind: vantage.All}, heartbeat: 2 * time.Second, stale: 8 * time.Second},
		{name: "no vantage: verdicts stay local", input: block("ttl 30"), withoutVantageBlocks: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(caddy.NewTestController("dns", files.Replace(tc.input)))
			if err != nil {
				t.Fatal(err)
			}
			v := cfg.vantage
			if tc.withoutVantageBlocks {
				if v != nil {
					t.Fatalf("vantage %+v without a vantage block", v)
				}
				return
			}
			if v.name != tc.self || v.cluster.Site != tc.site || v.namespace != tc.ns || strings.Join(v.peers, " ") != tc.peers ||
				v.quorum != tc.quorum || v.heartbeat != tc.heartbeat || v.staleAfter() != tc.stale {
				t.Errorf("got %s, heartbeat %s stale %s", v, v.heartbeat, v.staleAfter())
			}
		})
	}
}

func TestParseVantageErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)
	block := func(props ...string) string {
		return "gslb example.org {\n\tkubeconfig KUBECONFIG\n\t" + strings.Join(props, "\n\t") + "\n}"
	}
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"quorum without vantage", block("health_quorum majority"), []string{"Testfile:3", "health_quorum needs a vantage block"}},
		{"bad quorum", block("health_quorum most"), []string{"Testfile:3", `"most": use majority, any, all`}},
		{"quorum zero", block("health_quorum 0"), []string{"Testfile:3", "count of vantages 1-100"}},
		{"context missing with two clusters", block("vantage"), []string{"Testfile:3", "add `context CONTEXT`"}},
		{"unknown context", block("vantage {\n\t\tcontext sitez\n\t}"), []string{"Testfile:3", `vantage context "sitez" is neither`}},
		{"bad name", block("vantage Site_A {\n\t\tcontext " + ctxA + "\n\t}"), []string{"Testfile:3", `vantage name "Site_A"`}},
		{"two names", block("vantage a b"), []string{"Testfile:3", "vantage takes one name"}},
		{"unknown property", block("vantage {\n\t\tleader x\n\t}"), []string{"Testfile:4", `unknown vantage property "leader"`}},
		{"bad heartbeat", block("vantage {\n\t\theartbeat 10ms\n\t}"), []string{"Testfile:4", "between 500ms and 1m"}},
		{"empty peers", block("vantage {\n\t\tpeers\n\t}"), []string{"Testfile:4", "peers needs the vantage names"}},
		{"only itself as peer", block("vantage a {\n\t\tcontext " + ctxA + "\n\t\tpeers a\n\t}"), []string{"Testfile:3", "vantage a has no peers", "peers NAME..."}},
		{"twice", block("vantage {\n\t\tcontext "+ctxA+"\n\t}", "vantage"), []string{"Testfile:6", "vantage is given twice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(caddy.NewTestController("dns", files.Replace(tc.input)))
			if err == nil {
				t.Fatalf("expected an error, got %+v", cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
