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
	checker  *health.Checker
	grace    time.Duration
	watchers []*kube.Watcher

	mu    sync.Mutex
	stale map[string]bool // site -> unreachable beyond grace
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

// watchGrace re-evaluates, every second, which sites have been unreachable
// for longer than the grace period, and asks for a rebuild when that changes.
func (h *memberHealth) watchGrace(stop <-chan struct{}, rebuild func()) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		stale := map[string]bool{}
		for _, w := range h.watchers {
			if since := w.DisconnectedSince(); !since.IsZero() && now.Sub(since) > h.grace {
				stale[w.Site()] = true
			}
		}
		h.mu.Lock()
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
		h.mu.Unlock()
		if changed {
			rebuild()
		}
	}
}
