package gslb

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// ecs is an EDNS Client Subnet option as a test writes it: "10.1.2.0/24",
// "2001:db8::/56"; family 0 with source 0 is what dig +subnet=0 sends.
type ecs struct {
	family uint16
	prefix string
}

func ecs4(p string) *ecs { return &ecs{1, p} }
func ecs6(p string) *ecs { return &ecs{2, p} }

// wire packs and unpacks m, so the plugin sees what a real query carries
// (ECS addresses truncated to their source prefix, as sent on the wire).
func wire(t *testing.T, m *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("pack %v: %v", m, err)
	}
	out := new(dns.Msg)
	if err := out.Unpack(b); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return out
}

// ecsQuery builds a query with an OPT record (1232 bytes) carrying e, or
// without OPT when e is nil.
func ecsQuery(t *testing.T, qname string, qtype uint16, e *ecs) *dns.Msg {
	t.Helper()
	r := new(dns.Msg)
	r.SetQuestion(qname, qtype)
	if e != nil {
		r.SetEdns0(1232, false)
		p := netip.MustParsePrefix(e.prefix)
		opt := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: e.family, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
		if e.family == 0 {
			opt.Address = nil
		}
		r.IsEdns0().Option = append(r.IsEdns0().Option, opt)
	}
	return wire(t, r)
}

// serve runs one query through the plugin (from remote, the source address
// of the ResponseWriter; "" is its default 10.240.0.1) and returns the reply
// after a trip over the wire.
func serve(t *testing.T, g *GSLB, r *dns.Msg, remote string) *dns.Msg {
	t.Helper()
	rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: remote})
	if _, err := g.ServeDNS(context.Background(), rec, r); err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	if rec.Msg == nil {
		t.Fatal("no reply written")
	}
	return wire(t, rec.Msg)
}

// replyECS returns the reply's ECS option; it fails the test unless the
// reply has exactly one OPT record with exactly one option, an ECS.
func replyECS(t *testing.T, m *dns.Msg) *dns.EDNS0_SUBNET {
	t.Helper()
	var opts []*dns.OPT
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opts = append(opts, o)
		}
	}
	if len(opts) != 1 {
		t.Fatalf("%d OPT records in the reply, want 1: %v", len(opts), m.Extra)
	}
	if len(opts[0].Option) != 1 {
		t.Fatalf("OPT options %v, want exactly one ECS", opts[0].Option)
	}
	e, ok := opts[0].Option[0].(*dns.EDNS0_SUBNET)
	if !ok {
		t.Fatalf("OPT option %T, want ECS", opts[0].Option[0])
	}
	return e
}

// checkECS checks the echoed option: family, source prefix and address as
// the query had them, and the scope.
func checkECS(t *testing.T, m *dns.Msg, e *ecs, scope uint8) {
	t.Helper()
	got := replyECS(t, m)
	p := netip.MustParsePrefix(e.prefix)
	if got.Family != e.family || got.SourceNetmask != uint8(p.Bits()) || got.SourceScope != scope {
		t.Errorf("ECS %s: echoed family %d source /%d scope /%d, want family %d source /%d scope /%d",
			e.prefix, got.Family, got.SourceNetmask, got.SourceScope, e.family, p.Bits(), scope)
	}
	if e.family != 0 {
		a, _ := netip.AddrFromSlice(got.Address)
		if a.Unmap() != p.Masked().Addr() {
			t.Errorf("ECS %s: echoed address %s, want %s", e.prefix, got.Address, p.Masked().Addr())
		}
	}
}

func answerAddrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch x := rr.(type) {
		case *dns.A:
			out = append(out, x.A.String())
		case *dns.AAAA:
			out = append(out, x.AAAA.String())
		default:
			out = append(out, rr.String())
		}
	}
	return out
}

const hashCorefile = `gslb example.org {
	policy consistent-hash
	member app.example.org 10.0.0.1 10.0.0.2 site sitea
	member app.example.org 10.0.1.1 10.0.1.2 site siteb
	member app.example.org 2001:db8::1 2001:db8::2 site sitea
	%s
}`

// TestECSConsistentHash: one member per client subnet, the same for every
// client of the masked subnet (/24, /56 by default), and the scope says so.
func TestECSConsistentHash(t *testing.T) {
	for _, tc := range []struct {
		name         string
		extra        string
		mask4, mask6 int
	}{
		{"default masks", "", 24, 56},
		{"hash_mask 20 48", "hash_mask 20 48", 20, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGSLB(t, fmt.Sprintf(hashCorefile, tc.extra))
			p4 := func(i, j int) string { // /32 host j of subnet i, spread over the mask
				a := uint32(10)<<24 | uint32(i)<<(32-tc.mask4) | uint32(j)
				return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
			}
			p6 := func(i, j int) string {
				b := netip.MustParseAddr("2001:db8:100::").As16()
				// Subnet i in the bits just above the mask, host j in the last byte.
				bit := tc.mask6 - 1
				for k := 0; k < 8; k++ {
					if i>>k&1 == 1 {
						pos := bit - k
						b[pos/8] |= 1 << (7 - pos%8)
					}
				}
				b[15] = byte(j)
				return netip.AddrFrom16(b).String()
			}
			for _, fam := range []struct {
				name   string
				mk     func(i, j int) string
				family uint16
				mask   int
				srcs   []int // source prefix lengths the clients send
			}{
				{"v4", p4, 1, tc.mask4, []int{32, tc.mask4, 28}},
				{"v6", p6, 2, tc.mask6, []int{128, tc.mask6, 64}},
			} {
				t.Run(fam.name, func(t *testing.T) {
					firstOf := map[int]string{}
					for i := 0; i < 16; i++ {
						for j, src := range fam.srcs {
							e := &ecs{fam.family, netip.PrefixFrom(netip.MustParseAddr(fam.mk(i, j+1)), src).Masked().String()}
							for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
								resp := serve(t, g, ecsQuery(t, "app.example.org.", qtype, e), "")
								if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
									t.Fatalf("%s %s: rcode %s answer %v, want one record", e.prefix, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode], resp.Answer)
								}
								checkECS(t, resp, e, uint8(fam.mask))
								if qtype != dns.TypeA {
									continue
								}
								got := answerAddrs(resp)[0]
								if first, ok := firstOf[i]; !ok {
									firstOf[i] = got
								} else if got != first {
									t.Errorf("subnet %d: client %s got %s, an earlier client of the subnet got %s", i, e.prefix, got, first)
								}
							}
						}
					}
					distinct := map[string]bool{}
					for _, a := range firstOf {
						distinct[a] = true
					}
					if len(distinct) < 2 {
						t.Errorf("16 subnets all hashed to %v", distinct)
					}
				})
			}
		})
	}
}

// TestECSScopeZeroWhenClientIndependent: round robin does not depend on the
// client; the option is echoed with scope 0. So do NXDOMAIN and NODATA.
func TestECSScopeZeroWhenClientIndependent(t *testing.T) {
	g := newTestGSLB(t, `gslb example.org {
	member app.example.org 10.0.0.1 10.0.1.1
}`)
	for _, tc := range []struct {
		qname string
		qtype uint16
		rcode int
		n     int
		e     *ecs
	}{
		{"app.example.org.", dns.TypeA, dns.RcodeSuccess, 2, ecs4("192.0.2.0/24")},
		{"app.example.org.", dns.TypeA, dns.RcodeSuccess, 2, ecs6("2001:db8:77::/56")},
		{"app.example.org.", dns.TypeAAAA, dns.RcodeSuccess, 0, ecs4("192.0.2.0/24")},
		{"nothere.example.org.", dns.TypeA, dns.RcodeNameError, 0, ecs4("198.51.100.0/24")},
	} {
		resp := serve(t, g, ecsQuery(t, tc.qname, tc.qtype, tc.e), "")
		if resp.Rcode != tc.rcode || len(resp.Answer) != tc.n || !resp.Authoritative {
			t.Errorf("%s %s: rcode %s, %d records, AA %t; want %s, %d, AA", tc.qname, dns.TypeToString[tc.qtype],
				dns.RcodeToString[resp.Rcode], len(resp.Answer), resp.Authoritative, dns.RcodeToString[tc.rcode], tc.n)
		}
		checkECS(t, resp, tc.e, 0)
	}
}

const topologyCorefile = `gslb example.org {
	policy topology
	topology 10.26.0.0/16 siteb sitea
	topology 10.26.7.0/24 sitea
	topology 2001:db8:26::/48 siteb
	topology 10.27.0.0/16 siteb
	member app.example.org 10.0.0.1 2001:db8::a site sitea
	member app.example.org 10.0.1.1 2001:db8::b site siteb
}`

// TestECSTopology: the client subnet (else the source address) picks the
// preferred site by longest prefix; the scope is the rule's length, or the
// length of a more specific rule inside it (10.26.0.0/16 holds
// 10.26.7.0/24); clients no rule matches get the fallback (round robin:
// every member), with the scope of what we were told, or longer when it
// holds a rule.
func TestECSTopology(t *testing.T) {
	g := newTestGSLB(t, topologyCorefile)
	siteA, siteB := []string{"10.0.0.1"}, []string{"10.0.1.1"}
	all := []string{"10.0.0.1", "10.0.1.1"}
	tests := []struct {
		name   string
		e      *ecs
		remote string
		qtype  uint16
		want   []string
		scope  uint8 // when e != nil
	}{
		{"ECS in a /16 rule", ecs4("10.27.1.0/24"), "192.0.2.1", dns.TypeA, siteB, 16},
		{"ECS host in a /16 rule", ecs4("10.27.200.9/32"), "", dns.TypeA, siteB, 16},
		{"ECS in a /16 rule holding a /24 rule", ecs4("10.26.1.0/24"), "192.0.2.1", dns.TypeA, siteB, 24},
		{"ECS host in a /16 rule holding a /24 rule", ecs4("10.26.200.9/32"), "", dns.TypeA, siteB, 24},
		{"ECS in the more specific /24 rule", ecs4("10.26.7.0/24"), "", dns.TypeA, siteA, 24},
		{"ECS host in the /24 rule", ecs4("10.26.7.200/32"), "10.26.1.1", dns.TypeA, siteA, 24},
		{"ECS v6 in a /48 rule", ecs6("2001:db8:26:1::/56"), "", dns.TypeA, siteB, 48},
		{"ECS v6 in a /48 rule, AAAA", ecs6("2001:db8:26:ff00::/56"), "", dns.TypeAAAA, []string{"2001:db8::b"}, 48},
		{"ECS outside every rule: fallback", ecs4("192.0.2.0/24"), "10.26.1.1", dns.TypeA, all, 24},
		{"ECS v6 outside every rule: fallback", ecs6("2001:db8:27::/56"), "10.26.1.1", dns.TypeA, all, 56},
		{"ECS /8 holding rules: fallback scoped to the longest rule", ecs4("10.0.0.0/8"), "10.26.1.1", dns.TypeA, all, 24},
		{"ECS v6 /32 holding a rule: fallback scoped to it", ecs6("2001:db8::/32"), "", dns.TypeA, all, 48},
		{"ECS source 0: the source address decides, scope 0", ecs4("0.0.0.0/0"), "10.26.1.1", dns.TypeA, siteB, 0},
		{"ECS source 0, family 0 (dig +subnet=0)", &ecs{0, "0.0.0.0/0"}, "10.26.7.5", dns.TypeA, siteA, 0},
		{"ECS v6 source 0", ecs6("::/0"), "10.26.1.1", dns.TypeA, siteB, 0},
		{"no ECS: source address in the /16 rule", nil, "10.26.1.1", dns.TypeA, siteB, 0},
		{"no ECS: source address in the /24 rule", nil, "10.26.7.1", dns.TypeA, siteA, 0},
		{"no ECS: v6 source address", nil, "2001:db8:26::5", dns.TypeA, siteB, 0},
		{"no ECS: v4-mapped source address", nil, "::ffff:10.26.1.1", dns.TypeA, siteB, 0},
		{"no ECS: source outside every rule", nil, "192.0.2.1", dns.TypeA, all, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 3; i++ { // topology picks the same site every time
				resp := serve(t, g, ecsQuery(t, "app.example.org.", tc.qtype, tc.e), tc.remote)
				got := answerAddrs(resp)
				slices.Sort(got)
				if resp.Rcode != dns.RcodeSuccess || !slices.Equal(got, tc.want) {
					t.Fatalf("rcode %s answer %q, want %q", dns.RcodeToString[resp.Rcode], got, tc.want)
				}
				if tc.e != nil {
					checkECS(t, resp, tc.e, tc.scope)
				} else if resp.IsEdns0() != nil || len(resp.Extra) != 0 {
					t.Fatalf("query without OPT got additional records %v", resp.Extra)
				}
			}
		})
	}
}

// TestNoECSNoOPT: without ECS the plugin adds no OPT record of its own,
// whether the query had an OPT or not (the server echoes the query's OPT).
func TestNoECSNoOPT(t *testing.T) {
	g := newTestGSLB(t, topologyCorefile)
	r := new(dns.Msg)
	r.SetQuestion("app.example.org.", dns.TypeA)
	r.SetEdns0(4096, true)
	r = wire(t, r)
	resp := serve(t, g, r, "10.26.1.1")
	if len(resp.Extra) != 0 {
		t.Fatalf("additional section %v, want empty (no ECS to echo)", resp.Extra)
	}
	if got := answerAddrs(resp); !slices.Equal(got, []string{"10.0.1.1"}) {
		t.Fatalf("answer %q, want siteb's", got)
	}
}

// TestECSSurvivesScrubWriter: CoreDNS's server wraps the writer in a
// ScrubWriter, whose SizeAndDo keeps an OPT the plugin wrote (and would
// strip ECS from the query's OPT were it reused): the client must get the
// option, with the buffer size and DO bit of its query.
func TestECSSurvivesScrubWriter(t *testing.T) {
	g := newTestGSLB(t, fmt.Sprintf(hashCorefile, ""))
	for _, tc := range []struct {
		e  *ecs
		do bool
	}{
		{ecs4("192.0.2.0/24"), false},
		{ecs4("192.0.2.0/24"), true},
		{ecs6("2001:db8:aa::/56"), false},
	} {
		r := new(dns.Msg)
		r.SetQuestion("app.example.org.", dns.TypeA)
		r.SetEdns0(1400, tc.do)
		p := netip.MustParsePrefix(tc.e.prefix)
		r.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: tc.e.family, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}}
		r = wire(t, r)
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := g.ServeDNS(context.Background(), request.NewScrubWriter(r, rec), r); err != nil {
			t.Fatal(err)
		}
		resp := wire(t, rec.Msg)
		scope := uint8(24)
		if tc.e.family == 2 {
			scope = 56
		}
		checkECS(t, resp, tc.e, scope)
		opt := resp.IsEdns0()
		if opt.UDPSize() != 1400 || opt.Do() != tc.do {
			t.Errorf("%s: OPT size %d DO %t, want 1400 and %t", tc.e.prefix, opt.UDPSize(), opt.Do(), tc.do)
		}
		if len(resp.Answer) != 1 || resp.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: rcode %s answer %v", tc.e.prefix, dns.RcodeToString[resp.Rcode], resp.Answer)
		}
	}
}

// classifyPrivate: inside a private network the scope is that network's
// prefix; outside, one bit past the longest prefix shared with any of them.
func TestClassifyPrivate(t *testing.T) {
	private := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00::/8")}
	client := func(a string, bits int) policy.Client { return policy.Client{Addr: netip.MustParseAddr(a), Bits: bits} }
	for _, tc := range []struct {
		c         policy.Client
		inside    bool
		wantScope int
	}{
		{client("10.1.2.3", 32), true, 8},
		{client("10.20.3.0", 24), true, 16}, // the longest match
		{client("10.0.0.0", 7), false, 8},   // a source prefix wider than the network: not inside
		{client("192.0.2.1", 32), false, 1}, // 192 and 10 differ in the first bit
		{client("11.0.0.1", 32), false, 8},  // 11 and 10 share 7 bits
		{client("127.0.0.1", 32), false, 2}, // 127 = 0111 1111, 10 = 0000 1010
		{client("fd12::1", 128), true, 8},
		{client("2001:db8::1", 128), false, 1},
	} {
		inside, scope := classifyPrivate(tc.c, private)
		if inside != tc.inside || scope != tc.wantScope {
			t.Errorf("%s/%d: inside %t scope %d, want %t %d", tc.c.Addr, tc.c.Bits, inside, scope, tc.inside, tc.wantScope)
		}
	}
	if inside, scope := classifyPrivate(client("10.1.2.3", 32), nil); inside || scope != 0 {
		t.Errorf("no networks: %t %d", inside, scope)
	}
}

// rawECSQuery is a query for app.example.org A whose OPT carries the ECS
// option exactly as given (family, source prefix, scope, address octets),
// bypassing miekg/dns's packer, which would mask the address.
func rawECSQuery(family uint16, source, scope uint8, addr ...byte) []byte {
	r := new(dns.Msg)
	r.SetQuestion("app.example.org.", dns.TypeA)
	r.SetEdns0(1232, false)
	data := append([]byte{byte(family >> 8), byte(family), source, scope}, addr...)
	r.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: data}}
	b, err := r.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// TestMalformedECS: an ECS option whose family, prefix and address
// disagree is answered FORMERR (RFC 7871 section 6), by whichever layer
// sees it first: miekg/dns's unpacker refuses an unknown family or a
// prefix longer than the address (CoreDNS's server then answers FORMERR
// without calling any plugin; test/e2e checks that through the binary),
// the plugin refuses address bits set past the prefix. Well-formed options
// next to them still get their answer.
func TestMalformedECS(t *testing.T) {
	g := newTestGSLB(t, topologyCorefile)
	tests := []struct {
		name   string
		wire   []byte
		unpack bool // whether miekg/dns unpacks it (else the server answers)
		rcode  int
	}{
		{"v4 bits past the /24 prefix", rawECSQuery(1, 24, 0, 10, 26, 7, 5), true, dns.RcodeFormatError},
		{"v4 /0 with an address", rawECSQuery(1, 0, 0, 10), true, dns.RcodeFormatError},
		{"v4 /25 with the 25th bit and one more", rawECSQuery(1, 25, 0, 10, 26, 7, 0xc0), true, dns.RcodeFormatError},
		{"v6 bits past the /48 prefix", rawECSQuery(2, 48, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0x26, 0, 1), true, dns.RcodeFormatError},
		{"v4 prefix 33", rawECSQuery(1, 33, 0, 10, 26, 7, 5), false, 0},
		{"v6 prefix 129", rawECSQuery(2, 129, 0, 0x20, 1), false, 0},
		{"family 3", rawECSQuery(3, 8, 0, 10), false, 0},
		{"family 0 with a prefix", rawECSQuery(0, 8, 0, 10), false, 0},
		{"option shorter than its header", func() []byte {
			r := new(dns.Msg)
			r.SetQuestion("app.example.org.", dns.TypeA)
			r.SetEdns0(1232, false)
			r.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1}}}
			b, _ := r.Pack()
			return b
		}(), false, 0},
		// Well-formed: the address is zero past the prefix.
		{"v4 /24", rawECSQuery(1, 24, 0, 10, 26, 7), true, dns.RcodeSuccess},
		{"v4 /25", rawECSQuery(1, 25, 0, 10, 26, 7, 0x80), true, dns.RcodeSuccess},
		{"v6 /48", rawECSQuery(2, 48, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0x26), true, dns.RcodeSuccess},
		{"family 0, prefix 0 (dig +subnet=0)", rawECSQuery(0, 0, 0), true, dns.RcodeSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := new(dns.Msg)
			err := r.Unpack(tc.wire)
			if !tc.unpack {
				if err == nil {
					t.Fatalf("miekg/dns unpacked %v: the plugin must refuse it then", r)
				}
				return
			}
			if err != nil {
				t.Fatalf("unpack: %v", err)
			}
			resp := serve(t, g, r, "192.0.2.1")
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s:\n%v", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode], resp)
			}
			if resp.Id != r.Id || len(resp.Question) != 1 || resp.Question[0] != r.Question[0] {
				t.Fatalf("reply does not match the query (id %d, question %v)", resp.Id, resp.Question)
			}
			if tc.rcode == dns.RcodeFormatError {
				if len(resp.Answer) != 0 || resp.IsEdns0() == nil {
					t.Fatalf("FORMERR must carry no answer and an OPT record:\n%v", resp)
				}
				if o := resp.IsEdns0(); len(o.Option) != 0 {
					t.Fatalf("FORMERR echoes options %v, want none", o.Option)
				}
			}
		})
	}
}
