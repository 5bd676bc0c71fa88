// Package status serves what an operator asks at night: which names are
// degraded, which site is out, since when and why, and why a client got the
// answer it got. It is a small HTTP listener with an HTML page, the same
// data as JSON, and /explain. It knows nothing of tables or sources: each
// gslb stanza that turns it on is a Provider that reports in the types
// below, and stanzas that name the same address share one listener.
//
// The types are the JSON API. They are made to grow: a health input is a
// list entry {input, verdict, detail, since}, so a new input (per-vantage
// verdicts, a quorum) is one more entry; problems of a service or of a
// source's objects are lists of {object, reason}, so a new kind (an
// ownership conflict) is one more producer.
package status

import "time"

// Page is one answer of /status.json (and what / renders).
type Page struct {
	Generated time.Time `json:"generated"`
	Zones     []Zone    `json:"zones"`
	Sources   []Source  `json:"sources"`
	// Counts are over every service, whatever the filter.
	Counts Counts `json:"counts"`
	Filter Filter `json:"filter"`
	// Matching is how many services the filter matches; Services holds
	// those from Offset, at most Limit of them.
	Matching int       `json:"matching"`
	Offset   int       `json:"offset"`
	Limit    int       `json:"limit"`
	Services []Service `json:"services"`
}

// Counts summarise the services by state.
type Counts struct {
	Services int `json:"services"`
	Down     int `json:"down"`
	Degraded int `json:"degraded"`
}

// Filter selects services: by a part of the name, by site, by state.
type Filter struct {
	Name  string `json:"name,omitempty"`
	Site  string `json:"site,omitempty"`
	State string `json:"state,omitempty"`
}

// States of a service and of a member.
const (
	StateUp       = "up"       // every member healthy
	StateDegraded = "degraded" // some member down, the name still answers healthy members
	StateDown     = "down"     // no healthy member: the name answers its down response

	VerdictUnknown = "unknown" // a health input not decided yet
	VerdictSkipped = "skipped" // a health input that does not apply
)

// Zone is one served zone and its answer table.
type Zone struct {
	Name   string `json:"name"`
	Serial uint32 `json:"serial"`
	// Built is when the table in use was published.
	Built time.Time `json:"built"`
	// Services and Down count the zone's services; filled by the page.
	Services int `json:"services"`
	Down     int `json:"down"`
}

// Service is one GSLB service name.
type Service struct {
	Name   string `json:"name"`
	Zone   string `json:"zone"`
	State  string `json:"state"`
	Policy string `json:"policy"`
	// Fallback is the topology policy's algorithm for unmatched clients.
	Fallback string `json:"fallback,omitempty"`
	TTL      uint32 `json:"ttl"`
	// Answers is how many records an answer carries; 0 means all (round
	// robin, topology) or one (weighted, consistent hash).
	Answers      int    `json:"answers"`
	DownResponse string `json:"downResponse"`
	// ActivePool is the priority of the pool that answers; -1 when none.
	ActivePool int      `json:"activePool"`
	Members    []Member `json:"members"`
	// Problems are things wrong with the name (policy conflicts, and
	// whatever other producers add).
	Problems []Problem `json:"problems,omitempty"`
}

// Member is one address (or CNAME target) of a service at a site.
type Member struct {
	Site    string `json:"site"`
	Address string `json:"address"`
	// Public is the address answered outside the private networks (NAT).
	Public   string `json:"public,omitempty"`
	Weight   int    `json:"weight"`
	Priority int    `json:"priority"`
	State    string `json:"state"`
	// Answering tells whether the member is among the answers' candidates
	// now; Excluded says why not.
	Answering bool   `json:"answering"`
	Excluded  string `json:"excluded,omitempty"`
	// Health lists every input of the member's verdict.
	Health []HealthInput `json:"health,omitempty"`
	// Objects are the objects that publish the member
	// ("sitea ingress shop/web", "avi gslbservice web", "corefile").
	Objects []string `json:"objects,omitempty"`
}

// HealthInput is one input of a member's health: an active probe, endpoint
// readiness, the Avi oper status, API server reachability, or a vantage's
// verdict.
type HealthInput struct {
	Input string `json:"input"`
	// Verdict is "up", "down", "unknown" (not decided yet: counts as up)
	// or "skipped" (the input does not apply, e.g. an address outside
	// health_targets is never probed: counts as up).
	Verdict string    `json:"verdict"`
	Detail  string    `json:"detail,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// LatencyMS is the last probe's duration, for probes.
	LatencyMS float64 `json:"latencyMs,omitempty"`
}

// Problem is something wrong with an object or a name, and why.
type Problem struct {
	Object string `json:"object,omitempty"`
	Reason string `json:"reason"`
}

// Source is one input of the answers: a member cluster, an Avi controller,
// AMKO's policy objects, the Corefile's static members.
type Source struct {
	Kind string `json:"kind"` // cluster, avi, amko, static
	Name string `json:"name"`
	// Connected is whether the source answers now; nil when unknown.
	Connected *bool `json:"connected,omitempty"`
	// DisconnectedSince is when it stopped answering.
	DisconnectedSince time.Time `json:"disconnectedSince,omitzero"`
	Synced            bool      `json:"synced"`
	// LastEvent is the last change seen (clusters) or the last poll (Avi).
	LastEvent time.Time `json:"lastEvent,omitzero"`
	// Result is the outcome of the last poll or read ("ok", or the error).
	Result   string    `json:"result,omitempty"`
	Accepted []string  `json:"accepted,omitempty"`
	Rejected []Problem `json:"rejected,omitempty"`
	// Notes are counts and facts worth a glance ("3 hosts outside the zones").
	Notes []string `json:"notes,omitempty"`
}

// Explanation is the answer of /explain: the decision for one query.
type Explanation struct {
	Query Query  `json:"query"`
	Zone  string `json:"zone"`
	// Service is the name's service with every member, why each one is a
	// candidate or not, and its health inputs; nil for names that are
	// not services (apex, unknown names).
	Service *Service `json:"service,omitempty"`
	// Candidates are the records the policy picks among; empty when the
	// answer is fixed (down response, SOA, NS, NODATA, NXDOMAIN).
	Candidates []string `json:"candidates,omitempty"`
	// Policy is the algorithm that picked, and how it got there (a
	// topology rule and its sites, or the fallback).
	Policy      string   `json:"policy,omitempty"`
	Route       string   `json:"route,omitempty"`
	RuleSites   []string `json:"ruleSites,omitempty"`
	ChosenSite  string   `json:"chosenSite,omitempty"`
	PublicAddrs bool     `json:"publicAddresses,omitempty"`
	// Notes say what the answer does not show (a random pick, fallthrough).
	Notes []string `json:"notes,omitempty"`
	// Reply is the DNS reply ServeDNS would write.
	Reply Reply `json:"reply"`
}

// Query is what /explain was asked.
type Query struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Client string `json:"client"`
}

// Reply is a DNS reply in presentation form.
type Reply struct {
	Rcode      string   `json:"rcode"`
	Answer     []string `json:"answer"`
	Authority  []string `json:"authority,omitempty"`
	Additional []string `json:"additional,omitempty"`
	// ECSScope is the EDNS Client Subnet scope echoed to the resolver.
	ECSScope int `json:"ecsScope"`
	// Text is the whole message as dig prints it.
	Text string `json:"text"`
}
