package table

import (
	"math"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
)

const polSOA = "example.org.\t30\tIN\tSOA\tns1.example.org. hostmaster.example.org. 1 7200 1800 1209600 30"

// polConfig is the Corefile defaults of a stanza with policies: TTL 30,
// round robin, priority 10 and weight 1 unless a site is listed.
func polConfig() Config {
	return Config{
		Zones: []Zone{{Name: "example.org."}},
		Overrides: model.Overrides{
			TTL:       model.Some(30),
			Algorithm: model.RoundRobin,
			Fallback:  model.RoundRobin,
			Down:      model.Down{Kind: model.DownNone},
			Weight:    model.Some(1),
			Priority:  model.Some(10),
		},
	}
}

// compile is Compile with serial 1, after checking that the records are in
// store order (Compile's precondition; up[i] belongs to recs[i]).
func compile(t *testing.T, cfg Config, recs []model.Record, up []bool) *Table {
	t.Helper()
	if !slices.IsSortedFunc(recs, model.Record.Compare) {
		t.Fatalf("test records are not in store order: %v", recs)
	}
	if up != nil && len(up) != len(recs) {
		t.Fatalf("%d up flags for %d records", len(up), len(recs))
	}
	return Compile(cfg, recs, up, 1)
}

func with(r model.Record, o model.Overrides) model.Record {
	r.Overrides = o
	return r
}

func sortedAddrs(rrs []dns.RR) []string {
	out := addrs(rrs)
	slices.Sort(out)
	return out
}

func lookupFrom(t *testing.T, tbl *Table, qname string, qtype uint16, c policy.Client) Answer {
	t.Helper()
	z := tbl.Zone(qname)
	if z == nil {
		t.Fatalf("%s: no zone", qname)
	}
	return tbl.Lookup(z, qname, qtype, c)
}

func clientIn(prefix string) policy.Client {
	p := netip.MustParsePrefix(prefix)
	return policy.Client{Addr: p.Addr(), Bits: p.Bits()}
}

// TestPriorityPools: the highest-priority pool with a healthy member answers
// (all of its healthy members), a lower pool only when every member above it
// is down, and priority 0 never.
func TestPriorityPools(t *testing.T) {
	cfg := polConfig()
	cfg.Priorities = map[string]int{"active": 20, "never": 0} // standby: the default 10
	recs := []model.Record{
		addr("app.example.org.", "active", "10.0.0.1"),
		addr("app.example.org.", "active", "10.0.0.2"),
		addr("app.example.org.", "never", "10.0.9.1"),
		addr("app.example.org.", "standby", "10.0.1.1"),
		addr("app.example.org.", "standby", "10.0.1.2"),
	}
	tests := []struct {
		name   string
		up     []bool
		result Result
		want   []string
		down   bool
	}{
		{"all up: the active pool", []bool{true, true, true, true, true}, Success, []string{"10.0.0.1", "10.0.0.2"}, false},
		{"up is nil: all up", nil, Success, []string{"10.0.0.1", "10.0.0.2"}, false},
		{"one active member down: the other", []bool{false, true, true, true, true}, Success, []string{"10.0.0.2"}, false},
		{"every active member down: the standby pool", []bool{false, false, true, true, true}, Success, []string{"10.0.1.1", "10.0.1.2"}, false},
		{"standby pool answers its healthy members only", []bool{false, false, true, false, true}, Success, []string{"10.0.1.2"}, false},
		{"one active member back: active again", []bool{true, false, true, true, true}, Success, []string{"10.0.0.1"}, false},
		{"only priority 0 is up: down", []bool{false, false, true, false, false}, ServFail, nil, true},
		{"all down", []bool{false, false, false, false, false}, ServFail, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := compile(t, cfg, recs, tc.up)
			for i := 0; i < 3; i++ { // rotation never reaches another pool
				a := lookup(t, tbl, "app.example.org.", dns.TypeA)
				if a.Result != tc.result || a.Down != tc.down {
					t.Fatalf("result %s down %t, want %s down %t", a.Result, a.Down, tc.result, tc.down)
				}
				if got := sortedAddrs(a.Answer); !slices.Equal(got, tc.want) {
					t.Fatalf("query %d: answer %q, want %q", i, got, tc.want)
				}
			}
		})
	}
}

// TestWeightAndPriorityResolution: per-site Corefile values, the defaults
// for unlisted sites, and per-record overrides (annotations) over both.
func TestWeightAndPriorityResolution(t *testing.T) {
	cfg := polConfig()
	cfg.Weights = map[string]int{"drained": 0, "heavy": 5}
	cfg.Priorities = map[string]int{"low": 5, "zero": 0}
	tests := []struct {
		name string
		recs []model.Record
		up   []bool
		want []string // A answer; nil: down (SERVFAIL)
	}{
		{
			name: "weight 0 drains a site even when it is the only healthy one",
			recs: []model.Record{addr("app.example.org.", "drained", "10.0.0.1"), addr("app.example.org.", "heavy", "10.0.1.1")},
			up:   []bool{true, false},
			want: nil,
		},
		{
			name: "weight 0 site is left out while others answer",
			recs: []model.Record{addr("app.example.org.", "drained", "10.0.0.1"), addr("app.example.org.", "heavy", "10.0.1.1")},
			want: []string{"10.0.1.1"},
		},
		{
			name: "record weight override undrains a drained site",
			recs: []model.Record{with(addr("app.example.org.", "drained", "10.0.0.1"), model.Overrides{Weight: model.Some(3)}), addr("app.example.org.", "heavy", "10.0.1.1")},
			want: []string{"10.0.0.1", "10.0.1.1"},
		},
		{
			name: "record weight override 0 drains one record of a site",
			recs: []model.Record{addr("app.example.org.", "heavy", "10.0.1.1"), with(addr("app.example.org.", "heavy", "10.0.1.2"), model.Overrides{Weight: model.Some(0)})},
			want: []string{"10.0.1.1"},
		},
		{
			name: "site priority below the default is standby",
			recs: []model.Record{addr("app.example.org.", "low", "10.0.0.1"), addr("app.example.org.", "other", "10.0.1.1")},
			want: []string{"10.0.1.1"},
		},
		{
			name: "record priority override lifts one member above its site",
			recs: []model.Record{addr("app.example.org.", "low", "10.0.0.1"), with(addr("app.example.org.", "low", "10.0.0.2"), model.Overrides{Priority: model.Some(50)}), addr("app.example.org.", "other", "10.0.1.1")},
			want: []string{"10.0.0.2"},
		},
		{
			name: "record priority override 0 takes a member out for good",
			recs: []model.Record{with(addr("app.example.org.", "other", "10.0.1.1"), model.Overrides{Priority: model.Some(0)}), addr("app.example.org.", "other", "10.0.1.2")},
			up:   []bool{true, false},
			want: nil,
		},
		{
			name: "record priority override on a priority-0 site",
			recs: []model.Record{with(addr("app.example.org.", "zero", "10.0.0.1"), model.Overrides{Priority: model.Some(1)}), addr("app.example.org.", "zero", "10.0.0.2")},
			want: []string{"10.0.0.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := compile(t, cfg, tc.recs, tc.up)
			a := lookup(t, tbl, "app.example.org.", dns.TypeA)
			if tc.want == nil {
				if a.Result != ServFail || !a.Down || len(a.Answer) != 0 {
					t.Fatalf("result %s down %t answer %v, want SERVFAIL (down)", a.Result, a.Down, a.Answer)
				}
				return
			}
			if a.Result != Success || a.Down {
				t.Fatalf("result %s down %t, want success", a.Result, a.Down)
			}
			if got := sortedAddrs(a.Answer); !slices.Equal(got, tc.want) {
				t.Fatalf("answer %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWeightedShares: the weights that reach the picker are the resolved
// ones (site weight, default, record override): 4000 picks follow them.
func TestWeightedShares(t *testing.T) {
	cfg := polConfig()
	cfg.Algorithm = model.Weighted
	cfg.Weights = map[string]int{"a": 6, "b": 3}
	recs := []model.Record{
		addr("app.example.org.", "a", "10.0.0.1"),                                                 // 6
		addr("app.example.org.", "b", "10.0.1.1"),                                                 // 3
		with(addr("app.example.org.", "b", "10.0.1.2"), model.Overrides{Weight: model.Some(0)}),   // drained
		addr("app.example.org.", "c", "10.0.2.1"),                                                 // default 1
		with(addr("app.example.org.", "d", "10.0.3.1"), model.Overrides{Weight: model.Some(10)}),  // 10
		with(addr("app.example.org.", "d", "10.0.3.2"), model.Overrides{Priority: model.Some(5)}), // standby
		with(addr("app.example.org.", "e", "10.0.4.1"), model.Overrides{Priority: model.Some(0)}), // never
		with(addr("app.example.org.", "e", "10.0.4.2"), model.Overrides{Weight: model.Some(20)}),  // 20, but down
	}
	up := []bool{true, true, true, true, true, true, true, false}
	tbl := compile(t, cfg, recs, up)
	want := map[string]float64{"10.0.0.1": 6, "10.0.1.1": 3, "10.0.2.1": 1, "10.0.3.1": 10}
	const n = 4000
	got := map[string]int{}
	for i := 0; i < n; i++ {
		a := lookup(t, tbl, "app.example.org.", dns.TypeA)
		if len(a.Answer) != 1 || a.Scope != -1 {
			t.Fatalf("weighted answer %v scope %d: want one record, independent of the client", a.Answer, a.Scope)
		}
		got[addrs(a.Answer)[0]]++
	}
	for ip := range got {
		if _, ok := want[ip]; !ok {
			t.Errorf("%s answered %d times, want never", ip, got[ip])
		}
	}
	for ip, w := range want {
		share, wantShare := float64(got[ip])/n, w/20
		if math.Abs(share-wantShare) > 0.035 {
			t.Errorf("%s: share %.3f, want %.3f ± 0.035 (%v)", ip, share, wantShare, got)
		}
	}
}

// TestDownResponses: what each down response answers for each type when no
// member is up, with the service TTL.
func TestDownResponses(t *testing.T) {
	recs := []model.Record{
		addr("app.example.org.", "sitea", "10.0.0.1"),
		addr("app.example.org.", "sitea", "2001:db8::1"),
		addr("app.example.org.", "siteb", "10.0.1.1"),
		addr("app.example.org.", "siteb", "2001:db8:1::1"),
		// Drained (weight 0): never answered, not even by all-records.
		addr("app.example.org.", "sitez", "10.0.9.9"),
	}
	allDown := []bool{false, false, false, false, false}
	soa := []string{polSOA}
	const ttl = "\t30\tIN\t"
	a := func(ip string) string { return "app.example.org." + ttl + "A\t" + ip }
	aaaa := func(ip string) string { return "app.example.org." + ttl + "AAAA\t" + ip }
	cname := "app.example.org." + ttl + "CNAME\tsorry.example.net."

	type want struct {
		result Result
		answer []string // sorted record texts
		ns     []string
	}
	servfail := want{result: ServFail}
	nodata := want{result: NoData, ns: soa}
	tests := []struct {
		name  string
		down  model.Down
		up    []bool
		types map[uint16]want
	}{
		{
			name: "none", down: model.Down{Kind: model.DownNone}, up: allDown,
			types: map[uint16]want{
				dns.TypeA: servfail, dns.TypeAAAA: servfail, dns.TypeANY: servfail, dns.TypeCNAME: servfail,
				dns.TypeMX: nodata, dns.TypeTXT: nodata,
			},
		},
		{
			name: "unset is none", down: model.Down{}, up: allDown,
			types: map[uint16]want{dns.TypeA: servfail, dns.TypeMX: nodata},
		},
		{
			name: "empty", down: model.Down{Kind: model.DownEmpty}, up: allDown,
			types: map[uint16]want{
				dns.TypeA: nodata, dns.TypeAAAA: nodata, dns.TypeANY: nodata, dns.TypeCNAME: nodata, dns.TypeMX: nodata,
			},
		},
		{
			name: "fallback v4", down: model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.99")}, up: allDown,
			types: map[uint16]want{
				dns.TypeA:     {result: Success, answer: []string{a("192.0.2.99")}},
				dns.TypeAAAA:  nodata,
				dns.TypeANY:   {result: Success, answer: []string{a("192.0.2.99")}},
				dns.TypeCNAME: nodata,
				dns.TypeMX:    nodata,
			},
		},
		{
			name: "fallback v6", down: model.Down{Kind: model.DownFallback, V6: netip.MustParseAddr("2001:db8::99")}, up: allDown,
			types: map[uint16]want{
				dns.TypeA:    nodata,
				dns.TypeAAAA: {result: Success, answer: []string{aaaa("2001:db8::99")}},
				dns.TypeANY:  {result: Success, answer: []string{aaaa("2001:db8::99")}},
			},
		},
		{
			name: "fallback v4 and v6", down: model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.99"), V6: netip.MustParseAddr("2001:db8::99")}, up: allDown,
			types: map[uint16]want{
				dns.TypeA:    {result: Success, answer: []string{a("192.0.2.99")}},
				dns.TypeAAAA: {result: Success, answer: []string{aaaa("2001:db8::99")}},
				dns.TypeANY:  {result: Success, answer: []string{a("192.0.2.99")}},
				dns.TypeMX:   nodata,
			},
		},
		{
			name: "cname", down: model.Down{Kind: model.DownCNAME, Target: "sorry.example.net."}, up: allDown,
			types: map[uint16]want{
				dns.TypeA:     {result: Success, answer: []string{cname}},
				dns.TypeAAAA:  {result: Success, answer: []string{cname}},
				dns.TypeANY:   {result: Success, answer: []string{cname}},
				dns.TypeCNAME: {result: Success, answer: []string{cname}},
				dns.TypeMX:    {result: Success, answer: []string{cname}},
			},
		},
		{
			name: "all-records", down: model.Down{Kind: model.DownAllRecords}, up: allDown,
			types: map[uint16]want{
				dns.TypeA:     {result: Success, answer: []string{a("10.0.0.1"), a("10.0.1.1")}},
				dns.TypeAAAA:  {result: Success, answer: []string{aaaa("2001:db8:1::1"), aaaa("2001:db8::1")}},
				dns.TypeANY:   {result: Success, answer: []string{a("10.0.0.1"), a("10.0.1.1")}},
				dns.TypeCNAME: nodata,
				dns.TypeMX:    nodata,
			},
		},
		{
			name: "all-records with a standby pool answers both pools", down: model.Down{Kind: model.DownAllRecords}, up: allDown,
			types: map[uint16]want{dns.TypeA: {result: Success, answer: []string{a("10.0.0.1"), a("10.0.1.1")}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := polConfig()
			cfg.Down = tc.down
			cfg.Weights = map[string]int{"sitez": 0}
			if tc.name == "all-records with a standby pool answers both pools" {
				cfg.Priorities = map[string]int{"siteb": 5}
			}
			tbl := compile(t, cfg, recs, tc.up)
			for qtype, w := range tc.types {
				got := lookup(t, tbl, "app.example.org.", qtype)
				qt := dns.TypeToString[qtype]
				if got.Result != w.result {
					t.Errorf("%s: result %s, want %s", qt, got.Result, w.result)
				}
				if !got.Down {
					t.Errorf("%s: Down not set on a down response", qt)
				}
				ans := texts(got.Answer)
				slices.Sort(ans)
				if !slices.Equal(ans, w.answer) {
					t.Errorf("%s: answer %q, want %q", qt, ans, w.answer)
				}
				if ns := texts(got.Ns); !slices.Equal(ns, w.ns) {
					t.Errorf("%s: authority %q, want %q", qt, ns, w.ns)
				}
				if got.Scope != -1 {
					t.Errorf("%s: scope %d, want -1 (round robin does not depend on the client)", qt, got.Scope)
				}
			}
			// The same configuration with a healthy member answers it and
			// is not down.
			up := slices.Clone(tc.up)
			up[2] = true // siteb 10.0.1.1
			got := lookup(t, compile(t, cfg, recs, up), "app.example.org.", dns.TypeA)
			if got.Result != Success || got.Down || !slices.Equal(addrs(got.Answer), []string{"10.0.1.1"}) {
				t.Errorf("with 10.0.1.1 up: result %s down %t answer %v, want 10.0.1.1 only, not down", got.Result, got.Down, addrs(got.Answer))
			}
		})
	}
}

// TestDownResponseAliasService: a name served by hostname-only load
// balancers is down like any other.
func TestDownResponseAliasService(t *testing.T) {
	recs := []model.Record{alias("lb.example.org.", "sitea", "lb-a.example.net."), alias("lb.example.org.", "siteb", "lb-b.example.net.")}
	cfg := polConfig()
	tbl := compile(t, cfg, recs, []bool{false, false})
	for _, qtype := range []uint16{dns.TypeA, dns.TypeCNAME} {
		if a := lookup(t, tbl, "lb.example.org.", qtype); a.Result != ServFail || !a.Down {
			t.Errorf("%s: result %s down %t, want SERVFAIL", dns.TypeToString[qtype], a.Result, a.Down)
		}
	}
	cfg.Down = model.Down{Kind: model.DownAllRecords}
	tbl = compile(t, cfg, recs, []bool{false, false})
	a := lookup(t, tbl, "lb.example.org.", dns.TypeA)
	if a.Result != Success || !a.Down || len(a.Answer) != 1 || a.Answer[0].Header().Rrtype != dns.TypeCNAME {
		t.Errorf("all-records: result %s down %t answer %v, want one CNAME", a.Result, a.Down, a.Answer)
	}
	tbl = compile(t, cfg, recs, []bool{false, true})
	if a := lookup(t, tbl, "lb.example.org.", dns.TypeA); a.Result != Success || a.Down || !slices.Equal(addrs(a.Answer), []string{"lb-b.example.net."}) {
		t.Errorf("one up: result %s down %t answer %v, want lb-b only", a.Result, a.Down, addrs(a.Answer))
	}
}

// TestServiceOverrides: annotations change one service's TTL, answer
// count, algorithm and down response, not its neighbours'.
func TestServiceOverrides(t *testing.T) {
	cfg := polConfig()
	cfg.Topology = policy.NewTopology()
	cfg.Topology.Add(netip.MustParsePrefix("10.26.0.0/16"), []string{"siteb"})
	o := func(fqdn string, ov model.Overrides) []model.Record {
		return []model.Record{
			with(addr(fqdn, "sitea", "10.0.0.1"), ov),
			with(addr(fqdn, "sitea", "10.0.0.2"), ov),
			with(addr(fqdn, "siteb", "10.0.1.1"), ov),
		}
	}
	recs := slices.Concat(
		o("answers.example.org.", model.Overrides{Answers: model.Some(1)}),
		o("hash.example.org.", model.Overrides{Algorithm: model.ConsistentHash, HashMask4: model.Some(16)}),
		o("plain.example.org.", model.Overrides{}),
		o("topo.example.org.", model.Overrides{Algorithm: model.Topology, Fallback: model.Weighted}),
		o("ttl.example.org.", model.Overrides{TTL: model.Some(5)}),
	)
	tbl := compile(t, cfg, recs, nil)

	all := []string{"10.0.0.1", "10.0.0.2", "10.0.1.1"}
	t.Run("ttl", func(t *testing.T) {
		for name, ttl := range map[string]uint32{"ttl.example.org.": 5, "plain.example.org.": 30} {
			a := lookup(t, tbl, name, dns.TypeA)
			if got := sortedAddrs(a.Answer); !slices.Equal(got, all) {
				t.Fatalf("%s: answer %q", name, got)
			}
			for _, rr := range a.Answer {
				if rr.Header().Ttl != ttl {
					t.Errorf("%s: %s, want TTL %d", name, rr, ttl)
				}
			}
		}
	})
	t.Run("answers", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 6; i++ {
			a := lookup(t, tbl, "answers.example.org.", dns.TypeA)
			if len(a.Answer) != 1 {
				t.Fatalf("answer %v, want one record", a.Answer)
			}
			seen[addrs(a.Answer)[0]] = true
		}
		if len(seen) != 3 {
			t.Errorf("round robin with answers 1 served %v, want all three in turn", seen)
		}
		if a := lookup(t, tbl, "plain.example.org.", dns.TypeA); len(a.Answer) != 3 || a.Scope != -1 {
			t.Errorf("neighbour: %v scope %d, want all three, scope -1", a.Answer, a.Scope)
		}
	})
	t.Run("algorithm consistent hash with hash mask", func(t *testing.T) {
		first := ""
		for i := 0; i < 5; i++ {
			// Every client of 10.1.0.0/16 gets the same member.
			a := lookupFrom(t, tbl, "hash.example.org.", dns.TypeA, clientIn(netip.AddrFrom4([4]byte{10, 1, byte(i * 40), byte(i)}).String()+"/32"))
			if len(a.Answer) != 1 || a.Scope != 16 {
				t.Fatalf("answer %v scope %d, want one record, scope 16", a.Answer, a.Scope)
			}
			if got := addrs(a.Answer)[0]; first == "" {
				first = got
			} else if got != first {
				t.Fatalf("client %d of the same /16 got %s, the first got %s", i, got, first)
			}
		}
		// Some other /16 gets another member.
		moved := false
		for i := 2; i < 64 && !moved; i++ {
			a := lookupFrom(t, tbl, "hash.example.org.", dns.TypeA, clientIn(netip.AddrFrom4([4]byte{10, byte(i), 0, 1}).String()+"/32"))
			moved = addrs(a.Answer)[0] != first
		}
		if !moved {
			t.Errorf("64 subnets all hashed to %s", first)
		}
	})
	t.Run("algorithm topology with fallback", func(t *testing.T) {
		a := lookupFrom(t, tbl, "topo.example.org.", dns.TypeA, clientIn("10.26.3.0/24"))
		if !slices.Equal(addrs(a.Answer), []string{"10.0.1.1"}) || a.Scope != 16 {
			t.Errorf("matching client: %v scope %d, want siteb's 10.0.1.1, scope 16", addrs(a.Answer), a.Scope)
		}
		// Weighted fallback: one record; scope is the client's prefix.
		a = lookupFrom(t, tbl, "topo.example.org.", dns.TypeA, clientIn("192.0.2.0/24"))
		if len(a.Answer) != 1 || a.Scope != 24 {
			t.Errorf("other client: %v scope %d, want one record (weighted), scope 24", addrs(a.Answer), a.Scope)
		}
		// The neighbour keeps round robin: everything, whoever asks.
		a = lookupFrom(t, tbl, "plain.example.org.", dns.TypeA, clientIn("10.26.3.0/24"))
		if got := sortedAddrs(a.Answer); !slices.Equal(got, all) || a.Scope != -1 {
			t.Errorf("neighbour: %v scope %d, want all, scope -1", got, a.Scope)
		}
	})
	if len(tbl.Warnings) != 0 {
		t.Errorf("warnings %q, want none (the sites agree)", tbl.Warnings)
	}
}

// TestDownResponseOverride: a service's own down response and TTL apply to
// its fallback records.
func TestDownResponseOverride(t *testing.T) {
	cfg := polConfig()
	ov := model.Overrides{TTL: model.Some(7), Down: model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.7")}}
	recs := []model.Record{
		with(addr("a.example.org.", "sitea", "10.0.0.1"), ov),
		addr("b.example.org.", "sitea", "10.0.0.2"),
	}
	tbl := compile(t, cfg, recs, []bool{false, false})
	a := lookup(t, tbl, "a.example.org.", dns.TypeA)
	if got := texts(a.Answer); a.Result != Success || !a.Down || !slices.Equal(got, []string{"a.example.org.\t7\tIN\tA\t192.0.2.7"}) {
		t.Errorf("a: result %s down %t answer %q, want the fallback with TTL 7", a.Result, a.Down, got)
	}
	if b := lookup(t, tbl, "b.example.org.", dns.TypeA); b.Result != ServFail || !b.Down {
		t.Errorf("b: result %s down %t, want SERVFAIL (the Corefile's none)", b.Result, b.Down)
	}
}

// TestSiteConflicts: sites that disagree on a service-wide setting: the
// alphabetically first site that sets it wins, and a warning names both.
func TestSiteConflicts(t *testing.T) {
	cfg := polConfig()
	recs := []model.Record{
		with(addr("app.example.org.", "sitea", "10.0.0.1"), model.Overrides{TTL: model.Some(10), Algorithm: model.ConsistentHash}),
		with(addr("app.example.org.", "siteb", "10.0.1.1"), model.Overrides{TTL: model.Some(20), Algorithm: model.ConsistentHash, Answers: model.Some(2)}),
		with(addr("app.example.org.", "sitec", "10.0.2.1"), model.Overrides{TTL: model.Some(30), Answers: model.Some(3),
			Down: model.Down{Kind: model.DownEmpty}}),
		// Only a later site sets it: it applies, no warning.
		addr("late.example.org.", "sitea", "10.0.0.1"),
		with(addr("late.example.org.", "siteb", "10.0.1.1"), model.Overrides{TTL: model.Some(15)}),
		// Same setting everywhere: no warning.
		with(addr("same.example.org.", "sitea", "10.0.0.1"), model.Overrides{TTL: model.Some(10)}),
		with(addr("same.example.org.", "siteb", "10.0.1.1"), model.Overrides{TTL: model.Some(10)}),
	}
	tbl := compile(t, cfg, recs, nil)
	wantWarnings := []string{
		"app.example.org.: sites sitea and siteb set different TTLs; sitea's wins",
		"app.example.org.: sites sitea and sitec set different TTLs; sitea's wins",
		"app.example.org.: sites siteb and sitec set different answer counts; siteb's wins",
	}
	if !slices.Equal(tbl.Warnings, wantWarnings) {
		t.Errorf("warnings\n got %q\nwant %q", tbl.Warnings, wantWarnings)
	}
	// sitea's TTL and algorithm, siteb's answers (2), sitec's down response
	// (the only one to set it).
	a := lookupFrom(t, tbl, "app.example.org.", dns.TypeA, clientIn("192.0.2.0/24"))
	if len(a.Answer) != 2 || a.Scope != 24 {
		t.Fatalf("answer %v scope %d, want 2 records by consistent hash (scope 24)", a.Answer, a.Scope)
	}
	for _, rr := range a.Answer {
		if rr.Header().Ttl != 10 {
			t.Errorf("%s: want sitea's TTL 10", rr)
		}
	}
	down := compile(t, cfg, recs, []bool{false, false, false, true, true, true, true})
	if a := lookup(t, down, "app.example.org.", dns.TypeA); a.Result != NoData || !a.Down {
		t.Errorf("down: result %s, want NODATA (sitec's empty)", a.Result)
	}
	if a := lookup(t, tbl, "same.example.org.", dns.TypeA); a.Answer[0].Header().Ttl != 10 {
		t.Errorf("same: TTL %d, want 10", a.Answer[0].Header().Ttl)
	}
	if a := lookup(t, tbl, "late.example.org.", dns.TypeA); a.Answer[0].Header().Ttl != 15 {
		t.Errorf("late: TTL %d, want 15", a.Answer[0].Header().Ttl)
	}
}

// TestMergedMembers: one (site, address) published by two objects (records
// that differ in check or overrides) is one member, up only when every
// record of it is up.
func TestMergedMembers(t *testing.T) {
	httpCheck := model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}
	tcpCheck := model.Check{Proto: model.CheckTCP, Port: 443}
	recs := []model.Record{
		{FQDN: "app.example.org.", Member: model.Member{Site: "sitea", Addr: netip.MustParseAddr("10.0.0.1")}, Check: httpCheck},
		{FQDN: "app.example.org.", Member: model.Member{Site: "sitea", Addr: netip.MustParseAddr("10.0.0.1")}, Check: tcpCheck},
		addr("app.example.org.", "sitea", "10.0.0.2"),
		// The same address from another site (e.g. Avi's name for the
		// site) is the same member: one more health input.
		addr("app.example.org.", "siteb", "10.0.0.1"),
	}
	tests := []struct {
		up   []bool
		want []string
	}{
		{[]bool{true, true, true, true}, []string{"10.0.0.1", "10.0.0.2"}},
		{[]bool{true, true, true, false}, []string{"10.0.0.2"}},
		{[]bool{true, false, true, true}, []string{"10.0.0.2"}},
		{[]bool{false, true, true, true}, []string{"10.0.0.2"}},
		{[]bool{false, true, false, true}, nil},
	}
	for _, tc := range tests {
		tbl := compile(t, polConfig(), recs, tc.up)
		a := lookup(t, tbl, "app.example.org.", dns.TypeA)
		if got := addrs(a.Answer); !slices.Equal(sortedAddrs(a.Answer), tc.want) || len(got) != len(tc.want) {
			t.Errorf("up %v: answer %q, want %q", tc.up, got, tc.want)
		}
	}
	// Merging keeps the first record's overrides.
	recs2 := []model.Record{
		with(addr("app.example.org.", "sitea", "10.0.0.1"), model.Overrides{TTL: model.Some(9)}),
		with(addr("app.example.org.", "sitea", "10.0.0.1"), model.Overrides{TTL: model.Some(99)}),
	}
	a := lookup(t, compile(t, polConfig(), recs2, nil), "app.example.org.", dns.TypeA)
	if len(a.Answer) != 1 || a.Answer[0].Header().Ttl != 9 {
		t.Errorf("merged member: %v, want one record with the first record's TTL 9", a.Answer)
	}
}

// fakeHealth is a table.Health whose verdicts a test sets per address.
type fakeHealth struct {
	mu       sync.Mutex
	down     map[netip.Addr]bool
	prepared int
}

func (f *fakeHealth) Track(name string, old, recs []model.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepared++
}

func (f *fakeHealth) Up(r model.Record) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down[r.Member.Addr]
}

func (f *fakeHealth) set(a string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[netip.MustParseAddr(a)] = down
}

// TestBuilderFollowsHealth: a health flip followed by Notify publishes a new
// table with a higher serial and the new answer; Notify without a change
// publishes nothing.
func TestBuilderFollowsHealth(t *testing.T) {
	store := model.NewStore()
	store.Set("a", []model.Record{addr("app.example.org.", "sitea", "10.0.0.1"), addr("app.example.org.", "siteb", "10.0.1.1")})
	h := &fakeHealth{down: map[netip.Addr]bool{}}
	cfg := polConfig()
	cfg.Priorities = map[string]int{"sitea": 20}
	b := NewBuilder(cfg, store, h)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { b.Run(stop); close(done) }()
	defer func() { close(stop); <-done }()

	answer := func() []string { return addrs(lookup(t, b.Table(), "app.example.org.", dns.TypeA).Answer) }
	waitTable := func(prev *Table) *Table {
		t.Helper()
		deadline := time.Now().Add(testutil.WaitLimit)
		for b.Table() == prev {
			if time.Now().After(deadline) {
				t.Fatal("health change never published")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return b.Table()
	}

	t0 := b.Table()
	if got := answer(); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Fatalf("initial answer %q, want the active site's 10.0.0.1", got)
	}
	h.set("10.0.0.1", true)
	b.Notify()
	t1 := waitTable(t0)
	if t1.Serial <= t0.Serial {
		t.Errorf("serial %d -> %d after a health change, want it to rise", t0.Serial, t1.Serial)
	}
	if got := answer(); !slices.Equal(got, []string{"10.0.1.1"}) {
		t.Errorf("answer %q after the active member went down, want the standby 10.0.1.1", got)
	}

	// Notify with nothing changed: no new table.
	b.Notify()
	time.Sleep(4 * Debounce)
	if b.Table() != t1 {
		t.Errorf("a rebuild without a change published serial %d", b.Table().Serial)
	}

	h.set("10.0.0.1", false)
	b.Notify()
	t2 := waitTable(t1)
	if t2.Serial <= t1.Serial {
		t.Errorf("serial %d -> %d after recovery, want it to rise", t1.Serial, t2.Serial)
	}
	if got := answer(); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("answer %q after recovery, want 10.0.0.1 again", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prepared != 1 {
		t.Errorf("Track called %d times, want once (the records never changed after the first build)", h.prepared)
	}
}

// TestDownCNAMEAtApex: a CNAME down response cannot apply at the zone apex
// (it would sit beside SOA and NS, RFC 1034 3.6.2): there it answers empty,
// with a warning, while other names still get the CNAME.
func TestDownCNAMEAtApex(t *testing.T) {
	cfg := polConfig()
	cfg.Down = model.Down{Kind: model.DownCNAME, Target: "sorry.example.net."}
	recs := []model.Record{addr("app.example.org.", "sitea", "10.0.0.2"), addr("example.org.", "sitea", "10.0.0.1")}
	wantWarnings := []string{"example.org.: down response cname sorry.example.net. cannot apply at the zone apex; it answers empty (NODATA) instead"}

	tbl := compile(t, cfg, recs, []bool{false, false})
	if !slices.Equal(tbl.Warnings, wantWarnings) {
		t.Errorf("warnings %q, want %q", tbl.Warnings, wantWarnings)
	}
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX} {
		a := lookup(t, tbl, "example.org.", qtype)
		if a.Result != NoData || !a.Down || len(a.Answer) != 0 || !slices.Equal(texts(a.Ns), []string{polSOA}) {
			t.Errorf("apex %s: result %s down %t answer %v ns %v, want NODATA with the SOA", dns.TypeToString[qtype], a.Result, a.Down, a.Answer, a.Ns)
		}
	}
	if a := lookup(t, tbl, "example.org.", dns.TypeSOA); a.Result != Success || len(a.Answer) != 1 || a.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("apex SOA: %s %v", a.Result, a.Answer)
	}
	if a := lookup(t, tbl, "example.org.", dns.TypeNS); a.Result != Success || len(a.Answer) != 1 || a.Answer[0].Header().Rrtype != dns.TypeNS {
		t.Errorf("apex NS: %s %v", a.Result, a.Answer)
	}
	if a := lookup(t, tbl, "app.example.org.", dns.TypeA); !slices.Equal(texts(a.Answer), []string{"app.example.org.\t30\tIN\tCNAME\tsorry.example.net."}) {
		t.Errorf("app: %v, want the down CNAME", a.Answer)
	}

	tbl = compile(t, cfg, recs, []bool{true, true})
	if a := lookup(t, tbl, "example.org.", dns.TypeA); a.Result != Success || a.Down || !slices.Equal(addrs(a.Answer), []string{"10.0.0.1"}) {
		t.Errorf("apex up: %s %v", a.Result, a.Answer)
	}
}
