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

// Builder keeps the published table in step with a store.
type Builder struct {
	cfg   Config
	store *model.Store
	cur   atomic.Pointer[Table]
	// OnBuild, if set before Run, is called after each publish (for logs).
	OnBuild func(t *Table, records int)
}

// NewBuilder compiles the store's current content at once, so that a table
// (at least the apex) exists before the first query.
func NewBuilder(cfg Config, store *model.Store) *Builder {
	b := &Builder{cfg: cfg, store: store}
	b.rebuild(time.Now())
	return b
}

// Table returns the table in use. It never returns nil.
func (b *Builder) Table() *Table { return b.cur.Load() }

// Run rebuilds on every store change until stop is closed.
func (b *Builder) Run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-b.store.Changed():
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
	prev := b.cur.Load()
	serial := uint32(now.Unix())
	if prev != nil {
		if prev.hash == contentHash(recs) {
			return
		}
		if serial <= prev.Serial {
			serial = prev.Serial + 1
		}
	}
	t := Compile(b.cfg, recs, serial)
	b.cur.Store(t)
	buildsTotal.Inc()
	serialGauge.Set(float64(serial))
	b.updateGauges(recs)
	if b.OnBuild != nil {
		b.OnBuild(t, len(recs))
	}
}

func (b *Builder) updateGauges(recs []model.Record) {
	services := map[string]map[string]bool{}
	members := map[string]int{}
	t := b.cur.Load()
	for _, r := range recs {
		z := t.Zone(r.FQDN)
		if z == nil {
			continue
		}
		if services[z.Name] == nil {
			services[z.Name] = map[string]bool{}
		}
		services[z.Name][r.FQDN] = true
		members[r.Member.Site]++
	}
	for _, z := range b.cfg.Zones {
		servicesGauge.WithLabelValues(z.Name).Set(float64(len(services[z.Name])))
	}
	membersGauge.Reset()
	for site, n := range members {
		membersGauge.WithLabelValues(site).Set(float64(n))
	}
}
