package table

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/plugin/model"
)

// Debounce is how long the builder waits after a change for more changes
// before applying them. A change costs in proportion to its size, so this
// only batches bursts (an informer's initial list) into fewer tables. The
// wait does not grow with the last build's time: a batch costs what its
// changes cost, and waiting after the big batch of an initial list would
// only delay its last objects.
const Debounce = 10 * time.Millisecond

// Health decides which members may be answered.
type Health interface {
	// Track is told that the records of name changed from old to recs
	// (either may be nil), before Up is asked about them, so that it can
	// start or stop probing their members.
	Track(name string, old, recs []model.Record)
	// Up tells whether the member of r may be answered.
	Up(r model.Record) bool
}

// Source is where the builder reads records: a model.Store, or a filter in
// front of one (name ownership) that answers for each name what may be
// published of it.
type Source interface {
	// Changed fires (coalesced) after names changed; TakeChanged returns
	// them and forgets them.
	Changed() <-chan struct{}
	TakeChanged() []string
	// RecordsOf returns the sorted, de-duplicated records of one name.
	RecordsOf(name string) []model.Record
	// Names returns every name with records (or that might have some).
	Names() []string
}

// Builder keeps the published table in step with a store and with health.
// It applies each change to the names it touches (see the package doc).
type Builder struct {
	cfg    Config
	store  Source
	health Health
	notify chan struct{}
	cur    atomic.Pointer[Table]
	// OnBuild, if set before Run, is called after each publish (for logs)
	// with the number of records in use.
	OnBuild func(t *Table, records int)
	// OnMemberHealth, if set before Run, is told of every record whose
	// health verdict flipped, on the building goroutine: it must not block.
	OnMemberHealth func(name string, r model.Record, up bool)
	warned         string

	mu         sync.Mutex
	touched    map[string]struct{} // names whose health may have changed
	recheckAll bool
	// flush carries Flush's requests to Run: each is closed once a table
	// with every change made before it is published.
	flush chan chan struct{}

	st *state // only used by the goroutine that builds
}

// NewBuilder compiles the store's current content at once, so that a table
// (at least the apex) exists before the first query. health may be nil: then
// every member is up.
func NewBuilder(cfg Config, store Source, health Health) *Builder {
	b := &Builder{cfg: cfg, store: store, health: health, notify: make(chan struct{}, 1), touched: map[string]struct{}{}, flush: make(chan chan struct{})}
	st, empty := newState(&b.cfg)
	b.st = st
	now := time.Now()
	t := st.initial(empty, b.nextSerial(nil, now))
	t.Built = now
	b.publish(t)
	// Everything in the store is new to this builder; names marked
	// changed meanwhile are applied again by Run, which is harmless.
	store.TakeChanged()
	u := update{recs: map[string][]model.Record{}}
	for _, name := range store.Names() {
		if recs := store.RecordsOf(name); recs != nil {
			u.recs[name] = recs
		}
	}
	b.build(u, now)
	return b
}

// Table returns the table in use. It never returns nil.
func (b *Builder) Table() *Table { return b.cur.Load() }

// Notify asks to re-evaluate the health of every name (a fallback: a
// health source that knows which names it affects calls Touch instead).
// Only names whose health changed are recompiled.
func (b *Builder) Notify() {
	b.mu.Lock()
	b.recheckAll = true
	b.mu.Unlock()
	b.wake()
}

// Touch asks to re-evaluate the health of the named services: a probe
// flipped, or the grace period of their site ran out.
func (b *Builder) Touch(names ...string) {
	if len(names) == 0 {
		return
	}
	b.mu.Lock()
	for _, n := range names {
		b.touched[n] = struct{}{}
	}
	b.mu.Unlock()
	b.wake()
}

func (b *Builder) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// Run applies changes until stop is closed.
func (b *Builder) Run(stop <-chan struct{}) {
	b.st.onHealth = b.OnMemberHealth
	for {
		var flushed chan struct{}
		select {
		case <-stop:
			return
		case <-b.store.Changed():
		case <-b.notify:
		case flushed = <-b.flush:
		}
		if flushed == nil {
			select {
			case <-stop:
				return
			case <-time.After(Debounce):
			case flushed = <-b.flush:
			}
		}
		b.rebuild(time.Now())
		if flushed != nil {
			close(flushed)
		}
	}
}

// Flush publishes every change made before it at once, without waiting
// for the debounce, and returns when that table is in use, or when stop
// closes. Run must be running. Readiness waits for it: a server whose
// sources have synced is not ready until its table shows what they hold.
func (b *Builder) Flush(stop <-chan struct{}) {
	done := make(chan struct{})
	select {
	case b.flush <- done:
	case <-stop:
		return
	}
	select {
	case <-done:
	case <-stop:
	}
}

// Rebuild publishes a table with what changed at once, without waiting
// for the debounce: a reloaded instance, before it serves, takes over the
// records of the one it replaces. Only while Run is not running.
func (b *Builder) Rebuild() { b.rebuild(time.Now()) }

// rebuild applies every change since the last one.
func (b *Builder) rebuild(now time.Time) { b.build(b.pending(), now) }

// pending collects the changes since the last build.
func (b *Builder) pending() update {
	u := update{recs: map[string][]model.Record{}}
	for _, name := range b.store.TakeChanged() {
		u.recs[name] = b.store.RecordsOf(name)
	}
	b.mu.Lock()
	all := b.recheckAll
	touched := b.touched
	b.recheckAll = false
	b.touched = map[string]struct{}{}
	b.mu.Unlock()
	if all {
		for name := range b.st.inputs {
			u.recheck = append(u.recheck, name)
		}
	} else {
		for name := range touched {
			u.recheck = append(u.recheck, name)
		}
	}
	return u
}

// build applies u and publishes the result when a name's inputs changed.
// The serial becomes max(previous+1, unix time): it always rises, and it
// keeps rising across restarts as long as the clock does.
func (b *Builder) build(u update, now time.Time) {
	prev := b.cur.Load()
	if len(u.recs) == 0 && len(u.recheck) == 0 {
		return
	}
	if t := b.st.apply(prev, u, b.health, b.nextSerial(prev, now)); t != nil {
		t.Built = now
		b.publish(t)
	}
}

func (b *Builder) nextSerial(prev *Table, now time.Time) uint32 {
	serial := uint32(now.Unix())
	if prev != nil && serial <= prev.Serial {
		serial = prev.Serial + 1
	}
	return serial
}

func (b *Builder) publish(t *Table) {
	b.cur.Store(t)
	buildsTotal.Inc()
	b.updateGauges(t)
	if b.st.warned {
		b.st.warned = false
		if w := joinWarnings(t.Warnings); w != b.warned {
			b.warned = w
			for _, line := range t.Warnings {
				log.Warningf("Policy conflict: %s", line)
			}
		}
	}
	if b.OnBuild != nil {
		b.OnBuild(t, b.st.records)
	}
}
