package table

import (
	"hash/maphash"
	"maps"
	"slices"
)

// shardBits sets the number of shards of a nameMap. 1024 shards keep a
// shard of a 100 000-name table near 100 entries, so copying the shards a
// change touches costs microseconds, while copying the shard array itself
// (8 KiB of pointers) on every publish stays cheap at any size.
const (
	shardBits = 10
	numShards = 1 << shardBits
)

// shardSeed is fixed for the process: tables share shards, so every table
// must put a name in the same shard.
var shardSeed = maphash.MakeSeed()

// nameMap is a copy-on-write map from owner name to node, split into
// shards. A published nameMap is never written: a change copies the shard
// array, then copies each shard it writes to once (see edit).
type nameMap struct {
	shards [numShards]map[string]*node
	n      int
}

func shardOf(name string) int { return int(maphash.String(shardSeed, name) & (numShards - 1)) }

// get returns the node of name, or nil. It never allocates.
func (m *nameMap) get(name string) *node { return m.shards[shardOf(name)][name] }

func (m *nameMap) len() int { return m.n }

// each calls fn for every name, in no particular order.
func (m *nameMap) each(fn func(name string, n *node)) {
	for _, s := range m.shards {
		for name, n := range s {
			fn(name, n)
		}
	}
}

func (m *nameMap) sorted() []string {
	out := make([]string, 0, m.n)
	m.each(func(name string, _ *node) { out = append(out, name) })
	slices.Sort(out)
	return out
}

// nameEdit builds the next nameMap from a published one: unchanged shards
// stay shared, a written shard is copied on its first write.
type nameEdit struct {
	m      *nameMap
	copied [numShards]bool
}

func newNameEdit(base *nameMap) *nameEdit {
	e := &nameEdit{m: new(nameMap)}
	if base != nil {
		*e.m = *base
	}
	return e
}

func (e *nameEdit) get(name string) *node { return e.m.get(name) }

func (e *nameEdit) shard(name string) map[string]*node {
	i := shardOf(name)
	if !e.copied[i] {
		e.copied[i] = true
		if e.m.shards[i] == nil {
			e.m.shards[i] = map[string]*node{}
		} else {
			e.m.shards[i] = maps.Clone(e.m.shards[i])
		}
	}
	return e.m.shards[i]
}

// set stores n under name; a nil n removes the name.
func (e *nameEdit) set(name string, n *node) {
	s := e.shard(name)
	_, had := s[name]
	switch {
	case n == nil && had:
		delete(s, name)
		e.m.n--
	case n == nil:
	default:
		s[name] = n
		if !had {
			e.m.n++
		}
	}
}

// done returns the finished map; the edit must not be used afterwards.
func (e *nameEdit) done() *nameMap {
	m := e.m
	e.m = nil
	return m
}
