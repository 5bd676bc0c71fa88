package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// firstAnswers returns the distinct first A records over n queries.
func firstAnswers(s *server, name string, n int) map[string]bool {
	seen := map[string]bool{}
	for range n {
		r := s.query(name, dns.TypeA)
		if len(r.Answer) > 0 {
			seen[r.Answer[0].(*dns.A).A.String()] = true
		}
	}
	return seen
}

// TestBehindCache: with cache in the chain (as in Corefile.example), GSLB
// answers keep rotating because gslb makes cache bypass its zones.
func TestBehindCache(t *testing.T) {
	s := startServer(t, gslbBlock(), "cache 30")
	if got := firstAnswers(s, "onlineshop.gslb.sddc.lab", 6); len(got) != 2 {
		t.Errorf("behind cache the rotation must go on; first answers seen: %v", got)
	}
	s.query("nothere.gslb.sddc.lab", dns.TypeA)
	if got := s.metric("coredns_cache_misses_total", ""); got > 0 {
		t.Errorf("cache looked at GSLB queries (%v misses): the zone must bypass it", got)
	}
}

// firstPerSubnet asks for name from ten client subnets (EDNS Client Subnet)
// and returns the distinct first A records answered.
func firstPerSubnet(s *server, name string) map[string]bool {
	s.t.Helper()
	seen := map[string]bool{}
	c := &dns.Client{Timeout: 2 * time.Second}
	for i := range 10 {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24,
			Address: net.IPv4(100, 64, byte(i*17), 0).To4(),
		})
		m.Extra = append(m.Extra, o)
		r, _, err := c.Exchange(m, s.addr)
		if err != nil {
			s.t.Fatal(err)
		}
		if len(r.Answer) > 0 {
			seen[r.Answer[0].(*dns.A).A.String()] = true
		}
	}
	return seen
}

// TestConsistentHashBehindCache: behind cache, client subnets spread over
// the sites instead of all getting the first client's pick.
func TestConsistentHashBehindCache(t *testing.T) {
	s := startServer(t, gslbBlock("policy consistent-hash"), "cache 30")
	if got := firstPerSubnet(s, "onlineshop.gslb.sddc.lab"); len(got) != 2 {
		t.Errorf("consistent hash behind cache: ten subnets should reach both sites, got %v", got)
	}
}
