package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rawQuery sends b over UDP and returns the reply, or nil when none comes
// within a second.
func rawQuery(t *testing.T, s *server, b []byte) *dns.Msg {
	t.Helper()
	c, err := net.Dial("udp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return r
}

func packQuery(t *testing.T, mod func(*dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("onlineshop.gslb.sddc.lab.", dns.TypeA)
	if mod != nil {
		mod(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ecsOption sets an ECS option exactly as given, past miekg/dns's packer
// (which would mask the address).
func ecsOption(family uint16, source uint8, addr ...byte) func(*dns.Msg) {
	return func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		data := append([]byte{byte(family >> 8), byte(family), source, 0}, addr...)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: data}}
	}
}

// TestMalformedQueries sends malformed queries to the real binary and
// checks the RFC answer, and which layer gives it: miekg/dns's server
// (FORMERR for QDCOUNT != 1 and for what does not unpack, among it an ECS
// option with an unknown family or a prefix longer than its address;
// nothing at all for a packet shorter than a header), CoreDNS's server
// (BADVERS for EDNS version > 0, RFC 6891 6.1.3) and the plugin (FORMERR
// for an ECS address with bits set past its prefix, RFC 7871 section 6).
// The server answers normally afterwards.
func TestMalformedQueries(t *testing.T) {
	s := startServer(t, gslbBlock())
	full := packQuery(t, nil)
	tests := []struct {
		name  string
		wire  []byte
		rcode int // -1: no reply
	}{
		{"no question (QDCOUNT 0)", packQuery(t, func(m *dns.Msg) { m.Question = nil }), dns.RcodeFormatError},
		{"two questions (QDCOUNT 2)", packQuery(t, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), dns.RcodeFormatError},
		{"EDNS version 1", packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }), dns.RcodeBadVers},
		{"ECS family 3", packQuery(t, ecsOption(3, 24, 198, 51, 100)), dns.RcodeFormatError},
		{"ECS v4 prefix 33", packQuery(t, ecsOption(1, 33, 198, 51, 100, 7, 1)), dns.RcodeFormatError},
		{"ECS v6 prefix 129", packQuery(t, ecsOption(2, 129, 0x20, 0x01)), dns.RcodeFormatError},
		{"ECS family 0 with a prefix", packQuery(t, ecsOption(0, 8, 10)), dns.RcodeFormatError},
		{"ECS address bits past the prefix", packQuery(t, ecsOption(1, 24, 198, 51, 100, 7)), dns.RcodeFormatError},
		{"question cut short", full[:len(full)-3], dns.RcodeFormatError},
		{"shorter than a header", full[:7], -1},
		{"ECS well formed", packQuery(t, ecsOption(1, 24, 198, 51, 100)), dns.RcodeSuccess},
	}
	for _, tc := range tests {
		r := rawQuery(t, s, tc.wire)
		switch {
		case tc.rcode == -1 && r != nil:
			t.Errorf("%s: got a reply (%s), want none (a reply to garbage amplifies)", tc.name, dns.RcodeToString[r.Rcode])
		case tc.rcode == -1:
		case r == nil:
			t.Errorf("%s: no reply, want %s", tc.name, dns.RcodeToString[tc.rcode])
		case r.Rcode != tc.rcode:
			t.Errorf("%s: %s, want %s\n%v", tc.name, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
		case tc.rcode != dns.RcodeSuccess && len(r.Answer) != 0:
			t.Errorf("%s: an error with answers:\n%v", tc.name, r)
		}
	}
	if got := s.addrs("onlineshop.gslb.sddc.lab", dns.TypeA); len(got) != 2 {
		t.Fatalf("after the malformed queries: answer %v, want both sites", got)
	}
}
