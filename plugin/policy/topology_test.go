package policy

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/gslb/gslb/plugin/model"
)

// TestTopologyScope: a rule's answers hold for its whole prefix only when no
// more specific rule lies inside it; otherwise the scope is the longest
// nested rule's length, whatever order the rules were added in.
func TestTopologyScope(t *testing.T) {
	rules := []struct {
		prefix string
		sites  []string
	}{
		{"10.0.0.0/8", []string{"a"}},
		{"10.26.0.0/16", []string{"b"}},
		{"10.26.7.0/24", []string{"a"}},
		{"10.26.16.0/20", []string{"c"}},
		{"10.27.0.0/16", []string{"c"}},
		{"192.0.2.0/24", []string{"b"}},
		{"2001:db8::/32", []string{"a"}},
		{"2001:db8:26::/48", []string{"b"}},
		{"2001:db9::/32", []string{"c"}},
	}
	tests := []struct {
		addr  string
		sites []string
		scope int
		ok    bool
	}{
		{"10.1.0.1", []string{"a"}, 24, true},    // /8 holds /16, /20 and /24 rules
		{"10.26.1.1", []string{"b"}, 24, true},   // /16 holds a /20 and a /24
		{"10.26.7.1", []string{"a"}, 24, true},   // the /24 itself
		{"10.26.17.1", []string{"c"}, 20, true},  // the /20, nothing inside
		{"10.27.200.1", []string{"c"}, 16, true}, // a /16 with nothing inside
		{"192.0.2.77", []string{"b"}, 24, true},
		{"2001:db8:1::1", []string{"a"}, 48, true}, // /32 holds a /48
		{"2001:db8:26:1::1", []string{"b"}, 48, true},
		{"2001:db9:1::1", []string{"c"}, 32, true},
		{"::ffff:10.27.0.1", []string{"c"}, 16, true},
		{"11.0.0.1", nil, 0, false},
		{"2001:dba::1", nil, 0, false},
	}
	for _, order := range []string{"outer first", "inner first"} {
		topo := NewTopology()
		rs := slices.Clone(rules)
		if order == "inner first" {
			slices.Reverse(rs)
		}
		for _, r := range rs {
			topo.Add(netip.MustParsePrefix(r.prefix), r.sites)
		}
		for _, tc := range tests {
			sites, scope, ok := topo.Match(netip.MustParseAddr(tc.addr))
			if !slices.Equal(sites, tc.sites) || scope != tc.scope || ok != tc.ok {
				t.Errorf("%s: Match(%s) = %v /%d %t, want %v /%d %t", order, tc.addr, sites, scope, ok, tc.sites, tc.scope, tc.ok)
			}
		}
		for a, want := range map[string]int{"10.0.0.1": 24, "::ffff:10.0.0.1": 24, "2001:db8::1": 48} {
			if got := topo.MaxBits(netip.MustParseAddr(a)); got != want {
				t.Errorf("%s: MaxBits(%s) = %d, want %d", order, a, got, want)
			}
		}
	}
	if got := NewTopology().MaxBits(netip.MustParseAddr("10.0.0.1")); got != 0 {
		t.Errorf("MaxBits without rules = %d, want 0", got)
	}
	var none *Topology
	if got := none.MaxBits(netip.MustParseAddr("10.0.0.1")); got != 0 {
		t.Errorf("MaxBits of nil = %d, want 0", got)
	}
}

func TestTopologyGeo(t *testing.T) {
	topo := NewTopology()
	topo.Add(netip.MustParsePrefix("10.0.0.0/8"), []string{"sitea"})
	topo.AddCountry("gb", []string{"siteb", "sitea"})
	topo.AddContinent("EU", []string{"sitea"})
	type geoKey struct{}
	topo.Geo = func(ctx context.Context) (string, string) {
		g, _ := ctx.Value(geoKey{}).([2]string)
		return g[0], g[1]
	}
	members := cands("sitea 172.26.17.21 1", "siteb 172.27.17.21 1")
	set := NewSet(Settings{Algorithm: model.Topology, Topology: topo}, members)
	for _, tc := range []struct {
		client    string
		geo       [2]string
		want      []string
		wantScope int
	}{
		{"81.2.69.0/24", [2]string{"GB", "EU"}, []string{"172.27.17.21"}, 24},                 // country rule
		{"81.3.0.0/16", [2]string{"FR", "EU"}, []string{"172.26.17.21"}, 16},                  // continent rule
		{"10.1.0.0/16", [2]string{"GB", "EU"}, []string{"172.26.17.21"}, 8},                   // a CIDR rule wins over geo
		{"192.0.2.0/24", [2]string{"US", "NA"}, []string{"172.26.17.21", "172.27.17.21"}, 24}, // fallback
		{"192.0.2.0/24", [2]string{"", ""}, []string{"172.26.17.21", "172.27.17.21"}, 24},     // no geo data
	} {
		c := client(tc.client)
		c.Ctx = context.WithValue(context.Background(), geoKey{}, tc.geo)
		rrs, scope := set.Pick(0, c)
		var got []string
		for _, rr := range rrs {
			got = append(got, ipOf(rr))
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) || scope != tc.wantScope {
			t.Errorf("%s %v: got %v scope %d, want %v scope %d", tc.client, tc.geo, got, scope, tc.want, tc.wantScope)
		}
	}
	// Without a context (or without Geo) geo rules are skipped, not fatal.
	if rrs, _ := set.Pick(0, client("81.2.69.0/24")); len(rrs) != 2 {
		t.Errorf("no context: want the fallback, got %v", rrs)
	}
}
