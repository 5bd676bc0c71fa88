package gslb

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gslb/gslb/plugin/model"
)

// A Corefile reload builds a new plugin instance whose sources start from
// nothing: until each has listed its API server or polled its controller,
// its names would be NXDOMAIN, for a moment on every reload and for as
// long as the API servers are away when a reload meets an outage (the
// chaos run, test/chaos, found both). So the new instance takes over what
// the one it replaces published: CoreDNS starts the new instance before
// it stops the old one, and the records of each source carry over until
// that source has listed everything itself. Records of sources the new
// Corefile no longer has, and static members, are not carried. The probe
// verdicts carry over as well, so that a member known dead is not
// answered again until the new instance's first probe of it.

var (
	servingMu sync.Mutex
	// serving is, by server block (its zones), the instance answering.
	serving = map[string]*GSLB{}
)

// carryGrace is how long a source's carried records outlive its sync:
// informers report synced when their caches are full, a moment before
// every object has been through the handlers that publish it.
const carryGrace = 2 * time.Second

func (g *GSLB) servingKey() string { return strings.Join(g.zones, " ") }

// takeOver registers g as the instance answering for its zones and, when
// it replaces one (a reload), carries over that one's records.
func (g *GSLB) takeOver() {
	servingMu.Lock()
	prev := serving[g.servingKey()]
	serving[g.servingKey()] = g
	servingMu.Unlock()
	if prev == nil || prev == g {
		return
	}
	// Probe verdicts carry over too: a member found dead stays out. The
	// table is rebuilt with them (and the carried records below) before
	// this instance answers its first query: start runs the builder only
	// after this.
	g.health.checker.Inherit(prev.health.checker.Snapshot())
	// So do the ownership conflicts: reported once, when they started.
	g.owners.Inherit(prev.owners.Conflicts())
	defer g.rebuildFlipped()
	carried := map[string]model.Object{}
	var pending []source
	old := prev.store.Snapshot()
	for _, s := range g.sources {
		n := len(carried)
		for k, o := range old {
			if strings.HasPrefix(k, s.KeyPrefix()) {
				carried[k] = o
			}
		}
		if len(carried) > n {
			pending = append(pending, s)
		}
	}
	if len(pending) == 0 {
		return
	}
	g.store.Carry(carried)
	log.Debugf("reload: carrying %d objects over until their sources have synced", len(carried))
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.dropCarried(pending)
	}()
}

// rebuildFlipped builds the table with the carried records and inherited
// verdicts; twice at most, since the first build tracks the carried
// members' targets, which may take an inherited verdict.
func (g *GSLB) rebuildFlipped() {
	for range 2 {
		if names := g.health.flippedNames(); len(names) > 0 {
			g.builder.Touch(names...)
		}
		g.builder.Rebuild()
	}
}

// dropCarried removes each source's carried records once it has synced:
// what it has not published by then is gone.
func (g *GSLB) dropCarried(pending []source) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	syncedAt := map[source]time.Time{}
	for len(pending) > 0 {
		select {
		case <-g.stopCh:
			return
		case <-tick.C:
		}
		now := time.Now()
		pending = slices.DeleteFunc(pending, func(s source) bool {
			if !s.HasSynced() {
				delete(syncedAt, s)
				return false
			}
			if _, ok := syncedAt[s]; !ok {
				syncedAt[s] = now
			}
			if now.Sub(syncedAt[s]) < carryGrace {
				return false
			}
			if n := g.store.DropCarried(s.KeyPrefix()); n > 0 {
				log.Debugf("reload: %d objects under %s were not published again and are gone", n, s.KeyPrefix())
			}
			return true
		})
	}
}

// handBack forgets g as the instance answering, unless a newer one took
// over already.
func (g *GSLB) handBack() {
	servingMu.Lock()
	if serving[g.servingKey()] == g {
		delete(serving, g.servingKey())
	}
	servingMu.Unlock()
}
