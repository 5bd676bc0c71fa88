package health

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
)

var log = clog.NewWithPlugin("gslb")

const (
	notAllowed = "address outside the allowed prefixes"
	// guarded says why a loopback, link-local or metadata member is not
	// probed, and how to allow it.
	guarded = "loopback, link-local or cloud metadata address, which probes contact only when health_targets names its range (e.g. health_targets 127.0.0.0/8)"
)

// Checker probes a set of targets, each on its own goroutine while Run runs.
// One goroutine per target keeps the code obvious and removal prompt
// (cancel its context); a thousand targets cost a thousand parked
// goroutines, which is cheap, while the semaphore bounds the real work.
type Checker struct {
	s        Settings
	onChange func()
	sem      chan struct{} // probes in flight
	changed  chan struct{} // capacity 1: coalesces flips for Run to report

	// afterProbe, if set before Run, is called after each recorded probe
	// with the state it left (tests use it to see every step).
	afterProbe func(t Target, ok bool, st State)

	mu      sync.RWMutex
	entries map[Target]*entry
	gen     uint64 // of the last Sync; entries not seen in it are removed
	running bool
	runCtx  context.Context
	wg      sync.WaitGroup      // target goroutines of the current Run
	sites   map[string]*[2]int  // per site: targets healthy [0], unhealthy [1]
	flipped map[Target]struct{} // since the last TakeFlipped; bounded by the targets
	// inherited are the states of the checker a Corefile reload replaced
	// (Inherit); a target found there starts in its state.
	inherited map[Target]State
}

type entry struct {
	t   Target
	gen uint64
	// excluded, when set, says why the target is never probed (outside
	// Allowed, invalid); it stays healthy.
	excluded string
	cancel   context.CancelFunc // stops the probing goroutine; nil if none
	client   *http.Client       // HTTP(S) only; built once, pools nothing
	url      string

	// Guarded by Checker.mu.
	st             State
	probed         bool
	okRun, failRun int
}

// NewChecker returns a checker with no targets. onChange (may be nil) is
// called from Run's goroutine, never while a lock is held, after one or more
// targets changed state; flips that happen while it runs are reported by
// one more call, none is lost.
func NewChecker(s Settings, onChange func()) *Checker {
	s = s.withDefaults()
	s.Expect = slices.Clone(s.Expect) // the caller may reuse its slices
	s.Allowed = slices.Clone(s.Allowed)
	return &Checker{
		s:        s,
		onChange: onChange,
		sem:      make(chan struct{}, s.Concurrency),
		changed:  make(chan struct{}, 1),
		entries:  map[Target]*entry{},
		sites:    map[string]*[2]int{},
	}
}

// Sync makes targets the full set to probe: new ones start (each after a
// random delay within one interval, and healthy until their first probe
// says otherwise), missing ones stop at once and are forgotten. An unchanged
// set costs one map lookup per target and allocates nothing.
func (c *Checker) Sync(targets []Target) {
	var notProbed []*entry
	now := time.Now()

	c.mu.Lock()
	c.gen++
	live := 0
	for _, t := range targets {
		e := c.entries[t]
		if e == nil {
			e = c.newEntry(t, now)
			c.entries[t] = e
			c.count(t.Site, e.st.Healthy, 1)
			if e.excluded != "" {
				notProbed = append(notProbed, e)
			} else if c.running {
				c.start(e)
			}
		}
		if e.gen != c.gen {
			e.gen = c.gen
			live++
		}
	}
	if live < len(c.entries) {
		for t, e := range c.entries {
			if e.gen != c.gen {
				c.remove(t, e)
			}
		}
	}
	c.mu.Unlock()

	c.logNotProbed(notProbed)
}

func (c *Checker) logNotProbed(notProbed []*entry) {
	for _, e := range notProbed {
		if e.excluded == notAllowed {
			// The operator fenced probes in on purpose: news, not a fault.
			log.Infof("Site %s: %s is never probed and counts as healthy: %s", e.t.Site, e.t, e.excluded)
		} else {
			log.Warningf("Site %s: %s is never probed and counts as healthy: %s", e.t.Site, e.t, e.excluded)
		}
	}
}

// Update adds and removes targets one by one, for a caller that follows
// changes instead of handing over the full set: a change of a few members
// costs a few map operations, not a pass over every target. Adding a known
// target or removing an unknown one does nothing.
func (c *Checker) Update(add, remove []Target) {
	var notProbed []*entry
	now := time.Now()
	c.mu.Lock()
	for _, t := range remove {
		if e := c.entries[t]; e != nil {
			c.remove(t, e)
		}
	}
	for _, t := range add {
		if c.entries[t] != nil {
			continue
		}
		e := c.newEntry(t, now)
		e.gen = c.gen
		c.entries[t] = e
		c.count(t.Site, e.st.Healthy, 1)
		if e.excluded != "" {
			notProbed = append(notProbed, e)
		} else if c.running {
			c.start(e)
		}
	}
	c.mu.Unlock()
	c.logNotProbed(notProbed)
}

// TakeFlipped returns the targets whose state flipped since the last call
// (a target that flipped back is among them too), so that the caller
// re-evaluates only what they affect.
func (c *Checker) TakeFlipped() []Target {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Target, 0, len(c.flipped))
	for t := range c.flipped {
		out = append(out, t)
	}
	c.flipped = nil
	return out
}

func (c *Checker) newEntry(t Target, now time.Time) *entry {
	e := &entry{t: t, st: State{Healthy: true, Reason: "not probed yet", Since: now}}
	switch {
	case !t.Addr.IsValid():
		e.excluded = "no address"
	case t.Port == 0:
		e.excluded = "port 0"
	case t.Proto > TCP:
		e.excluded = "unknown protocol " + t.Proto.String()
	default:
		e.excluded = c.s.refusal(t.Addr)
	}
	if e.excluded != "" {
		e.st.Reason = "not probed: " + e.excluded
		return e
	}
	if t.Proto == HTTP || t.Proto == HTTPS {
		scheme := "http"
		if t.Proto == HTTPS {
			scheme = "https"
		}
		// The URL's host is only a placeholder: the transport dials
		// Target.Addr and the Host header comes from Target.Host. The
		// zone is dropped because URLs want it escaped and nothing reads it.
		hp := fmtHostPort(t)
		u := scheme + "://" + hp + t.path()
		if _, err := url.ParseRequestURI(u); err != nil {
			e.excluded = "invalid path " + fmt.Sprintf("%q", t.Path)
			e.st.Reason = "not probed: " + e.excluded
			return e
		}
		e.url = u
		e.client = c.httpClient(t)
	}
	if st, ok := c.inherited[t]; ok {
		// Once: a target removed and added again later starts anew.
		delete(c.inherited, t)
		e.st, e.probed = st, true
		c.markFlipped(t) // not the healthy state a new target has
	}
	return e
}

// markFlipped reports t's state as changed. Called with c.mu held.
func (c *Checker) markFlipped(t Target) {
	if c.flipped == nil {
		c.flipped = map[Target]struct{}{}
	}
	c.flipped[t] = struct{}{}
	select {
	case c.changed <- struct{}{}:
	default: // a report is pending already
	}
}

// Inherit seeds the targets with the down verdicts of another checker (the
// one of the instance a Corefile reload replaces): a target it had probed
// down starts down, as if probed, and comes back only after rise good
// probes, instead of starting healthy until its first probe. Without it a
// reload brought a dead member back into the answers for a probe interval.
// Healthy targets start as usual: their first probe decides at once (had
// they carried their state, each reload would restart the count of fall
// failures, and frequent reloads would keep a dead member in).
func (c *Checker) Inherit(states map[Target]State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inherited = map[Target]State{}
	for t, st := range states {
		if st.Probes > 0 && !st.Healthy {
			c.inherited[t] = st
		}
	}
	for t, e := range c.entries {
		st, ok := c.inherited[t]
		delete(c.inherited, t) // the target exists: used now or never
		if !ok || e.probed || e.excluded != "" {
			continue
		}
		if st.Healthy != e.st.Healthy {
			c.count(t.Site, e.st.Healthy, -1)
			c.count(t.Site, st.Healthy, 1)
			c.markFlipped(t)
		}
		e.st, e.probed = st, true
	}
}

// remove forgets a target; its goroutine ends promptly (an in-flight probe
// is cancelled and not recorded). Called with c.mu held.
func (c *Checker) remove(t Target, e *entry) {
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
	delete(c.entries, t)
	c.count(t.Site, e.st.Healthy, -1)
}

// start launches the target's goroutine. Called with c.mu held while
// running, which is what makes wg.Add safe against Run's wg.Wait.
func (c *Checker) start(e *entry) {
	ctx, cancel := context.WithCancel(c.runCtx)
	e.cancel = cancel
	c.wg.Add(1)
	go c.loop(ctx, e)
}

// count keeps the per-site totals and, while running, the gauges. Gauges
// are moved by deltas, not set, so that two checkers in one process (the
// old and the new one during a Corefile reload) add up instead of
// overwriting each other. Called with c.mu held.
func (c *Checker) count(site string, healthy bool, delta int) {
	n := c.sites[site]
	if n == nil {
		n = new([2]int)
		c.sites[site] = n
	}
	i := 0
	if !healthy {
		i = 1
	}
	n[i] += delta
	if n[0] == 0 && n[1] == 0 {
		delete(c.sites, site)
	}
	if c.running {
		gaugeFor(healthy).WithLabelValues(site).Add(float64(delta))
	}
}

// publish adds (sign 1) or withdraws (sign -1) this checker's totals from
// the gauges. Called with c.mu held.
func (c *Checker) publish(sign float64) {
	for site, n := range c.sites {
		healthyGauge.WithLabelValues(site).Add(sign * float64(n[0]))
		unhealthyGauge.WithLabelValues(site).Add(sign * float64(n[1]))
	}
}

// Healthy reports the current state of t. A target never probed yet, not
// probed at all (see Settings.Allowed) or unknown to the checker is healthy:
// health checks only ever take out members proven dead.
func (c *Checker) Healthy(t Target) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.entries[t]
	return e == nil || e.st.Healthy
}

// State returns what the checker knows of t; false when t is not tracked.
func (c *Checker) State(t Target) (State, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.entries[t]; e != nil {
		return e.st, true
	}
	return State{}, false
}

// Snapshot returns the state of every target.
func (c *Checker) Snapshot() map[Target]State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := make(map[Target]State, len(c.entries))
	for t, e := range c.entries {
		m[t] = e.st
	}
	return m
}

// Run probes until stop is closed and returns once every probe goroutine has
// ended. Targets synced before Run start with it; Sync keeps working after
// Run returns (states stay readable) but starts no probes until Run is
// called again. Only one Run at a time.
func (c *Checker) Run(stop <-chan struct{}) {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		log.Warning("Health checker: Run called while already running; ignored")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.runCtx = ctx
	c.running = true
	c.publish(1)
	for _, e := range c.entries {
		if e.excluded == "" {
			c.start(e)
		}
	}
	c.mu.Unlock()

	func() {
		for {
			select {
			case <-stop:
				return
			case <-c.changed:
				if c.onChange != nil {
					c.onChange()
				}
			}
		}
	}()

	c.mu.Lock()
	c.running = false
	cancel()
	for _, e := range c.entries {
		e.cancel = nil
	}
	c.publish(-1)
	c.mu.Unlock()
	c.wg.Wait()
}

// loop probes one target every interval until ctx ends. Probes of a target
// never overlap: the next is scheduled only after the previous finished, at
// start+Interval or at once if that has passed already.
func (c *Checker) loop(ctx context.Context, e *entry) {
	defer c.wg.Done()
	// Random first delay so that a thousand targets added together spread
	// over one interval instead of firing at once.
	timer := time.NewTimer(rand.N(c.s.Interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		ok, reason, took := c.probe(ctx, e)
		<-c.sem
		c.record(ctx, e, ok, reason, took)
		timer.Reset(max(0, time.Until(start.Add(c.s.Interval))))
	}
}

// record applies one probe result. The first result sets the state at once,
// so a member that is dead when added is out within one interval plus a
// timeout; later ones go through rise/fall hysteresis.
func (c *Checker) record(ctx context.Context, e *entry, ok bool, reason string, took time.Duration) {
	now := time.Now()
	c.mu.Lock()
	if ctx.Err() != nil { // removed or stopped meanwhile: not ours to judge
		c.mu.Unlock()
		return
	}
	st := &e.st
	st.Probes++
	st.Last = reason
	st.LastLatency = took
	if ok {
		e.okRun++
		e.failRun = 0
	} else {
		e.failRun++
		e.okRun = 0
	}
	first := !e.probed
	e.probed = true
	var flip bool
	switch {
	case first:
		flip = ok != st.Healthy
		st.Reason, st.Since = reason, now
	case ok:
		flip = !st.Healthy && e.okRun >= c.s.Rise
	default:
		flip = st.Healthy && e.failRun >= c.s.Fall
	}
	if flip {
		c.count(e.t.Site, st.Healthy, -1)
		c.count(e.t.Site, ok, 1)
		st.Healthy, st.Reason, st.Since = ok, reason, now
		c.markFlipped(e.t)
	}
	snap := *st
	okRun, failRun := e.okRun, e.failRun
	c.mu.Unlock()

	result := "success"
	if !ok {
		result = "failure"
	}
	probesTotal.WithLabelValues(e.t.Proto.String(), result).Inc()
	probeDuration.WithLabelValues(e.t.Proto.String()).Observe(took.Seconds())

	if flip {
		to, why := "healthy", fmt.Sprintf("%d consecutive successes", okRun)
		if !ok {
			to, why = "unhealthy", fmt.Sprintf("%d consecutive failures", failRun)
		}
		if first {
			why = "first probe"
		}
		log.Infof("Site %s: %s is now %s: %s (%s)", e.t.Site, e.t, to, reason, why)
		transitionsTotal.WithLabelValues(e.t.Site, to).Inc()
	}
	if c.afterProbe != nil {
		c.afterProbe(e.t, ok, snap)
	}
}
