package policy

import (
	"net/netip"
	"slices"
)

// Topology maps client subnets to preferred sites, most specific prefix
// first (longest-prefix match, like a routing table).
type Topology struct {
	rules map[netip.Prefix][]string
	lens4 []int // distinct prefix lengths, longest first
	lens6 []int
}

// NewTopology returns an empty rule set.
func NewTopology() *Topology { return &Topology{rules: map[netip.Prefix][]string{}} }

// Add maps prefix to sites in order of preference. A prefix added twice
// keeps the first list.
func (t *Topology) Add(p netip.Prefix, sites []string) {
	p = p.Masked()
	if _, dup := t.rules[p]; dup {
		return
	}
	t.rules[p] = slices.Clone(sites)
	lens := &t.lens6
	if p.Addr().Is4() {
		lens = &t.lens4
	}
	if !slices.Contains(*lens, p.Bits()) {
		*lens = append(*lens, p.Bits())
		slices.SortFunc(*lens, func(a, b int) int { return b - a })
	}
}

// Len is the number of rules.
func (t *Topology) Len() int {
	if t == nil {
		return 0
	}
	return len(t.rules)
}

// Match returns the preferred sites of the most specific rule containing a,
// and that rule's prefix length (the ECS scope of a topology answer). It
// costs one map lookup per distinct prefix length, not a scan of the rules.
func (t *Topology) Match(a netip.Addr) (sites []string, bits int, ok bool) {
	if t == nil || !a.IsValid() {
		return nil, 0, false
	}
	a = a.Unmap()
	lens := t.lens6
	if a.Is4() {
		lens = t.lens4
	}
	for _, l := range lens {
		p, err := a.Prefix(l)
		if err != nil {
			continue
		}
		if sites, ok := t.rules[p]; ok {
			return sites, l, true
		}
	}
	return nil, 0, false
}
