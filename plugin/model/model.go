// Package model is the shared vocabulary of gslb: the members that sources
// (Kubernetes clusters, static Corefile entries, the Avi controller, AMKO's
// third-party members) publish for a GSLB service name, their settings, and
// the rules every source applies to names and sites. It imports nothing of
// ours, so every other package can depend on it without cycles.
package model

import (
	"cmp"
	"net/netip"
)

// Member is one place that serves a GSLB service: a VIP (A or AAAA) or, for
// hostname-only load balancers, a name the service is an alias of (CNAME).
type Member struct {
	// Site names the cluster or location the member lives in. It bounds
	// metric labels, so it comes from configuration, never from objects.
	Site string
	// Addr is the member's address; invalid when Target is set.
	Addr netip.Addr
	// Target is the fully-qualified, lower-case name of a hostname-only load
	// balancer; empty when Addr is set.
	Target string
}

// IsAlias tells whether the member is a CNAME target rather than an address.
func (m Member) IsAlias() bool { return m.Target != "" }

// Compare orders members by site, then address, then target, so that answer
// order (and therefore rotation) stays stable across table rebuilds.
func (m Member) Compare(o Member) int {
	if c := cmp.Compare(m.Site, o.Site); c != 0 {
		return c
	}
	if c := m.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	return cmp.Compare(m.Target, o.Target)
}

// Record says that the GSLB service FQDN is served by Member. Records are
// comparable values, so a store can tell an unchanged object from a changed one.
type Record struct {
	// FQDN is fully qualified (trailing dot) and lower case.
	FQDN   string
	Member Member
	// Check says how to probe the member for this name.
	Check Check
	// Overrides carries the publishing object's policy annotations.
	Overrides Overrides
	// SourceDown is the source's own verdict that the member is down (Avi's
	// oper status, endpoint readiness): one health input among the others.
	SourceDown bool
	// Public, when valid, is the member's public address (NAT, AMKO's
	// publicIP): answered to clients outside the private networks, while
	// Member.Addr is answered inside them and probed.
	Public netip.Addr
}

// Compare orders records by name, then member; records that differ only in
// check or overrides get a stable order too, so "first wins" is deterministic.
func (r Record) Compare(o Record) int {
	if c := cmp.Compare(r.FQDN, o.FQDN); c != 0 {
		return c
	}
	if c := r.Member.Compare(o.Member); c != 0 {
		return c
	}
	if c := r.Public.Compare(o.Public); c != 0 {
		return c
	}
	if c := cmp.Compare(r.Check.Proto, o.Check.Proto); c != 0 {
		return c
	}
	if c := cmp.Compare(r.Check.Port, o.Check.Port); c != 0 {
		return c
	}
	if c := cmp.Compare(r.Check.Path, o.Check.Path); c != 0 {
		return c
	}
	if r.SourceDown != o.SourceDown {
		if r.SourceDown {
			return 1
		}
		return -1
	}
	return r.Overrides.compare(o.Overrides)
}
