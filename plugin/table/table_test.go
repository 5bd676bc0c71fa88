package table

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
)

func addr(fqdn, site, a string) model.Record {
	return model.Record{FQDN: fqdn, Member: model.Member{Site: site, Addr: netip.MustParseAddr(a)}}
}

func alias(fqdn, site, target string) model.Record {
	return model.Record{FQDN: fqdn, Member: model.Member{Site: site, Target: target}}
}

// members returns n IPv4 records for fqdn, in store order.
func members(fqdn string, n int) []model.Record {
	recs := make([]model.Record, 0, n)
	for i := 0; i < n; i++ {
		recs = append(recs, addr(fqdn, "s", fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)))
	}
	return recs
}

func testConfig(answers int) Config {
	return Config{
		Zones: []Zone{{
			Name:        "example.org.",
			NameServers: []NameServer{{Name: "ns1.example.org.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}, {Name: "ns2.example.net."}},
		}},
		Overrides: model.Overrides{TTL: model.Some(30), Answers: model.Some(answers)},
	}
}

func lookup(t *testing.T, tbl *Table, qname string, qtype uint16) Answer {
	t.Helper()
	z := tbl.Zone(qname)
	if z == nil {
		t.Fatalf("%s: no zone", qname)
	}
	return tbl.Lookup(z, qname, qtype, policy.Client{})
}

func texts(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rr.String()
	}
	return out
}

func addrs(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		switch x := rr.(type) {
		case *dns.A:
			out[i] = x.A.String()
		case *dns.AAAA:
			out[i] = x.AAAA.String()
		case *dns.CNAME:
			out[i] = x.Target
		default:
			out[i] = rr.String()
		}
	}
	return out
}

// TestRotationWindows checks the window each query gets: k = min(answers,
// members) records starting at a rotating offset, with and without
// precomputed windows.
func TestRotationWindows(t *testing.T) {
	tests := []struct {
		name    string
		members int
		answers int
		k       int
	}{
		{"all members, answers unset", 3, 0, 3},
		{"answers below members", 5, 2, 2},
		{"answers one", 4, 1, 1},
		{"answers equal to members", 3, 3, 3},
		{"answers above members", 3, 10, 3},
		{"single member", 1, 0, 1},
		{"precomputed limit", 64, 3, 3},
		{"over 64 members, all", 100, 0, 100},
		{"over 64 members, answers below", 200, 3, 3},
		{"over 64 members, answers one", 100, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := members("app.example.org.", tc.members)
			tbl := Compile(testConfig(tc.answers), recs, nil, 1)
			all := make([]string, tc.members)
			for i, r := range recs {
				all[i] = r.Member.Addr.String()
			}
			seenFirst := map[string]bool{}
			for q := 1; q <= 2*tc.members; q++ {
				a := lookup(t, tbl, "app.example.org.", dns.TypeA)
				if a.Result != Success {
					t.Fatalf("query %d: result %s", q, a.Result)
				}
				got := addrs(a.Answer)
				// Query q (the counter starts at 1) starts at member q mod n.
				var want []string
				for j := 0; j < tc.k; j++ {
					want = append(want, all[(q+j)%tc.members])
				}
				if !slices.Equal(got, want) {
					t.Fatalf("query %d: window %v, want %v", q, got, want)
				}
				if len(a.Answer) != cap(a.Answer) {
					t.Fatalf("query %d: answer len %d cap %d: not capped", q, len(a.Answer), cap(a.Answer))
				}
				seenFirst[got[0]] = true
			}
			if len(seenFirst) != tc.members {
				t.Errorf("%d of %d members led an answer", len(seenFirst), tc.members)
			}
		})
	}
}

// TestAnswersAreCapped: appending to a returned section (as a later plugin
// may) must reallocate, never write into the table.
func TestAnswersAreCapped(t *testing.T) {
	extra := &dns.A{Hdr: dns.RR_Header{Name: "evil.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}}
	for _, tc := range []struct {
		name    string
		members int
		answers int
		qname   string
		qtype   uint16
	}{
		{"precomputed windows", 3, 0, "app.example.org.", dns.TypeA},
		{"precomputed windows, answers 2", 5, 2, "app.example.org.", dns.TypeA},
		{"answers 1", 3, 1, "app.example.org.", dns.TypeA},
		{"windows per query", 100, 0, "app.example.org.", dns.TypeA},
		{"windows per query, answers 1", 100, 1, "app.example.org.", dns.TypeA},
		{"cname", 0, 0, "alias.example.org.", dns.TypeA},
		{"nxdomain authority", 3, 0, "missing.example.org.", dns.TypeA},
		{"nodata authority", 3, 0, "app.example.org.", dns.TypeAAAA},
		{"apex soa", 3, 0, "example.org.", dns.TypeSOA},
		{"apex ns and glue", 3, 0, "example.org.", dns.TypeNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := append(members("app.example.org.", tc.members),
				alias("alias.example.org.", "s", "lb-1.example.net."), alias("alias.example.org.", "t", "lb-2.example.net."))
			tbl := Compile(testConfig(tc.answers), recs, nil, 1)
			var before [][]string
			n := max(tc.members, 2)
			for i := 0; i < n; i++ {
				a := lookup(t, tbl, tc.qname, tc.qtype)
				before = append(before, slices.Concat(texts(a.Answer), texts(a.Ns), texts(a.Extra)))
				for _, s := range [][]dns.RR{a.Answer, a.Ns, a.Extra} {
					if len(s) != cap(s) {
						t.Fatalf("section of len %d has cap %d", len(s), cap(s))
					}
				}
				_ = append(a.Answer, extra)
				_ = append(a.Ns, extra)
				_ = append(a.Extra, extra)
			}
			// The next round of queries sees the same windows, untouched.
			for i := 0; i < n; i++ {
				a := lookup(t, tbl, tc.qname, tc.qtype)
				got := slices.Concat(texts(a.Answer), texts(a.Ns), texts(a.Extra))
				if !slices.Equal(got, before[i]) {
					t.Fatalf("query %d after appends: %q, want %q", i, got, before[i])
				}
			}
		})
	}
}

func TestCompile(t *testing.T) {
	cfg := Config{
		Zones: []Zone{
			{Name: "example.org.", Hostmaster: "ops.example.org.", NameServers: []NameServer{
				{Name: "ns1.example.org.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}},
				{Name: "ns2.example.net."},
			}},
			{Name: "sub.example.org."},
		},
		Overrides: model.Overrides{TTL: model.Some(60)},
	}
	recs := []model.Record{
		// The same address at two sites answers once.
		addr("app.example.org.", "sitea", "10.0.0.1"),
		addr("app.example.org.", "siteb", "10.0.0.1"),
		addr("app.example.org.", "siteb", "10.0.0.2"),
		addr("app.example.org.", "sitea", "2001:db8::1"),
		addr("app.example.org.", "siteb", "2001:db8::1"),
		// Addresses win over an alias on the same name.
		addr("mixed.example.org.", "sitea", "10.0.0.3"),
		alias("mixed.example.org.", "siteb", "lb.example.net."),
		addr("mixed6.example.org.", "sitea", "2001:db8::3"),
		alias("mixed6.example.org.", "siteb", "lb.example.net."),
		// Aliases: one target per answer, deduplicated.
		alias("lb.example.org.", "sitea", "lb-a.example.net."),
		alias("lb.example.org.", "siteb", "lb-a.example.net."),
		// The apex never becomes a CNAME.
		alias("example.org.", "sitea", "lb.example.net."),
		alias("sub.example.org.", "sitea", "lb.example.net."),
		addr("sub.example.org.", "sitea", "10.0.0.9"),
		// Outside every zone: dropped.
		addr("app.example.net.", "sitea", "10.0.0.4"),
		addr("org.", "sitea", "10.0.0.5"),
		// The most specific zone holds the name.
		addr("www.sub.example.org.", "sitea", "10.0.0.6"),
		addr("a.b.c.example.org.", "sitea", "10.0.0.7"),
	}
	tbl := Compile(cfg, recs, nil, 42)

	wantNames := []string{
		"a.b.c.example.org.", "app.example.org.", "b.c.example.org.", "c.example.org.", "example.org.",
		"lb.example.org.", "mixed.example.org.", "mixed6.example.org.", "ns1.example.org.",
		"sub.example.org.", "www.sub.example.org.",
	}
	if got := tbl.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("names\n got %q\nwant %q", got, wantNames)
	}
	if tbl.Serial != 42 {
		t.Errorf("serial %d, want 42", tbl.Serial)
	}
	if z := tbl.Zone("app.example.net."); z != nil {
		t.Errorf("app.example.net. in zone %s", z.Name)
	}
	if z := tbl.Zone("x.www.sub.example.org."); z == nil || z.Name != "sub.example.org." {
		t.Errorf("x.www.sub.example.org. in zone %v, want sub.example.org.", z)
	}

	soa := "example.org.\t60\tIN\tSOA\tns1.example.org. ops.example.org. 42 7200 1800 1209600 60"
	subSOA := "sub.example.org.\t60\tIN\tSOA\tns1.sub.example.org. hostmaster.sub.example.org. 42 7200 1800 1209600 60"
	tests := []struct {
		qname  string
		qtype  uint16
		result Result
		answer []string // sorted
		ns     []string
		extra  []string
	}{
		{"app.example.org.", dns.TypeA, Success, []string{"10.0.0.1", "10.0.0.2"}, nil, nil},
		{"app.example.org.", dns.TypeAAAA, Success, []string{"2001:db8::1"}, nil, nil},
		{"app.example.org.", dns.TypeCNAME, NoData, nil, []string{soa}, nil},
		{"app.example.org.", dns.TypeANY, Success, []string{"10.0.0.1", "10.0.0.2"}, nil, nil},
		{"mixed.example.org.", dns.TypeA, Success, []string{"10.0.0.3"}, nil, nil},
		{"mixed.example.org.", dns.TypeAAAA, NoData, nil, []string{soa}, nil},
		{"mixed.example.org.", dns.TypeCNAME, NoData, nil, []string{soa}, nil},
		{"mixed6.example.org.", dns.TypeA, NoData, nil, []string{soa}, nil},
		{"mixed6.example.org.", dns.TypeAAAA, Success, []string{"2001:db8::3"}, nil, nil},
		{"mixed6.example.org.", dns.TypeANY, Success, []string{"2001:db8::3"}, nil, nil},
		{"lb.example.org.", dns.TypeA, Success, []string{"lb-a.example.net."}, nil, nil},
		{"lb.example.org.", dns.TypeCNAME, Success, []string{"lb-a.example.net."}, nil, nil},
		{"example.org.", dns.TypeA, NoData, nil, []string{soa}, nil},
		{"example.org.", dns.TypeCNAME, NoData, nil, []string{soa}, nil},
		{"example.org.", dns.TypeSOA, Success, []string{soa}, nil, nil},
		{"example.org.", dns.TypeANY, Success, []string{soa}, nil, nil},
		{"example.org.", dns.TypeNS, Success, []string{
			"example.org.\t60\tIN\tNS\tns1.example.org.", "example.org.\t60\tIN\tNS\tns2.example.net.",
		}, nil, []string{"ns1.example.org.\t60\tIN\tA\t192.0.2.53", "ns1.example.org.\t60\tIN\tAAAA\t2001:db8::53"}},
		{"ns1.example.org.", dns.TypeA, Success, []string{"192.0.2.53"}, nil, nil},
		{"ns1.example.org.", dns.TypeAAAA, Success, []string{"2001:db8::53"}, nil, nil},
		{"ns1.example.org.", dns.TypeNS, NoData, nil, []string{soa}, nil},
		{"sub.example.org.", dns.TypeA, Success, []string{"10.0.0.9"}, nil, nil},
		{"sub.example.org.", dns.TypeCNAME, NoData, nil, []string{subSOA}, nil},
		{"sub.example.org.", dns.TypeSOA, Success, []string{subSOA}, nil, nil},
		{"sub.example.org.", dns.TypeNS, Success, []string{"sub.example.org.\t60\tIN\tNS\tns1.sub.example.org."}, nil, nil},
		{"www.sub.example.org.", dns.TypeA, Success, []string{"10.0.0.6"}, nil, nil},
		{"b.c.example.org.", dns.TypeA, NoData, nil, []string{soa}, nil},
		{"c.example.org.", dns.TypeAAAA, NoData, nil, []string{soa}, nil},
		{"missing.example.org.", dns.TypeA, NXDomain, nil, []string{soa}, nil},
		{"missing.sub.example.org.", dns.TypeA, NXDomain, nil, []string{subSOA}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.qname+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			a := lookup(t, tbl, tc.qname, tc.qtype)
			if a.Result != tc.result {
				t.Errorf("result %s, want %s", a.Result, tc.result)
			}
			if a.Zone != tbl.Zone(tc.qname) {
				t.Errorf("answer zone %s, want %s", a.Zone.Name, tbl.Zone(tc.qname).Name)
			}
			got := addrs(a.Answer)
			slices.Sort(got)
			if !slices.Equal(got, tc.answer) {
				t.Errorf("answer %q, want %q", got, tc.answer)
			}
			for _, rr := range a.Answer {
				if rr.Header().Ttl != 60 || rr.Header().Name != tc.qname {
					t.Errorf("record %s: want owner %s and ttl 60", rr, tc.qname)
				}
			}
			if got := texts(a.Ns); !slices.Equal(got, tc.ns) {
				t.Errorf("authority %q, want %q", got, tc.ns)
			}
			got = texts(a.Extra)
			slices.Sort(got)
			if !slices.Equal(got, tc.extra) {
				t.Errorf("additional %q, want %q", got, tc.extra)
			}
		})
	}
}

// TestLookupOtherZone: a name of a more specific zone does not exist in
// its parent zone (the caller always looks it up in the zone Zone returns).
func TestLookupOtherZone(t *testing.T) {
	cfg := Config{Zones: []Zone{{Name: "example.org."}, {Name: "sub.example.org."}}, Overrides: model.Overrides{TTL: model.Some(30)}}
	tbl := Compile(cfg, []model.Record{addr("www.sub.example.org.", "s", "10.0.0.1")}, nil, 1)
	var parent *ZoneData
	for _, z := range tbl.zones {
		if z.Name == "example.org." {
			parent = z
		}
	}
	if a := tbl.Lookup(parent, "www.sub.example.org.", dns.TypeA, policy.Client{}); a.Result != NXDomain || a.Zone != parent {
		t.Fatalf("lookup in the parent zone: %+v", a)
	}
}

// TestNestedZoneEmptyNonTerminal: between a zone and a zone nested two
// labels below it lies an empty non-terminal of the outer zone.
func TestNestedZoneEmptyNonTerminal(t *testing.T) {
	cfg := Config{Zones: []Zone{{Name: "x.y.a.lab."}, {Name: "a.lab."}, {Name: "b.a.lab."}}, Overrides: model.Overrides{TTL: model.Some(30)}}
	tbl := Compile(cfg, nil, nil, 1)
	if got, want := tbl.Names(), []string{"a.lab.", "b.a.lab.", "x.y.a.lab.", "y.a.lab."}; !slices.Equal(got, want) {
		t.Fatalf("names %q, want %q", got, want)
	}
	if a := lookup(t, tbl, "y.a.lab.", dns.TypeA); a.Result != NoData || a.Zone.Name != "a.lab." {
		t.Fatalf("y.a.lab.: %s in %s, want nodata in a.lab.", a.Result, a.Zone.Name)
	}
	if a := lookup(t, tbl, "x.y.a.lab.", dns.TypeSOA); a.Result != Success || a.Zone.Name != "x.y.a.lab." {
		t.Fatalf("x.y.a.lab. SOA: %s in %s", a.Result, a.Zone.Name)
	}
}

// TestCompileKeepsCallerSlice: Compile adds glue records to its input; it
// must not write them into spare capacity of the caller's slice.
func TestCompileKeepsCallerSlice(t *testing.T) {
	backing := make([]model.Record, 1, 4)
	backing[0] = addr("a.example.org.", "s", "10.0.0.1")
	Compile(testConfig(0), backing, nil, 1)
	if spare := backing[:2]; spare[1] != (model.Record{}) {
		t.Fatalf("Compile wrote %v past the caller's records", spare[1])
	}
}

func TestBuilderSerial(t *testing.T) {
	store := model.NewStore()
	store.Set("a", []model.Record{addr("a.example.org.", "s", "10.0.0.1")})
	b := NewBuilder(testConfig(0), store, nil)
	t0 := b.Table()
	if t0 == nil || t0.Serial == 0 {
		t.Fatalf("NewBuilder published %+v", t0)
	}
	if a := lookup(t, t0, "a.example.org.", dns.TypeA); a.Result != Success {
		t.Fatalf("initial table does not serve the store: %s", a.Result)
	}

	// Same content: nothing published, the serial stays.
	b.rebuild(time.Unix(int64(t0.Serial)+100, 0))
	if b.Table() != t0 {
		t.Fatal("rebuild of unchanged content published a new table")
	}
	store.Set("dup", []model.Record{addr("a.example.org.", "s", "10.0.0.1")}) // same record, other object
	b.rebuild(time.Unix(int64(t0.Serial)+100, 0))
	if b.Table() != t0 {
		t.Fatal("the same record from another object published a new table")
	}

	// A change within the same second: serial + 1.
	store.Set("b", []model.Record{addr("b.example.org.", "s", "10.0.0.2")})
	b.rebuild(time.Unix(int64(t0.Serial), 0))
	t1 := b.Table()
	if t1.Serial != t0.Serial+1 {
		t.Fatalf("serial %d after a change in the same second, want %d", t1.Serial, t0.Serial+1)
	}
	if a := lookup(t, t1, "b.example.org.", dns.TypeA); a.Result != Success {
		t.Fatalf("new member not served: %s", a.Result)
	}
	// The clock went backwards: still + 1.
	store.Set("b", []model.Record{addr("b.example.org.", "s", "10.0.0.3")})
	b.rebuild(time.Unix(int64(t0.Serial)-3600, 0))
	if got := b.Table().Serial; got != t1.Serial+1 {
		t.Fatalf("serial %d after a change with the clock behind, want %d", got, t1.Serial+1)
	}
	// Later: the clock.
	later := time.Unix(int64(t0.Serial)+3600, 0)
	store.Delete("b")
	b.rebuild(later)
	if got := b.Table().Serial; got != uint32(later.Unix()) {
		t.Fatalf("serial %d after a change an hour later, want %d", got, later.Unix())
	}
	if a := lookup(t, b.Table(), "b.example.org.", dns.TypeA); a.Result != NXDomain {
		t.Fatalf("removed member still served: %s", a.Result)
	}
	// The SOA carries the serial.
	if soa := lookup(t, b.Table(), "example.org.", dns.TypeSOA).Answer[0].(*dns.SOA); soa.Serial != uint32(later.Unix()) {
		t.Fatalf("SOA serial %d, want %d", soa.Serial, later.Unix())
	}
}

// TestBuilderRun: a store change reaches the published table within a few
// debounce periods, and Run ends when stop closes.
func TestBuilderRun(t *testing.T) {
	store := model.NewStore()
	b := NewBuilder(testConfig(0), store, nil)
	t0 := b.Table()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { b.Run(stop); close(done) }()

	store.Set("a", []model.Record{addr("a.example.org.", "s", "10.0.0.1")})
	deadline := time.Now().Add(testutil.WaitLimit)
	for b.Table() == t0 {
		if time.Now().After(deadline) {
			t.Fatal("store change never published")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b.Table().Serial <= t0.Serial {
		t.Fatalf("serial %d -> %d", t0.Serial, b.Table().Serial)
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(testutil.WaitLimit):
		t.Fatal("Run did not return after stop")
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Success: "success", NoData: "nodata", NXDomain: "nxdomain"} {
		if r.String() != want {
			t.Errorf("%d: %q, want %q", r, r.String(), want)
		}
	}
}

// Members behind NAT (AMKO's publicIP) answer their public address to
// clients outside the private networks and their own inside them; the
// answer's ECS scope is the one the client's classification holds for.
func TestPublicAddresses(t *testing.T) {
	behindNAT := addr("app.example.org.", "sitea", "10.0.0.1")
	behindNAT.Public = netip.MustParseAddr("203.0.113.1")
	recs := []model.Record{behindNAT, addr("app.example.org.", "siteb", "10.0.0.2")}
	tbl := Compile(testConfig(0), recs, nil, 1)
	z := tbl.Zone("app.example.org.")
	for _, tc := range []struct {
		name      string
		c         policy.Client
		want      []string
		wantScope int
	}{
		{"no private networks configured", policy.Client{}, []string{"10.0.0.2", "203.0.113.1"}, 0},
		{"outside", policy.Client{PrivateScope: 4}, []string{"10.0.0.2", "203.0.113.1"}, 4},
		{"inside", policy.Client{Private: true, PrivateScope: 8}, []string{"10.0.0.1", "10.0.0.2"}, 8},
	} {
		a := tbl.Lookup(z, "app.example.org.", dns.TypeA, tc.c)
		got := addrs(a.Answer)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) || a.Scope != tc.wantScope {
			t.Errorf("%s: %v scope %d, want %v scope %d", tc.name, got, a.Scope, tc.want, tc.wantScope)
		}
	}
	// A name without public addresses does not depend on the client.
	plain := Compile(testConfig(0), []model.Record{addr("app.example.org.", "sitea", "10.0.0.1")}, nil, 1)
	if a := plain.Lookup(z, "app.example.org.", dns.TypeA, policy.Client{Private: true, PrivateScope: 8}); a.Scope != -1 {
		t.Errorf("without public addresses the scope is %d, want -1", a.Scope)
	}
	// A zone transfer carries what clients outside get.
	var got []string
	for rrs := range tbl.Records(z) {
		if len(rrs) > 0 && rrs[0].Header().Rrtype == dns.TypeA {
			got = append(got, addrs(rrs)...)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"10.0.0.2", "192.0.2.53", "203.0.113.1"}) {
		t.Errorf("transfer addresses %v", got)
	}
}
