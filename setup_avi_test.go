package gslb

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/test/avisim"
)

// aviFiles writes a credentials file, a CA and some broken files, and
// returns the replacer that puts their paths into a Corefile.
func aviFiles(t *testing.T) *strings.Replacer {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sim, err := avisim.New(avisim.Options{Empty: true})
	if err != nil {
		t.Fatal(err)
	}
	sim.Close() // only its CA is needed
	return strings.NewReplacer(
		"CREDS", write("creds.yaml", "username: admin\npassword: Hunter2-secret\n"),
		"NOPASS", write("nopass.yaml", "username: admin\n"),
		"CAFILE", write("ca.pem", string(sim.CAPEM())),
		"NOTPEM", write("not.pem", "hello"),
		"MISSING", filepath.Join(dir, "does-not-exist"),
	)
}

func TestParseAvi(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := aviFiles(t)

	t.Run("every property", func(t *testing.T) {
		in := `gslb gslb.sddc.lab {
	avi https://avi-leader.sddc.lab:8443/ https://avi-follower.sddc.lab {
		credentials CREDS
		tenant *
		version 30.2.1
		ca CAFILE
		poll 200ms
		timeout 3s
		grace 45s
		site east cluster-0c1d2e3f-aaaa-4bbb-8ccc-000000000001
		site west cluster-0c1d2e3f-aaaa-4bbb-8ccc-000000000002
	}
	ttl 20
	topology 10.0.0.0/8 east
}`
		cfg, err := parse(caddy.NewTestController("dns", files.Replace(in)))
		if err != nil {
			t.Fatal(err)
		}
		a := cfg.avi
		if a == nil {
			t.Fatal("no avi config")
		}
		if !slices.Equal(a.URLs, []string{"https://avi-leader.sddc.lab:8443", "https://avi-follower.sddc.lab"}) || a.Grace != 45*time.Second || a.CredentialsFile != files.Replace("CREDS") || a.Tenant != "*" || a.Version != "30.2.1" ||
			a.RootCAs == nil || a.Insecure || a.Poll != 200*time.Millisecond || a.Timeout != 3*time.Second {
			t.Errorf("avi config %+v", a)
		}
		if a.Sites[avisim.ClusterA] != "east" || a.Sites[avisim.ClusterB] != "west" || len(a.Sites) != 2 {
			t.Errorf("sites %v", a.Sites)
		}
		if cfg.defaults.TTL.V != 20 || len(cfg.clusters) != 0 || len(cfg.static) != 0 {
			t.Errorf("the properties after the avi block were lost: ttl %d", cfg.defaults.TTL.V)
		}
	})

	t.Run("defaults, block on one line", func(t *testing.T) {
		cfg, err := parse(caddy.NewTestController("dns", files.Replace("gslb gslb.sddc.lab {\n\tavi https://10.0.0.5 { credentials CREDS }\n\tanswers 2\n}")))
		if err != nil {
			t.Fatal(err)
		}
		a := cfg.avi
		if a.Tenant != avi.DefaultTenant || a.Version != avi.DefaultVersion || a.Poll != avi.DefaultPoll || a.Timeout != avi.DefaultTimeout || a.RootCAs != nil || a.Insecure {
			t.Errorf("defaults %+v", a)
		}
		if cfg.defaults.Answers.V != 2 {
			t.Error("the property after the avi block was lost")
		}
	})

	t.Run("insecure", func(t *testing.T) {
		cfg, err := parse(caddy.NewTestController("dns", files.Replace("gslb gslb.sddc.lab {\n\tavi https://10.0.0.5 {\n\t\tcredentials CREDS\n\t\tinsecure\n\t}\n}")))
		if err != nil || !cfg.avi.Insecure {
			t.Fatalf("%v %+v", err, cfg)
		}
	})
}

func TestParseAviErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := aviFiles(t)
	// avi wraps avi properties into a stanza; the avi line is line 2 and
	// its first property line 3.
	avi := func(props ...string) string {
		return "gslb gslb.sddc.lab {\n\tavi https://avi.sddc.lab {\n\t\t" + strings.Join(props, "\n\t\t") + "\n\t}\n}"
	}
	const creds = "credentials CREDS"
	tests := []struct {
		name, input string
		want        []string
	}{
		{"no URL", "gslb gslb.sddc.lab {\n\tavi {\n\t}\n}", []string{"Testfile:2", "avi needs the controller's URL and a block"}},
		{"same URL twice", "gslb gslb.sddc.lab {\n\tavi https://a https://a:443 https://a {\n\t}\n}", []string{"Testfile:2", "https://a is given twice"}},
		{"bad follower URL", "gslb gslb.sddc.lab {\n\tavi https://a http://b { credentials CREDS }\n}", []string{"Testfile:2", "HTTPS only"}},
		{"grace zero", avi(creds, "grace 0s"), []string{"Testfile:4", `avi grace: "0s" is not a positive duration`}},
		{"http", "gslb gslb.sddc.lab {\n\tavi http://avi.sddc.lab { credentials CREDS }\n}", []string{"Testfile:2", "HTTPS only, use https://"}},
		{"path", "gslb gslb.sddc.lab {\n\tavi https://avi.sddc.lab/api { credentials CREDS }\n}", []string{"Testfile:2", "without a path"}},
		{"no block", "gslb gslb.sddc.lab {\n\tavi https://avi.sddc.lab\n\tttl 30\n}", []string{"Testfile:2", "needs a block with at least its credentials"}},
		{"unclosed block", "gslb gslb.sddc.lab {\n\tavi https://avi.sddc.lab {\n\t\tcredentials CREDS\n", []string{"Testfile:2", "the avi block is not closed"}},
		{"nested block", avi(creds, "{"), []string{"Testfile:4", "unexpected { inside the avi block"}},
		{"block after a property", avi(creds, "tenant {"), []string{"Testfile:4", "avi tenant needs a tenant name"}},
		{"no credentials", avi("tenant admin"), []string{"Testfile:2", "avi https://avi.sddc.lab has no credentials: add `credentials FILE`"}},
		{"credentials unreadable", avi("credentials MISSING"), []string{"Testfile:3", "cannot read credentials file", "does-not-exist", "no such file"}},
		{"credentials without password", avi("credentials NOPASS"), []string{"Testfile:3", "no password or token"}},
		{"credentials without file", avi("credentials"), []string{"Testfile:3", "avi credentials needs a file"}},
		{"unknown property", avi(creds, "pool 30s"), []string{"Testfile:4", `unknown avi property "pool"; known: ca, credentials, grace, insecure, poll, site, tenant, timeout, version`}},
		{"tenant without name", avi(creds, "tenant"), []string{"Testfile:4", "avi tenant needs a tenant name"}},
		{"bad version", avi(creds, "version latest"), []string{"Testfile:4", `avi version "latest"`}},
		{"bad poll", avi(creds, "poll often"), []string{"Testfile:4", `avi poll: "often" is not a positive duration`}},
		{"poll too often", avi(creds, "poll 10ms"), []string{"Testfile:4", "avi poll 10ms is too often"}},
		{"bad timeout", avi(creds, "timeout 0s"), []string{"Testfile:4", `avi timeout: "0s" is not a positive duration`}},
		{"ca unreadable", avi(creds, "ca MISSING"), []string{"Testfile:4", "avi ca: cannot read"}},
		{"ca not PEM", avi(creds, "ca NOTPEM"), []string{"Testfile:4", "holds no PEM certificate"}},
		{"ca and insecure", avi(creds, "ca CAFILE", "insecure"), []string{"Testfile:2", "has both `ca", "and `insecure`"}},
		{"insecure with args", avi(creds, "insecure yes"), []string{"Testfile:4", "avi insecure takes no arguments"}},
		{"site with one arg", avi(creds, "site east"), []string{"Testfile:4", "avi site needs a name and an Avi cluster uuid"}},
		{"site bad name", avi(creds, "site ea/st cluster-1"), []string{"Testfile:4", `site name "ea/st"`}},
		{"site uuid twice", avi(creds, "site east cluster-1", "site west cluster-1"), []string{"Testfile:5", `avi cluster "cluster-1" already has a site name`}},
		{"site name twice", avi(creds, "site east cluster-1", "site east cluster-2"), []string{"Testfile:5", `avi site "east" already names cluster "cluster-1"`}},
		{"two controllers", "gslb gslb.sddc.lab {\n\tavi https://a { credentials CREDS }\n\tavi https://b { credentials CREDS }\n}", []string{"Testfile:3", "only one avi controller"}},
		{"topology names an unknown site", "gslb gslb.sddc.lab {\n\tavi https://a { credentials CREDS }\n\ttopology 10.0.0.0/8 east\n}", []string{"Testfile:3", `site "east" is not a site of this gslb stanza`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(caddy.NewTestController("dns", files.Replace(tc.input)))
			if err == nil {
				t.Fatalf("expected an error, got config %+v", cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), files.Replace(w)) {
					t.Errorf("error %q does not contain %q", err, files.Replace(w))
				}
			}
			if strings.Contains(err.Error(), "Hunter2-secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
