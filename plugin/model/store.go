package model

import (
	"maps"
	"slices"
	"strings"
	"sync"
)

// Store holds the records every source currently publishes, keyed by the
// object that produced them ("kube/sitea/ingress/ns/name", "static/..."), so
// that an update to one object replaces exactly its own records in O(1).
// Sources write; the table builder takes the names that changed after
// Changed fires and reads the records of just those names (TakeChanged,
// RecordsOf), so a change costs in proportion to its own size.
type Store struct {
	mu      sync.Mutex
	objects map[string][]Record
	// byName indexes the objects that publish records of each name, so
	// that RecordsOf does not scan every object.
	byName map[string][]string
	// dirty holds the names whose records changed since TakeChanged.
	dirty   map[string]struct{}
	changed chan struct{}
	// carried are the keys whose records an earlier instance published
	// (Carry) and no source has set since.
	carried map[string]struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		objects: map[string][]Record{},
		byName:  map[string][]string{},
		dirty:   map[string]struct{}{},
		changed: make(chan struct{}, 1),
	}
}

// Set replaces the records of object key. An empty recs removes the object.
// Readers are only notified when something actually changed, so resyncs and
// status updates that do not touch addresses cost no table rebuild.
func (s *Store) Set(key string, recs []Record) {
	recs = normalize(recs)
	s.mu.Lock()
	delete(s.carried, key)
	old, had := s.objects[key]
	switch {
	case len(recs) == 0 && !had:
		s.mu.Unlock()
		return
	case len(recs) == 0:
		delete(s.objects, key)
	case had && slices.Equal(old, recs):
		s.mu.Unlock()
		return
	default:
		s.objects[key] = recs
	}
	s.reindex(key, old, recs)
	s.mu.Unlock()
	s.notify()
}

// reindex moves key from the names of old to the names of recs and marks
// both as changed. Records are sorted by name, so each name is one run.
// Called with s.mu held.
func (s *Store) reindex(key string, old, recs []Record) {
	for name := range names(old) {
		s.dirty[name] = struct{}{}
		if !hasName(recs, name) {
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
	for name := range names(recs) {
		s.dirty[name] = struct{}{}
		if !hasName(old, name) {
			s.byName[name] = append(s.byName[name], key)
		}
	}
}

// names yields the distinct FQDNs of sorted records.
func names(recs []Record) func(func(string) bool) {
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
			delete(s.carried, k)
			s.reindex(k, old, nil)
			n++
		}
	}
	s.mu.Unlock()
	if n > 0 {
		s.notify()
	}
}

// Objects returns every object's records by key (shared, read-only).
func (s *Store) Objects() map[string][]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.objects)
}

// Carry publishes objects that an earlier instance of the plugin had, so
// that a Corefile reload answers what was known while the new sources
// list again (or while their API servers are away). Each stays until a
// source sets its key, or DropCarried removes it once its source has
// listed everything. Keys already set are left alone.
func (s *Store) Carry(objects map[string][]Record) {
	s.mu.Lock()
	if s.carried == nil {
		s.carried = map[string]struct{}{}
	}
	n := 0
	for k, recs := range objects {
		if _, had := s.objects[k]; had || len(recs) == 0 {
			continue
		}
		recs = normalize(recs)
		s.objects[k] = recs
		s.carried[k] = struct{}{}
		s.reindex(k, nil, recs)
		n++
	}
	s.mu.Unlock()
	if n > 0 {
		s.notify()
	}
}

// DropCarried removes the carried objects under prefix that no source has
// set since: its source has listed everything, so they are gone.
func (s *Store) DropCarried(prefix string) int {
	s.mu.Lock()
	n := 0
	for k := range s.carried {
		if strings.HasPrefix(k, prefix) {
			old := s.objects[k]
			delete(s.objects, k)
			delete(s.carried, k)
			s.reindex(k, old, nil)
			n++
		}
	}
	s.mu.Unlock()
	if n > 0 {
		s.notify()
	}
	return n
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
// over every object that publishes it; nil when none does.
func (s *Store) RecordsOf(name string) []Record {
	s.mu.Lock()
	var all []Record
	for _, key := range s.byName[name] {
		recs := s.objects[key]
		i, _ := slices.BinarySearchFunc(recs, name, func(r Record, n string) int { return strings.Compare(r.FQDN, n) })
		for ; i < len(recs) && recs[i].FQDN == name; i++ {
			all = append(all, recs[i])
		}
	}
	s.mu.Unlock()
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, Record.Compare)
	return slices.Compact(all)
}

// Records returns a sorted, de-duplicated copy of all records: one per
// (FQDN, site, address or target), whichever objects published it.
func (s *Store) Records() []Record {
	s.mu.Lock()
	n := 0
	for _, r := range s.objects {
		n += len(r)
	}
	all := make([]Record, 0, n)
	for _, r := range s.objects {
		all = append(all, r...)
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
