package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// zoneKey makes the zone's signing key the way the README says, with BIND's
// dnssec-keygen, and writes the trust anchor file delv reads. It returns the
// key's base path (for the dnssec plugin), its .key file (Unbound's trust
// anchor) and delv's anchor file.
func zoneKey(t *testing.T) (base, keyFile, delvAnchor string) {
	t.Helper()
	keygen := tool(t, "dnssec-keygen", "bind9-utils")
	dir := t.TempDir()
	out, err := exec.Command(keygen, "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", dir, strings.TrimSuffix(zone, ".")).Output()
	if err != nil {
		t.Fatalf("dnssec-keygen: %v", err)
	}
	base = filepath.Join(dir, strings.TrimSpace(string(out)))
	keyFile = base + ".key"
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var key *dns.DNSKEY
	for _, line := range strings.Split(string(b), "\n") {
		if rr, err := dns.NewRR(line); err == nil && rr != nil {
			key, _ = rr.(*dns.DNSKEY)
		}
	}
	if key == nil {
		t.Fatalf("no DNSKEY in %s:\n%s", keyFile, b)
	}
	delvAnchor = writeFile(t, dir, "anchor.conf", fmt.Sprintf("trust-anchors {\n\t%q static-key %d %d %d %q;\n};\n",
		key.Hdr.Name, key.Flags, key.Protocol, key.Algorithm, key.PublicKey))
	return base, keyFile, delvAnchor
}

// delv asks coredns through BIND's validating delv, with the zone's key as
// its only trust anchor; it returns delv's output.
func delv(t *testing.T, s *server, anchor, name string, qtype uint16) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	out, err := exec.Command(tool(t, "delv", "bind9-dnsutils"), "@"+host, "-p", port, "-a", anchor, "+root="+strings.TrimSuffix(zone, "."),
		"+nottl", "+noclass", name, dns.TypeToString[qtype]).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "resolution failed") {
		t.Fatalf("delv %s %s: %v\n%s", name, dns.TypeToString[qtype], err, out)
	}
	return string(out)
}

// delvValidated checks that delv fully validated an answer with these
// records (sorted "TYPE DATA" lines; empty for a validated denial).
func delvValidated(t *testing.T, s *server, anchor, name string, qtype uint16, oneOf ...[]string) {
	t.Helper()
	out := delv(t, s, anchor, name, qtype)
	var got []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == dns.Fqdn(name) && f[1] != "RRSIG" {
			got = append(got, strings.Join(f[1:], " "))
		}
	}
	slices.Sort(got)
	if len(oneOf) == 0 {
		if !strings.Contains(out, "; negative response, fully validated") || len(got) != 0 {
			t.Errorf("delv %s %s: want a fully validated denial, got:\n%s", name, dns.TypeToString[qtype], out)
		}
		return
	}
	if !strings.Contains(out, "; fully validated") {
		t.Errorf("delv %s %s: not fully validated:\n%s", name, dns.TypeToString[qtype], out)
		return
	}
	for _, want := range oneOf {
		if slices.Equal(got, want) {
			return
		}
	}
	t.Errorf("delv %s %s: validated %v, want one of %v", name, dns.TypeToString[qtype], got, oneOf)
}

// resolve asks Unbound (recursion desired, DO set, optionally with a client
// subnet) and returns its reply.
func resolve(t *testing.T, addr, name string, qtype uint16, subnet string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	if subnet != "" {
		ip, ipnet, err := net.ParseCIDR(subnet)
		if err != nil {
			t.Fatal(err)
		}
		bits, _ := ipnet.Mask.Size()
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(bits), Address: ip.To4(),
		})
	}
	c := &dns.Client{Timeout: 5 * time.Second}
	var err error
	for range 3 {
		var r *dns.Msg
		if r, _, err = c.Exchange(m, addr); err == nil {
			return r
		}
	}
	t.Fatalf("unbound %s %s: %v", name, dns.TypeToString[qtype], err)
	return nil
}

// unboundValidated checks Unbound's answer is NOERROR with the AD bit (it
// validated the chain from the zone's trust anchor) and the records' data
// are one of oneOf (sorted; none for a denial).
func unboundValidated(t *testing.T, addr, name string, qtype uint16, subnet string, oneOf ...[]string) {
	t.Helper()
	r := resolve(t, addr, name, qtype, subnet)
	var got []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype && dns.CanonicalName(rr.Header().Name) == dns.CanonicalName(name) {
			got = append(got, dns.TypeToString[qtype]+" "+strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	slices.Sort(got)
	what := name + " " + dns.TypeToString[qtype]
	if subnet != "" {
		what += " from " + subnet
	}
	if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
		t.Errorf("unbound %s: want NOERROR with AD (validated), got:\n%v", what, r)
		return
	}
	if len(oneOf) == 0 {
		if len(got) != 0 {
			t.Errorf("unbound %s: want a validated denial, got %v", what, got)
		}
		return
	}
	for _, want := range oneOf {
		if slices.Equal(got, want) {
			return
		}
	}
	t.Errorf("unbound %s: validated %v, want one of %v", what, got, oneOf)
}

// TestDNSSECValidates runs gslb behind CoreDNS's dnssec plugin (a key made
// with dnssec-keygen) for each policy and down response, and has two real
// validators check every kind of answer: BIND's delv with the zone's key as
// trust anchor, and Unbound resolving the zone as a stub zone. Members are
// loopback addresses probed over TCP: app's two sites answer, down's member
// has nothing listening, so down answers its down response.
func TestDNSSECValidates(t *testing.T) {
	const ipA, ipB, ipDown = "127.26.17.21", "127.27.17.21", "127.28.17.21"
	port := freePortOn(t, ipA, ipB, ipDown)
	startMember(t, ipA, port)
	startMember(t, ipB, port)
	base, keyFile, anchor := zoneKey(t)

	app, down, okName := "app."+zone, "down."+zone, "ok."+zone
	a := func(ips ...string) []string {
		out := []string{}
		for _, ip := range ips {
			out = append(out, "A "+ip)
		}
		return out
	}
	both := a(ipA, ipB)
	tests := []struct {
		policy, down string
		// app's acceptable answers, and down's (nil: a validated denial)
		app, downAns [][]string
		servfail     bool
	}{
		{policy: "policy round-robin", down: "down_response fallback 127.0.0.99",
			app: [][]string{both}, downAns: [][]string{a("127.0.0.99")}},
		{policy: "policy weighted\n        weight sitea 3\n        weight siteb 1", down: "down_response empty",
			app: [][]string{a(ipA), a(ipB)}},
		{policy: "policy consistent-hash", down: "down_response cname " + okName,
			app: [][]string{a(ipA), a(ipB)}, downAns: [][]string{{"CNAME " + okName}}},
		{policy: "policy topology\n        topology 127.0.0.0/8 sitea siteb\n        topology 10.0.0.0/8 siteb sitea", down: "down_response all-records",
			app: [][]string{a(ipA)}, downAns: [][]string{a(ipDown)}},
		{policy: "policy round-robin", down: "down_response none", app: [][]string{both}, servfail: true},
	}
	for _, tc := range tests {
		name := strings.Fields(tc.policy)[1] + "/" + strings.Fields(tc.down)[1]
		t.Run(name, func(t *testing.T) {
			body := strings.Join([]string{
				tc.policy, tc.down,
				"health_check tcp " + strconv.Itoa(port),
				"health_interval 500ms",
				"health_targets 127.0.0.0/8",
				"member " + app + " " + ipA + " site sitea",
				"member " + app + " " + ipB + " site siteb",
				"member " + down + " " + ipDown + " site sitea",
				"member " + okName + " " + ipA + " site sitea",
				"nameserver ns1." + zone + " 127.0.0.53",
				"nameserver ns2." + zone + " 127.0.0.54",
			}, "\n        ")
			s := startServer(t, body, "dnssec {\n        key file "+base+"\n    }")
			// The down member leaves the answers once its probes fail;
			// from then on the serial stays (health no longer changes).
			deadline := time.Now().Add(30 * time.Second)
			for s.metric("coredns_gslb_services_down", `zone="`+zone+`"`) != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("%s is not down after 30 s:\n%s", down, s.Log())
				}
				time.Sleep(100 * time.Millisecond)
			}
			s.eventually(down, dns.TypeA, 5*time.Second, downAddrs(tc.downAns, tc.servfail)...)
			ub := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
			_, ubPort, _ := net.SplitHostPort(ub)
			p, _ := strconv.Atoi(ubPort)
			u := startUnbound(t, p, s.addr, keyFile)
			u.waitAnswer(ub, zone, 20*time.Second)

			check := func(name string, qtype uint16, oneOf ...[]string) {
				t.Helper()
				delvValidated(t, s, anchor, name, qtype, oneOf...)
				unboundValidated(t, ub, name, qtype, "", oneOf...)
			}
			// Policies: several queries, each answer validated (a
			// rotation or pick signs a different RRset each time).
			for range 3 {
				check(app, dns.TypeA, tc.app...)
			}
			check(app, dns.TypeAAAA)             // NODATA
			check("nothere."+zone, dns.TypeA)    // NXDOMAIN, as a black lie
			check("nothere."+zone, dns.TypeAAAA) // idem
			check(zone, dns.TypeSOA, []string{"SOA " + soaData(t, s)})
			check(zone, dns.TypeNS, []string{"NS ns1." + zone, "NS ns2." + zone})
			check("ns1."+zone, dns.TypeA, a("127.0.0.53")) // glue
			check(zone, dns.TypeTXT)                       // apex NODATA
			if r := resolve(t, ub, zone, dns.TypeDNSKEY, ""); !r.AuthenticatedData || len(r.Answer) < 2 {
				t.Errorf("unbound DNSKEY: want the validated key and its RRSIG, got:\n%v", r)
			}
			if out := delv(t, s, anchor, zone, dns.TypeDNSKEY); !strings.Contains(out, "; fully validated") {
				t.Errorf("delv DNSKEY: not validated:\n%s", out)
			}

			// The down response.
			switch {
			case tc.servfail:
				// No data to sign: a SERVFAIL, for the resolver
				// to try the other name servers; never bogus.
				if out := delv(t, s, anchor, down, dns.TypeA); !strings.Contains(out, "resolution failed: failure") || strings.Contains(out, "validation") {
					t.Errorf("delv %s with down_response none: want SERVFAIL, got:\n%s", down, out)
				}
				if r := resolve(t, ub, down, dns.TypeA, ""); r.Rcode != dns.RcodeServerFailure {
					t.Errorf("unbound %s with down_response none: want SERVFAIL, got:\n%v", down, r)
				}
			case strings.HasPrefix(tc.down, "down_response cname"):
				delvValidated(t, s, anchor, down, dns.TypeCNAME, tc.downAns...)
				// Unbound follows the alias, validating both links.
				r := resolve(t, ub, down, dns.TypeA, "")
				if !r.AuthenticatedData || len(r.Answer) < 4 {
					t.Errorf("unbound %s A: want the validated CNAME and %s's A, got:\n%v", down, okName, r)
				}
			default:
				check(down, dns.TypeA, tc.downAns...)
			}

			// Topology with a client subnet: Unbound passes the subnet
			// on and validates each site's answer.
			if strings.Contains(tc.policy, "topology") {
				unboundValidated(t, ub, app, dns.TypeA, "10.1.2.0/24", a(ipB))
				unboundValidated(t, ub, app, dns.TypeA, "127.0.0.0/24", a(ipA))
			}
			if strings.Contains(u.Log(), "validation failure") {
				t.Errorf("unbound logged validation failures:\n%s", u.Log())
			}
		})
	}
}

// downAddrs turns the expected down answers into what server.addrs returns.
func downAddrs(ans [][]string, servfail bool) []string {
	if servfail || len(ans) == 0 {
		return nil
	}
	var out []string
	for _, rr := range ans[0] {
		_, data, _ := strings.Cut(rr, " ")
		out = append(out, data)
	}
	return out
}

// soaData is the zone's SOA as delv and Unbound print its data.
func soaData(t *testing.T, s *server) string {
	t.Helper()
	r := s.query(zone, dns.TypeSOA)
	if len(r.Answer) != 1 {
		t.Fatalf("SOA: %v", r)
	}
	return strings.TrimPrefix(r.Answer[0].String(), r.Answer[0].Header().String())
}
