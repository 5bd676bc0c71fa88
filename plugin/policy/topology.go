package policy

import (
	"context"
	"net/netip"
	"slices"
	"strings"
)

// Topology maps client subnets to preferred sites, most specific prefix
// first (longest-prefix match, like a routing table).
type Topology struct {
	rules map[netip.Prefix][]string
	// scope of each rule's answers: its length, or the length of the
	// longest rule nested inside it, which answers its clients differently.
	scope map[netip.Prefix]int
	lens4 []int // distinct prefix lengths, longest first
	lens6 []int

	// Country and continent rules (ISO codes, upper case), consulted when
	// no CIDR rule matches, through Geo.
	countries, continents map[string][]string
	// Geo reads the client's country and continent codes for a query,
	// e.g. from the geoip plugin's metadata; nil disables geo rules.
	Geo func(ctx context.Context) (country, continent string)
}

// NewTopology returns an empty rule set.
func NewTopology() *Topology {
	return &Topology{rules: map[netip.Prefix][]string{}, scope: map[netip.Prefix]int{},
		countries: map[string][]string{}, continents: map[string][]string{}}
}

// AddCountry maps an ISO 3166 country code to preferred sites.
func (t *Topology) AddCountry(code string, sites []string) {
	t.countries[strings.ToUpper(code)] = slices.Clone(sites)
}

// AddContinent maps a continent code (EU, NA, AS, ...) to preferred sites.
func (t *Topology) AddContinent(code string, sites []string) {
	t.continents[strings.ToUpper(code)] = slices.Clone(sites)
}

// HasGeo tells whether any country or continent rule exists.
func (t *Topology) HasGeo() bool {
	return t != nil && len(t.countries)+len(t.continents) > 0
}

// MatchGeo returns the preferred sites for the query's country, else its
// continent. It costs nothing without geo rules.
func (t *Topology) MatchGeo(ctx context.Context) ([]string, bool) {
	if !t.HasGeo() || t.Geo == nil || ctx == nil {
		return nil, false
	}
	country, continent := t.Geo(ctx)
	if sites, ok := t.countries[country]; ok && country != "" {
		return sites, true
	}
	if sites, ok := t.continents[continent]; ok && continent != "" {
		return sites, true
	}
	return nil, false
}

// Add maps prefix to sites in order of preference. A prefix added twice
// keeps the first list.
func (t *Topology) Add(p netip.Prefix, sites []string) {
	p = p.Masked()
	if _, dup := t.rules[p]; dup {
		return
	}
	t.rules[p] = slices.Clone(sites)
	t.scope[p] = p.Bits()
	for q := range t.rules {
		switch {
		case q.Bits() < p.Bits() && q.Contains(p.Addr()):
			t.scope[q] = max(t.scope[q], p.Bits())
		case p.Bits() < q.Bits() && p.Contains(q.Addr()):
			t.scope[p] = max(t.scope[p], q.Bits())
		}
	}
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
	return len(t.rules) + len(t.countries) + len(t.continents)
}

// Match returns the preferred sites of the most specific rule containing a,
// and the ECS scope of its answers: the rule's prefix length or, when more
// specific rules lie inside it, the longest of theirs (a resolver must not
// reuse the answer for a nested subnet that prefers other sites). It costs
// one map lookup per distinct prefix length, not a scan of the rules.
func (t *Topology) Match(a netip.Addr) (sites []string, scope int, ok bool) {
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
			return sites, t.scope[p], true
		}
	}
	return nil, 0, false
}

// MaxBits is the length of the longest rule of a's address family, 0 when
// there is none: an answer for a client no rule matches holds for a subnet
// at least that long, or a rule inside the subnet may answer differently.
func (t *Topology) MaxBits(a netip.Addr) int {
	if t == nil {
		return 0
	}
	lens := t.lens6
	if a.Unmap().Is4() {
		lens = t.lens4
	}
	if len(lens) == 0 {
		return 0
	}
	return lens[0]
}
