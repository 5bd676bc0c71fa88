package table

import (
	"slices"
	"sync/atomic"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// Result classifies an answer, for the caller's metrics and fallthrough.
type Result uint8

const (
	Success  Result = iota // the name has data of the asked type
	NoData                 // the name exists without data of that type
	NXDomain               // the name does not exist in the zone
	ServFail               // no member is healthy and the down response is none
	numResults
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case NoData:
		return "nodata"
	case ServFail:
		return "servfail"
	default:
		return "nxdomain"
	}
}

// Table is an immutable, compiled view of every served name.
type Table struct {
	// Serial is the SOA serial; it rises whenever the content changes.
	Serial uint32
	// hash identifies the content (records and their health), so that a
	// rebuild from identical inputs keeps the serial and is not published.
	hash  uint64
	zones []*ZoneData // longest name first: the most specific zone wins
	names map[string]*node
	// Warnings are policy conflicts found while compiling (sites that
	// disagree on a service setting), for the builder to log on change.
	Warnings []string
}

// ZoneData is the compiled apex of one zone.
type ZoneData struct {
	Name string
	soa  []dns.RR
	ns   []dns.RR
	glue []dns.RR
	// answers counts lookups by result; resolved at compile time so the hot
	// path pays one atomic add, not a label lookup.
	answers [numResults]counter
	// downNames counts names answering their down response, for a gauge.
	downNames int
}

// Count records the final result of a query in this zone.
func (z *ZoneData) Count(r Result) { z.answers[r].Inc() }

type counter interface{ Inc() }

// node is one owner name. Names that only exist as parents of other names
// (empty non-terminals) have no data at all.
type node struct {
	zone *ZoneData
	apex bool
	// v4, v6 and alias select among the members that may be answered now:
	// the healthy ones of the highest-priority pool, or all of them for
	// the all-records down response.
	v4, v6, alias *policy.Set
	// down is set when no member is healthy; downKind says what to answer
	// and downA/downAAAA/downCNAME hold the fixed records for it.
	down                       bool
	downKind                   model.DownKind
	downA, downAAAA, downCNAME []dns.RR
	next                       atomic.Uint32
}

// Answer is what a lookup produced. Its slices are shared with the table and
// capped (len == cap), so a plugin that appends to them reallocates instead of
// writing into the table; nobody may modify the records themselves.
type Answer struct {
	Zone   *ZoneData
	Result Result
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR
	// Scope is the EDNS Client Subnet scope prefix length the answer is
	// valid for; -1 when it does not depend on the client.
	Scope int
	// Down is set when the answer is the name's down response.
	Down bool
}

// Zone returns the served zone qname falls in, or nil. qname must be lower case.
func (t *Table) Zone(qname string) *ZoneData {
	for _, z := range t.zones {
		if model.InZone(z.Name, qname) {
			return z
		}
	}
	return nil
}

// Lookup answers qname (lower case, inside zone z) for qtype and client c.
func (t *Table) Lookup(z *ZoneData, qname string, qtype uint16, c policy.Client) Answer {
	n, ok := t.names[qname]
	if !ok || n.zone != z {
		// A name of a more specific zone is looked up there; here it does
		// not exist.
		return Answer{Zone: z, Result: NXDomain, Ns: z.soa, Scope: -1}
	}
	rrs, scope, servfail := n.answer(qtype, c)
	switch {
	case servfail:
		return Answer{Zone: z, Result: ServFail, Scope: -1, Down: true}
	case len(rrs) > 0:
		a := Answer{Zone: z, Result: Success, Answer: rrs, Scope: scope, Down: n.down}
		if n.apex && qtype == dns.TypeNS {
			a.Extra = z.glue
		}
		return a
	}
	return Answer{Zone: z, Result: NoData, Ns: z.soa, Scope: scope, Down: n.down}
}

// answer returns the records for qtype; servfail reports the "none" down
// response for address queries.
func (n *node) answer(qtype uint16, c policy.Client) (rrs []dns.RR, scope int, servfail bool) {
	if n.apex {
		switch qtype {
		case dns.TypeSOA, dns.TypeANY:
			return n.zone.soa, -1, false
		case dns.TypeNS:
			return n.zone.ns, -1, false
		}
	}
	address := qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeANY || qtype == dns.TypeCNAME
	if n.down && n.downKind != model.DownAllRecords {
		switch n.downKind {
		case model.DownNone:
			return nil, -1, address
		case model.DownCNAME:
			return n.downCNAME, -1, false
		case model.DownFallback:
			switch qtype {
			case dns.TypeA:
				return n.downA, -1, false
			case dns.TypeAAAA:
				return n.downAAAA, -1, false
			case dns.TypeANY:
				if len(n.downA) > 0 {
					return n.downA, -1, false
				}
				return n.downAAAA, -1, false
			}
		}
		return nil, -1, false // empty: NODATA
	}
	seq := n.next.Add(1)
	if n.alias != nil {
		// A CNAME owner has no other data: every type gets the alias and
		// the resolver follows it (never resolved on our hot path).
		return pick(n.alias, seq, c)
	}
	switch qtype {
	case dns.TypeA:
		return pick(n.v4, seq, c)
	case dns.TypeAAAA:
		return pick(n.v6, seq, c)
	case dns.TypeANY:
		// RFC 8482: answer ANY with one RRset, not everything we have.
		if n.v4 != nil {
			return pick(n.v4, seq, c)
		}
		return pick(n.v6, seq, c)
	}
	return nil, -1, false
}

func pick(s *policy.Set, seq uint32, c policy.Client) ([]dns.RR, int, bool) {
	if s == nil {
		return nil, -1, false
	}
	rrs, scope := s.Pick(seq, c)
	return rrs, scope, false
}

// Names returns the owner names with data, sorted; for tests and debugging.
func (t *Table) Names() []string {
	out := make([]string, 0, len(t.names))
	for name := range t.names {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
