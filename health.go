package gslb

import (
	"strings"
	"sync"
	"time"

	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
)

// memberHealth tells the table builder which members may be answered:
//   - a member its source reports down (Avi oper status, endpoint readiness)
//     is down, whatever else says;
//   - a probed member is up while its probe passes, whatever its cluster's
//     API server does (never fail over because one DNS server lost a watch);
//   - an unprobed member is up unless its cluster's API server has been
//     unreachable for longer than the grace period.
type memberHealth struct {
	checker *health.Checker
	grace   time.Duration
	sites   []siteConnection
	changed chan struct{} // a probe verdict flipped

	mu    sync.Mutex
	stale map[string]bool // site -> unreachable beyond grace
}

// siteConnection is a member cluster's link to its API server
// (*kube.Watcher).
type siteConnection interface {
	Site() string
	// DisconnectedSince is when the API server stopped answering; zero
	// while it answers.
	DisconnectedSince() time.Time
}

// newMemberHealth builds the prober too: its verdict changes come back
// through run, so nothing here needs the table builder that reads them.
func newMemberHealth(probe health.Settings, grace time.Duration, watchers []*kube.Watcher) *memberHealth {
	h := &memberHealth{grace: grace, changed: make(chan struct{}, 1)}
	for _, w := range watchers {
		h.sites = append(h.sites, w)
	}
	h.checker = health.NewChecker(probe, func() {
		select {
		case h.changed <- struct{}{}:
		default:
		}
	})
	return h
}

var protoOf = map[model.CheckProto]health.Proto{
	model.CheckHTTP:  health.HTTP,
	model.CheckHTTPS: health.HTTPS,
	model.CheckTCP:   health.TCP,
}

func target(r model.Record) (health.Target, bool) {
	p, ok := protoOf[r.Check.Proto]
	if !ok || r.Member.IsAlias() || r.Check.Port == 0 {
		return health.Target{}, false
	}
	t := health.Target{Addr: r.Member.Addr, Port: r.Check.Port, Proto: p, Site: r.Member.Site}
	if p != health.TCP {
		t.Host = strings.TrimSuffix(r.FQDN, ".")
		t.Path = r.Check.Path
	}
	return t, true
}

// Prepare implements table.Health: probe exactly the current members.
func (h *memberHealth) Prepare(recs []model.Record) {
	targets := make([]health.Target, 0, len(recs))
	for _, r := range recs {
		if t, ok := target(r); ok {
			targets = append(targets, t)
		}
	}
	h.checker.Sync(targets)
}

// Up implements table.Health.
func (h *memberHealth) Up(r model.Record) bool {
	if r.SourceDown {
		return false
	}
	if t, ok := target(r); ok {
		return h.checker.Healthy(t)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.stale[r.Member.Site]
}

// run asks for a rebuild whenever what Up answers may have changed: a probe
// verdict flipped, or (checked every second) a site's API server outage
// crossed the grace period either way.
func (h *memberHealth) run(stop <-chan struct{}, rebuild func()) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-h.changed:
			rebuild()
		case now := <-tick.C:
			if h.updateStale(now) {
				rebuild()
			}
		}
	}
}

// updateStale re-evaluates which sites have been unreachable for longer than
// the grace period at now, and tells whether that changed.
func (h *memberHealth) updateStale(now time.Time) bool {
	stale := map[string]bool{}
	for _, s := range h.sites {
		if since := s.DisconnectedSince(); !since.IsZero() && now.Sub(since) > h.grace {
			stale[s.Site()] = true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := len(stale) != len(h.stale)
	for s := range stale {
		changed = changed || !h.stale[s]
	}
	if changed {
		for s := range stale {
			if !h.stale[s] {
				log.Warningf("Site %s: API server unreachable for more than %s: its unprobed members leave the answers until it returns", s, h.grace)
			}
		}
		h.stale = stale
	}
	return changed
}
