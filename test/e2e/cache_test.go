package e2e

import (
	"testing"

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

// TestBehindCache checks the cache setup of Corefile.example: GSLB answers
// keep rotating, denials are cached. A plain cache would freeze the rotation
// (checked too, so the README's warning stays true).
func TestBehindCache(t *testing.T) {
	t.Run("Corefile.example", func(t *testing.T) {
		s := startServer(t, gslbBlock(), "cache 30 {\n        disable success gslb.sddc.lab\n    }")
		if got := firstAnswers(s, "onlineshop.gslb.sddc.lab", 6); len(got) != 2 {
			t.Errorf("with success caching disabled the rotation must go on; first answers seen: %v", got)
		}
		s.query("cached-denial.gslb.sddc.lab", dns.TypeA)
		if r := s.query("cached-denial.gslb.sddc.lab", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("want NXDOMAIN, got %s", dns.RcodeToString[r.Rcode])
		}
		if got := s.metric("coredns_cache_hits_total", `type="denial"`); got < 1 {
			t.Errorf("denials must still be cached: coredns_cache_hits_total{type=denial} = %v", got)
		}
	})
	t.Run("plain cache freezes answers", func(t *testing.T) {
		s := startServer(t, gslbBlock(), "cache 30")
		if got := firstAnswers(s, "onlineshop.gslb.sddc.lab", 6); len(got) != 1 {
			t.Errorf("a plain cache serves one answer for its TTL; first answers seen: %v", got)
		}
	})
}
