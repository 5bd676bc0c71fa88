package table

import (
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
// model.Store.Records returns them) in one pass. up[i] tells whether
// recs[i]'s member may be answered (health); nil means all are up. Records
// outside every zone are dropped: sources filter already, this keeps the
// table consistent regardless. serial is used as the SOA serial.
//
// The Builder reaches the same table by applying changes name by name
// (update.go); Compile is the reference it is tested against.
func Compile(cfg Config, recs []model.Record, up []bool, serial uint32) *Table {
	zones := compileZones(&cfg, serial)
	gcfg := glueConfig(&cfg)
	t := &Table{Serial: serial, zones: zones, cfg: &cfg, gcfg: gcfg}
	names := newNameEdit(nil)
	for i, z := range zones {
		names.set(z.Name, &node{zone: uint16(i), apex: true})
	}
	for _, name := range nestedParents(zones) {
		if names.get(name) == nil {
			names.set(name, &node{zone: uint16(zoneIndex(zones, name))})
		}
	}

	service := map[string]bool{}
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
		fqdn := recs[i].FQDN
		if zi := zoneIndex(zones, fqdn); zi >= 0 {
			apex := zones[zi].Name == fqdn
			n, warnings := compileService(&cfg, uint16(zi), apex, &input{recs: recs[i:j:j], up: svcUp})
			names.set(fqdn, n)
			service[fqdn] = true
			t.Warnings = append(t.Warnings, warnings...)
			if n.down {
				zones[zi].downNames++
			}
			addParents(names, zones, fqdn, zi)
		}
		i = j
	}
	// Nameserver glue: in-zone name servers answer their addresses, never
	// subject to health or policy, unless a service has the name.
	for name, glue := range glueRecords(&cfg) {
		zi := zoneIndex(zones, name)
		if zi < 0 || service[name] || zones[zi].Name == name {
			continue
		}
		n, _ := compileService(gcfg, uint16(zi), false, &input{recs: glue})
		n.glue = true
		names.set(name, n)
		addParents(names, zones, name, zi)
	}
	t.names = names.done()
	return t
}

// compileZones compiles the apex of every zone, most specific zone first
// so that Zone() finds it before its parent; nodes refer to zones by their
// index in this order, which only depends on the Config.
func compileZones(cfg *Config, serial uint32) []*ZoneData {
	var zones []*ZoneData
	for i := range cfg.Zones {
		zones = append(zones, compileZone(&cfg.Zones[i], uint32(cfg.TTL.V), serial))
	}
	slices.SortStableFunc(zones, func(a, b *ZoneData) int {
		return dns.CountLabel(b.Name) - dns.CountLabel(a.Name)
	})
	return zones
}

// zoneIndex returns the index of the most specific zone holding name, or -1.
func zoneIndex(zones []*ZoneData, name string) int {
	for i, z := range zones {
		if model.InZone(z.Name, name) {
			return i
		}
	}
	return -1
}

// nestedParents returns the names between each zone nested more than one
// label below another and that outer zone: they are empty non-terminals of
// the outer zone, not NXDOMAIN (which would deny the inner zone to RFC 8020
// resolvers). They exist whatever the records say.
func nestedParents(zones []*ZoneData) []string {
	var out []string
	for _, z := range zones {
		off, end := dns.NextLabel(z.Name, 0)
		if end {
			continue
		}
		oi := zoneIndex(zones, z.Name[off:])
		if oi < 0 {
			continue
		}
		for p := range parents(z.Name, zones[oi].Name) {
			out = append(out, p)
		}
	}
	return out
}

// parents yields the names strictly between name and the apex of its zone,
// nearest first.
func parents(name, apex string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
			parent := name[off:]
			if parent == apex || !dns.IsSubDomain(apex, parent) {
				return
			}
			if !yield(parent) {
				return
			}
		}
	}
}

// addParents creates empty non-terminals between name and its zone apex, so
// that they answer NODATA instead of NXDOMAIN (RFC 8020).
func addParents(names *nameEdit, zones []*ZoneData, name string, zi int) {
	for parent := range parents(name, zones[zi].Name) {
		if names.get(parent) != nil {
			return
		}
		names.set(parent, &node{zone: uint16(zi)})
	}
}

// glueRecords returns the addresses of in-zone name servers by name; the
// first zone and entry that name a server win.
func glueRecords(cfg *Config) map[string][]model.Record {
	out := map[string][]model.Record{}
	for i := range cfg.Zones {
		for _, ns := range cfg.Zones[i].NameServers {
			if _, taken := out[ns.Name]; taken || len(ns.Addrs) == 0 {
				continue
			}
			var glue []model.Record
			for _, a := range ns.Addrs {
				glue = append(glue, model.Record{FQDN: ns.Name, Member: model.Member{Addr: a}})
			}
			out[ns.Name] = glue
		}
	}
	return out
}

func glueConfig(cfg *Config) *Config {
	return &Config{Overrides: model.Overrides{TTL: cfg.TTL, Algorithm: model.RoundRobin}}
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
