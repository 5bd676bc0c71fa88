package table

import (
	"net"
	"strings"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// member is one (site, address or target) of a service, merged over the
// records (objects) that publish it.
type member struct {
	rec      model.Record // the first record: its overrides and check win
	up       bool         // every record of this member is up
	weight   int
	priority int
}

// compileService compiles the inputs of one name (records all with the
// same FQDN) in zone zi into its node, with the policy warnings it raises.
// It reads nothing but its arguments, so a name compiles the same in a full
// build and in an incremental one. The node keeps in, for explanations.
func compileService(cfg *Config, zi uint16, apex bool, in *input) (*node, []string) {
	recs := in.recs
	fqdn := recs[0].FQDN
	p := classify(cfg, recs, in.up)
	settings, ttl, down, warnings := p.settings, p.ttl, p.down, p.warnings
	for i, c := range warnings {
		warnings[i] = fqdn + ": " + c
	}
	eligible, active := p.eligible, p.active
	var chosen []*member
	for _, m := range eligible {
		if m.up && m.priority == active {
			chosen = append(chosen, m)
		}
	}

	n := &node{zone: zi, apex: apex, in: in}
	if down.Kind == model.DownCNAME && apex {
		// A CNAME cannot sit beside the apex SOA and NS (RFC 1034 3.6.2),
		// just as apex aliases are dropped: answer empty instead.
		warnings = append(warnings, fqdn+": down response "+down.String()+" cannot apply at the zone apex; it answers empty (NODATA) instead")
		down = model.Down{Kind: model.DownEmpty}
	}
	n.down = active < 0
	n.downKind = down.Kind
	if n.down {
		switch down.Kind {
		case model.DownAllRecords:
			// Every eligible member, healthy or not: better a
			// maybe-dead VIP than no answer, for clients that retry.
			// Drained and priority-0 members still never answer.
			chosen = eligible
		case model.DownFallback:
			n.fixed = &downRecords{}
			if down.V4.IsValid() {
				n.fixed.a = capped(newRR(fqdn, ttl, model.Member{Addr: down.V4}))
			}
			if down.V6.IsValid() {
				n.fixed.aaaa = capped(newRR(fqdn, ttl, model.Member{Addr: down.V6}))
			}
		case model.DownCNAME:
			n.fixed = &downRecords{cname: capped(newRR(fqdn, ttl, model.Member{Target: down.Target}))}
		}
	}

	var v4, v6, alias, pub4, pub6 []policy.Candidate
	public4, public6 := false, false
	for _, m := range chosen {
		rr := newRR(fqdn, ttl, m.rec.Member)
		c := policy.Candidate{RR: rr, Site: m.rec.Member.Site, Weight: max(m.weight, 1)}
		// The public twin: the same candidate with the public address
		// (or its own when it has none), in the same order, so that a
		// hash or rotation picks the same member either way.
		p := c
		if pub := m.rec.Public; pub.IsValid() && pub.Is4() == m.rec.Member.Addr.Is4() && !m.rec.Member.IsAlias() {
			p.RR = newRR(fqdn, ttl, model.Member{Site: m.rec.Member.Site, Addr: pub})
			public4, public6 = public4 || pub.Is4(), public6 || !pub.Is4()
		}
		switch {
		case m.rec.Member.IsAlias():
			alias = append(alias, c)
		case m.rec.Member.Addr.Is4():
			v4, pub4 = append(v4, c), append(pub4, p)
		default:
			v6, pub6 = append(v6, c), append(pub6, p)
		}
	}
	if len(v4) > 0 {
		n.v4 = policy.NewSet(settings, v4)
		if public4 {
			n.pub4 = policy.NewSet(settings, pub4)
		}
	}
	if len(v6) > 0 {
		n.v6 = policy.NewSet(settings, v6)
		if public6 {
			n.pub6 = policy.NewSet(settings, pub6)
		}
	}
	// A name with addresses cannot also be an alias (RFC 1034 3.6.2), and
	// the apex never is: addresses win, aliases are dropped.
	if len(alias) > 0 && len(v4)+len(v6) == 0 && !apex {
		one := settings
		one.Answers = 1
		n.alias = policy.NewSet(one, alias)
	}
	return n, warnings
}

// pools is how a service's members divide before any query: merged
// members with their weight and priority, the eligible ones (neither
// drained nor priority 0), and the active pool (the highest priority with a
// healthy eligible member; -1 when none is healthy).
type pools struct {
	members  []*member
	eligible []*member
	active   int
	settings policy.Settings
	ttl      uint32
	down     model.Down
	warnings []string
}

// classify is the part of the decision that does not depend on the query:
// compileService compiles from it and explanations read it, so both agree.
func classify(cfg *Config, recs []model.Record, up []bool) pools {
	var p pools
	p.members = mergeMembers(recs, up)
	p.settings, p.ttl, p.down, p.warnings = resolveSettings(cfg, p.members)
	for _, m := range p.members {
		m.weight = m.rec.Overrides.Weight.Or(cfg.weight(m.rec.Member.Site))
		m.priority = m.rec.Overrides.Priority.Or(cfg.priority(m.rec.Member.Site))
		if m.eligible() {
			p.eligible = append(p.eligible, m)
		}
	}
	// The highest-priority pool with a healthy member answers.
	p.active = -1
	for _, m := range p.eligible {
		if m.up && m.priority > p.active {
			p.active = m.priority
		}
	}
	return p
}

// eligible: weight 0 drains a site; priority 0 never answers (AMKO).
func (m *member) eligible() bool { return m.weight > 0 && m.priority > 0 }

// mergeMembers folds the records of one address (or CNAME target) into one
// member, whichever objects and sources published it: an address answers
// once, the first record (alphabetically first site) gives its site and
// overrides, and it is up only when every record says so (every probe and
// every source verdict, e.g. Avi's oper status, passes).
func mergeMembers(recs []model.Record, up []bool) []*member {
	var out []*member
	byData := map[string]*member{}
	for i, r := range recs {
		isUp := up == nil || up[i]
		key := rrData(r.Member)
		if m, ok := byData[key]; ok {
			m.up = m.up && isUp
			continue
		}
		m := &member{rec: r, up: isUp}
		byData[key] = m
		out = append(out, m)
	}
	return out
}

// resolveSettings applies the members' settings over the Corefile defaults
// (model.Resolve) and turns them into what the policy and the records need.
func resolveSettings(cfg *Config, members []*member) (policy.Settings, uint32, model.Down, []string) {
	layers := make([]model.SiteOverrides, len(members))
	for i, m := range members {
		layers[i] = model.SiteOverrides{Site: m.rec.Member.Site, Overrides: m.rec.Overrides}
	}
	o, conflicts := model.Resolve(cfg.Overrides, layers)
	s := policy.Settings{
		Algorithm: o.Algorithm,
		Fallback:  o.Fallback,
		HashMask4: o.HashMask4.V,
		HashMask6: o.HashMask6.V,
		Answers:   o.Answers.V,
		Topology:  cfg.Topology,
	}
	if s.Algorithm == model.AlgorithmUnset {
		s.Algorithm = model.RoundRobin
	}
	down := o.Down
	if down.Kind == model.DownUnset {
		down.Kind = model.DownNone
	}
	return s, uint32(o.TTL.V), down, conflicts
}

func newRR(name string, ttl uint32, m model.Member) dns.RR {
	hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ttl}
	switch {
	case m.IsAlias():
		hdr.Rrtype = dns.TypeCNAME
		return &dns.CNAME{Hdr: hdr, Target: m.Target}
	case m.Addr.Is4():
		hdr.Rrtype = dns.TypeA
		return &dns.A{Hdr: hdr, A: net.IP(m.Addr.AsSlice())}
	default:
		hdr.Rrtype = dns.TypeAAAA
		return &dns.AAAA{Hdr: hdr, AAAA: net.IP(m.Addr.AsSlice())}
	}
}

func rrData(m model.Member) string {
	if m.IsAlias() {
		return m.Target
	}
	return m.Addr.String()
}

func capped(rr dns.RR) []dns.RR { return []dns.RR{rr}[:1:1] }

// joinWarnings renders policy warnings as one string, to log them only when they change.
func joinWarnings(ws []string) string { return strings.Join(ws, "\n") }
