package table

import (
	"hash/fnv"
	"net"
	"slices"

	"github.com/gslb/gslb/plugin/model"
	"github.com/miekg/dns"
)

// SOA timers (RFC 1912 recommendations); only secondaries use them.
const (
	soaRefresh = 7200
	soaRetry   = 1800
	soaExpire  = 1209600
)

// Compile builds a table from sorted, de-duplicated records (as
// model.Store.Records returns them). Records outside every zone are dropped:
// sources filter already, this keeps the table consistent regardless.
// serial is used as the SOA serial.
func Compile(cfg Config, recs []model.Record, serial uint32) *Table {
	t := &Table{Serial: serial, hash: contentHash(recs), names: map[string]*node{}}
	for i := range cfg.Zones {
		t.zones = append(t.zones, compileZone(&cfg.Zones[i], cfg.TTL, serial))
	}
	// Most specific zone first, so Zone() finds it before its parent.
	slices.SortStableFunc(t.zones, func(a, b *ZoneData) int {
		return dns.CountLabel(b.Name) - dns.CountLabel(a.Name)
	})

	// Nameserver glue is served like any static member. Clip first: the
	// appends must not write into spare capacity of the caller's slice.
	recs = slices.Clip(recs)
	for i := range cfg.Zones {
		for _, ns := range cfg.Zones[i].NameServers {
			for _, a := range ns.Addrs {
				recs = append(recs, model.Record{FQDN: ns.Name, Member: model.Member{Addr: a}})
			}
		}
	}

	type members struct{ a, aaaa, cname []dns.RR }
	byName := map[string]*members{}
	var order []string
	for _, r := range recs {
		z := t.Zone(r.FQDN)
		if z == nil {
			continue
		}
		m := byName[r.FQDN]
		if m == nil {
			m = &members{}
			byName[r.FQDN] = m
			order = append(order, r.FQDN)
		}
		hdr := dns.RR_Header{Name: r.FQDN, Class: dns.ClassINET, Ttl: cfg.TTL}
		switch {
		case r.Member.IsAlias():
			hdr.Rrtype = dns.TypeCNAME
			m.cname = append(m.cname, &dns.CNAME{Hdr: hdr, Target: r.Member.Target})
		case r.Member.Addr.Is4():
			hdr.Rrtype = dns.TypeA
			m.a = append(m.a, &dns.A{Hdr: hdr, A: net.IP(r.Member.Addr.AsSlice())})
		case r.Member.Addr.IsValid():
			hdr.Rrtype = dns.TypeAAAA
			m.aaaa = append(m.aaaa, &dns.AAAA{Hdr: hdr, AAAA: net.IP(r.Member.Addr.Unmap().AsSlice())})
		}
	}

	for _, z := range t.zones {
		t.names[z.Name] = &node{zone: z, apex: true}
	}
	// A zone nested more than one label below another makes the names in
	// between empty non-terminals of the outer zone, not NXDOMAIN (which
	// would deny the inner zone to RFC 8020 resolvers).
	for _, z := range t.zones {
		if off, end := dns.NextLabel(z.Name, 0); !end {
			if outer := t.Zone(z.Name[off:]); outer != nil {
				t.addParents(z.Name, outer)
			}
		}
	}
	for _, name := range order {
		m := byName[name]
		n := t.nodeFor(name)
		n.a = newRotation(dedupe(m.a), cfg.Answers)
		n.aaaa = newRotation(dedupe(m.aaaa), cfg.Answers)
		// A name with addresses cannot also be an alias (RFC 1034 3.6.2),
		// and the apex never is: addresses win, aliases are dropped.
		if len(m.a)+len(m.aaaa) == 0 && !n.apex {
			n.cname = newRotation(dedupe(m.cname), 1)
		}
		t.addParents(name, n.zone)
	}
	return t
}

func (t *Table) nodeFor(name string) *node {
	if n, ok := t.names[name]; ok {
		return n
	}
	n := &node{zone: t.Zone(name)}
	t.names[name] = n
	return n
}

// addParents creates empty non-terminals between name and its zone apex, so
// that they answer NODATA instead of NXDOMAIN (RFC 8020).
func (t *Table) addParents(name string, z *ZoneData) {
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		parent := name[off:]
		if parent == z.Name || !dns.IsSubDomain(z.Name, parent) {
			return
		}
		if _, ok := t.names[parent]; ok {
			return
		}
		t.names[parent] = &node{zone: z}
	}
}

// dedupe drops records that render the same (two members with one address
// at two sites answer once).
func dedupe(rrs []dns.RR) []dns.RR {
	out := rrs[:0]
	seen := make(map[string]bool, len(rrs))
	for _, rr := range rrs {
		k := rr.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, rr)
		}
	}
	return out[:len(out):len(out)]
}

func compileZone(z *Zone, ttl, serial uint32) *ZoneData {
	zd := &ZoneData{Name: z.Name}
	mname := "ns1." + z.Name
	if len(z.NameServers) > 0 {
		mname = z.NameServers[0].Name
	}
	hostmaster := z.Hostmaster
	if hostmaster == "" {
		hostmaster = "hostmaster." + z.Name
	}
	zd.soa = []dns.RR{&dns.SOA{
		Hdr:     dns.RR_Header{Name: z.Name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      mname,
		Mbox:    hostmaster,
		Serial:  serial,
		Refresh: soaRefresh,
		Retry:   soaRetry,
		Expire:  soaExpire,
		Minttl:  ttl,
	}}
	nameServers := z.NameServers
	if len(nameServers) == 0 {
		nameServers = []NameServer{{Name: mname}}
	}
	for _, ns := range nameServers {
		zd.ns = append(zd.ns, &dns.NS{
			Hdr: dns.RR_Header{Name: z.Name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl},
			Ns:  ns.Name,
		})
		for _, a := range ns.Addrs {
			hdr := dns.RR_Header{Name: ns.Name, Class: dns.ClassINET, Ttl: ttl}
			if a.Is4() {
				hdr.Rrtype = dns.TypeA
				zd.glue = append(zd.glue, &dns.A{Hdr: hdr, A: net.IP(a.AsSlice())})
			} else {
				hdr.Rrtype = dns.TypeAAAA
				zd.glue = append(zd.glue, &dns.AAAA{Hdr: hdr, AAAA: net.IP(a.AsSlice())})
			}
		}
	}
	zd.soa = zd.soa[:1:1]
	zd.ns = zd.ns[:len(zd.ns):len(zd.ns)]
	zd.glue = zd.glue[:len(zd.glue):len(zd.glue)]
	for r := range numResults {
		zd.answers[r] = answersTotal.WithLabelValues(z.Name, r.String())
	}
	return zd
}

func contentHash(recs []model.Record) uint64 {
	h := fnv.New64a()
	for _, r := range recs {
		h.Write([]byte(r.FQDN))
		h.Write([]byte{0})
		h.Write([]byte(r.Member.Site))
		h.Write([]byte{0})
		b, _ := r.Member.Addr.MarshalBinary()
		h.Write(b)
		h.Write([]byte(r.Member.Target))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
