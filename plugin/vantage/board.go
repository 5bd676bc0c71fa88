package vantage

import (
	"slices"
	"strings"
	"sync"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
)

var log = clog.NewWithPlugin("gslb")

// Config is one server's view of the vantages.
type Config struct {
	Self string
	// Peers are the other vantages whose objects count; objects of any
	// other vantage are ignored.
	Peers  []string
	Quorum Quorum
	// StaleAfter: a peer whose heartbeat is older is left out.
	StaleAfter time.Duration
}

// Board keeps the latest heartbeat and sheet of every peer vantage, as
// reported by the watches of every member cluster, and decides by quorum.
// Reports arrive from informer goroutines; Down is read by the table
// builder; Refresh runs once a second.
type Board struct {
	cfg Config
	now func() time.Time

	mu      sync.RWMutex
	peers   map[string]*peer
	changed map[uint64]struct{} // targets whose votes changed since TakeChanged
	signal  chan struct{}       // capacity 1: something changed
	logged  map[string]string   // object -> last complaint, so each is logged once
	created time.Time
	// fallback: no peer counted at the last Refresh. started: the first
	// stale period is over, so fallback transitions are logged.
	fallback, started bool
	// selfEpoch is when this server's own run started publishing (zero
	// before): an own-named heartbeat of another run renewed after it
	// means a second server uses this vantage name.
	selfEpoch time.Time
}

// SetSelfEpoch tells the board when this server's publisher started its
// run (the acquireTime of its heartbeat).
func (b *Board) SetSelfEpoch(epoch time.Time) {
	b.mu.Lock()
	b.selfEpoch = epoch
	b.mu.Unlock()
}

// checkSelf looks at a heartbeat published under this server's own vantage
// name. Its own writes read back, and an earlier run's last heartbeat, are
// fine, and so is a reloaded instance's predecessor stopping; a different
// run still renewing it a stale period after this run started is a second
// server with the same name: the two overwrite each other's verdicts, so
// peers see them flap. That is a configuration error, logged once. Called
// with b.mu held.
func (b *Board) checkSelf(object string, epoch, renew time.Time) {
	if b.selfEpoch.IsZero() || epoch.IsZero() {
		return
	}
	// The API server keeps microseconds; the run's own epoch has more.
	sameRun := epoch.Sub(b.selfEpoch).Abs() < time.Millisecond
	// A reload starts the new run before the old one stops: the old run
	// may renew for a moment after the new one started. Only a run still
	// renewing a stale period later is another server.
	if sameRun || !renew.After(b.selfEpoch.Add(b.cfg.StaleAfter)) {
		return
	}
	b.complain(object, "duplicate_vantage", "another gslb server publishes as vantage \""+b.cfg.Self+
		"\" (a heartbeat of another run, renewed after this one started): the two overwrite each other's verdicts; give every server its own vantage name")
}

type peer struct {
	name string
	// Heartbeat: the run's start (acquireTime) and last renewal.
	epoch, renew time.Time
	// The objects (as named in log lines: site, kind, namespace/name)
	// the heartbeat and the sheet were last taken from. Every cluster's
	// informers report, so a stray copy of a vantage's object elsewhere
	// must not undo the real one: only the recorded object's deletion
	// forgets.
	leaseFrom, sheetFrom string
	// The latest valid sheet, and the epoch it belongs to.
	sheetEpoch time.Time
	sheetRaw   string
	down       map[uint64]bool // target -> down; absent: no opinion
	up, downN  int
	// fresh: counted in the quorum since the last Refresh.
	fresh bool
}

// NewBoard returns a board with every peer unknown (not fresh).
func NewBoard(cfg Config) *Board {
	b := &Board{cfg: cfg, now: time.Now, peers: map[string]*peer{}, signal: make(chan struct{}, 1), logged: map[string]string{}}
	b.created = b.now()
	for _, p := range cfg.Peers {
		if p != cfg.Self {
			b.peers[p] = &peer{name: p}
			freshGauge.WithLabelValues(p).Set(0)
		}
	}
	fallbackGauge.Set(0)
	return b
}

// Changed is signalled after reports or Refresh changed some target's
// votes; TakeChanged says which.
func (b *Board) Changed() <-chan struct{} { return b.signal }

// TakeChanged returns the targets whose votes changed since the last call.
func (b *Board) TakeChanged() []uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]uint64, 0, len(b.changed))
	for id := range b.changed {
		out = append(out, id)
	}
	b.changed = nil
	return out
}

func (b *Board) notify() {
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// complain logs msg about object once: a resync or an unchanged object
// stays quiet. Called with b.mu held.
func (b *Board) complain(object, reason, msg string) {
	if b.logged[object] == msg {
		return
	}
	b.logged[object] = msg
	ignoredTotal.WithLabelValues(reason).Inc()
	log.Warningf("%s: %s", object, msg)
}

func (b *Board) peer(object, vantage string) *peer {
	p := b.peers[vantage]
	if p == nil {
		if vantage == b.cfg.Self {
			return nil // our own objects, read back: we know better
		}
		b.complain(object, "unknown_vantage", "ignored: vantage \""+vantage+"\" is not among this server's peers ["+strings.Join(b.cfg.Peers, " ")+"]; add it to the vantage block's peers if it should vote")
	}
	return p
}

// Heartbeat records a vantage's heartbeat (a Lease: holder, acquireTime,
// renewTime) as read from the object named object (for log lines).
func (b *Board) Heartbeat(object, vantage, holder string, epoch, renew time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if vantage == b.cfg.Self {
		b.checkSelf(object, epoch, renew)
		return
	}
	p := b.peer(object, vantage)
	if p == nil {
		return
	}
	if holder == "" && renew.IsZero() {
		return // created empty by the manifest (deploy/rbac-vantage.yaml), not written yet
	}
	if holder != vantage || epoch.IsZero() || renew.IsZero() {
		b.complain(object, "malformed", "ignored: a vantage heartbeat needs holderIdentity \""+vantage+"\", acquireTime and renewTime")
		return
	}
	delete(b.logged, object)
	if epoch.Equal(p.epoch) && renew.Before(p.renew) {
		return // an older copy of the same run (a new run is taken whatever its clock says)
	}
	b.change(p, func() { p.epoch, p.renew, p.leaseFrom = epoch, renew, object })
}

// change applies f to p and records the targets whose votes it changed:
// all of p's before and after when p starts or stops counting (a new epoch
// does that), the differing ones otherwise. Called with b.mu held.
func (b *Board) change(p *peer, f func()) {
	was, old := b.counts(p), p.down
	f()
	is := b.counts(p)
	switch {
	case was && is:
		b.markDiff(old, p.down)
	case was:
		b.markDiff(old, nil)
	case is:
		b.markDiff(nil, p.down)
	}
}

// Sheet records a vantage's published verdicts (the data of its object).
func (b *Board) Sheet(object, vantage, data string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.peer(object, vantage)
	if p == nil || data == p.sheetRaw {
		return
	}
	if data == "" {
		// Created empty by the manifest, not written yet, as the
		// empty Lease: no news. It may be a copy in another cluster
		// than the one the vantage writes to; the current sheet is
		// not re-delivered until it changes, so dropping it here would
		// leave the peer out indefinitely.
		return
	}
	s, err := Decode(data)
	if err != nil {
		b.complain(object, "malformed", "ignored: "+err.Error())
		return
	}
	if s.Vantage != vantage {
		b.complain(object, "mismatch", "ignored: its verdicts are signed by vantage \""+s.Vantage+"\", its label says \""+vantage+"\"")
		return
	}
	delete(b.logged, object)
	down := make(map[uint64]bool, len(s.Verdicts))
	up, dn := 0, 0
	for _, v := range s.Verdicts {
		down[v.ID] = v.Down
		if v.Down {
			dn++
		} else {
			up++
		}
	}
	b.change(p, func() {
		p.down, p.sheetRaw, p.sheetEpoch, p.up, p.downN, p.sheetFrom = down, data, s.Epoch, up, dn, object
	})
	verdictsGauge.WithLabelValues(p.name, "up").Set(float64(up))
	verdictsGauge.WithLabelValues(p.name, "down").Set(float64(dn))
}

// Forget drops a vantage's heartbeat (lease true) or sheet when object, the
// one it was taken from, is deleted; the deletion of any other object of
// the same vantage (a copy in another cluster) changes nothing.
func (b *Board) Forget(object, vantage string, lease bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.peers[vantage]
	if p == nil {
		return
	}
	if lease {
		if object == p.leaseFrom {
			b.change(p, func() { p.epoch, p.renew, p.leaseFrom = time.Time{}, time.Time{}, "" })
		}
		return
	}
	if object != p.sheetFrom {
		return
	}
	b.change(p, func() { p.down, p.sheetRaw, p.sheetEpoch, p.up, p.downN, p.sheetFrom = nil, "", time.Time{}, 0, 0, "" })
	verdictsGauge.WithLabelValues(p.name, "up").Set(0)
	verdictsGauge.WithLabelValues(p.name, "down").Set(0)
}

// counts tells whether p's verdicts are in the quorum now: fresh, and of
// the run its heartbeat speaks for (both carry the run's start, to the
// microsecond as a Lease's MicroTime keeps it). Called with b.mu held.
func (b *Board) counts(p *peer) bool {
	return p.fresh && !p.epoch.IsZero() && p.sheetEpoch.UnixMicro() == p.epoch.UnixMicro()
}

// markDiff records the targets whose vote differs. Called with b.mu held.
func (b *Board) markDiff(old, cur map[uint64]bool) {
	if b.changed == nil {
		b.changed = map[uint64]struct{}{}
	}
	for id, d := range cur {
		if o, ok := old[id]; !ok || o != d {
			b.changed[id] = struct{}{}
		}
	}
	for id := range old {
		if _, ok := cur[id]; !ok {
			b.changed[id] = struct{}{}
		}
	}
	b.notify()
}

// Refresh judges every peer's heartbeat at the local clock. A peer that
// starts or stops counting changes the votes on its targets only, which
// are recorded for TakeChanged and signalled like any other change.
// Transitions are logged once each.
func (b *Board) Refresh() {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	usable := 0
	for _, name := range b.sortedPeers() {
		p := b.peers[name]
		was := b.counts(p)
		age := now.Sub(p.renew)
		if fresh := !p.renew.IsZero() && age <= b.cfg.StaleAfter; fresh != p.fresh {
			b.change(p, func() { p.fresh = fresh })
		}
		is := b.counts(p)
		if !p.renew.IsZero() {
			heartbeatAge.WithLabelValues(name).Set(age.Seconds())
		}
		if is {
			usable++
			freshGauge.WithLabelValues(name).Set(1)
		} else {
			freshGauge.WithLabelValues(name).Set(0)
		}
		if was == is {
			continue
		}
		switch {
		case is:
			log.Infof("Vantage %s: heartbeat fresh and verdicts current: its %d down and %d up verdicts count in the quorum", name, p.downN, p.up)
		case !p.fresh && p.renew.IsZero():
			log.Warningf("Vantage %s: heartbeat gone: left out of the quorum", name)
		case !p.fresh:
			log.Warningf("Vantage %s: heartbeat %s old (stale after %s): left out of the quorum until it renews", name, age.Round(time.Second), b.cfg.StaleAfter)
		default:
			log.Warningf("Vantage %s: its verdicts and its heartbeat are from different runs (epochs %s, %s): left out of the quorum until it publishes current ones", name, p.sheetEpoch.Format(time.RFC3339Nano), p.epoch.Format(time.RFC3339Nano))
		}
	}
	// Fall back to the own probes when no peer counts. Until one stale
	// period has passed since the start, peers may simply not have been
	// read yet: the state is kept but not logged.
	fallback := len(b.peers) > 0 && usable == 0
	quiet := now.Sub(b.created) < b.cfg.StaleAfter
	if fallback != b.fallback || (!b.started && !quiet) {
		switch {
		case quiet:
		case fallback:
			log.Warningf("Vantage %s: no other vantage is fresh: deciding on this server's own probes alone", b.cfg.Self)
		case b.started:
			log.Infof("Vantage %s: %d other vantage(s) fresh again: deciding by health_quorum %s", b.cfg.Self, usable, b.cfg.Quorum)
		}
		if fallback {
			fallbackGauge.Set(1)
		} else {
			fallbackGauge.Set(0)
		}
	}
	b.fallback = fallback
	b.started = b.started || !quiet
}

func (b *Board) sortedPeers() []string {
	names := make([]string, 0, len(b.peers))
	for n := range b.peers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Down decides whether target id is down, given this server's own verdict
// (ownDown) and the verdicts of the peers that count. Peers without a
// verdict on the target have no vote; with no peer voting, the own probe
// decides alone.
func (b *Board) Down(id uint64, ownDown bool) bool {
	votes, down := 1, 0
	if ownDown {
		down = 1
	}
	b.mu.RLock()
	for _, p := range b.peers {
		if !b.counts(p) {
			continue
		}
		if d, ok := p.down[id]; ok {
			votes++
			if d {
				down++
			}
		}
	}
	b.mu.RUnlock()
	return b.cfg.Quorum.down(down, votes)
}

// Views returns each counting peer's verdict on target id (true: down), for
// a status page; peers without one are absent.
func (b *Board) Views(id uint64) map[string]bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := map[string]bool{}
	for name, p := range b.peers {
		if d, ok := p.down[id]; ok && b.counts(p) {
			out[name] = d
		}
	}
	return out
}

// Quorum is the health_quorum the board decides by.
func (b *Board) Quorum() Quorum { return b.cfg.Quorum }
