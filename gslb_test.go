package gslb

import (
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/cache"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
)

// newTestGSLB builds the plugin from a Corefile stanza with static members
// only: it never watches a cluster.
func newTestGSLB(tb testing.TB, corefile string) *GSLB {
	tb.Helper()
	tb.Setenv("KUBERNETES_SERVICE_HOST", "")
	cfg, err := parse(caddy.NewTestController("dns", corefile))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	if len(cfg.clusters) > 0 {
		tb.Fatalf("test plugins must not watch clusters, got %d", len(cfg.clusters))
	}
	g, err := newGSLB(cfg)
	if err != nil {
		tb.Fatalf("newGSLB: %v", err)
	}
	return g
}

const exampleCorefile = `gslb example.org {
	ttl 60
	member app.example.org 10.0.0.1 10.0.0.2 site sitea
	member app.example.org 10.0.1.1 site siteb
	member v6.example.org 2001:db8::1 2001:db8::2
	member dual.example.org 10.0.0.3 2001:db8::3
	member alias.example.org lb-1.eu-west-1.elb.amazonaws.com
	member svc.team.apps.example.org 10.0.0.4
	nameserver ns1.example.org 192.0.2.53 2001:db8::53
	nameserver ns2.example.net
	hostmaster dns-admin@example.org
}`

// query sends one question through the plugin and returns what it wrote.
func query(t *testing.T, g *GSLB, w dns.ResponseWriter, qname string, qtype uint16) (*dns.Msg, int) {
	t.Helper()
	r := new(dns.Msg)
	r.SetQuestion(qname, qtype)
	rec := dnstest.NewRecorder(w)
	rcode, err := g.ServeDNS(context.Background(), rec, r)
	if err != nil {
		t.Fatalf("%s %s: unexpected error %v", qname, dns.TypeToString[qtype], err)
	}
	return rec.Msg, rcode
}

func sorted(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// checkAuthoritative checks an answer from the zone exactly: rcode, AA, the
// question as asked, and every record of every section as text (owner, TTL,
// type and data), which test.SortAndCheck alone does not compare for SOA.
func checkAuthoritative(t *testing.T, resp *dns.Msg, tc test.Case) {
	t.Helper()
	if resp == nil {
		t.Fatalf("%s %s: no response written", tc.Qname, dns.TypeToString[tc.Qtype])
	}
	if err := test.SortAndCheck(resp, tc); err != nil {
		t.Error(err)
	}
	if !resp.Authoritative {
		t.Errorf("%s %s: AA not set", tc.Qname, dns.TypeToString[tc.Qtype])
	}
	if resp.Truncated {
		t.Errorf("%s %s: TC set", tc.Qname, dns.TypeToString[tc.Qtype])
	}
	if !resp.Response || resp.Id == 0 {
		t.Errorf("%s %s: not a reply (QR %t, id %d)", tc.Qname, dns.TypeToString[tc.Qtype], resp.Response, resp.Id)
	}
	if len(resp.Question) != 1 || resp.Question[0].Name != tc.Qname || resp.Question[0].Qtype != tc.Qtype {
		t.Errorf("%s %s: question is %v", tc.Qname, dns.TypeToString[tc.Qtype], resp.Question)
	}
	for _, s := range []struct {
		name      string
		got, want []dns.RR
	}{{"answer", resp.Answer, tc.Answer}, {"authority", resp.Ns, tc.Ns}, {"additional", resp.Extra, tc.Extra}} {
		if g, w := sorted(s.got), sorted(s.want); !slices.Equal(g, w) {
			t.Errorf("%s %s: %s section\n got %q\nwant %q", tc.Qname, dns.TypeToString[tc.Qtype], s.name, g, w)
		}
	}
}

func TestServeDNS(t *testing.T) {
	g := newTestGSLB(t, exampleCorefile)
	soa := test.SOA(fmt.Sprintf("example.org. 60 IN SOA ns1.example.org. dns-admin.example.org. %d 7200 1800 1209600 60", g.builder.Table().Serial))
	auth := []dns.RR{soa}

	tests := []test.Case{
		{ // several members at two sites: all of them
			Qname: "app.example.org.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("app.example.org. 60 IN A 10.0.0.1"),
				test.A("app.example.org. 60 IN A 10.0.0.2"),
				test.A("app.example.org. 60 IN A 10.0.1.1"),
			},
		},
		{
			Qname: "v6.example.org.", Qtype: dns.TypeAAAA,
			Answer: []dns.RR{
				test.AAAA("v6.example.org. 60 IN AAAA 2001:db8::1"),
				test.AAAA("v6.example.org. 60 IN AAAA 2001:db8::2"),
			},
		},
		{Qname: "dual.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("dual.example.org. 60 IN A 10.0.0.3")}},
		{Qname: "dual.example.org.", Qtype: dns.TypeAAAA, Answer: []dns.RR{test.AAAA("dual.example.org. 60 IN AAAA 2001:db8::3")}},
		// NODATA: the name exists, the type does not (RFC 2308, RFC 4074).
		{Qname: "app.example.org.", Qtype: dns.TypeAAAA, Ns: auth},
		{Qname: "v6.example.org.", Qtype: dns.TypeA, Ns: auth},
		{Qname: "app.example.org.", Qtype: dns.TypeTXT, Ns: auth},
		{Qname: "app.example.org.", Qtype: dns.TypeMX, Ns: auth},
		// NXDOMAIN.
		{Qname: "missing.example.org.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: auth},
		{Qname: "x.app.example.org.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: auth},
		{Qname: "ns2.example.org.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: auth},
		// Empty non-terminals are NODATA (RFC 8020), at every level.
		{Qname: "team.apps.example.org.", Qtype: dns.TypeA, Ns: auth},
		{Qname: "apps.example.org.", Qtype: dns.TypeAAAA, Ns: auth},
		{Qname: "svc.team.apps.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("svc.team.apps.example.org. 60 IN A 10.0.0.4")}},
		// Case-insensitive; the question keeps the query's case.
		{
			Qname: "APP.Example.ORG.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("app.example.org. 60 IN A 10.0.0.1"),
				test.A("app.example.org. 60 IN A 10.0.0.2"),
				test.A("app.example.org. 60 IN A 10.0.1.1"),
			},
		},
		{Qname: "Missing.EXAMPLE.org.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: auth},
		// Hostname-only members: a CNAME for every type, never resolved here.
		{Qname: "alias.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.CNAME("alias.example.org. 60 IN CNAME lb-1.eu-west-1.elb.amazonaws.com.")}},
		{Qname: "alias.example.org.", Qtype: dns.TypeAAAA, Answer: []dns.RR{test.CNAME("alias.example.org. 60 IN CNAME lb-1.eu-west-1.elb.amazonaws.com.")}},
		{Qname: "alias.example.org.", Qtype: dns.TypeCNAME, Answer: []dns.RR{test.CNAME("alias.example.org. 60 IN CNAME lb-1.eu-west-1.elb.amazonaws.com.")}},
		{Qname: "ALIAS.example.org.", Qtype: dns.TypeTXT, Answer: []dns.RR{test.CNAME("alias.example.org. 60 IN CNAME lb-1.eu-west-1.elb.amazonaws.com.")}},
		// A name with addresses has no CNAME.
		{Qname: "app.example.org.", Qtype: dns.TypeCNAME, Ns: auth},
		// Apex.
		{Qname: "example.org.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa}},
		{Qname: "Example.Org.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa}},
		{
			Qname: "example.org.", Qtype: dns.TypeNS,
			Answer: []dns.RR{
				test.NS("example.org. 60 IN NS ns1.example.org."),
				test.NS("example.org. 60 IN NS ns2.example.net."),
			},
			Extra: []dns.RR{
				test.A("ns1.example.org. 60 IN A 192.0.2.53"),
				test.AAAA("ns1.example.org. 60 IN AAAA 2001:db8::53"),
			},
		},
		{Qname: "example.org.", Qtype: dns.TypeA, Ns: auth},
		{Qname: "example.org.", Qtype: dns.TypeCNAME, Ns: auth},
		{Qname: "example.org.", Qtype: dns.TypeMX, Ns: auth},
		// In-zone name servers answer their own addresses.
		{Qname: "ns1.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("ns1.example.org. 60 IN A 192.0.2.53")}},
		{Qname: "ns1.example.org.", Qtype: dns.TypeAAAA, Answer: []dns.RR{test.AAAA("ns1.example.org. 60 IN AAAA 2001:db8::53")}},
		// ANY: one RRset (RFC 8482).
		{
			Qname: "app.example.org.", Qtype: dns.TypeANY,
			Answer: []dns.RR{
				test.A("app.example.org. 60 IN A 10.0.0.1"),
				test.A("app.example.org. 60 IN A 10.0.0.2"),
				test.A("app.example.org. 60 IN A 10.0.1.1"),
			},
		},
		{Qname: "dual.example.org.", Qtype: dns.TypeANY, Answer: []dns.RR{test.A("dual.example.org. 60 IN A 10.0.0.3")}},
		{
			Qname: "v6.example.org.", Qtype: dns.TypeANY,
			Answer: []dns.RR{
				test.AAAA("v6.example.org. 60 IN AAAA 2001:db8::1"),
				test.AAAA("v6.example.org. 60 IN AAAA 2001:db8::2"),
			},
		},
		{Qname: "alias.example.org.", Qtype: dns.TypeANY, Answer: []dns.RR{test.CNAME("alias.example.org. 60 IN CNAME lb-1.eu-west-1.elb.amazonaws.com.")}},
		{Qname: "example.org.", Qtype: dns.TypeANY, Answer: []dns.RR{soa}},
		{Qname: "apps.example.org.", Qtype: dns.TypeANY, Ns: auth},
		{Qname: "missing.example.org.", Qtype: dns.TypeANY, Rcode: dns.RcodeNameError, Ns: auth},
	}

	for _, tc := range tests {
		t.Run(tc.Qname+"/"+dns.TypeToString[tc.Qtype], func(t *testing.T) {
			resp, rcode := query(t, g, &test.ResponseWriter{}, tc.Qname, tc.Qtype)
			if rcode != dns.RcodeSuccess {
				t.Errorf("ServeDNS returned rcode %s after writing, want NOERROR", dns.RcodeToString[rcode])
			}
			checkAuthoritative(t, resp, tc)
		})
	}
}

func TestServeDNSDefaultTTL(t *testing.T) {
	g := newTestGSLB(t, "gslb example.org {\n\tmember a.example.org 10.0.0.1\n}")
	serial := g.builder.Table().Serial
	// Without nameserver and hostmaster lines the SOA names ns1 and
	// hostmaster in the zone.
	soa := test.SOA(fmt.Sprintf("example.org. 30 IN SOA ns1.example.org. hostmaster.example.org. %d 7200 1800 1209600 30", serial))
	for _, tc := range []test.Case{
		{Qname: "a.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("a.example.org. 30 IN A 10.0.0.1")}},
		{Qname: "example.org.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa}},
		{Qname: "example.org.", Qtype: dns.TypeNS, Answer: []dns.RR{test.NS("example.org. 30 IN NS ns1.example.org.")}},
		{Qname: "b.example.org.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	} {
		resp, _ := query(t, g, &test.ResponseWriter{}, tc.Qname, tc.Qtype)
		checkAuthoritative(t, resp, tc)
	}
}

// TestServeDNSRotates checks that the order rotates between queries while
// every member stays in the answer.
func TestServeDNSRotates(t *testing.T) {
	g := newTestGSLB(t, exampleCorefile)
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.1.1"}
	var firsts []string
	for i := 0; i < 2*len(want); i++ {
		resp, _ := query(t, g, &test.ResponseWriter{}, "app.example.org.", dns.TypeA)
		var got []string
		for _, rr := range resp.Answer {
			got = append(got, rr.(*dns.A).A.String())
		}
		firsts = append(firsts, got[0])
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("query %d: answer %v, want all of %v", i, got, want)
		}
		if i > 0 && firsts[i] == firsts[i-1] {
			t.Errorf("query %d: first record %s did not change (firsts %v)", i, firsts[i], firsts)
		}
	}
	// Round robin: each member leads exactly twice in six queries.
	for _, a := range want {
		if n := strings.Count(strings.Join(firsts, " ")+" ", a+" "); n != 2 {
			t.Errorf("%s led %d times in %v, want 2", a, n, firsts)
		}
	}
}

// TestServeDNSAnswersOne is Avi's num_dns_ip 1: one record per answer, and
// every member in turn.
func TestServeDNSAnswersOne(t *testing.T) {
	g := newTestGSLB(t, `gslb example.org {
	answers 1
	ttl 10
	member app.example.org 10.0.0.1 10.0.0.2 site sitea
	member app.example.org 10.0.1.1 10.0.1.2 site siteb
	member v6.example.org 2001:db8::1 2001:db8::2
}`)
	for _, tt := range []struct {
		qname string
		qtype uint16
		want  []string
	}{
		{"app.example.org.", dns.TypeA, []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"}},
		{"v6.example.org.", dns.TypeAAAA, []string{"2001:db8::1", "2001:db8::2"}},
	} {
		seen := map[string]int{}
		prev := ""
		for i := 0; i < 3*len(tt.want); i++ {
			resp, _ := query(t, g, &test.ResponseWriter{}, tt.qname, tt.qtype)
			if len(resp.Answer) != 1 {
				t.Fatalf("%s query %d: %d records, want exactly 1: %v", tt.qname, i, len(resp.Answer), resp.Answer)
			}
			rr := resp.Answer[0]
			if rr.Header().Ttl != 10 {
				t.Errorf("%s: ttl %d, want 10", tt.qname, rr.Header().Ttl)
			}
			var addr string
			switch x := rr.(type) {
			case *dns.A:
				addr = x.A.String()
			case *dns.AAAA:
				addr = x.AAAA.String()
			}
			if addr == prev {
				t.Errorf("%s query %d: %s twice in a row", tt.qname, i, addr)
			}
			prev = addr
			seen[addr]++
		}
		for _, a := range tt.want {
			if seen[a] != 3 {
				t.Errorf("%s: %s answered %d times in %d queries, want 3 (seen %v)", tt.qname, a, seen[a], 3*len(tt.want), seen)
			}
		}
		if len(seen) != len(tt.want) {
			t.Errorf("%s: answered %v, want only %v", tt.qname, seen, tt.want)
		}
	}
}

// nextRecorder is a next plugin that says it was called.
type nextRecorder struct{ calls []string }

func (n *nextRecorder) Name() string { return "next" }
func (n *nextRecorder) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	n.calls = append(n.calls, r.Question[0].Name)
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeNotImplemented) // a marker no gslb answer carries
	w.WriteMsg(m)
	return dns.RcodeNotImplemented, nil
}

func TestServeDNSOutOfZone(t *testing.T) {
	g := newTestGSLB(t, exampleCorefile)

	// Without a next plugin: REFUSED, and nothing written (the server
	// writes the error reply).
	resp, rcode := query(t, g, &test.ResponseWriter{}, "app.example.net.", dns.TypeA)
	if rcode != dns.RcodeRefused || resp != nil {
		t.Errorf("out of zone without next: rcode %s, written %v; want REFUSED and nothing written", dns.RcodeToString[rcode], resp)
	}
	// The parent of the zone is outside it, too.
	if _, rcode := query(t, g, &test.ResponseWriter{}, "org.", dns.TypeSOA); rcode != dns.RcodeRefused {
		t.Errorf("org. SOA: rcode %s, want REFUSED", dns.RcodeToString[rcode])
	}
	// A name that merely ends like the zone is outside it.
	if _, rcode := query(t, g, &test.ResponseWriter{}, "notexample.org.", dns.TypeA); rcode != dns.RcodeRefused {
		t.Errorf("notexample.org.: rcode %s, want REFUSED", dns.RcodeToString[rcode])
	}

	// With a next plugin: passed through untouched.
	next := &nextRecorder{}
	g.Next = next
	resp, rcode = query(t, g, &test.ResponseWriter{}, "app.example.net.", dns.TypeA)
	if rcode != dns.RcodeNotImplemented || resp == nil || resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("out of zone with next: rcode %s, reply %v; want the next plugin's NOTIMP", dns.RcodeToString[rcode], resp)
	}
	// In-zone names never reach it, whatever the result (no fallthrough).
	query(t, g, &test.ResponseWriter{}, "app.example.org.", dns.TypeA)
	query(t, g, &test.ResponseWriter{}, "missing.example.org.", dns.TypeA)
	if !slices.Equal(next.calls, []string{"app.example.net."}) {
		t.Errorf("next plugin called for %v, want only app.example.net.", next.calls)
	}
}

func TestServeDNSFallthrough(t *testing.T) {
	tests := []struct {
		name     string
		fall     string
		qname    string
		qtype    uint16
		wantNext bool
		rcode    int // of our own answer, when not passed on
	}{
		{"nxdomain in a fallthrough zone", "fallthrough legacy.example.org", "old.legacy.example.org.", dns.TypeA, true, 0},
		{"nxdomain in a fallthrough zone, any case", "fallthrough legacy.example.org", "OLD.Legacy.example.org.", dns.TypeA, true, 0},
		{"nxdomain outside the fallthrough zones", "fallthrough legacy.example.org", "missing.example.org.", dns.TypeA, false, dns.RcodeNameError},
		{"nodata is not passed on", "fallthrough legacy.example.org", "app.legacy.example.org.", dns.TypeAAAA, false, dns.RcodeSuccess},
		{"empty non-terminal is not passed on", "fallthrough", "legacy.example.org.", dns.TypeA, false, dns.RcodeSuccess},
		{"answers are not passed on", "fallthrough", "app.legacy.example.org.", dns.TypeA, false, dns.RcodeSuccess},
		{"nxdomain with fallthrough for all zones", "fallthrough", "missing.example.org.", dns.TypeA, true, 0},
		{"nxdomain without fallthrough", "", "missing.example.org.", dns.TypeA, false, dns.RcodeNameError},
		{"fallthrough to another zone only", "fallthrough example.net", "missing.example.org.", dns.TypeA, false, dns.RcodeNameError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGSLB(t, "gslb example.org {\n\tmember app.legacy.example.org 10.0.0.1\n\t"+tc.fall+"\n}")
			next := &nextRecorder{}
			g.Next = next
			resp, rcode := query(t, g, &test.ResponseWriter{}, tc.qname, tc.qtype)
			if tc.wantNext {
				if len(next.calls) != 1 || rcode != dns.RcodeNotImplemented {
					t.Fatalf("want the query passed to the next plugin, got rcode %s, calls %v", dns.RcodeToString[rcode], next.calls)
				}
				return
			}
			if len(next.calls) != 0 {
				t.Fatalf("next plugin called for %v", next.calls)
			}
			if resp == nil || resp.Rcode != tc.rcode || !resp.Authoritative {
				t.Fatalf("want our own authoritative %s, got %v", dns.RcodeToString[tc.rcode], resp)
			}
		})
	}
}

func TestServeDNSNestedZones(t *testing.T) {
	g := newTestGSLB(t, `gslb a.lab b.a.lab x.y.a.lab {
	member www.a.lab 10.0.0.1
	member www.b.a.lab 10.0.0.2
	member svc.deep.b.a.lab 10.0.0.3
	member www.x.y.a.lab 10.0.0.4
	hostmaster ops@a.lab
}`)
	serial := g.builder.Table().Serial
	soa := func(zone string) dns.RR {
		return test.SOA(fmt.Sprintf("%s 30 IN SOA ns1.%s ops.a.lab. %d 7200 1800 1209600 30", zone, zone, serial))
	}
	tests := []test.Case{
		{Qname: "www.a.lab.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("www.a.lab. 30 IN A 10.0.0.1")}},
		{Qname: "www.b.a.lab.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("www.b.a.lab. 30 IN A 10.0.0.2")}},
		{Qname: "svc.deep.b.a.lab.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("svc.deep.b.a.lab. 30 IN A 10.0.0.3")}},
		{Qname: "www.x.y.a.lab.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("www.x.y.a.lab. 30 IN A 10.0.0.4")}},
		// The most specific zone answers, with its own SOA.
		{Qname: "a.lab.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa("a.lab.")}},
		{Qname: "b.a.lab.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa("b.a.lab.")}},
		{Qname: "x.y.a.lab.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa("x.y.a.lab.")}},
		{Qname: "b.a.lab.", Qtype: dns.TypeNS, Answer: []dns.RR{test.NS("b.a.lab. 30 IN NS ns1.b.a.lab.")}},
		{Qname: "missing.b.a.lab.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa("b.a.lab.")}},
		{Qname: "missing.a.lab.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa("a.lab.")}},
		{Qname: "deep.b.a.lab.", Qtype: dns.TypeA, Ns: []dns.RR{soa("b.a.lab.")}},
		{Qname: "www.b.a.lab.", Qtype: dns.TypeAAAA, Ns: []dns.RR{soa("b.a.lab.")}},
		// A name of the outer zone that only leads to the inner one is an
		// empty non-terminal: NXDOMAIN would deny x.y.a.lab (RFC 8020).
		{Qname: "y.a.lab.", Qtype: dns.TypeA, Ns: []dns.RR{soa("a.lab.")}},
		{Qname: "z.y.a.lab.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa("a.lab.")}},
	}
	for _, tc := range tests {
		t.Run(tc.Qname+"/"+dns.TypeToString[tc.Qtype], func(t *testing.T) {
			resp, _ := query(t, g, &test.ResponseWriter{}, tc.Qname, tc.Qtype)
			checkAuthoritative(t, resp, tc)
		})
	}
}

// TestServeDNSSerial runs the builder (no clusters: start only runs the
// table builder) and checks that the SOA serial rises with every change of
// the answers and stays when a change leaves the answers as they were.
func TestServeDNSSerial(t *testing.T) {
	g := newTestGSLB(t, "gslb example.org {\n\tmember a.example.org 10.0.0.1\n}")
	if g.Ready() {
		t.Fatal("ready before start")
	}
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	defer g.stop()
	testutil.Eventually(t, "ready", g.Ready)

	soaSerial := func() uint32 {
		resp, _ := query(t, g, &test.ResponseWriter{}, "example.org.", dns.TypeSOA)
		return resp.Answer[0].(*dns.SOA).Serial
	}
	s0 := soaSerial()
	if s0 != g.builder.Table().Serial || s0 < uint32(time.Now().Add(-time.Hour).Unix()) {
		t.Fatalf("initial serial %d: want the table's (%d), from the clock", s0, g.builder.Table().Serial)
	}

	// A new member: new table, higher serial, and the member is served.
	g.store.Set("test/b", []model.Record{staticRec("b.example.org.", "sitea", "10.0.0.2")})
	testutil.Eventually(t, "a rebuild", func() bool { return g.builder.Table().Serial != s0 })
	s1 := soaSerial()
	if s1 <= s0 {
		t.Fatalf("serial went from %d to %d after a change, want it to rise", s0, s1)
	}
	resp, _ := query(t, g, &test.ResponseWriter{}, "b.example.org.", dns.TypeA)
	checkAuthoritative(t, resp, test.Case{Qname: "b.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("b.example.org. 30 IN A 10.0.0.2")}})

	// The same records published by another object: the store notifies,
	// the builder rebuilds, the content is the same: no new table.
	t1 := g.builder.Table()
	g.store.Set("test/dup", []model.Record{staticRec("b.example.org.", "sitea", "10.0.0.2")})
	time.Sleep(5 * 50 * time.Millisecond) // several debounce periods
	if t2 := g.builder.Table(); t2 != t1 || soaSerial() != s1 {
		t.Fatalf("unchanged content published a new table (serial %d -> %d)", s1, t2.Serial)
	}

	// A removal is a change too.
	g.store.Delete("test/b")
	g.store.Delete("test/dup")
	testutil.Eventually(t, "a rebuild", func() bool { return g.builder.Table().Serial != s1 })
	if s2 := soaSerial(); s2 <= s1 {
		t.Fatalf("serial went from %d to %d after a removal, want it to rise", s1, s2)
	}
	resp, _ = query(t, g, &test.ResponseWriter{}, "b.example.org.", dns.TypeA)
	if resp.Rcode != dns.RcodeNameError {
		t.Fatalf("removed member still answers: %v", resp)
	}

	// stop is idempotent (OnShutdown may run more than once on reload).
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
}

func bigCorefile(n int) string {
	var b strings.Builder
	b.WriteString("gslb example.org {\n\tmember big.example.org")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " 10.1.%d.%d", i/250, i%250+1)
	}
	b.WriteString("\n}")
	return b.String()
}

// TestServeDNSTruncation: an answer that does not fit a plain UDP client's
// 512 bytes gets TC (once CoreDNS's scrub writer trims it); TCP gets it all.
func TestServeDNSTruncation(t *testing.T) {
	const members = 200
	g := newTestGSLB(t, bigCorefile(members))

	for _, tc := range []struct {
		name      string
		tcp       bool
		edns      uint16
		truncated bool
		maxLen    int
	}{
		{"udp without edns", false, 0, true, 512},
		{"udp with a 1232 byte buffer", false, 1232, true, 1232},
		{"tcp", true, 0, false, dns.MaxMsgSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := new(dns.Msg)
			r.SetQuestion("big.example.org.", dns.TypeA)
			if tc.edns > 0 {
				r.SetEdns0(tc.edns, false)
			}
			rec := dnstest.NewRecorder(&test.ResponseWriter{TCP: tc.tcp})
			if _, err := g.ServeDNS(context.Background(), request.NewScrubWriter(r, rec), r); err != nil {
				t.Fatal(err)
			}
			resp := rec.Msg
			if resp.Truncated != tc.truncated {
				t.Fatalf("TC %t, want %t (%d records)", resp.Truncated, tc.truncated, len(resp.Answer))
			}
			if !resp.Authoritative {
				t.Error("AA not set")
			}
			if n := resp.Len(); n > tc.maxLen {
				t.Errorf("reply is %d bytes, want at most %d", n, tc.maxLen)
			}
			if tc.truncated && (len(resp.Answer) == 0 || len(resp.Answer) >= members) {
				t.Errorf("truncated reply has %d records, want some but fewer than %d", len(resp.Answer), members)
			}
			if !tc.truncated && len(resp.Answer) != members {
				t.Errorf("reply has %d records, want all %d", len(resp.Answer), members)
			}
		})
	}

	// Truncating a reply must not shorten the table's answer.
	resp, _ := query(t, g, &test.ResponseWriter{TCP: true}, "big.example.org.", dns.TypeA)
	if len(resp.Answer) != members {
		t.Fatalf("after truncated replies the table answers %d records, want %d", len(resp.Answer), members)
	}
}

// TestServeDNSAppendDoesNotLeak: a plugin that appends to our reply (as
// dnssec or rewrite may) must not change what the next query gets.
func TestServeDNSAppendDoesNotLeak(t *testing.T) {
	g := newTestGSLB(t, exampleCorefile)
	extra := test.A("evil.example.org. 60 IN A 192.0.2.1")
	for i := 0; i < 6; i++ {
		for _, q := range []struct {
			name  string
			qtype uint16
		}{{"app.example.org.", dns.TypeA}, {"missing.example.org.", dns.TypeA}, {"example.org.", dns.TypeNS}} {
			resp, _ := query(t, g, &test.ResponseWriter{}, q.name, q.qtype)
			for _, rr := range slices.Concat(resp.Answer, resp.Ns, resp.Extra) {
				if rr.Header().Name == "evil.example.org." {
					t.Fatalf("%s: appended record leaked into the table: %v", q.name, resp)
				}
			}
			resp.Answer = append(resp.Answer, extra)
			resp.Ns = append(resp.Ns, extra)
			resp.Extra = append(resp.Extra, extra)
		}
	}
}

// nopWriter is a ResponseWriter that does nothing, not even pack, so that
// benchmarks measure the plugin alone.
type nopWriter struct{ test.ResponseWriter }

func (nopWriter) WriteMsg(*dns.Msg) error { return nil }

func benchGSLB(b *testing.B) *GSLB {
	var sb strings.Builder
	sb.WriteString("gslb example.org {\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "\tmember app%d.example.org 10.%d.%d.1 10.%d.%d.2\n", i, i/250, i%250, 100+i/250, i%250)
	}
	sb.WriteString("}")
	return newTestGSLB(b, sb.String())
}

func BenchmarkServeDNS(b *testing.B) {
	g := benchGSLB(b)
	r := new(dns.Msg)
	r.SetQuestion("app500.example.org.", dns.TypeA)
	w := &nopWriter{}
	ctx := context.Background()
	if rc, _ := g.ServeDNS(ctx, &checkWriter{b: b, n: 2}, r); rc != dns.RcodeSuccess {
		b.Fatalf("rcode %d", rc)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		g.ServeDNS(ctx, w, r)
	}
}

func BenchmarkServeDNSNXDomain(b *testing.B) {
	g := benchGSLB(b)
	r := new(dns.Msg)
	r.SetQuestion("nothere.example.org.", dns.TypeA)
	w := &nopWriter{}
	ctx := context.Background()
	if rc, _ := g.ServeDNS(ctx, &checkWriter{b: b, rcode: dns.RcodeNameError}, r); rc != dns.RcodeSuccess {
		b.Fatalf("rcode %d", rc)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		g.ServeDNS(ctx, w, r)
	}
}

// checkWriter makes sure a benchmark measures the answer it means to.
type checkWriter struct {
	test.ResponseWriter
	b     *testing.B
	n     int
	rcode int
}

func (c *checkWriter) WriteMsg(m *dns.Msg) error {
	if m.Rcode != c.rcode || len(m.Answer) != c.n {
		c.b.Fatalf("benchmark query answered %s with %d records, want %s with %d", dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[c.rcode], c.n)
	}
	return nil
}

// TestCacheBypassZones: CoreDNS's cache must pass our zones through (it
// would freeze per-query picks and drop the ECS option).
func TestCacheBypassZones(t *testing.T) {
	g := newTestGSLB(t, "gslb example.org example.net {\n member a.example.org 192.0.2.1\n}")
	var _ cache.ZoneBypasser = g
	if got := g.CacheBypassZones(); !slices.Equal(got, []string{"example.org.", "example.net."}) {
		t.Errorf("CacheBypassZones = %v, want both zones", got)
	}
}

// TestWeightedPolicy: weighted picks one record per query, in proportion to
// the site weights; answers N gives N distinct records.
func TestWeightedPolicy(t *testing.T) {
	const corefile = `gslb example.org {
	policy weighted
	weight sitea 3
	weight siteb 1
	weight sitec 0
	%s
	member app.example.org 10.0.0.1 site sitea
	member app.example.org 10.0.1.1 site siteb
	member app.example.org 10.0.2.1 site sitec
	member three.example.org 10.0.0.1 10.0.0.2 10.0.0.3 site sitea
	member three.example.org 10.0.1.1 site siteb
}`
	g := newTestGSLB(t, fmt.Sprintf(corefile, ""))
	const n = 2000
	count := map[string]int{}
	for i := 0; i < n; i++ {
		resp, _ := query(t, g, &test.ResponseWriter{}, "app.example.org.", dns.TypeA)
		if len(resp.Answer) != 1 {
			t.Fatalf("query %d: %d records, want 1", i, len(resp.Answer))
		}
		count[answerAddrs(resp)[0]]++
	}
	if count["10.0.2.1"] != 0 {
		t.Errorf("drained sitec answered %d times", count["10.0.2.1"])
	}
	if share := float64(count["10.0.0.1"]) / n; math.Abs(share-0.75) > 0.05 || count["10.0.0.1"]+count["10.0.1.1"] != n {
		t.Errorf("sitea's share %.3f (%v), want 0.75 ± 0.05", share, count)
	}

	for _, tc := range []struct {
		answers string
		k       int
	}{{"answers 1", 1}, {"answers 2", 2}, {"answers 0", 1}} {
		g := newTestGSLB(t, fmt.Sprintf(corefile, tc.answers))
		seen := map[string]bool{}
		for i := 0; i < 200; i++ {
			resp, _ := query(t, g, &test.ResponseWriter{}, "three.example.org.", dns.TypeA)
			got := answerAddrs(resp)
			if len(got) != tc.k || len(slices.Compact(slices.Sorted(slices.Values(got)))) != tc.k {
				t.Fatalf("%s: answer %q, want %d distinct records", tc.answers, got, tc.k)
			}
			for _, a := range got {
				seen[a] = true
			}
		}
		if len(seen) != 4 {
			t.Errorf("%s: 200 queries answered %v, want all four members at some point", tc.answers, seen)
		}
	}
}

// tcpTarget is a TCP probe target on 127.0.0.1 that accepts and closes
// every connection (a healthy member for a TCP probe); it returns its port.
func tcpTarget(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDownResponseNoneByProbe: a member whose TCP probe fails leaves the
// answers; a name whose only member it is answers SERVFAIL (down_response
// none). The probes only reach 127.0.0.1 (a listener of this test) and
// 127.0.0.2 (nothing listens there).
func TestDownResponseNoneByProbe(t *testing.T) {
	port := tcpTarget(t)
	g := newTestGSLB(t, fmt.Sprintf(`gslb example.org {
	member down.example.org 127.0.0.2
	member mixed.example.org 127.0.0.1 127.0.0.2
	member alias.example.org lb.example.net
	health_check tcp %d
	health_targets 127.0.0.0/8
	health_interval 100ms
	health_timeout 500ms
	down_response none
}`, port))
	// Before the first probe every member counts as healthy.
	if resp, _ := query(t, g, &test.ResponseWriter{}, "down.example.org.", dns.TypeA); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Fatalf("before probing: %v, want 127.0.0.2", resp)
	}
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	defer g.stop()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := query(t, g, &test.ResponseWriter{}, "down.example.org.", dns.TypeA)
		if resp.Rcode == dns.RcodeServerFailure {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("down.example.org still answers %v after 10s of failing probes", resp.Answer)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeANY} {
		resp, _ := query(t, g, &test.ResponseWriter{}, "down.example.org.", qtype)
		if resp.Rcode != dns.RcodeServerFailure || len(resp.Answer)+len(resp.Ns)+len(resp.Extra) != 0 {
			t.Errorf("down %s: %v, want an empty SERVFAIL", dns.TypeToString[qtype], resp)
		}
	}
	// NODATA types stay NODATA.
	if resp, _ := query(t, g, &test.ResponseWriter{}, "down.example.org.", dns.TypeMX); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 || len(resp.Ns) != 1 {
		t.Errorf("down MX: %v, want NODATA with the SOA", resp)
	}
	testutil.Eventually(t, "mixed.example.org to lose 127.0.0.2", func() bool {
		resp, _ := query(t, g, &test.ResponseWriter{}, "mixed.example.org.", dns.TypeA)
		return slices.Equal(answerAddrs(resp), []string{"127.0.0.1"})
	})
	for i := 0; i < 5; i++ { // the live member stays in
		resp, _ := query(t, g, &test.ResponseWriter{}, "mixed.example.org.", dns.TypeA)
		if got := answerAddrs(resp); resp.Rcode != dns.RcodeSuccess || !slices.Equal(got, []string{"127.0.0.1"}) {
			t.Fatalf("mixed: rcode %s answer %q, want 127.0.0.1 only", dns.RcodeToString[resp.Rcode], got)
		}
	}
	// A CNAME member is never probed.
	resp, _ := query(t, g, &test.ResponseWriter{}, "alias.example.org.", dns.TypeA)
	if len(resp.Answer) != 1 || !strings.Contains(resp.Answer[0].String(), "lb.example.net.") {
		t.Errorf("alias: %v, want the CNAME", resp.Answer)
	}
}
