package owner

import (
	"cmp"
	"slices"
	"sync"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/gslb/gslb/plugin/model"
)

var log = clog.NewWithPlugin("gslb")

// Mode says how names that no rule covers are owned.
type Mode int

const (
	// FirstClaim: the namespace whose object claimed a name first owns it
	// in every cluster, until its last object of the name is gone.
	FirstClaim Mode = iota
	// Off: every selected object publishes every name (no ownership at
	// all, rules included), as before ownership existed.
	Off
)

// Reason says why an object may not publish a name.
type Reason string

const (
	// NotInRule: an owner rule covers the name and does not list the
	// object's namespace.
	NotInRule Reason = "rule"
	// ClaimedFirst: another namespace claimed the name first.
	ClaimedFirst Reason = "claimed"
)

// Conflict is an object whose records of a name are not answered.
type Conflict struct {
	// FQDN is the name the object may not publish.
	FQDN string
	// Key is the object's store key; Claim says which object it is.
	Key   string
	Claim model.Claim
	// Reason is why; Owner is who publishes the name instead: the
	// namespace that claimed it first, or the rule's pattern and owners.
	Reason Reason
	Owner  string
	// OwnerSince is the owning namespace's earliest claim (ClaimedFirst).
	OwnerSince time.Time
}

// Message says what happened and what to do, for logs and events.
func (c Conflict) Message() string {
	switch c.Reason {
	case NotInRule:
		return c.Claim.Object() + " may not publish " + c.FQDN + ": the owner rule " + c.Owner +
			" does not list its namespace; it is not answered (add the namespace to that owner line to allow it)"
	default:
		return c.Claim.Object() + " may not publish " + c.FQDN + ": namespace " + c.Owner + " claimed it first (" +
			c.OwnerSince.UTC().Format(time.RFC3339) + "); it is not answered until that namespace releases the name " +
			"(or an owner line lists both namespaces)"
	}
}

// same tells whether two conflicts are the same report: an update of the
// object that keeps the conflict as it was is not news.
func (c Conflict) same(o Conflict) bool {
	return c.Key == o.Key && c.Reason == o.Reason && c.Owner == o.Owner
}

// Judge filters a store's records by ownership. It reads like the store it
// wraps (Changed, TakeChanged and Names pass through): the records of a name
// depend only on the objects of that name, so the store's changed names are
// exactly the names whose ownership may have changed.
type Judge struct {
	*model.Store
	rules Rules
	mode  Mode
	// OnChange, if set before the builder runs, hears each conflict once
	// when it starts (active) and once when it ends: the seam for events
	// on the objects. It is called with no lock held, from the goroutine
	// that reads records (the table builder's), and must not block.
	OnChange func(c Conflict, active bool)

	mu        sync.Mutex
	conflicts map[string][]Conflict // by name, sorted by key
	closed    bool
}

// New returns a judge over store with rules, in mode.
func New(store *model.Store, rules Rules, mode Mode) *Judge {
	return &Judge{Store: store, rules: rules, mode: mode, conflicts: map[string][]Conflict{}}
}

// RecordsOf returns the records of name that may be answered: every record
// of operator-configured sources, and those of the objects of the name's
// owner. Conflicts found are logged and counted once, when they start.
func (j *Judge) RecordsOf(name string) []model.Record {
	if j.mode == Off {
		return j.Store.RecordsOf(name)
	}
	pubs := j.PublishersOf(name)
	var found []Conflict
	var accepted []string // keys of claiming objects answered
	ru, ruled := j.rules.lookup(name)
	var owner string
	var since time.Time
	if !ruled {
		// The earliest claim wins; a tie goes to the namespace that sorts
		// first, so that every server decides alike whatever order it
		// heard of the objects in.
		for _, p := range pubs {
			if c := p.Claim; c != nil && (owner == "" || c.Created.Before(since) || c.Created.Equal(since) && c.Namespace < owner) {
				owner, since = c.Namespace, c.Created
			}
		}
	}
	rejected := func(p model.Publisher) bool {
		c := p.Claim
		switch {
		case c == nil:
			return false // the operator's own configuration
		case ruled && !ru.allows(c):
			found = append(found, Conflict{FQDN: name, Key: p.Key, Claim: *c, Reason: NotInRule, Owner: ru.pattern + " " + ru.ownerList()})
			return true
		case !ruled && c.Namespace != owner:
			found = append(found, Conflict{FQDN: name, Key: p.Key, Claim: *c, Reason: ClaimedFirst, Owner: owner, OwnerSince: since})
			return true
		}
		accepted = append(accepted, p.Key)
		return false
	}
	recs := merge(pubs, rejected)
	j.report(name, found, accepted)
	return recs
}

// merge gathers the records of the publishers that rejected does not
// refuse.
func merge(pubs []model.Publisher, rejected func(model.Publisher) bool) []model.Record {
	var all []model.Record
	for _, p := range pubs {
		if !rejected(p) {
			all = append(all, p.Records...)
		}
	}
	return model.Merge(all)
}

// report replaces name's conflicts with found: new ones are logged,
// counted and told to OnChange, ended ones told too (and logged when the
// object is answered now: it took the name over).
func (j *Judge) report(name string, found []Conflict, accepted []string) {
	slices.SortFunc(found, func(a, b Conflict) int { return cmp.Compare(a.Key, b.Key) })
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	old := j.conflicts[name]
	if len(old) == 0 && len(found) == 0 {
		j.mu.Unlock()
		return
	}
	var started, ended []Conflict
	for _, c := range found {
		if !slices.ContainsFunc(old, c.same) {
			started = append(started, c)
		}
	}
	for _, c := range old {
		if !slices.ContainsFunc(found, c.same) {
			ended = append(ended, c)
		}
	}
	if len(found) == 0 {
		delete(j.conflicts, name)
	} else {
		j.conflicts[name] = found
	}
	// The gauge adds up every live judge (a reload runs two for a moment).
	for _, c := range ended {
		conflictsGauge.WithLabelValues(c.Claim.Site).Dec()
	}
	for _, c := range started {
		conflictsGauge.WithLabelValues(c.Claim.Site).Inc()
	}
	j.mu.Unlock()

	for _, c := range started {
		log.Warningf("Ownership: %s", c.Message())
		conflictsTotal.WithLabelValues(c.Claim.Site, string(c.Reason)).Inc()
		if j.OnChange != nil {
			j.OnChange(c, true)
		}
	}
	for _, c := range ended {
		if slices.Contains(accepted, c.Key) {
			log.Infof("Ownership: %s now publishes %s", c.Claim.Object(), c.FQDN)
		}
		if j.OnChange != nil {
			j.OnChange(c, false)
		}
	}
}

// Inherit takes over the conflicts in force in another judge (the one of
// the instance a Corefile reload replaces) without reporting them again:
// they were logged, counted and told to OnChange when they started. What
// the new instance finds different is reported as usual.
func (j *Judge) Inherit(cs []Conflict) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return
	}
	for _, c := range cs {
		if !slices.ContainsFunc(j.conflicts[c.FQDN], c.same) {
			j.conflicts[c.FQDN] = append(j.conflicts[c.FQDN], c)
			conflictsGauge.WithLabelValues(c.Claim.Site).Inc()
		}
	}
	for _, found := range j.conflicts {
		slices.SortFunc(found, func(a, b Conflict) int { return cmp.Compare(a.Key, b.Key) })
	}
}

// Conflicts returns the conflicts in force, by name then object: what a
// status page or an event recorder shows.
func (j *Judge) Conflicts() []Conflict {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Conflict
	for _, cs := range j.conflicts {
		out = append(out, cs...)
	}
	slices.SortFunc(out, func(a, b Conflict) int {
		if c := cmp.Compare(a.FQDN, b.FQDN); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// Close takes the judge's conflicts out of the gauge (the server block is
// going away, or a reload replaced it); later reads report nothing.
func (j *Judge) Close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return
	}
	j.closed = true
	for _, cs := range j.conflicts {
		for _, c := range cs {
			conflictsGauge.WithLabelValues(c.Claim.Site).Dec()
		}
	}
	j.conflicts = nil
}
