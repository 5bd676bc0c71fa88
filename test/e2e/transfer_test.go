package e2e

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
)

// axfr transfers the zone from addr over TCP from the local address from
// (127.0.0.1 or another loopback address); it returns the records, or the
// error (a refusal shows as one).
func axfr(t *testing.T, addr, from string, qtype uint16, serial uint32) ([]dns.RR, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, qtype)
	if qtype == dns.TypeIXFR {
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: ".", Mbox: ".", Serial: serial}}
	}
	conn, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: conn}, ReadTimeout: 10 * time.Second}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			return rrs, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

// secondaryAddrs asks a secondary for name's A records, sorted.
func secondaryAddrs(t *testing.T, addr, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.RecursionDesired = false
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestTransferToSecondaries serves the lab's zone to two real secondaries,
// BIND and NSD, through the transfer plugin: they pull it at start, get a
// NOTIFY when an Ingress changes in a member cluster, pull again and answer
// the new data. Transfers from an address the plugin does not allow are
// refused.
func TestTransferToSecondaries(t *testing.T) {
	namedPort, nsdPort := freePort(t), freePort(t)
	namedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(namedPort))
	nsdAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(nsdPort))
	s := startServer(t, gslbBlock(), "transfer {\n        to "+namedAddr+" "+nsdAddr+"\n    }")
	s.eventually("onlineshop."+zone, dns.TypeA, updateBound, "172.26.17.21", "172.27.17.21")

	// Our own transfer: the SOA first and last with the serial queries
	// see, the NS and glue, the onlineshop with both sites.
	rrs, err := axfr(t, s.addr, "127.0.0.1", dns.TypeAXFR, 0)
	if err != nil {
		t.Fatalf("AXFR from 127.0.0.1: %v", err)
	}
	serial := s.query(zone, dns.TypeSOA).Answer[0].(*dns.SOA).Serial
	text := make([]string, len(rrs))
	for i, rr := range rrs {
		text[i] = strings.Join(strings.Fields(rr.String()), " ")
	}
	all := strings.Join(text, "\n")
	first, last := rrs[0].(*dns.SOA), rrs[len(rrs)-1].(*dns.SOA)
	if first.Serial != serial || last.Serial != serial {
		t.Errorf("AXFR framed by serials %d and %d, the zone's is %d", first.Serial, last.Serial, serial)
	}
	for _, want := range []string{
		"gslb.sddc.lab. 30 IN NS ns1.gslb.sddc.lab.",
		"ns1.gslb.sddc.lab. 30 IN A 127.0.0.53",
		"onlineshop.gslb.sddc.lab. 30 IN A 172.26.17.21",
		"onlineshop.gslb.sddc.lab. 30 IN A 172.27.17.21",
	} {
		if !slices.Contains(text, want) {
			t.Errorf("AXFR lacks %q:\n%s", want, all)
		}
	}
	// IXFR from our serial: the SOA alone (up to date).
	if rrs, err := axfr(t, s.addr, "127.0.0.1", dns.TypeIXFR, serial); err != nil || len(rrs) != 1 {
		t.Errorf("IXFR from the current serial: want the SOA alone, got %v, %v", rrs, err)
	}
	// From an address the transfer plugin does not list: REFUSED.
	if rrs, err := axfr(t, s.addr, "127.0.0.2", dns.TypeAXFR, 0); err == nil || !strings.Contains(err.Error(), "REFUSED") && !strings.Contains(err.Error(), "bad xfr rcode: 5") {
		t.Errorf("AXFR from 127.0.0.2: want REFUSED, got %d records, err %v", len(rrs), err)
	}

	named := startNamed(t, namedPort, s.addr)
	nsd := startNSD(t, nsdPort, s.addr)
	named.waitAnswer(namedAddr, zone, 30*time.Second)
	nsd.waitAnswer(nsdAddr, zone, 30*time.Second)
	for _, sec := range []struct {
		d    *daemon
		addr string
	}{{named, namedAddr}, {nsd, nsdAddr}} {
		if got := secondaryAddrs(t, sec.addr, "onlineshop."+zone); !slices.Equal(got, []string{"172.26.17.21", "172.27.17.21"}) {
			t.Errorf("%s answers onlineshop with %v, want both sites' VIPs", sec.d.name, got)
		}
	}

	// A new Ingress: a new serial, a NOTIFY, and both secondaries answer
	// it long before their refresh timer (2 h) would have asked.
	ns := namespace(t, "xfr")
	host := ns + ".gslb.sddc.lab"
	begin := time.Now()
	ingress(t, 0, ns, "web", lab.GSLBLabels(), []string{host}, []string{"172.26.17.40"}, nil)
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.40")
	const notifyBound = 60 * time.Second
	for _, sec := range []struct {
		d    *daemon
		addr string
	}{{named, namedAddr}, {nsd, nsdAddr}} {
		var got []string
		for time.Since(begin) < notifyBound {
			if got = secondaryAddrs(t, sec.addr, host); slices.Equal(got, []string{"172.26.17.40"}) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !slices.Equal(got, []string{"172.26.17.40"}) {
			t.Errorf("%s still answers %s with %v %s after the Ingress appeared", sec.d.name, host, got, notifyBound)
			continue
		}
		t.Logf("%s answers the new Ingress %.1f s after it was created", sec.d.name, time.Since(begin).Seconds())
	}
	if l := named.Log(); !strings.Contains(l, "notify from 127.0.0.1") {
		t.Errorf("named logged no NOTIFY from gslb:\n%s", l)
	}
	if l := nsd.Log(); !strings.Contains(strings.ToLower(l), "notify") {
		t.Errorf("nsd logged no NOTIFY from gslb:\n%s", l)
	}
}
