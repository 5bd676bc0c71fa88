package gslb

import (
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

func TestParseGeoTopology(t *testing.T) {
	const head = "gslb example.org {\n member a.example.org 192.0.2.1 site sitea\n member a.example.org 192.0.2.2 site siteb\n"
	for _, tc := range []struct {
		lines   string
		wantErr string
	}{
		{"topology country gb siteb sitea", ""},
		{"topology continent EU sitea", ""},
		{"topology country GB sitea\n topology country gb siteb", "Testfile:5 - Error during parsing: topology country GB is given twice"},
		{"topology country GBR sitea", "not a two-letter code"},
		{"topology continent E1 sitea", "not a two-letter code"},
		{"topology country GB", "needs a code and preferred sites"},
		{"topology country GB sitez", `site "sitez" is not a site of this gslb stanza`},
	} {
		t.Run(tc.lines, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			cfg, err := parse(caddy.NewTestController("dns", head+" "+tc.lines+"\n}"))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !cfg.policy.topology.HasGeo() {
					t.Error("no geo rule recorded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
