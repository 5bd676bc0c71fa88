package e2e

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
)

// TestTopologyByCountry: with CoreDNS's geoip plugin (and metadata) in the
// chain, topology country/continent rules pick the site from the client
// subnet's country. The test database knows only 81.2.69.142 (GB, EU).
func TestTopologyByCountry(t *testing.T) {
	db, err := filepath.Abs("testdata/GeoLite2-City.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, gslbBlock("policy topology", "topology country GB siteb", "topology continent NA sitea"),
		"metadata", "geoip "+db+" {\n        edns-subnet\n    }")
	r := ecsQuery(t, s, "onlineshop.gslb.sddc.lab", net.ParseIP("81.2.69.142"), 32)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "172.27.17.21" {
		t.Errorf("a GB client must get site B only, got:\n%v", r)
	}
	if got := echoedScope(t, r); got != 32 {
		t.Errorf("geo answer scope %d, want the client's own prefix 32", got)
	}
	// Unknown to the database: no rule matches, the fallback (round robin)
	// answers both sites.
	if r := ecsQuery(t, s, "onlineshop.gslb.sddc.lab", net.IPv4(192, 0, 2, 0), 24); len(r.Answer) != 2 {
		t.Errorf("a client of no known country gets the fallback (both sites), got:\n%v", r)
	}
}
