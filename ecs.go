package gslb

import (
	"context"
	"net"
	"net/netip"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// clientOf returns who the query is for: the EDNS Client Subnet (RFC 7871)
// when the query carries a usable one, else the source address. The option
// is returned so the reply can echo it. No allocation on the plain path.
// ok is false when the option is malformed: the caller answers FORMERR.
func clientOf(w dns.ResponseWriter, r *dns.Msg) (c policy.Client, ecs *dns.EDNS0_SUBNET, ok bool) {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				ecs = e
				break
			}
		}
	}
	if ecs != nil {
		p, valid := ecsPrefix(ecs)
		if !valid {
			return c, ecs, false
		}
		if p.Bits() > 0 {
			return policy.Client{Addr: p.Addr(), Bits: p.Bits()}, ecs, true
		}
	}
	// SOURCE PREFIX-LENGTH 0 means "do not use my subnet" (RFC 7871 7.1.2):
	// answer for the resolver's own address and echo scope 0.
	var ip net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	addr = addr.Unmap()
	return policy.Client{Addr: addr, Bits: addr.BitLen()}, ecs, true
}

// ecsPrefix checks an ECS option as RFC 7871 section 6 asks of a server:
// FAMILY, SOURCE PREFIX-LENGTH and ADDRESS must agree, and no ADDRESS bit
// past the prefix may be set ("SHOULD return FORMERR to reject the
// packet, as a signal to the software developer making the request to fix
// their implementation"). miekg/dns already refuses to unpack an unknown
// family or a prefix longer than the family's address (the server then
// answers FORMERR before any plugin runs); what reaches us is checked for
// the rest. The number of ADDRESS octets on the wire cannot be checked
// here: the unpacked option no longer has it. FAMILY 0 with prefix 0 (what
// dig sends for +subnet=0) is accepted.
func ecsPrefix(e *dns.EDNS0_SUBNET) (netip.Prefix, bool) {
	bits := int(e.SourceNetmask)
	var a netip.Addr
	switch e.Family {
	case 0:
		// No address octets follow a zero prefix (miekg/dns fills in
		// 0.0.0.0).
		return netip.Prefix{}, bits == 0
	case 1:
		ip := e.Address.To4()
		if ip == nil || bits > 32 {
			return netip.Prefix{}, false
		}
		a = netip.AddrFrom4([4]byte(ip))
	case 2:
		if len(e.Address) != net.IPv6len || bits > 128 {
			return netip.Prefix{}, false
		}
		a = netip.AddrFrom16([16]byte(e.Address))
	default:
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, bits)
	if p.Masked().Addr() != a {
		return netip.Prefix{}, false
	}
	return p, true
}

// echoECS adds the client's ECS option to the reply with the scope the
// answer is valid for: the hash mask or topology prefix when the answer
// depends on the client, 0 when it does not (RFC 7871 7.2.1). CoreDNS only
// keeps EDNS options a plugin writes itself, so we write the OPT record.
func echoECS(m, r *dns.Msg, ecs *dns.EDNS0_SUBNET, scope int) {
	if scope < 0 || ecs.SourceNetmask == 0 {
		scope = 0
	}
	reply := &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        ecs.Family,
		SourceNetmask: ecs.SourceNetmask,
		SourceScope:   uint8(scope),
		Address:       ecs.Address,
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	if ro := r.IsEdns0(); ro != nil {
		opt.SetUDPSize(ro.UDPSize())
		if ro.Do() {
			opt.SetDo()
		}
	}
	opt.Option = []dns.EDNS0{reply}
	m.Extra = append(m.Extra, opt)
}

// geoOf reads the client's country and continent codes that the geoip
// plugin (with the metadata plugin) put in the query's context; empty when
// they are not there.
func geoOf(ctx context.Context) (country, continent string) {
	if f := metadata.ValueFunc(ctx, "geoip/country/code"); f != nil {
		country = f()
	}
	if f := metadata.ValueFunc(ctx, "geoip/continent/code"); f != nil {
		continent = f()
	}
	return country, continent
}

// classifyPrivate tells whether client c lies in one of the private
// networks (then it gets members' own addresses rather than their public
// ones), and the ECS scope that verdict holds for: inside, the matching
// network's prefix (the longest when several match); outside, one bit past
// the longest prefix the client shares with any of them, so that no
// address of a private network falls in the scope. A linear pass over a
// few Corefile prefixes, no allocation.
func classifyPrivate(c policy.Client, private []netip.Prefix) (bool, int) {
	inside, scope := false, 0
	for _, p := range private {
		if p.Addr().Is4() != c.Addr.Is4() {
			continue
		}
		if p.Contains(c.Addr) && p.Bits() <= c.Bits {
			if !inside || p.Bits() > scope {
				inside, scope = true, p.Bits()
			}
			continue
		}
		if !inside {
			// Bits past the client's source prefix say nothing.
			scope = max(scope, min(commonBits(c.Addr, p.Addr(), min(p.Bits(), c.Bits))+1, c.Addr.BitLen()))
		}
	}
	return inside, scope
}

// commonBits is how many leading bits a and b share, at most limit.
func commonBits(a, b netip.Addr, limit int) int {
	as, bs := a.As16(), b.As16()
	off := 0
	if a.Is4() {
		off = 12 // the IPv4 bytes of the 16-byte form
	}
	n := 0
	for i := off; i < 16 && n < limit; i++ {
		x := as[i] ^ bs[i]
		if x == 0 {
			n += 8
			continue
		}
		for x&0x80 == 0 {
			n++
			x <<= 1
		}
		break
	}
	return min(n, limit)
}
