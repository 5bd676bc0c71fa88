package gslb

import (
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/amko"
)

func TestParseAmko(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)
	for _, tc := range []struct {
		name          string
		props         string
		wantSite      string
		wantNamespace string
		wantStatus    bool
	}{
		{"context, default namespace", "amko " + ctxA, ctxA, "avi-system", false},
		{"context and namespace", "amko " + ctxB + " gslb-policies", ctxB, "gslb-policies", false},
		{"site name", "site sitea " + ctxA + "\n\tamko sitea", "sitea", "avi-system", false},
		{"status", "amko " + ctxA + "\n\tamko_status", ctxA, "avi-system", true},
		{"status first", "amko_status\n\tamko " + ctxA, ctxA, "avi-system", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := files.Replace("gslb gslb.sddc.lab {\n\tkubeconfig KUBECONFIG\n\t" + tc.props + "\n}")
			cfg, err := parse(caddy.NewTestController("dns", in))
			if err != nil {
				t.Fatal(err)
			}
			a := cfg.amko
			if a == nil || a.leader.Site != tc.wantSite || a.namespace != tc.wantNamespace || a.status != tc.wantStatus || a.leader.Config == nil {
				t.Errorf("amko = %+v", a)
			}
		})
	}

	t.Run("no amko line", func(t *testing.T) {
		cfg, err := parse(caddy.NewTestController("dns", files.Replace("gslb gslb.sddc.lab {\n\tkubeconfig KUBECONFIG\n}")))
		if err != nil || cfg.amko != nil {
			t.Errorf("amko = %+v, err %v", cfg.amko, err)
		}
	})
}

func TestParseAmkoErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)
	block := func(props ...string) string {
		return files.Replace("gslb gslb.sddc.lab {\n\t" + strings.Join(props, "\n\t") + "\n}")
	}
	const kc = "kubeconfig KUBECONFIG"
	for _, tc := range []struct {
		name  string
		input string
		want  []string
	}{
		{"no context", block(kc, "amko"), []string{"Testfile:3", "amko needs the kubeconfig context"}},
		{"too many args", block(kc, "amko "+ctxA+" avi-system extra"), []string{"Testfile:3", "amko needs"}},
		{"bad namespace", block(kc, "amko "+ctxA+" Avi_System"), []string{"Testfile:3", `amko namespace "Avi_System"`}},
		{"twice", block(kc, "amko "+ctxA, "amko "+ctxB), []string{"Testfile:4", "only one amko line"}},
		{"unknown context", block(kc, "amko sitec-admin@sitec"), []string{"Testfile:3", `amko context "sitec-admin@sitec" is not a member context of this stanza; the contexts are: ` + ctxA + ", " + ctxB}},
		{"context not watched", block(kc+" "+ctxA, "amko "+ctxB), []string{"Testfile:3", `amko context "` + ctxB + `" is not a member context`, "the contexts are: " + ctxA}},
		{"status without amko", block(kc, "amko_status"), []string{"Testfile:3", "there is no `amko CONTEXT [NAMESPACE]` line"}},
		{"status with args", block(kc, "amko "+ctxA, "amko_status yes"), []string{"Testfile:4", "amko_status takes no arguments"}},
		{"no clusters", block("member a.gslb.sddc.lab 10.0.0.1", "amko "+ctxA), []string{"Testfile:3", "watches no Kubernetes cluster"}},
		{"unknown property lists amko", block(kc, "amko_strict"), []string{`unknown property "amko_strict"`, "amko, amko_status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(caddy.NewTestController("dns", tc.input))
			if err == nil {
				t.Fatalf("no error for:\n%s", tc.input)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestAmkoWiring: the policy source is built from the stanza, and nothing
// from the clusters is published before the policy objects are known.
func TestAmkoWiring(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)
	cfg, err := parse(caddy.NewTestController("dns", files.Replace(`gslb gslb.sddc.lab {
	kubeconfig KUBECONFIG
	site sitea `+ctxA+`
	site siteb `+ctxB+`
	amko sitea gslb-policies
	amko_status
	health_check tcp 443
}`)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGSLB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var src *amko.Source
	for _, s := range g.sources {
		if a, ok := s.(amkoSource); ok {
			src = a.Source
		}
	}
	if src == nil || src.Leader() != ctxA {
		t.Fatalf("amko source: %+v in %+v", src, g.sources)
	}
	if src.Publish("sitea", "shop", map[string]string{"app": "gslb"}) {
		t.Error("published before the policy objects were listed")
	}
	if g.synced() {
		t.Error("synced before the policy objects were listed")
	}
}
