package gslb

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/coredns/coredns/plugin/dnssec"
	"github.com/coredns/coredns/plugin/pkg/cache"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// writeKey generates an ECDSA P-256 key for zone and writes it as
// dnssec-keygen does (Kzone.+013+tag.key and .private); it returns the key.
func writeKey(t *testing.T, dir, zone string, flags uint16) (*dns.DNSKEY, string) {
	t.Helper()
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     flags,
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := k.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, fmt.Sprintf("K%s+%03d+%05d", zone, k.Algorithm, k.KeyTag()))
	if err := os.WriteFile(base+".key", []byte(k.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".private", []byte(k.PrivateKeyString(priv)), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, base
}

// verifySection checks every RRSIG of a section against key over the RRset
// it covers, and that every RRset of the zone in it is signed.
func verifySection(t *testing.T, what string, rrs []dns.RR, key *dns.DNSKEY) {
	t.Helper()
	type set struct {
		name  string
		rtype uint16
	}
	sets := map[set][]dns.RR{}
	var sigs []*dns.RRSIG
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.RRSIG:
			sigs = append(sigs, v)
		case *dns.OPT:
		default:
			k := set{dns.CanonicalName(rr.Header().Name), rr.Header().Rrtype}
			sets[k] = append(sets[k], rr)
		}
	}
	signed := map[set]bool{}
	for _, sig := range sigs {
		k := set{dns.CanonicalName(sig.Hdr.Name), sig.TypeCovered}
		if err := sig.Verify(key, sets[k]); err != nil {
			t.Errorf("%s: RRSIG over %s %s does not verify: %v", what, k.name, dns.TypeToString[k.rtype], err)
		}
		signed[k] = true
	}
	for k := range sets {
		if !signed[k] {
			t.Errorf("%s: %s %s is not signed", what, k.name, dns.TypeToString[k.rtype])
		}
	}
}

// TestBehindDNSSEC runs gslb behind CoreDNS's dnssec plugin in process: every
// kind of answer comes back signed and verifiable, denial carries the NSEC
// black lie (which needs exactly the SOA in the authority section), and the
// signer's appends never reach the table's shared slices.
func TestBehindDNSSEC(t *testing.T) {
	g := newTestGSLB(t, exampleCorefile)
	key, base := writeKey(t, t.TempDir(), "example.org.", 257)
	k, err := dnssec.ParseKeyFile(base+".key", base+".private")
	if err != nil {
		t.Fatal(err)
	}
	d := dnssec.New([]string{"example.org."}, []*dnssec.DNSKEY{k}, false, g, cache.New[[]dns.RR](1000))

	ask := func(qname string, qtype uint16, ecs *dns.EDNS0_SUBNET) *dns.Msg {
		t.Helper()
		r := new(dns.Msg)
		r.SetQuestion(qname, qtype)
		r.SetEdns0(1232, true)
		if ecs != nil {
			r.IsEdns0().Option = append(r.IsEdns0().Option, ecs)
		}
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := d.ServeDNS(context.Background(), rec, r); err != nil {
			t.Fatalf("%s %s: %v", qname, dns.TypeToString[qtype], err)
		}
		return rec.Msg
	}
	nsecOf := func(m *dns.Msg) *dns.NSEC {
		for _, rr := range m.Ns {
			if n, ok := rr.(*dns.NSEC); ok {
				return n
			}
		}
		return nil
	}

	// Positive answers, over several rotations, and with a client subnet.
	for i := range 3 {
		m := ask("app.example.org.", dns.TypeA, nil)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 4 {
			t.Fatalf("app A (query %d): want 3 A and their RRSIG, got:\n%v", i, m)
		}
		verifySection(t, "app A", m.Answer, key)
	}
	ecs := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0").To4()}
	m := ask("app.example.org.", dns.TypeA, ecs)
	verifySection(t, "app A with ECS", m.Answer, key)
	if o := m.IsEdns0(); o == nil || !o.Do() || len(o.Option) != 1 {
		t.Errorf("app A with ECS: want the echoed option and the DO bit, got:\n%v", m)
	}
	m = ask("alias.example.org.", dns.TypeA, nil)
	verifySection(t, "alias A", m.Answer, key)

	// Apex: SOA, and NS with the in-zone name server's signed addresses.
	m = ask("example.org.", dns.TypeSOA, nil)
	verifySection(t, "apex SOA", m.Answer, key)
	m = ask("example.org.", dns.TypeNS, nil)
	verifySection(t, "apex NS", m.Answer, key)
	verifySection(t, "apex NS glue", m.Extra, key)
	if len(m.Extra) != 4 { // A, AAAA and their RRSIGs
		t.Errorf("apex NS: want signed glue A and AAAA, got:\n%v", m)
	}
	m = ask("example.org.", dns.TypeDNSKEY, nil)
	verifySection(t, "DNSKEY", m.Answer, key)

	// Denial: NXDOMAIN and NODATA both become a signed NODATA with an NSEC
	// for the name itself that lacks the asked type.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"nothere.example.org.", dns.TypeA}, {"v6.example.org.", dns.TypeA}, {"apps.example.org.", dns.TypeA}, {"example.org.", dns.TypeTXT}} {
		m := ask(q.name, q.qtype, nil)
		n := nsecOf(m)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || n == nil || n.Hdr.Name != q.name || slices.Contains(n.TypeBitMap, q.qtype) {
			t.Errorf("%s %s: want NOERROR, empty answer and an NSEC for the name without the type, got:\n%v", q.name, dns.TypeToString[q.qtype], m)
			continue
		}
		verifySection(t, q.name+" denial", m.Ns, key)
	}

	// The table is untouched: an unsigned query gets the plain answer.
	plain, _ := query(t, g, &test.ResponseWriter{}, "nothere.example.org.", dns.TypeA)
	if plain.Rcode != dns.RcodeNameError || len(plain.Ns) != 1 {
		t.Errorf("after signing, an unsigned NXDOMAIN must carry the SOA alone, got:\n%v", plain)
	}
	plain, _ = query(t, g, &test.ResponseWriter{}, "app.example.org.", dns.TypeA)
	if len(plain.Answer) != 3 {
		t.Errorf("after signing, an unsigned answer must carry 3 A alone, got:\n%v", plain)
	}
}
