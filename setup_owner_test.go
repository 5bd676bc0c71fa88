package gslb

import (
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/owner"
)

// ownerStanza is a stanza with two member clusters (sitea, siteb) and a
// static site; the first property is on line 5.
func ownerStanza(files *strings.Replacer, props ...string) string {
	return files.Replace("gslb gslb.sddc.lab {\n\tkubeconfig KUBECONFIG\n\tsite sitea " + ctxA + "\n\tsite siteb " + ctxB +
		"\n\t" + strings.Join(props, "\n\t") + "\n\tmember dr.gslb.sddc.lab 192.0.2.10 site dr\n}")
}

func TestParseOwnership(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)
	cfg, err := parse(caddy.NewTestController("dns", ownerStanza(files)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ownership.mode != owner.FirstClaim || cfg.ownership.rules.Len() != 0 {
		t.Errorf("default ownership %+v, want first claim without rules", cfg.ownership)
	}
	cfg, err = parse(caddy.NewTestController("dns", ownerStanza(files,
		"ownership first_claim",
		"owner payroll.gslb.sddc.lab payroll",
		"owner *.Payroll.gslb.sddc.lab sitea/payroll siteb/payroll-prod",
		"owner *.sddc.lab platform")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ownership.rules.Len() != 3 {
		t.Errorf("%d rules, want 3", cfg.ownership.rules.Len())
	}
	cfg, err = parse(caddy.NewTestController("dns", ownerStanza(files, "ownership off")))
	if err != nil || cfg.ownership.mode != owner.Off {
		t.Errorf("ownership off: %+v, %v", cfg.ownership, err)
	}

	bad := []struct {
		name  string
		props []string
		want  []string
	}{
		{"ownership without mode", []string{"ownership"}, []string{"Testfile:5", "ownership needs first_claim or off"}},
		{"ownership unknown", []string{"ownership strict"}, []string{"Testfile:5", `ownership "strict": use first_claim (the default) or off`}},
		{"ownership twice", []string{"ownership off", "ownership off"}, []string{"Testfile:6", "ownership is set already (line 5)"}},
		{"owner without namespace", []string{"owner payroll.gslb.sddc.lab"}, []string{"Testfile:5", "owner needs a name or *.domain and the namespaces"}},
		{"owner bad name", []string{"owner pay*roll.gslb.sddc.lab payroll"}, []string{"Testfile:5", `owner "pay*roll.gslb.sddc.lab" is neither a domain name nor *. and one`}},
		{"owner outside the zone", []string{"owner payroll.example.org payroll"}, []string{"Testfile:5", "owner payroll.example.org is outside the zones gslb.sddc.lab."}},
		{"owner bad namespace", []string{"owner payroll.gslb.sddc.lab Payroll_NS"}, []string{"Testfile:5", `"Payroll_NS" is not a namespace or SITE/NAMESPACE`}},
		{"owner twice", []string{"owner payroll.gslb.sddc.lab a", "owner PAYROLL.gslb.sddc.lab b"}, []string{"Testfile:6", "payroll.gslb.sddc.lab. has an owner rule already: list every owner on one line"}},
		{"owner unknown site", []string{"owner payroll.gslb.sddc.lab sitec/payroll"}, []string{"Testfile:5", `owner: site "sitec" is not a member cluster of this gslb stanza; clusters are: sitea, siteb`}},
		{"owner static site", []string{"owner payroll.gslb.sddc.lab dr/payroll"}, []string{"Testfile:5", `site "dr" is not a member cluster`}},
		{"owner with ownership off", []string{"owner payroll.gslb.sddc.lab payroll", "ownership off"}, []string{"Testfile:5", "owner rules have no effect with ownership off (line 6): remove one or the other"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(caddy.NewTestController("dns", ownerStanza(files, tc.props...)))
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
