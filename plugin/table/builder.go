package table

import (
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/plugin/model"
)

// Debounce is how long the builder waits after a change for more changes
// before compiling, so that an informer's initial list of a thousand objects
// costs one build, not a thousand; it keeps updates well under a second.
const Debounce = 50 * time.Millisecond

// Health decides which members may be answered. Prepare is called with the
// records before every compile (to start or stop probing them); Up is then
// asked about each record.
type Health interface {
	Prepare(recs []model.Record)
	Up(r model.Record) bool
}

// Builder keeps the published table in step with a store and with health.
type Builder struct {
	cfg    Config
	store  *model.Store
	health Health
	notify chan struct{}
	cur    atomic.Pointer[Table]
	// OnBuild, if set before Run, is called after each publish (for logs).
	OnBuild func(t *Table, records int)
	warned  string
}

// NewBuilder compiles the store's current content at once, so that a table
// (at least the apex) exists before the first query. health may be nil: then
// every member is up.
func NewBuilder(cfg Config, store *model.Store, health Health) *Builder {
	b := &Builder{cfg: cfg, store: store, health: health, notify: make(chan struct{}, 1)}
	b.rebuild(time.Now())
	return b
}

// Table returns the table in use. It never returns nil.
func (b *Builder) Table() *Table { return b.cur.Load() }

// Notify asks for a rebuild: health changed, or a grace period ran out.
func (b *Builder) Notify() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// Run rebuilds on every change until stop is closed.
func (b *Builder) Run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-b.store.Changed():
		case <-b.notify:
		}
		select {
		case <-stop:
			return
		case <-time.After(Debounce):
		}
		b.rebuild(time.Now())
	}
}

// rebuild compiles and publishes a table when the content differs from the
// one in use. The serial becomes max(previous+1, unix time): it always rises,
// and it keeps rising across restarts as long as the clock does.
func (b *Builder) rebuild(now time.Time) {
	recs := b.store.Records()
	var up []bool
	if b.health != nil {
		b.health.Prepare(recs)
		up = make([]bool, len(recs))
		for i, r := range recs {
			up[i] = b.health.Up(r)
		}
	}
	prev := b.cur.Load()
	serial := uint32(now.Unix())
	if prev != nil {
		if prev.hash == contentHash(recs, up) {
			return
		}
		if serial <= prev.Serial {
			serial = prev.Serial + 1
		}
	}
	t := Compile(b.cfg, recs, up, serial)
	b.cur.Store(t)
	buildsTotal.Inc()
	b.updateGauges(recs)
	if w := joinWarnings(t.Warnings); w != b.warned {
		b.warned = w
		for _, line := range t.Warnings {
			log.Warningf("Policy conflict: %s", line)
		}
	}
	if b.OnBuild != nil {
		b.OnBuild(t, len(recs))
	}
}
