package table

import (
	"fmt"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// This file reads a published table for people: the status page lists its
// services, /explain says why a query gets its answer. Nothing here runs on
// the DNS hot path, and nothing here decides anything on its own: services
// are classified by the function compileService compiles from (classify),
// and explanations follow the lookup's own steps (choose, policy.Route).

// Service is one GSLB service as the table serves it now.
type Service struct {
	Name string
	Zone string
	// Glue is set for an in-zone name server's addresses (not a service).
	Glue bool
	// Algorithm, Fallback, HashMask4/6 and Answers are the resolved
	// policy settings; Answers 0 means all (round robin, topology) or one
	// (weighted, consistent hash).
	Algorithm, Fallback  model.Algorithm
	HashMask4, HashMask6 int
	Answers              int
	TTL                  uint32
	// DownResponse is what the name answers when no member is healthy;
	// Down is set while it does.
	DownResponse model.Down
	Down         bool
	// Active is the priority of the pool that answers; -1 when none.
	Active  int
	Members []Member
	// Warnings are the policy conflicts of this name.
	Warnings []string
}

// Member is one member of a service (an address or CNAME target), merged
// over the records that publish it.
type Member struct {
	model.Member
	// Public is the address answered outside the private networks.
	Public           model.Member
	Weight, Priority int
	// Up is set when every record of the member is up.
	Up bool
	// Excluded says why the member is not among the candidates of the
	// answers now; empty when it is.
	Excluded string
	// Records are the records merged into the member, with each one's
	// health verdict, for the health inputs behind Up.
	Records []RecordHealth
}

// RecordHealth is one record of a member and its health verdict.
type RecordHealth struct {
	model.Record
	Up bool
}

// Service returns the service of name (lower case, fully qualified), or
// false when name has no records.
func (t *Table) Service(name string) (Service, bool) {
	n := t.names.get(name)
	if n == nil || n.in == nil {
		return Service{}, false
	}
	return t.service(name, n), true
}

// EachService calls fn with the name of every service and of every name
// server glue name, in no particular order; fn returns false to stop.
func (t *Table) EachService(fn func(name string) bool) {
	for _, shard := range t.names.shards {
		for name, n := range shard {
			if n.in != nil && !fn(name) {
				return
			}
		}
	}
}

func (t *Table) service(name string, n *node) Service {
	cfg := t.cfg
	if n.glue {
		cfg = t.gcfg
	}
	p := classify(cfg, n.in.recs, n.in.up)
	down := p.down
	down.Kind = n.downKind // the apex turns a CNAME down response into NODATA
	s := Service{
		Name: name, Zone: t.zones[n.zone].Name, Glue: n.glue,
		Algorithm: p.settings.Algorithm, Fallback: p.settings.Fallback,
		HashMask4: p.settings.HashMask4, HashMask6: p.settings.HashMask6,
		Answers: p.settings.Answers, TTL: p.ttl,
		DownResponse: down, Down: n.down, Active: p.active,
	}
	s.Warnings = p.warnings
	hasAddr := n.v4 != nil || n.v6 != nil
	for _, m := range p.members {
		v := Member{Member: m.rec.Member, Weight: m.weight, Priority: m.priority, Up: m.up}
		if pub := m.rec.Public; pub.IsValid() {
			v.Public = model.Member{Site: m.rec.Member.Site, Addr: pub}
		}
		v.Excluded = exclusion(m, p.active, n, hasAddr)
		for i, r := range n.in.recs {
			if rrData(r.Member) == rrData(m.rec.Member) {
				v.Records = append(v.Records, RecordHealth{Record: r, Up: n.in.up == nil || n.in.up[i]})
			}
		}
		s.Members = append(s.Members, v)
	}
	return s
}

// exclusion says why member m is not among the candidates of node n, or ""
// when it is. It reads the same fields compileService chose by.
func exclusion(m *member, active int, n *node, hasAddr bool) string {
	switch {
	case m.weight <= 0:
		return "weight 0: the site is drained"
	case m.priority <= 0:
		return "priority 0: never answers"
	case n.down && n.downKind == model.DownAllRecords:
		// Every eligible member answers, healthy or not.
	case n.down:
		return "down; no member is healthy, the name answers its down response (" + model.Down{Kind: n.downKind}.String() + ")"
	case !m.up:
		return "down"
	case m.priority != active:
		return fmt.Sprintf("standby: its pool (priority %d) answers only when no member of pool %d is healthy", m.priority, active)
	}
	if m.rec.Member.IsAlias() && (hasAddr || n.apex) {
		return "CNAME member dropped: the name has addresses or is the zone apex, and a CNAME cannot sit beside other data"
	}
	return ""
}

// Explanation is the decision for one query, step by step.
type Explanation struct {
	// Answer is what Lookup gives this query; the rotation is wound
	// back, so the next query gets it too.
	Answer Answer
	// Service is the name's service; zero Name when the name has none
	// (apex, empty non-terminal, unknown name).
	Service Service
	// Picked is set when the answer is a per-query pick from Candidates
	// by Route; else the answer is fixed (down response, SOA, NS, NODATA).
	Picked     bool
	Candidates []dns.RR
	Route      policy.Route
	// Public is set when the client is outside the private networks and
	// gets members' public addresses.
	Public bool
}

// Explain returns the decision for qname (lower case, inside zone z),
// qtype and client c, through the lookup's own steps (node.answer). It
// reads the name's rotation without turning it, so the next real query
// gets Answer (unless another query comes first).
func (t *Table) Explain(z *ZoneData, qname string, qtype uint16, c policy.Client) Explanation {
	var e Explanation
	n := t.names.get(qname)
	if n == nil || t.zones[n.zone] != z {
		e.Answer = t.Lookup(z, qname, qtype, c) // NXDOMAIN: no rotation
		return e
	}
	rrs, scope, servfail := n.answer(z, qtype, c, &e)
	e.Answer = n.result(z, qtype, rrs, scope, servfail)
	if n.in != nil {
		e.Service = t.service(qname, n)
	}
	return e
}
