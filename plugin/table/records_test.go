package table

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	"github.com/miekg/dns"
)

// zoneText renders what Records yields for zone name, one record per line.
func zoneText(t *testing.T, tbl *Table, name string) string {
	t.Helper()
	z := tbl.ZoneNamed(name)
	if z == nil {
		t.Fatalf("no zone named %s", name)
	}
	var b strings.Builder
	for rrs := range tbl.Records(z) {
		for _, rr := range rrs {
			b.WriteString(strings.ReplaceAll(rr.String(), "\t", " ") + "\n")
		}
	}
	return b.String()
}

// TestRecords: the zone as a transfer carries it, from one table: apex SOA
// and NS first, then names in canonical order with every member of the
// active pool, down responses as a query finds them, one CNAME per alias,
// nothing for names that answer nothing or belong to a nested zone.
func TestRecords(t *testing.T) {
	cfg := polConfig()
	cfg.Zones = []Zone{
		{Name: "example.org.", NameServers: []NameServer{
			{Name: "ns1.example.org.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}},
			{Name: "ns2.example.net."},
		}},
		{Name: "inner.sub.example.org."},
	}
	cfg.Priorities = map[string]int{"primary": 20}
	cfg.Answers = model.Some(1) // a query gets one address; the transfer still carries the pool
	down := func(o model.Down) model.Overrides { return model.Overrides{Down: o} }
	recs := []model.Record{
		// Two pools: only the healthy primary site's members count.
		addr("app.example.org.", "primary", "10.0.0.1"),
		addr("app.example.org.", "primary", "10.0.0.2"),
		addr("app.example.org.", "primary", "10.0.0.3"), // down
		addr("app.example.org.", "standby", "10.0.1.1"),
		addr("app.example.org.", "primary", "2001:db8::1"),
		// Down, with a fallback address.
		with(addr("fb.example.org.", "primary", "10.0.2.1"), down(model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.99")})),
		// Down, answering nothing: absent from the transfer.
		with(addr("none.example.org.", "primary", "10.0.3.1"), down(model.Down{Kind: model.DownNone})),
		with(addr("empty.example.org.", "primary", "10.0.4.1"), down(model.Down{Kind: model.DownEmpty})),
		// Down, all records: the eligible members, healthy or not.
		with(addr("all.example.org.", "primary", "10.0.5.1"), down(model.Down{Kind: model.DownAllRecords})),
		with(addr("all.example.org.", "standby", "10.0.5.2"), down(model.Down{Kind: model.DownAllRecords})),
		// Down, CNAME.
		with(addr("sorry.example.org.", "primary", "10.0.6.1"), down(model.Down{Kind: model.DownCNAME, Target: "sorry.example.net."})),
		// An alias with two targets: one CNAME.
		alias("www.example.org.", "primary", "lb-a.example.net."),
		alias("www.example.org.", "standby", "lb-b.example.net."),
		// Deep name: a.b is an empty non-terminal, absent.
		addr("x.a.b.example.org.", "primary", "10.0.7.1"),
		// Canonical order puts "Z" (0x5a, here lower case) after "a", "-" first.
		addr("z.example.org.", "primary", "10.0.8.1"),
		addr("-.example.org.", "primary", "10.0.9.1"),
		// The nested zone's names are its own.
		addr("host.inner.sub.example.org.", "primary", "10.1.0.1"),
	}
	slices.SortFunc(recs, model.Record.Compare)
	downAddrs := map[string]bool{"10.0.0.3": true, "10.0.2.1": true, "10.0.3.1": true, "10.0.4.1": true, "10.0.5.1": true, "10.0.5.2": true, "10.0.6.1": true}
	up := make([]bool, len(recs))
	for i, r := range recs {
		up[i] = !downAddrs[r.Member.Addr.String()]
	}
	tbl := Compile(cfg, recs, up, 7)

	want := `example.org. 30 IN SOA ns1.example.org. hostmaster.example.org. 7 7200 1800 1209600 30
example.org. 30 IN NS ns1.example.org.
example.org. 30 IN NS ns2.example.net.
-.example.org. 30 IN A 10.0.9.1
all.example.org. 30 IN A 10.0.5.1
all.example.org. 30 IN A 10.0.5.2
app.example.org. 30 IN A 10.0.0.1
app.example.org. 30 IN A 10.0.0.2
app.example.org. 30 IN AAAA 2001:db8::1
x.a.b.example.org. 30 IN A 10.0.7.1
fb.example.org. 30 IN A 192.0.2.99
ns1.example.org. 30 IN A 192.0.2.53
sorry.example.org. 30 IN CNAME sorry.example.net.
www.example.org. 30 IN CNAME lb-a.example.net.
z.example.org. 30 IN A 10.0.8.1
`
	if got := zoneText(t, tbl, "example.org."); got != want {
		t.Errorf("example.org. content:\n%s\nwant:\n%s", got, want)
	}
	wantInner := `inner.sub.example.org. 30 IN SOA ns1.inner.sub.example.org. hostmaster.inner.sub.example.org. 7 7200 1800 1209600 30
inner.sub.example.org. 30 IN NS ns1.inner.sub.example.org.
host.inner.sub.example.org. 30 IN A 10.1.0.1
`
	if got := zoneText(t, tbl, "inner.sub.example.org."); got != wantInner {
		t.Errorf("inner.sub.example.org. content:\n%s\nwant:\n%s", got, wantInner)
	}
	if tbl.ZoneNamed("sub.example.org.") != nil || tbl.ZoneNamed("app.example.org.") != nil {
		t.Error("ZoneNamed must only find zone apexes")
	}
	if s := tbl.ZoneNamed("example.org.").SOA().Serial; s != 7 {
		t.Errorf("SOA serial %d, want 7", s)
	}

	// A consumer may stop early.
	n := 0
	for range tbl.Records(tbl.ZoneNamed("example.org.")) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("stopped after %d RRsets, want 2", n)
	}
}

func TestCanonicalCompare(t *testing.T) {
	// RFC 4034 6.1's example, lower-cased, in canonical order.
	ordered := []string{
		"example.",
		"a.example.",
		"yljkjljk.a.example.",
		"z.a.example.",
		"zabc.a.example.",
		"z.example.",
		`\001.z.example.`,
		"*.z.example.",
		`\200.z.example.`,
	}
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	shuffled[2], shuffled[5] = shuffled[5], shuffled[2]
	slices.SortFunc(shuffled, canonicalCompare)
	if !slices.Equal(shuffled, ordered) {
		t.Errorf("canonical order:\n%v\nwant\n%v", shuffled, ordered)
	}
	for _, name := range ordered {
		if c := canonicalCompare(name, name); c != 0 {
			t.Errorf("%s compared to itself: %d", name, c)
		}
	}
	if _, ok := dns.IsDomainName(`\200.z.example.`); !ok {
		t.Fatal("test name is not a domain name")
	}
}
