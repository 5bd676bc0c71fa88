package table

import (
	"iter"
	"slices"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// This file gives the content of a zone as a zone transfer carries it. It
// depends on the compiled table only through its names and each node's sets
// and down records, so it survives changes to how the table is built.

// ZoneNamed returns the zone whose apex is name (lower case), or nil.
func (t *Table) ZoneNamed(name string) *ZoneData {
	if z := t.Zone(name); z != nil && z.Name == name {
		return z
	}
	return nil
}

// SOA returns the zone's SOA record. It is shared: do not modify it.
func (z *ZoneData) SOA() *dns.SOA { return z.soa[0].(*dns.SOA) }

// Records yields the RRsets of zone z, names in canonical order (RFC 4034
// 6.1; the apex first, starting with its SOA and NS), as a query without a
// client subnet would find them right now: every member of the active pool
// (not one per-query pick), the down response of a name with no healthy
// member, the in-zone name servers' addresses. Names that answer nothing
// (empty non-terminals, a down response of none or empty) are left out, as
// are the names of more specific zones served beside z. The caller adds the
// closing SOA of a transfer. The records are shared with the table: do not
// modify them.
func (t *Table) Records(z *ZoneData) iter.Seq[[]dns.RR] {
	zi := slices.Index(t.zones, z)
	var names []string
	t.names.each(func(name string, n *node) {
		if int(n.zone) == zi {
			names = append(names, name)
		}
	})
	slices.SortFunc(names, canonicalCompare)
	return func(yield func([]dns.RR) bool) {
		for _, name := range names {
			for _, rrs := range t.names.get(name).records(z) {
				if len(rrs) > 0 && !yield(rrs) {
					return
				}
			}
		}
	}
}

// records returns a node's RRsets in a fixed order (SOA, NS, CNAME, A,
// AAAA); z is its zone.
func (n *node) records(z *ZoneData) [][]dns.RR {
	var out [][]dns.RR
	if n.apex {
		out = append(out, z.soa, z.ns)
	}
	if n.down && n.downKind != model.DownAllRecords {
		if n.fixed == nil {
			return out
		}
		switch n.downKind {
		case model.DownFallback:
			out = append(out, n.fixed.a, n.fixed.aaaa)
		case model.DownCNAME:
			out = append(out, n.fixed.cname)
		}
		return out
	}
	if n.alias != nil {
		// A name has at most one CNAME (RFC 2181 10.1): a query gets
		// one target per answer, a zone file can only hold one, and
		// secondaries reject a zone with more. The first is stable.
		return append(out, n.alias.All()[:1])
	}
	// A secondary answers everybody: public addresses where members have
	// them, as clients outside the private networks get.
	for _, s := range [][2]*policy.Set{{n.pub4, n.v4}, {n.pub6, n.v6}} {
		if s[0] != nil {
			out = append(out, s[0].All())
		} else if s[1] != nil {
			out = append(out, s[1].All())
		}
	}
	return out
}

// canonicalCompare orders lower-case domain names canonically (RFC 4034
// 6.1): label by label from the right, a name before its children.
func canonicalCompare(a, b string) int {
	la, lb := dns.Split(a), dns.Split(b)
	i, j := len(la)-1, len(lb)-1
	for ; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := compareLabel(label(a, la, i), label(b, lb, j)); c != 0 {
			return c
		}
	}
	return (i + 1) - (j + 1) // the one with labels left is the child
}

// label returns the i-th label of name, whose label offsets are idx.
func label(name string, idx []int, i int) string {
	end := len(name) - 1 // the final dot
	if i+1 < len(idx) {
		end = idx[i+1] - 1
	}
	return name[idx[i]:end]
}

// compareLabel compares labels as their wire-format octets, which for
// letters, digits, '-' and '_' is the presentation form; escapes (\DDD,
// \X) are decoded first.
func compareLabel(a, b string) int {
	return slices.Compare(unescape(a), unescape(b))
}

func unescape(l string) []byte {
	out := make([]byte, 0, len(l))
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '\\' && i+1 < len(l) {
			if i+3 < len(l) && isDigit(l[i+1]) && isDigit(l[i+2]) && isDigit(l[i+3]) {
				c = (l[i+1]-'0')*100 + (l[i+2]-'0')*10 + (l[i+3] - '0')
				i += 3
			} else {
				i++
				c = l[i]
			}
		}
		out = append(out, c)
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
