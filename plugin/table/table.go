package table

import (
	"sync/atomic"
	"time"

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
	zones  []*ZoneData // longest name first: the most specific zone wins
	// names holds every owner name; tables of one builder share the
	// shards no change touched (see the package doc).
	names *nameMap
	// Warnings are policy conflicts found while compiling (sites that
	// disagree on a service setting), for the builder to log on change.
	Warnings []string
	// Built is when the builder published the table (zero for Compile).
	Built time.Time
	// cfg and gcfg are what services and glue compiled with, for
	// explanations (see explain.go).
	cfg, gcfg *Config
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
// (empty non-terminals) have no data at all. A node never changes once
// published (bar its rotation counter), so tables share unchanged nodes.
type node struct {
	// zone indexes Table.zones. An index, not a pointer: every table has
	// its own ZoneData (its SOA carries the serial), while nodes outlive
	// the table that compiled them.
	zone uint16
	apex bool
	glue bool // in-zone name server addresses, not a service
	// down is set when no member is healthy; downKind says what to answer
	// and fixed holds the fixed records for it (nil for most names).
	down     bool
	downKind model.DownKind
	next     atomic.Uint32
	// v4, v6 and alias select among the members that may be answered now:
	// the healthy ones of the highest-priority pool, or all of them for
	// the all-records down response.
	v4, v6, alias *policy.Set
	// pub4 and pub6 are v4 and v6 with members' public addresses (NAT),
	// for clients outside the private networks; nil when no member of
	// that family has one.
	pub4, pub6 *policy.Set
	fixed      *downRecords
	// in is what the node compiled from (nil for apexes and empty
	// non-terminals without records): explanations classify it again.
	in *input
}

// downRecords are the fixed records of the fallback and cname down
// responses.
type downRecords struct {
	a, aaaa, cname []dns.RR
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
	n := t.names.get(qname)
	if n == nil || t.zones[n.zone] != z {
		// A name of a more specific zone is looked up there; here it does
		// not exist.
		return Answer{Zone: z, Result: NXDomain, Ns: z.soa, Scope: -1}
	}
	rrs, scope, servfail := n.answer(z, qtype, c, nil)
	return n.result(z, qtype, rrs, scope, servfail)
}

// result classifies what answer returned.
func (n *node) result(z *ZoneData, qtype uint16, rrs []dns.RR, scope int, servfail bool) Answer {
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
// response for address queries. ex, when not nil, is told how the answer
// was picked (Explain); ServeDNS passes nil and pays one comparison.
func (n *node) answer(z *ZoneData, qtype uint16, c policy.Client, ex *Explanation) (rrs []dns.RR, scope int, servfail bool) {
	if n.apex {
		switch qtype {
		case dns.TypeSOA, dns.TypeANY:
			return z.soa, -1, false
		case dns.TypeNS:
			return z.ns, -1, false
		}
	}
	address := qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeANY || qtype == dns.TypeCNAME
	if n.down && n.downKind != model.DownAllRecords {
		switch n.downKind {
		case model.DownNone:
			return nil, -1, address
		case model.DownCNAME:
			return n.fixed.cname, -1, false
		case model.DownFallback:
			switch qtype {
			case dns.TypeA:
				return n.fixed.a, -1, false
			case dns.TypeAAAA:
				return n.fixed.aaaa, -1, false
			case dns.TypeANY:
				if len(n.fixed.a) > 0 {
					return n.fixed.a, -1, false
				}
				return n.fixed.aaaa, -1, false
			}
		}
		return nil, -1, false // empty: NODATA
	}
	// Explain reads the turn the next query would take and leaves the
	// rotation alone.
	var seq uint32
	if ex == nil {
		seq = n.next.Add(1)
	} else {
		seq = n.next.Load() + 1
	}
	if n.alias != nil {
		// A CNAME owner has no other data: every type gets the alias and
		// the resolver follows it (never resolved on our hot path).
		if ex != nil {
			ex.picked(n.alias, c)
		}
		return pick(n.alias, seq, c)
	}
	v4, v6 := n.v4, n.v6
	if n.pub4 != nil || n.pub6 != nil {
		// The answer depends on whether the client is in a private
		// network: members behind NAT answer their public address
		// outside them.
		if !c.Private {
			if ex != nil {
				ex.Public = true
			}
			if n.pub4 != nil {
				v4 = n.pub4
			}
			if n.pub6 != nil {
				v6 = n.pub6
			}
		}
		set := addressSet(v4, v6, qtype)
		if ex != nil && set != nil {
			ex.picked(set, c)
		}
		rrs, scope, servfail = pick(set, seq, c)
		return rrs, max(scope, c.PrivateScope), servfail
	}
	set := addressSet(v4, v6, qtype)
	if ex != nil && set != nil {
		ex.picked(set, c)
	}
	return pick(set, seq, c)
}

// addressSet is the address set that answers qtype.
func addressSet(v4, v6 *policy.Set, qtype uint16) *policy.Set {
	switch qtype {
	case dns.TypeA:
		return v4
	case dns.TypeAAAA:
		return v6
	case dns.TypeANY:
		// RFC 8482: answer ANY with one RRset, not everything we have.
		if v4 != nil {
			return v4
		}
		return v6
	}
	return nil
}

func pick(s *policy.Set, seq uint32, c policy.Client) ([]dns.RR, int, bool) {
	if s == nil {
		return nil, -1, false
	}
	rrs, scope := s.Pick(seq, c)
	return rrs, scope, false
}

// picked notes the set a lookup picks from (the hook of node.answer).
func (e *Explanation) picked(s *policy.Set, c policy.Client) {
	e.Picked = true
	e.Candidates = s.All()
	e.Route = s.Explain(c)
}

// Names returns every owner name (with data, or empty non-terminals),
// sorted; for tests, debugging and zone walks.
func (t *Table) Names() []string { return t.names.sorted() }

// Len is the number of owner names.
func (t *Table) Len() int { return t.names.len() }
