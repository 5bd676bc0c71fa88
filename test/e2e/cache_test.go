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

// TestConsistentHashBehindCache: behind Corefile.example's cache, client
// subnets spread over the sites; behind a plain cache the first client's
// pick is everybody's.
func TestConsistentHashBehindCache(t *testing.T) {
	body := gslbBlock("policy consistent-hash")
	s := startServer(t, body, "cache 30 {\n        disable success gslb.sddc.lab\n    }")
	if got := firstPerSubnet(s, "onlineshop.gslb.sddc.lab"); len(got) != 2 {
		t.Errorf("consistent hash behind Corefile.example's cache: ten subnets should reach both sites, got %v", got)
	}
	plain := startServer(t, body, "cache 30")
	if got := firstPerSubnet(plain, "onlineshop.gslb.sddc.lab"); len(got) != 1 {
		t.Errorf("behind a plain cache every subnet gets the first answer; got %v", got)
	}
}
