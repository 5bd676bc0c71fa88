package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ecsQuery asks name A for client subnet sub/bits and returns the reply.
func ecsQuery(t *testing.T, s *server, name string, sub net.IP, bits uint8) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	o.Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: bits, Address: sub.To4()}}
	m.Extra = []dns.RR{o}
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func echoedScope(t *testing.T, r *dns.Msg) int {
	t.Helper()
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
				return int(e.SourceScope)
			}
		}
	}
	t.Fatalf("the reply carries no ECS option (CoreDNS would strip it unless the plugin writes its own OPT):\n%v", r)
	return -1
}

// TestECSThroughCoreDNS: the EDNS Client Subnet option is echoed by the real
// binary with the scope of the answer, through the whole plugin chain.
func TestECSThroughCoreDNS(t *testing.T) {
	hash := startServer(t, gslbBlock("policy consistent-hash", "hash_mask 24"), "cache 30")
	if got := echoedScope(t, ecsQuery(t, hash, "onlineshop.gslb.sddc.lab", net.IPv4(198, 51, 100, 0), 24)); got != 24 {
		t.Errorf("consistent hash: ECS scope %d, want 24", got)
	}
	topo := startServer(t, gslbBlock("policy topology", "topology 198.51.100.0/24 siteb sitea"))
	r := ecsQuery(t, topo, "onlineshop.gslb.sddc.lab", net.IPv4(198, 51, 100, 0), 24)
	if got := echoedScope(t, r); got != 24 || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "172.27.17.21" {
		t.Errorf("topology: want site B's VIP with scope 24, got scope %d:\n%v", got, r)
	}
	rr := startServer(t, gslbBlock())
	if got := echoedScope(t, ecsQuery(t, rr, "onlineshop.gslb.sddc.lab", net.IPv4(198, 51, 100, 0), 24)); got != 0 {
		t.Errorf("round robin does not depend on the client: ECS scope %d, want 0", got)
	}
}
