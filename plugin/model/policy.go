package model

import (
	"net/netip"
	"strings"
)

// Algorithm picks members among the healthy ones of the active pool.
type Algorithm uint8

const (
	AlgorithmUnset Algorithm = iota
	RoundRobin               // all members, rotated per query
	Weighted                 // a per-query random pick in proportion to site weights
	ConsistentHash           // a stable pick per client subnet
	Topology                 // the client's preferred sites from CIDR rules, else the fallback
)

var algorithmNames = map[string]Algorithm{
	"round-robin":                     RoundRobin,
	"weighted":                        Weighted,
	"consistent-hash":                 ConsistentHash,
	"topology":                        Topology,
	"gslb_algorithm_round_robin":      RoundRobin,
	"gslb_algorithm_consistent_hash":  ConsistentHash,
	"gslb_algorithm_topology":         Topology,
	"gslb_algorithm_geo":              Topology,
	"gslb_algorithm_weighted":         Weighted,
	"gslb_algorithm_ratio":            Weighted,
	"gslb_algorithm_consistent-hash":  ConsistentHash,
	"gslb_algorithm_round-robin":      RoundRobin,
	"gslb_algorithm_preference_order": RoundRobin,
}

// ParseAlgorithm accepts our names (round-robin, weighted, consistent-hash,
// topology) and AMKO/Avi's (GSLB_ALGORITHM_ROUND_ROBIN, ...), any case.
func ParseAlgorithm(s string) (Algorithm, bool) {
	a, ok := algorithmNames[strings.ToLower(s)]
	return a, ok
}

func (a Algorithm) String() string {
	switch a {
	case RoundRobin:
		return "round-robin"
	case Weighted:
		return "weighted"
	case ConsistentHash:
		return "consistent-hash"
	case Topology:
		return "topology"
	}
	return "unset"
}

// DownKind is what to answer when no member of a name is healthy (Avi's
// down_response).
type DownKind uint8

const (
	DownUnset      DownKind = iota
	DownNone                // SERVFAIL: we have no good answer; resolvers try elsewhere, nothing is cached long
	DownAllRecords          // every member, healthy or not
	DownFallback            // a fixed address per family
	DownEmpty               // NODATA
	DownCNAME               // an alias to another name
)

// Down is a down response; comparable.
type Down struct {
	Kind   DownKind
	V4, V6 netip.Addr // DownFallback
	Target string     // DownCNAME, fully qualified, lower case
}

func (d Down) String() string {
	switch d.Kind {
	case DownNone:
		return "none"
	case DownAllRecords:
		return "all-records"
	case DownEmpty:
		return "empty"
	case DownCNAME:
		return "cname " + d.Target
	case DownFallback:
		var parts []string
		if d.V4.IsValid() {
			parts = append(parts, d.V4.String())
		}
		if d.V6.IsValid() {
			parts = append(parts, d.V6.String())
		}
		return "fallback " + strings.Join(parts, " ")
	}
	return "unset"
}

// Opt is an optional integer; comparable, so records stay comparable.
type Opt struct {
	V   int
	Set bool
}

// Some returns a set Opt.
func Some(v int) Opt { return Opt{V: v, Set: true} }

// Or returns the value, or def when unset.
func (o Opt) Or(def int) int {
	if o.Set {
		return o.V
	}
	return def
}

// Overrides are the per-service settings, one layer of them: an object's
// annotations, an AMKO rule, an Avi service, or the Corefile's defaults
// (where every field is set). Unset fields fall back to the next layer
// (Corefile < GDP < GSLBHostRule < annotations). A new setting is a field
// here plus one line in the settings list below; layering, ordering and the
// table's per-service resolution follow from that list.
type Overrides struct {
	// Per site: the object's own site's weight and priority.
	Weight, Priority Opt
	// Per GSLB service.
	Algorithm            Algorithm
	Fallback             Algorithm
	HashMask4, HashMask6 Opt
	TTL, Answers         Opt
	Down                 Down
}

// CheckProto is how a member endpoint is probed.
type CheckProto uint8

const (
	CheckNone CheckProto = iota // not probed: healthy unless its cluster is gone
	CheckHTTP
	CheckHTTPS
	CheckTCP
)

func (p CheckProto) String() string {
	switch p {
	case CheckHTTP:
		return "http"
	case CheckHTTPS:
		return "https"
	case CheckTCP:
		return "tcp"
	}
	return "none"
}

// Check says how to probe a member for one name.
type Check struct {
	Proto CheckProto
	Port  uint16
	Path  string
}
