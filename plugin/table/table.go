package table

import (
	"slices"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Result classifies an answer, for the caller's metrics and fallthrough.
type Result uint8

const (
	Success  Result = iota // the name has data of the asked type
	NoData                 // the name exists without data of that type
	NXDomain               // the name does not exist in the zone
	numResults
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case NoData:
		return "nodata"
	default:
		return "nxdomain"
	}
}

// Table is an immutable, compiled view of every served name.
type Table struct {
	// Serial is the SOA serial; it rises whenever the content changes.
	Serial uint32
	// hash identifies the content, so that a rebuild from identical inputs
	// keeps the serial and is not published.
	hash  uint64
	zones []*ZoneData // longest name first: the most specific zone wins
	names map[string]*node
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
}

// Count records the final result of a query in this zone.
func (z *ZoneData) Count(r Result) { z.answers[r].Inc() }

type counter interface{ Inc() }

// node is one owner name. Names that only exist as parents of other names
// (empty non-terminals) have no data at all.
type node struct {
	zone  *ZoneData
	apex  bool
	a     rotation
	aaaa  rotation
	cname rotation // hostname-only load balancers; one target per answer
	next  atomic.Uint32
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
}

// Zone returns the served zone qname falls in, or nil. qname must be lower case.
func (t *Table) Zone(qname string) *ZoneData {
	for _, z := range t.zones {
		if dns.IsSubDomain(z.Name, qname) {
			return z
		}
	}
	return nil
}

// Lookup answers qname (lower case, inside zone z) for qtype.
func (t *Table) Lookup(z *ZoneData, qname string, qtype uint16) Answer {
	n, ok := t.names[qname]
	if !ok || n.zone != z {
		// A name of a more specific zone is looked up there; here it does
		// not exist.
		return Answer{Zone: z, Result: NXDomain, Ns: z.soa}
	}
	if rrs := n.answer(qtype); len(rrs) > 0 {
		a := Answer{Zone: z, Result: Success, Answer: rrs}
		if n.apex && qtype == dns.TypeNS {
			a.Extra = z.glue
		}
		return a
	}
	return Answer{Zone: z, Result: NoData, Ns: z.soa}
}

func (n *node) answer(qtype uint16) []dns.RR {
	if n.apex {
		switch qtype {
		case dns.TypeSOA, dns.TypeANY:
			return n.zone.soa
		case dns.TypeNS:
			return n.zone.ns
		}
	}
	if !n.cname.empty() {
		// A CNAME owner has no other data: every type gets the alias and
		// the resolver follows it (never resolved on our hot path).
		return n.cname.pick(n.next.Add(1), 1)
	}
	switch qtype {
	case dns.TypeA:
		return n.a.pick(n.next.Add(1), -1)
	case dns.TypeAAAA:
		return n.aaaa.pick(n.next.Add(1), -1)
	case dns.TypeANY:
		// RFC 8482: answer ANY with one RRset, not everything we have.
		if !n.a.empty() {
			return n.a.pick(n.next.Add(1), -1)
		}
		return n.aaaa.pick(n.next.Add(1), -1)
	}
	return nil
}

// rotation hands out a window of k records starting at a rotating offset:
// round robin without allocating per query. For the usual few members every
// window is precomputed; beyond maxPrecomputed members a window is built per
// query rather than holding members² pointers.
type rotation struct {
	rrs     []dns.RR
	k       int        // window size
	windows [][]dns.RR // windows[i] starts at rrs[i]; nil when not precomputed
}

const maxPrecomputed = 64

func newRotation(rrs []dns.RR, limit int) rotation {
	k := len(rrs)
	if limit > 0 && limit < k {
		k = limit
	}
	r := rotation{rrs: rrs, k: k}
	if len(rrs) == 0 || len(rrs) > maxPrecomputed {
		return r
	}
	r.windows = make([][]dns.RR, len(rrs))
	for i := range rrs {
		r.windows[i] = r.window(i)
	}
	return r
}

func (r *rotation) empty() bool { return len(r.rrs) == 0 }

func (r *rotation) window(start int) []dns.RR {
	w := make([]dns.RR, 0, r.k)
	for j := 0; j < r.k; j++ {
		w = append(w, r.rrs[(start+j)%len(r.rrs)])
	}
	return w[:len(w):len(w)]
}

// pick returns the window for query number seq; limit 1 forces a single record.
func (r *rotation) pick(seq uint32, limit int) []dns.RR {
	if len(r.rrs) == 0 {
		return nil
	}
	i := int(seq % uint32(len(r.rrs)))
	if limit == 1 {
		return r.rrs[i : i+1 : i+1]
	}
	if r.windows != nil {
		return r.windows[i]
	}
	return r.window(i)
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
