package policy

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	"github.com/miekg/dns"
)

func a(ip string) dns.RR {
	return &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP(ip)}
}

func cands(spec ...string) []Candidate {
	// spec: "site:ip:weight"
	var out []Candidate
	for _, s := range spec {
		var site, ip string
		var w int
		fmt.Sscanf(s, "%s %s %d", &site, &ip, &w)
		out = append(out, Candidate{RR: a(ip), Site: site, Weight: w})
	}
	return out
}

func ipOf(rr dns.RR) string { return rr.(*dns.A).A.String() }

func client(s string) Client {
	p := netip.MustParsePrefix(s)
	return Client{Addr: p.Addr(), Bits: p.Bits()}
}

func TestRoundRobinRotatesWindows(t *testing.T) {
	set := NewSet(Settings{Algorithm: model.RoundRobin, Answers: 2}, cands("a 10.0.0.1 1", "b 10.0.0.2 1", "c 10.0.0.3 1"))
	seen := map[string]int{}
	for seq := range uint32(3) {
		rrs, scope := set.Pick(seq, client("192.0.2.1/32"))
		if len(rrs) != 2 || cap(rrs) != 2 || scope != -1 {
			t.Fatalf("seq %d: want a capped window of 2 independent of the client, got %v (cap %d) scope %d", seq, rrs, cap(rrs), scope)
		}
		seen[ipOf(rrs[0])]++
	}
	if len(seen) != 3 {
		t.Errorf("every member must lead once over 3 queries: %v", seen)
	}
}

// TestWeightedDistribution: 10 000 picks follow the weights within 2.5
// percentage points, and a pick is one record, not a reordering.
func TestWeightedDistribution(t *testing.T) {
	set := NewSet(Settings{Algorithm: model.Weighted}, cands("a 10.0.0.1 1", "b 10.0.0.2 3", "c 10.0.0.3 6"))
	const n = 10000
	got := map[string]int{}
	for seq := range uint32(n) {
		rrs, scope := set.Pick(seq, client("192.0.2.1/32"))
		if len(rrs) != 1 || scope != -1 {
			t.Fatalf("weighted: want one record independent of the client, got %v scope %d", rrs, scope)
		}
		got[ipOf(rrs[0])]++
	}
	for ip, want := range map[string]float64{"10.0.0.1": 0.1, "10.0.0.2": 0.3, "10.0.0.3": 0.6} {
		share := float64(got[ip]) / n
		if math.Abs(share-want) > 0.025 {
			t.Errorf("%s: share %.3f, want %.2f ± 0.025 (all: %v)", ip, share, want, got)
		}
	}
}

func TestWeightedSeveralAnswersAreDistinct(t *testing.T) {
	set := NewSet(Settings{Algorithm: model.Weighted, Answers: 2}, cands("a 10.0.0.1 1", "b 10.0.0.2 1", "c 10.0.0.3 18"))
	for range 200 {
		rrs, _ := set.Pick(0, Client{})
		if len(rrs) != 2 || ipOf(rrs[0]) == ipOf(rrs[1]) {
			t.Fatalf("want 2 distinct records, got %v", rrs)
		}
	}
}

// TestConsistentHashStability: a client subnet keeps its member; removing
// one member moves only that member's clients; the scope is the mask.
func TestConsistentHashStability(t *testing.T) {
	members := cands("a 10.0.0.1 1", "b 10.0.0.2 1", "c 10.0.0.3 1", "d 10.0.0.4 1")
	set := NewSet(Settings{Algorithm: model.ConsistentHash, HashMask4: 24}, members)
	fewer := NewSet(Settings{Algorithm: model.ConsistentHash, HashMask4: 24}, members[:3]) // d removed
	before := map[string]string{}
	counts := map[string]int{}
	for i := range 2000 {
		c := Client{Addr: netip.AddrFrom4([4]byte{100, byte(i >> 8), byte(i), 7}), Bits: 32}
		rrs, scope := set.Pick(uint32(i), c)
		if scope != 24 {
			t.Fatalf("scope = %d, want the hash mask 24", scope)
		}
		before[c.Addr.String()] = ipOf(rrs[0])
		counts[ipOf(rrs[0])]++
		// Same /24, other host, other query number: same member.
		c2 := Client{Addr: netip.AddrFrom4([4]byte{100, byte(i >> 8), byte(i), 200}), Bits: 32}
		if rrs2, _ := set.Pick(uint32(i+1), c2); ipOf(rrs2[0]) != ipOf(rrs[0]) {
			t.Fatalf("%s and %s (same /24) got different members", c.Addr, c2.Addr)
		}
		after, _ := fewer.Pick(0, c)
		if ipOf(rrs[0]) != "10.0.0.4" && ipOf(after[0]) != ipOf(rrs[0]) {
			t.Fatalf("client %s moved from %s to %s although its member stayed", c.Addr, ipOf(rrs[0]), ipOf(after[0]))
		}
	}
	for ip, n := range counts {
		if n < 300 || n > 700 {
			t.Errorf("member %s got %d of 2000 subnets; want a fair share (~500): %v", ip, n, counts)
		}
	}
}

func TestConsistentHashIPv6Mask(t *testing.T) {
	set := NewSet(Settings{Algorithm: model.ConsistentHash, HashMask6: 48}, cands("a 10.0.0.1 1", "b 10.0.0.2 1", "c 10.0.0.3 1"))
	r1, scope := set.Pick(0, client("2001:db8:1:1::1/128"))
	r2, _ := set.Pick(1, client("2001:db8:1:ffff::9/128"))
	if scope != 48 || ipOf(r1[0]) != ipOf(r2[0]) {
		t.Errorf("two clients in one /48 must share a member with scope 48: %v %v scope %d", r1, r2, scope)
	}
}

func TestTopology(t *testing.T) {
	topo := NewTopology()
	topo.Add(netip.MustParsePrefix("10.26.0.0/16"), []string{"sitea", "siteb"})
	topo.Add(netip.MustParsePrefix("10.26.99.0/24"), []string{"siteb"})
	topo.Add(netip.MustParsePrefix("2001:db8:27::/48"), []string{"siteb", "sitea"})
	topo.Add(netip.MustParsePrefix("10.27.0.0/16"), []string{"siteb"})
	members := cands("sitea 172.26.17.21 1", "siteb 172.27.17.21 1")
	set := NewSet(Settings{Algorithm: model.Topology, Topology: topo}, members)
	onlyB := NewSet(Settings{Algorithm: model.Topology, Topology: topo}, members[1:])
	for _, tc := range []struct {
		set       *Set
		client    string
		want      string
		wantScope int
	}{
		// The /16's answer is not valid for the /24 inside it, which
		// prefers another site: the scope is the nested rule's length.
		{set, "10.26.1.0/24", "172.26.17.21", 24},
		{set, "10.26.99.5/32", "172.27.17.21", 24}, // more specific rule wins
		{set, "10.27.1.0/24", "172.27.17.21", 16},  // nothing nested: the rule's length
		{set, "2001:db8:27:5::/64", "172.27.17.21", 48},
		{onlyB, "10.26.1.0/24", "172.27.17.21", 24}, // preferred site has no member: next preference
	} {
		rrs, scope := tc.set.Pick(0, client(tc.client))
		if len(rrs) != 1 || ipOf(rrs[0]) != tc.want || scope != tc.wantScope {
			t.Errorf("client %s: got %v scope %d, want %s scope %d", tc.client, rrs, scope, tc.want, tc.wantScope)
		}
	}
	// No rule matches: the fallback (round robin: all members), scoped to
	// the client's own subnet since other subnets may differ.
	rrs, scope := set.Pick(0, client("192.0.2.0/24"))
	if len(rrs) != 2 || scope != 24 {
		t.Errorf("unmatched client: want both members with scope 24, got %v scope %d", rrs, scope)
	}
	// An unmatched subnet that holds rules: the answer holds for no subnet
	// shorter than the longest rule.
	if rrs, scope := set.Pick(0, client("10.0.0.0/8")); len(rrs) != 2 || scope != 24 {
		t.Errorf("unmatched /8: want both members with scope 24, got %v scope %d", rrs, scope)
	}
	if rrs, scope := set.Pick(0, client("2001:db8:ff::/40")); len(rrs) != 2 || scope != 48 {
		t.Errorf("unmatched v6 /40: want both members with scope 48, got %v scope %d", rrs, scope)
	}
}

func TestSearchCum(t *testing.T) {
	cum := []uint64{1, 4, 10}
	for x, want := range []int{0, 1, 1, 1, 2, 2, 2, 2, 2, 2} {
		if got := searchCum(cum, uint64(x)); got != want {
			t.Errorf("searchCum(%d) = %d, want %d", x, got, want)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	topo := NewTopology()
	topo.Add(netip.MustParsePrefix("10.0.0.0/8"), []string{"b"})
	members := cands("a 10.0.0.1 1", "b 10.0.0.2 3", "c 10.0.0.3 6")
	c := client("10.1.2.3/32")
	for _, alg := range []model.Algorithm{model.RoundRobin, model.Weighted, model.ConsistentHash, model.Topology} {
		set := NewSet(Settings{Algorithm: alg, Topology: topo}, members)
		b.Run(alg.String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				set.Pick(uint32(i), c)
			}
		})
	}
}
