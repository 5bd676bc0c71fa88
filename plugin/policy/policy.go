// Package policy picks, per query, which members of a GSLB service go into
// an answer: round robin, weighted, consistent hash on the client subnet, or
// topology rules. Everything that does not depend on the query is computed
// when a Set is built, off the hot path.
package policy

import (
	"context"
	"math"
	"math/rand/v2"
	"net/netip"

	"github.com/gslb/gslb/plugin/model"
	"github.com/miekg/dns"
)

// Client is who a query is for: the EDNS Client Subnet when the query has
// one, else the source address.
type Client struct {
	Addr netip.Addr
	// Bits is the ECS source prefix length, or the full address length.
	Bits int
	// Ctx carries the query's metadata (the geoip plugin's country and
	// continent), read only by topology country/continent rules.
	Ctx context.Context
	// Private is set for a client inside the configured private networks:
	// it gets members' own addresses, not their public ones (NAT).
	// PrivateScope is the ECS scope that decision holds for; 0 when no
	// private networks are configured (everybody gets the public ones).
	Private      bool
	PrivateScope int
}

// Settings are the resolved choices for one GSLB service.
type Settings struct {
	Algorithm model.Algorithm
	// Fallback serves clients that no topology rule matches.
	Fallback             model.Algorithm
	HashMask4, HashMask6 int
	// Answers is how many records an answer carries; 0 means all for
	// round robin and topology, and one for weighted and consistent hash
	// (a per-query pick, not a reordering that resolvers would undo).
	Answers  int
	Topology *Topology
}

// Default hash masks: a client's /24 (v4) or /56 (v6) stays on one member.
const (
	DefaultHashMask4 = 24
	DefaultHashMask6 = 56
)

// Candidate is one member record that may be answered.
type Candidate struct {
	RR     dns.RR
	Site   string
	Weight int // > 0; drained members are not candidates
}

// Set answers for one name and one record type among its candidates.
type Set struct {
	s     Settings
	all   rotation
	rrs   []dns.RR
	cum   []uint64 // cumulative weights, for weighted picks
	keys  []uint64 // stable member hashes, for consistent hashing
	wts   []float64
	sites map[string]*rotation // topology: each site's members
}

// NewSet compiles a selector over cands, which must be in a stable order.
func NewSet(s Settings, cands []Candidate) *Set {
	if s.HashMask4 == 0 {
		s.HashMask4 = DefaultHashMask4
	}
	if s.HashMask6 == 0 {
		s.HashMask6 = DefaultHashMask6
	}
	if s.Fallback == model.AlgorithmUnset || s.Fallback == model.Topology {
		s.Fallback = model.RoundRobin
	}
	set := &Set{s: s}
	var total uint64
	for _, c := range cands {
		set.rrs = append(set.rrs, c.RR)
		total += uint64(c.Weight)
		set.cum = append(set.cum, total)
		set.keys = append(set.keys, memberKey(c.RR))
		set.wts = append(set.wts, float64(c.Weight))
	}
	set.rrs = set.rrs[:len(set.rrs):len(set.rrs)]
	set.all = newRotation(set.rrs, s.Answers)
	if s.Algorithm == model.Topology {
		set.sites = map[string]*rotation{}
		bySite := map[string][]dns.RR{}
		for _, c := range cands {
			bySite[c.Site] = append(bySite[c.Site], c.RR)
		}
		for site, rrs := range bySite {
			r := newRotation(rrs[:len(rrs):len(rrs)], s.Answers)
			set.sites[site] = &r
		}
	}
	return set
}

// Len is the number of candidates.
func (s *Set) Len() int { return len(s.rrs) }

// All returns every candidate record.
func (s *Set) All() []dns.RR { return s.rrs }

// Pick returns the records for query number seq from client c, and the ECS
// scope prefix length the answer is valid for; -1 when the answer does not
// depend on the client at all (ECS is then echoed with scope 0).
func (s *Set) Pick(seq uint32, c Client) ([]dns.RR, int) {
	if len(s.rrs) == 0 {
		return nil, -1
	}
	if s.s.Algorithm != model.Topology {
		// The common case needs no route: the algorithm picks among all.
		return s.pick(s.s.Algorithm, seq, c)
	}
	rt := s.route(c)
	if rt.rot != nil {
		return rt.rot.pick(seq), rt.scope
	}
	rrs, scope := s.pick(rt.Algorithm, seq, c)
	if rt.Via == ViaFallback {
		if scope < 0 {
			// Other clients may match a rule: this answer holds only for
			// the subnet we were told about.
			scope = c.Bits
		}
		// Nor for a larger subnet than the longest rule: one may lie
		// inside it and answer its clients differently.
		scope = max(scope, s.s.Topology.MaxBits(c.Addr))
	}
	return rrs, scope
}

// Via says how a topology set chose the members it picks from.
type Via uint8

const (
	ViaAlgorithm Via = iota // not topology: the set's algorithm over every member
	ViaSubnet               // a CIDR rule matched the client
	ViaGeo                  // a country or continent rule matched
	ViaFallback             // no rule matched, or no preferred site has members: the fallback algorithm
)

func (v Via) String() string {
	switch v {
	case ViaSubnet:
		return "subnet rule"
	case ViaGeo:
		return "geo rule"
	case ViaFallback:
		return "no rule with members: fallback"
	}
	return "algorithm"
}

// Route is how a set picks for one client, before the pick itself: the
// algorithm that picks and, for topology, the rule's preferred sites and
// the site whose members answer. Pick and Explain both follow it, so an
// explanation is the decision, not a description of it.
type Route struct {
	Algorithm model.Algorithm
	Via       Via
	Sites     []string // the matched rule's preferred sites, in order
	Site      string   // the first of them with members
	rot       *rotation
	scope     int
}

// Explain returns the route a query from c takes.
func (s *Set) Explain(c Client) Route { return s.route(c) }

// route finds the route for c without allocating.
func (s *Set) route(c Client) Route {
	if s.s.Algorithm != model.Topology {
		return Route{Algorithm: s.s.Algorithm}
	}
	if sites, bits, ok := s.s.Topology.Match(c.Addr); ok {
		if site, r := s.preferred(sites); r != nil {
			return Route{Algorithm: model.Topology, Via: ViaSubnet, Sites: sites, Site: site, rot: r, scope: bits}
		}
	}
	if sites, ok := s.s.Topology.MatchGeo(c.Ctx); ok {
		if site, r := s.preferred(sites); r != nil {
			// Valid for the subnet we were told about: we do not know
			// how far the country extends.
			return Route{Algorithm: model.Topology, Via: ViaGeo, Sites: sites, Site: site, rot: r, scope: c.Bits}
		}
	}
	return Route{Algorithm: s.s.Fallback, Via: ViaFallback}
}

// preferred returns the first listed site that has members, and their rotation.
func (s *Set) preferred(sites []string) (string, *rotation) {
	for _, site := range sites {
		if r := s.sites[site]; r != nil {
			return site, r
		}
	}
	return "", nil
}

func (s *Set) pick(a model.Algorithm, seq uint32, c Client) ([]dns.RR, int) {
	switch a {
	case model.Weighted:
		return s.weighted(), -1
	case model.ConsistentHash:
		return s.hashed(c)
	}
	return s.all.pick(seq), -1
}

func (s *Set) k() int {
	if s.s.Answers <= 0 {
		return 1
	}
	return min(s.s.Answers, len(s.rrs))
}

// weighted picks k members at random in proportion to their weights,
// without replacement.
func (s *Set) weighted() []dns.RR {
	k := s.k()
	if k == 1 {
		total := s.cum[len(s.cum)-1]
		x := rand.Uint64N(total)
		i := searchCum(s.cum, x)
		return s.rrs[i : i+1 : i+1]
	}
	if k >= len(s.rrs) {
		return s.all.pick(rand.Uint32())
	}
	// Rare (answers > 1 with weights): allocate a scratch copy.
	w := make([]uint64, len(s.rrs))
	var total uint64
	for i := range w {
		w[i] = s.cum[i]
		if i > 0 {
			w[i] -= s.cum[i-1]
		}
		total += w[i]
	}
	out := make([]dns.RR, 0, k)
	for len(out) < k && total > 0 {
		x := rand.Uint64N(total)
		for i, wi := range w {
			if x < wi {
				out = append(out, s.rrs[i])
				total -= wi
				w[i] = 0
				break
			}
			x -= wi
		}
	}
	return out
}

func searchCum(cum []uint64, x uint64) int {
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if x < cum[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// hashed picks by weighted rendezvous hashing of the client's masked
// subnet: the same subnet gets the same member on every DNS server, and when
// a member goes away only the clients it had move.
func (s *Set) hashed(c Client) ([]dns.RR, int) {
	mask := s.s.HashMask4
	if c.Addr.Is6() {
		mask = s.s.HashMask6
	}
	p, err := c.Addr.Prefix(mask)
	if err != nil {
		return s.all.pick(0), -1
	}
	ck := addrKey(p.Addr())
	k := s.k()
	if k == 1 {
		best, bestScore := 0, math.Inf(-1)
		for i, mk := range s.keys {
			if sc := score(ck, mk, s.wts[i]); sc > bestScore {
				best, bestScore = i, sc
			}
		}
		return s.rrs[best : best+1 : best+1], mask
	}
	type scored struct {
		i  int
		sc float64
	}
	top := make([]scored, 0, len(s.keys))
	for i, mk := range s.keys {
		top = append(top, scored{i, score(ck, mk, s.wts[i])})
	}
	// Partial selection sort: k is small.
	out := make([]dns.RR, 0, k)
	for range k {
		b := 0
		for j := range top {
			if top[j].sc > top[b].sc {
				b = j
			}
		}
		out = append(out, s.rrs[top[b].i])
		top[b].sc = math.Inf(-1)
	}
	return out, mask
}

// score is weighted rendezvous hashing: -w/ln(u), u uniform in (0,1) from
// a hash of (client, member); the highest score wins.
func score(client, member uint64, w float64) float64 {
	h := mix(client ^ mix(member))
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return -w / math.Log(u)
}

// mix is splitmix64's finalizer: deterministic on every server (unlike
// hash/maphash, which is seeded per process), so replicas agree.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func addrKey(a netip.Addr) uint64 {
	b := a.As16()
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return mix(hi ^ mix(lo))
}

// memberKey identifies a member by its data, so its hash does not change
// when other members come or go.
func memberKey(rr dns.RR) uint64 {
	switch v := rr.(type) {
	case *dns.A:
		if a, ok := netip.AddrFromSlice(v.A); ok {
			return addrKey(a.Unmap())
		}
	case *dns.AAAA:
		if a, ok := netip.AddrFromSlice(v.AAAA); ok {
			return addrKey(a)
		}
	case *dns.CNAME:
		var h uint64 = 14695981039346656037
		for i := 0; i < len(v.Target); i++ {
			h = (h ^ uint64(v.Target[i])) * 1099511628211
		}
		return mix(h)
	}
	return 0
}
