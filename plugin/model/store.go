package model

import (
	"slices"
	"strings"
	"sync"
)

// Store holds the records every source currently publishes, keyed by the
// object that produced them ("kube/sitea/ingress/ns/name", "static/..."), so
// that an update to one object replaces exactly its own records in O(1).
// Sources write; the table builder reads a snapshot after Changed fires.
type Store struct {
	mu      sync.Mutex
	objects map[string][]Record
	changed chan struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{objects: map[string][]Record{}, changed: make(chan struct{}, 1)}
}

// Set replaces the records of object key. An empty recs removes the object.
// Readers are only notified when something actually changed, so resyncs and
// status updates that do not touch addresses cost no table rebuild.
func (s *Store) Set(key string, recs []Record) {
	recs = normalize(recs)
	s.mu.Lock()
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
	s.mu.Unlock()
	s.notify()
}

// Delete removes the records of object key.
func (s *Store) Delete(key string) { s.Set(key, nil) }

// DeletePrefix removes every object whose key starts with prefix, e.g. all
// objects of one source when it is shut down for good.
func (s *Store) DeletePrefix(prefix string) {
	s.mu.Lock()
	n := 0
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			delete(s.objects, k)
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
