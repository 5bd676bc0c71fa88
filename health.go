package gslb

import (
	"strings"
	"sync"
	"time"

	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/vantage"
)

// memberHealth tells the table builder which members may be answered:
//   - a member its source reports down (Avi oper status, endpoint readiness)
//     is down, whatever else says;
//   - a probed member is up while its probe passes, whatever its cluster's
//     API server does (never fail over because one DNS server lost a watch);
//     with a vantage block, while the quorum of the fresh vantages (this
//     server's probe one vote among them) does not see it down, so that a
//     partition seen by one DNS server is not a failover (plugin/vantage);
//   - an unprobed member is up unless its cluster's API server has been
//     unreachable for longer than the grace period.
//
// It also keeps which names each probe target and each site's unprobed
// members belong to, so that a probe flip or a grace expiry re-evaluates
// only the names it affects (table.Builder.Touch), never every name.
type memberHealth struct {
	checker *health.Checker
	grace   time.Duration
	sites   []siteConnection
	changed chan struct{} // a probe verdict flipped

	mu    sync.Mutex
	stale map[string]bool // site -> unreachable beyond grace

	imu sync.Mutex
	// byTarget counts, per probe target, the records of each name that
	// it probes; a target is probed while any name uses it, once however
	// many names share it.
	byTarget map[health.Target]map[string]int32
	// unprobed counts, per site, the records of each name that no probe
	// covers: the grace period decides their health.
	unprobed map[string]map[string]int32
	// byID finds a probe target by its vantage ID (shared verdicts only).
	byID map[uint64]health.Target

	// Shared verdicts (a vantage block); nil without one, and then the
	// own probes decide alone, as they always did.
	board     *vantage.Board
	publisher *kube.Publisher
	self      string
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
	h := &memberHealth{
		grace: grace, changed: make(chan struct{}, 1),
		byTarget: map[health.Target]map[string]int32{},
		unprobed: map[string]map[string]int32{},
	}
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

// Track implements table.Health: probe exactly the current members. New
// records are counted before old ones are released, so a target that a
// change keeps is never stopped and restarted (which would forget its
// state).
func (h *memberHealth) Track(name string, old, recs []model.Record) {
	var add, remove []health.Target
	h.imu.Lock()
	for _, r := range recs {
		if t, ok := target(r); ok {
			names := h.byTarget[t]
			if names == nil {
				names = map[string]int32{}
				h.byTarget[t] = names
				add = append(add, t)
			}
			names[name]++
			if h.byID != nil {
				h.byID[targetID(t)] = t
			}
		} else {
			count(h.unprobed, r.Member.Site, name, 1)
		}
	}
	for _, r := range old {
		if t, ok := target(r); ok {
			names := h.byTarget[t]
			if names[name]--; names[name] <= 0 {
				delete(names, name)
			}
			if len(names) == 0 {
				delete(h.byTarget, t)
				remove = append(remove, t)
				if h.byID != nil {
					delete(h.byID, targetID(t))
				}
			}
		} else {
			count(h.unprobed, r.Member.Site, name, -1)
		}
	}
	h.imu.Unlock()
	if len(add)+len(remove) > 0 {
		h.checker.Update(add, remove)
	}
}

func count(m map[string]map[string]int32, site, name string, delta int32) {
	names := m[site]
	if names == nil {
		names = map[string]int32{}
		m[site] = names
	}
	if names[name] += delta; names[name] <= 0 {
		delete(names, name)
	}
	if len(names) == 0 {
		delete(m, site)
	}
}

// flippedNames are the names of the targets whose probes flipped since the
// last call.
func (h *memberHealth) flippedNames() []string {
	var names []string
	h.imu.Lock()
	defer h.imu.Unlock()
	for _, t := range h.checker.TakeFlipped() {
		for name := range h.byTarget[t] {
			names = append(names, name)
		}
	}
	return names
}

// namesOf returns the names with unprobed members in sites.
func (h *memberHealth) namesOf(sites []string) []string {
	var names []string
	h.imu.Lock()
	defer h.imu.Unlock()
	for _, s := range sites {
		for name := range h.unprobed[s] {
			names = append(names, name)
		}
	}
	return names
}

// Up implements table.Health.
func (h *memberHealth) Up(r model.Record) bool {
	if r.SourceDown {
		return false
	}
	if t, ok := target(r); ok {
		own := h.checker.Healthy(t)
		if h.board == nil {
			return own
		}
		return !h.board.Down(targetID(t), !own)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.stale[r.Member.Site]
}

// run asks touch to re-evaluate the names whose health may have changed: a
// probe verdict flipped, or (checked every second) a site's API server
// outage crossed the grace period either way.
func (h *memberHealth) run(stop <-chan struct{}, touch func(names ...string)) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var shared <-chan struct{} // nil without a vantage block: never ready
	if h.board != nil {
		shared = h.board.Changed()
	}
	for {
		select {
		case <-stop:
			return
		case <-h.changed:
			touch(h.flippedNames()...)
			if h.publisher != nil {
				h.publisher.Kick()
			}
		case <-shared:
			touch(h.namesOfIDs(h.board.TakeChanged())...)
		case now := <-tick.C:
			if sites := h.updateStale(now); len(sites) > 0 {
				touch(h.namesOf(sites)...)
			}
			if h.board != nil {
				// A peer starting or stopping to count changes
				// the votes on its targets: Changed then says which.
				h.board.Refresh()
				h.countQuorum()
			}
		}
	}
}

// targetID is a target's name among vantages: a hash of what identifies
// it to every server (not its site, which only labels metrics), computed
// without allocating (FNV-64a).
func targetID(t health.Target) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	add := func(b byte) { h = (h ^ uint64(b)) * prime }
	add(byte(t.Proto))
	for _, b := range t.Addr.As16() {
		add(b)
	}
	add(byte(t.Port >> 8))
	add(byte(t.Port))
	for i := 0; i < len(t.Host); i++ {
		add(t.Host[i])
	}
	add(0)
	for i := 0; i < len(t.Path); i++ {
		add(t.Path[i])
	}
	return h
}

// namesOfIDs returns the names probed by the targets with these IDs.
func (h *memberHealth) namesOfIDs(ids []uint64) []string {
	var names []string
	h.imu.Lock()
	defer h.imu.Unlock()
	for _, id := range ids {
		if t, ok := h.byID[id]; ok {
			for name := range h.byTarget[t] {
				names = append(names, name)
			}
		}
	}
	return names
}

// verdicts are this vantage's own probe results, for the publisher: only
// targets probed at least once (a target not probed yet, or never probed,
// gives no opinion).
func (h *memberHealth) verdicts() []vantage.Verdict {
	snap := h.checker.Snapshot()
	out := make([]vantage.Verdict, 0, len(snap))
	up, down := 0, 0
	for t, st := range snap {
		if st.Probes == 0 {
			continue
		}
		v := vantage.Verdict{ID: targetID(t), Down: !st.Healthy, Since: st.Since}
		if v.Down {
			v.Reason = st.Reason
			down++
		} else {
			up++
		}
		out = append(out, v)
	}
	vantage.SetOwnCounts(h.self, up, down)
	return out
}

// countQuorum sets the quorum gauge: probed targets by own verdict and by
// decision. Once a second, over the probed targets.
func (h *memberHealth) countQuorum() {
	var n [2][2]int // [own down][decision down]
	h.imu.Lock()
	targets := make([]health.Target, 0, len(h.byTarget))
	for t := range h.byTarget {
		targets = append(targets, t)
	}
	h.imu.Unlock()
	for _, t := range targets {
		own := !h.checker.Healthy(t)
		n[b2i(own)][b2i(h.board.Down(targetID(t), own))]++
	}
	word := [2]string{"up", "down"}
	for o := range 2 {
		for d := range 2 {
			vantage.QuorumTargets.WithLabelValues(word[o], word[d]).Set(float64(n[o][d]))
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// updateStale re-evaluates which sites have been unreachable for longer than
// the grace period at now, and returns the sites that changed either way.
func (h *memberHealth) updateStale(now time.Time) []string {
	stale := map[string]bool{}
	for _, s := range h.sites {
		if since := s.DisconnectedSince(); !since.IsZero() && now.Sub(since) > h.grace {
			stale[s.Site()] = true
		}
	}
	var changed []string
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range stale {
		if !h.stale[s] {
			changed = append(changed, s)
			log.Warningf("Site %s: API server unreachable for more than %s: its unprobed members leave the answers until it returns", s, h.grace)
		}
	}
	for s := range h.stale {
		if !stale[s] {
			changed = append(changed, s)
		}
	}
	if len(changed) > 0 {
		h.stale = stale
	}
	return changed
}

// share makes this server a vantage point: its verdicts are published into
// its own cluster, and the peers' verdicts (read into board by the
// watchers) vote on every probed member.
func (h *memberHealth) share(v *vantageConfig, board *vantage.Board) error {
	pub, err := kube.NewPublisher(kube.PublisherConfig{
		Cluster: v.cluster, Namespace: v.namespace, Vantage: v.name,
		Heartbeat: v.heartbeat, StaleAfter: v.staleAfter(), Verdicts: h.verdicts, OnEpoch: board.SetSelfEpoch,
	})
	if err != nil {
		return err
	}
	h.board, h.publisher, h.self = board, pub, v.name
	h.byID = map[uint64]health.Target{}
	return nil
}

// vantageViews is the seam for a status page: a probed member's own
// verdict (true: down), each counting peer's, and the quorum's decision; ok
// is false without a vantage block or for an unprobed member.
func (h *memberHealth) vantageViews(r model.Record) (ownDown bool, peers map[string]bool, down, ok bool) {
	t, probed := target(r)
	if h.board == nil || !probed {
		return false, nil, false, false
	}
	id := targetID(t)
	ownDown = !h.checker.Healthy(t)
	return ownDown, h.board.Views(id), h.board.Down(id, ownDown), true
}
