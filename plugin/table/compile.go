package table

import (
	"fmt"
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
// model.Store.Records returns them). up[i] tells whether recs[i]'s member may
// be answered (health); nil means all are up. Records outside every zone are
// dropped: sources filter already, this keeps the table consistent
// regardless. serial is used as the SOA serial.
func Compile(cfg Config, recs []model.Record, up []bool, serial uint32) *Table {
	t := &Table{Serial: serial, hash: contentHash(recs, up), names: map[string]*node{}}
	for i := range cfg.Zones {
		t.zones = append(t.zones, compileZone(&cfg.Zones[i], uint32(cfg.TTL.V), serial))
	}
	// Most specific zone first, so Zone() finds it before its parent.
	slices.SortStableFunc(t.zones, func(a, b *ZoneData) int {
		return dns.CountLabel(b.Name) - dns.CountLabel(a.Name)
	})
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

	// Records arrive sorted by name: compile one service per run.
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].FQDN == recs[i].FQDN {
			j++
		}
		var svcUp []bool
		if up != nil {
			svcUp = up[i:j]
		}
		t.addService(&cfg, recs[i:j], svcUp)
		i = j
	}
	// Nameserver glue: in-zone name servers answer their addresses, never
	// subject to health or policy.
	for i := range cfg.Zones {
		for _, ns := range cfg.Zones[i].NameServers {
			var glue []model.Record
			for _, a := range ns.Addrs {
				glue = append(glue, model.Record{FQDN: ns.Name, Member: model.Member{Addr: a}})
			}
			if len(glue) > 0 {
				if _, taken := t.names[ns.Name]; !taken {
					t.addService(&Config{Overrides: model.Overrides{TTL: cfg.TTL, Algorithm: model.RoundRobin}}, glue, nil)
				}
			}
		}
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

func contentHash(recs []model.Record, up []bool) uint64 {
	h := fnv.New64a()
	for i, r := range recs {
		if up != nil && !up[i] {
			h.Write([]byte{1})
		}
		h.Write([]byte(r.FQDN))
		h.Write([]byte{0})
		h.Write([]byte(r.Member.Site))
		h.Write([]byte{0})
		b, _ := r.Member.Addr.MarshalBinary()
		h.Write(b)
		h.Write([]byte(r.Member.Target))
		h.Write([]byte{0})
		fmt.Fprint(h, r.Check, r.Overrides, r.SourceDown)
	}
	return h.Sum64()
}
