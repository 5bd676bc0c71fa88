package vantage

import (
	"fmt"
	"strconv"
	"strings"
)

// QuorumKind is how many of the voting vantages must see a target down.
type QuorumKind uint8

const (
	// Majority: more than half of the votes (a tie keeps the target up:
	// probes only ever take out members proven dead).
	Majority QuorumKind = iota
	// Any: one vote is enough (today's behaviour, shared: the most
	// cautious about dead members, the least about partitions).
	Any
	// All: every vote.
	All
	// AtLeast: Quorum.N votes, or every vote when fewer vantages vote.
	AtLeast
)

// Quorum is the health_quorum setting.
type Quorum struct {
	Kind QuorumKind
	N    int // AtLeast only
}

// ParseQuorum reads majority, any, all or a count 1-100.
func ParseQuorum(s string) (Quorum, error) {
	switch strings.ToLower(s) {
	case "majority":
		return Quorum{Kind: Majority}, nil
	case "any":
		return Quorum{Kind: Any}, nil
	case "all":
		return Quorum{Kind: All}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		return Quorum{}, fmt.Errorf("%q: use majority, any, all, or a count of vantages 1-100", s)
	}
	return Quorum{Kind: AtLeast, N: n}, nil
}

func (q Quorum) String() string {
	switch q.Kind {
	case Any:
		return "any"
	case All:
		return "all"
	case AtLeast:
		return strconv.Itoa(q.N)
	}
	return "majority"
}

// down applies the quorum to down votes out of votes (votes >= 1).
func (q Quorum) down(down, votes int) bool {
	switch q.Kind {
	case Any:
		return down >= 1
	case All:
		return down == votes
	case AtLeast:
		return down >= min(q.N, votes)
	}
	return 2*down > votes
}
