package model

import (
	"slices"
	"strings"
	"sync"
)

// Store holds the records every source currently publishes, keyed by the
// object that produced them ("kube/sitea/ingress/ns/name", "static/..."), so
// that an update to one object replaces exactly its own records in O(1).
// Sources write; the table builder takes the names that changed after
// Changed fires and reads the records of just those names (TakeChanged,
// RecordsOf, or PublishersOf through an ownership filter), so a change costs
// in proportion to its own size.
type Store struct {
	mu      sync.Mutex
	objects map[string]object
	// byName indexes the objects that publish records of each name, or
	// claim it, so that RecordsOf does not scan every object.
	byName map[string][]string
	// dirty holds the names whose records changed since TakeChanged.
	dirty   map[string]struct{}
	changed chan struct{}
}

// object is what one key holds: its records, sorted by name, and the
// claim of the Kubernetes object behind them (nil for operator sources).
type object struct {
	recs  []Record
	claim *Claim
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		objects: map[string]object{},
		byName:  map[string][]string{},
		dirty:   map[string]struct{}{},
		changed: make(chan struct{}, 1),
	}
}

// Set replaces the records of object key, which no namespace owns (an
// operator-configured source). An empty recs removes the object. Readers
// are only notified when something actually changed, so resyncs and status
// updates that do not touch addresses cost no table rebuild.
func (s *Store) Set(key string, recs []Record) { s.set(key, normalize(recs), nil) }

// SetClaimed replaces the records of object key, published by the
// Kubernetes object that claim describes; the claim's names and the
// records' names together are the names the object claims. An object that
// claims no name and has no records is removed.
func (s *Store) SetClaimed(key string, claim Claim, recs []Record) {
	recs = normalize(recs)
	names := slices.Clone(claim.Names)
	for name := range namesOf(recs) {
		names = append(names, name)
	}
	slices.Sort(names)
	claim.Names = slices.Compact(names)
	if len(claim.Names) == 0 {
		s.set(key, nil, nil)
		return
	}
	s.set(key, recs, &claim)
}

func (s *Store) set(key string, recs []Record, claim *Claim) {
	s.mu.Lock()
	old, had := s.objects[key]
	switch {
	case len(recs) == 0 && claim == nil && !had:
		s.mu.Unlock()
		return
	case len(recs) == 0 && claim == nil:
		delete(s.objects, key)
	case had && slices.Equal(old.recs, recs) && old.claim.Equal(claim):
		s.mu.Unlock()
		return
	default:
		s.objects[key] = object{recs: recs, claim: claim}
	}
	s.reindex(key, old, object{recs: recs, claim: claim})
	s.mu.Unlock()
	s.notify()
}

// reindex moves key from the names of old to the names of now and marks
// both as changed. Called with s.mu held.
func (s *Store) reindex(key string, old, now object) {
	for name := range old.names() {
		s.dirty[name] = struct{}{}
		if !now.has(name) {
			keys := s.byName[name]
			if i := slices.Index(keys, key); i >= 0 {
				keys = slices.Delete(keys, i, i+1)
			}
			if len(keys) == 0 {
				delete(s.byName, name)
			} else {
				s.byName[name] = keys
			}
		}
	}
	for name := range now.names() {
		s.dirty[name] = struct{}{}
		if !old.has(name) {
			s.byName[name] = append(s.byName[name], key)
		}
	}
}

// names yields the distinct names of the object: the claimed ones (which
// include those of its records) or, without a claim, those of its records.
func (o object) names() func(func(string) bool) {
	if o.claim != nil {
		return slices.Values(o.claim.Names)
	}
	return namesOf(o.recs)
}

// has tells whether the object publishes or claims name.
func (o object) has(name string) bool {
	if o.claim != nil {
		_, ok := slices.BinarySearch(o.claim.Names, name)
		return ok
	}
	return hasName(o.recs, name)
}

// namesOf yields the distinct FQDNs of sorted records.
func namesOf(recs []Record) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i, r := range recs {
			if i > 0 && recs[i-1].FQDN == r.FQDN {
				continue
			}
			if !yield(r.FQDN) {
				return
			}
		}
	}
}

// hasName tells whether sorted recs hold a record of name.
func hasName(recs []Record, name string) bool {
	i, _ := slices.BinarySearchFunc(recs, name, func(r Record, n string) int { return strings.Compare(r.FQDN, n) })
	return i < len(recs) && recs[i].FQDN == name
}

// Delete removes the records of object key.
func (s *Store) Delete(key string) { s.Set(key, nil) }

// DeletePrefix removes every object whose key starts with prefix, e.g. all
// objects of one source when it is shut down for good.
func (s *Store) DeletePrefix(prefix string) {
	s.mu.Lock()
	n := 0
	for k, old := range s.objects {
		if strings.HasPrefix(k, prefix) {
			delete(s.objects, k)
			s.reindex(k, old, object{})
			n++
		}
	}
	s.mu.Unlock()
	if n > 0 {
		s.notify()
	}
}

// Changed fires (coalesced) after the content changed.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// TakeChanged returns the names whose records changed since the last call
// (in no particular order), and forgets them. A name may be reported
// although its merged records ended up the same (another object publishes
// the same member); the reader compares.
func (s *Store) TakeChanged() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.dirty) == 0 {
		return nil
	}
	out := make([]string, 0, len(s.dirty))
	for name := range s.dirty {
		out = append(out, name)
	}
	// A fresh map rather than clear(): after the initial sync of 100 000
	// names a cleared map would keep its buckets for good.
	s.dirty = map[string]struct{}{}
	return out
}

// RecordsOf returns the sorted, de-duplicated records of one name, merged
// over every object that publishes it, whoever owns it; nil when none does.
func (s *Store) RecordsOf(name string) []Record {
	s.mu.Lock()
	var all []Record
	for _, key := range s.byName[name] {
		all = append(all, recordsOf(s.objects[key].recs, name)...)
	}
	s.mu.Unlock()
	return Merge(all)
}

// PublishersOf returns every object that publishes or claims name, in no
// particular order, for an ownership filter to choose from.
func (s *Store) PublishersOf(name string) []Publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.byName[name]
	if len(keys) == 0 {
		return nil
	}
	out := make([]Publisher, len(keys))
	for i, key := range keys {
		o := s.objects[key]
		out[i] = Publisher{Key: key, Claim: o.claim, Records: recordsOf(o.recs, name)}
	}
	return out
}

// Names returns every name some object publishes or claims, in no
// particular order.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.byName))
	for name := range s.byName {
		out = append(out, name)
	}
	return out
}

// recordsOf returns the run of sorted recs whose name is name.
func recordsOf(recs []Record, name string) []Record {
	i, _ := slices.BinarySearchFunc(recs, name, func(r Record, n string) int { return strings.Compare(r.FQDN, n) })
	j := i
	for j < len(recs) && recs[j].FQDN == name {
		j++
	}
	return recs[i:j:j]
}

// Merge sorts and de-duplicates the records of one name gathered from
// several objects, in place; nil when there are none.
func Merge(recs []Record) []Record {
	if len(recs) == 0 {
		return nil
	}
	slices.SortFunc(recs, Record.Compare)
	return slices.Compact(recs)
}

// Records returns a sorted, de-duplicated copy of all records: one per
// (FQDN, site, address or target), whichever objects published it.
func (s *Store) Records() []Record {
	s.mu.Lock()
	n := 0
	for _, o := range s.objects {
		n += len(o.recs)
	}
	all := make([]Record, 0, n)
	for _, o := range s.objects {
		all = append(all, o.recs...)
	}
	s.mu.Unlock()
	return normalize(all)
}

func (s *Store) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func normalize(recs []Record) []Record {
	if len(recs) == 0 {
		return nil
	}
	recs = slices.Clone(recs)
	slices.SortFunc(recs, Record.Compare)
	return slices.Compact(recs)
}

// Objects returns the keys of the objects that publish member m of name,
// sorted; for the status page and events, never the hot path.
func (s *Store) Objects(name string, m Member) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, key := range s.byName[name] {
		for _, r := range recordsOf(s.objects[key].recs, name) {
			if r.Member == m {
				out = append(out, key)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
