package gslb

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// The fuzz targets of the root package: ServeDNS on arbitrary wire
// messages and the Corefile parser. `make fuzz` runs each for FUZZTIME;
// `go test` runs their seeds (below, and testdata/fuzz/<target>/) as
// regression tests. RELIABILITY.md has the figures.

// fuzzServeCorefiles are the tables the wire fuzzer queries: every answer
// shape (A, AAAA, CNAME to a hostname, apex SOA/NS with glue, NODATA,
// NXDOMAIN, an empty non-terminal) under the policies that read the
// client (topology, consistent hash, private networks), so that ECS
// options of any family and prefix reach the code that uses them.
var fuzzServeCorefiles = []string{
	`gslb example.org {
	policy topology consistent-hash
	hash_mask 24 56
	topology 10.26.0.0/16 siteb sitea
	topology 2001:db8:26::/48 siteb
	private_networks 10.0.0.0/8 fd00::/8
	member app.example.org 10.0.0.1 2001:db8::a site sitea
	member app.example.org 10.0.1.1 2001:db8::b site siteb
	member alias.example.org lb-1.eu-west-1.elb.amazonaws.com
	member svc.team.apps.example.org 10.0.0.4
	nameserver ns1.example.org 192.0.2.53 2001:db8::53
	nameserver ns2.example.net
}`,
	`gslb example.net {
	ttl 0
	answers 1
	policy weighted
	member big.example.net 10.1.0.1 10.1.0.2 10.1.0.3 10.1.0.4 10.1.0.5 10.1.0.6 10.1.0.7 10.1.0.8 site a
	member big.example.net 2001:db8:1::1 2001:db8:1::2 2001:db8:1::3 site b
	fallthrough
}`,
}

// fuzzAddrs are every address the tables above may answer.
var fuzzAddrs = func() map[string]bool {
	m := map[string]bool{}
	for _, cf := range fuzzServeCorefiles {
		for _, f := range strings.Fields(cf) {
			if ip := net.ParseIP(f); ip != nil {
				m[ip.String()] = true
			}
		}
	}
	return m
}()

// wireSeeds are queries that reach each path: plain, EDNS with and without
// DO, ECS of both families and odd prefixes, malformed ECS, two questions,
// none, an EDNS version the server refuses, ANY, and a truncated packet.
func wireSeeds() [][]byte {
	q := func(name string, qtype uint16, mod func(*dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if mod != nil {
			mod(m)
		}
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		return b
	}
	withECS := func(family uint16, bits uint8, addr string) func(*dns.Msg) {
		return func(m *dns.Msg) {
			m.SetEdns0(1232, true)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: bits, Address: net.ParseIP(addr)}}
		}
	}
	seeds := [][]byte{
		q("app.example.org.", dns.TypeA, nil),
		q("APP.Example.ORG.", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(4096, true) }),
		q("alias.example.org.", dns.TypeA, nil),
		q("example.org.", dns.TypeNS, nil),
		q("example.org.", dns.TypeSOA, nil),
		q("apps.example.org.", dns.TypeA, nil),
		q("nope.example.org.", dns.TypeTXT, nil),
		q("big.example.net.", dns.TypeANY, nil),
		q("big.example.net.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(512, false) }),
		q("outside.test.", dns.TypeA, nil),
		q("app.example.org.", dns.TypeA, withECS(1, 24, "10.26.7.0")),
		q("app.example.org.", dns.TypeA, withECS(1, 32, "10.1.2.3")),
		q("app.example.org.", dns.TypeAAAA, withECS(2, 56, "2001:db8:26::")),
		q("app.example.org.", dns.TypeA, withECS(2, 128, "::ffff:10.0.0.1")),
		q("app.example.org.", dns.TypeA, withECS(0, 0, "0.0.0.0")),
		rawECSQuery(1, 24, 0, 10, 26, 7, 5),    // bits past the prefix
		rawECSQuery(1, 33, 0, 10, 26, 7, 5),    // prefix too long
		rawECSQuery(2, 48, 9, 0x20, 0x01, 0xd), // too few octets, scope set
		q("app.example.org.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }),
		q("app.example.org.", dns.TypeA, func(m *dns.Msg) {
			m.Question = append(m.Question, dns.Question{Name: "big.example.net.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}),
		q("app.example.org.", dns.TypeA, func(m *dns.Msg) { m.Question = nil }),
		q("app.example.org.", dns.TypeA, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }),
	}
	full := q("app.example.org.", dns.TypeA, withECS(1, 24, "10.26.7.0"))
	return append(seeds, full[:len(full)-3], full[:12])
}

// FuzzServeDNS unpacks arbitrary bytes as miekg/dns does for the server
// and hands every message it accepts to ServeDNS. Beyond not panicking:
// a reply is written for every query in the zone, it matches the query
// (id, QR), it packs, a malformed ECS option gets FORMERR, and every
// address answered is one the table holds.
func FuzzServeDNS(f *testing.F) {
	var gs []*GSLB
	for _, cf := range fuzzServeCorefiles {
		gs = append(gs, newTestGSLB(f, cf))
	}
	for _, s := range wireSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if r.Unpack(b) != nil {
			return // CoreDNS's server answers FORMERR itself (TestMalformedECS)
		}
		for _, g := range gs {
			checkServe(t, g, r)
		}
	})
}

func checkServe(t *testing.T, g *GSLB, r *dns.Msg) {
	for _, remote := range []string{"10.26.7.9", "2001:db8:26::9"} {
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: remote})
		rcode, err := g.ServeDNS(context.Background(), rec, r.Copy())
		if err != nil {
			// Only the out-of-zone path with no next plugin errs.
			if rec.Msg != nil {
				t.Fatalf("error %v after writing a reply", err)
			}
			continue
		}
		m := rec.Msg
		if m == nil {
			if rcode == dns.RcodeSuccess {
				t.Fatalf("rcode %d and no reply written", rcode)
			}
			continue
		}
		if m.Id != r.Id || !m.Response {
			t.Fatalf("reply id %d response %v to query id %d", m.Id, m.Response, r.Id)
		}
		if _, err := m.Pack(); err != nil {
			t.Fatalf("reply does not pack: %v\n%v", err, m)
		}
		if e := queryECS(r); e != nil {
			if _, ok := ecsPrefix(e); !ok && m.Rcode != dns.RcodeFormatError {
				t.Fatalf("malformed ECS %v answered %s, want FORMERR", e, dns.RcodeToString[m.Rcode])
			}
		}
		for _, rr := range m.Answer {
			var ip net.IP
			switch v := rr.(type) {
			case *dns.A:
				ip = v.A
			case *dns.AAAA:
				ip = v.AAAA
			}
			if ip != nil && !fuzzAddrs[ip.String()] {
				t.Fatalf("answered %s, which no member has", rr)
			}
		}
	}
}

func queryECS(r *dns.Msg) *dns.EDNS0_SUBNET {
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
				return e
			}
		}
	}
	return nil
}

// FuzzCorefile runs the parser and, when it accepts the stanza, builds the
// plugin from it (which compiles the table): any Corefile is either
// refused with an error or served, never a panic. Stanzas that name
// kubeconfig files, credentials or CA files read whatever path the input
// names; `import` is caddy's and left out.
func FuzzCorefile(f *testing.F) {
	f.Setenv("KUBERNETES_SERVICE_HOST", "")
	for _, cf := range fuzzServeCorefiles {
		f.Add(cf)
	}
	f.Add(exampleCorefile)
	f.Add(topologyCorefile)
	f.Fuzz(func(t *testing.T, corefile string) {
		if strings.Contains(corefile, "import") {
			return
		}
		cfg, err := parse(caddy.NewTestController("dns", corefile))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if len(cfg.clusters) > 0 || cfg.avi != nil || cfg.amko != nil {
			return // building those starts clients; parse was the target
		}
		g, err := newGSLB(cfg)
		if err != nil {
			return
		}
		g.builder.Close()
	})
}
