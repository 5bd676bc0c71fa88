// Package gslb is a CoreDNS plugin that answers, authoritatively, for GSLB
// service names of applications that run in several Kubernetes clusters. It
// watches every member cluster, compiles the VIPs of all sites into an answer
// table off the hot path, and serves DNS from that table.
package gslb

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/request"
	"github.com/gslb/gslb/plugin/amko"
	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/table"
	"github.com/miekg/dns"
)

var log = clog.NewWithPlugin(pluginName)

// GSLB is the plugin handler.
type GSLB struct {
	Next plugin.Handler
	Fall fall.F

	zones    []string
	builder  *table.Builder
	store    *model.Store
	watchers []*kube.Watcher
	avi      *avi.Source  // nil without an avi block
	amko     *amko.Source // nil without an amko line
	checker  *health.Checker
	health   *memberHealth
	timeout  time.Duration

	ready    atomic.Bool
	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

func newGSLB(cfg *config) (*GSLB, error) {
	store := model.NewStore()
	if len(cfg.static) > 0 {
		store.Set("static", cfg.static)
	}
	p := &cfg.policy
	if p.topology.HasGeo() {
		p.topology.Geo = geoOf
	}
	tcfg := table.Config{
		TTL:             cfg.ttl,
		Answers:         cfg.answers,
		Algorithm:       p.algorithm,
		Fallback:        p.fallback,
		HashMask4:       p.hashMask4,
		HashMask6:       p.hashMask6,
		Down:            p.down,
		Topology:        p.topology,
		Weights:         p.weights,
		Priorities:      p.priorities,
		DefaultWeight:   defaultWeight,
		DefaultPriority: defaultPriority,
	}
	for _, z := range cfg.zones {
		zone := table.Zone{Name: z, Hostmaster: cfg.hostmaster}
		for _, ns := range cfg.nameServers {
			if !dns.IsSubDomain(z, ns.Name) {
				ns.Addrs = nil // glue belongs to the zone that holds the name
			}
			zone.NameServers = append(zone.NameServers, ns)
		}
		tcfg.Zones = append(tcfg.Zones, zone)
	}
	g := &GSLB{
		Fall:    cfg.fall,
		zones:   cfg.zones,
		store:   store,
		timeout: cfg.startupTimeout,
		stopCh:  make(chan struct{}),
	}
	opts := kube.Options{
		Selector:   cfg.selector,
		Namespaces: cfg.namespaces,
		Ingresses:  cfg.ingresses,
		Services:   cfg.services,
		InZone:     func(fqdn string) bool { return plugin.Zones(cfg.zones).Matches(fqdn) != "" },

		EndpointReadiness: p.endpointReadiness,
	}
	switch p.healthMode {
	case "none":
		opts.DefaultCheck = &model.Check{}
	case "forced":
		opts.DefaultCheck = &p.healthCheck
	}
	if cfg.amko != nil {
		src, err := newAmko(cfg, opts.InZone, store)
		if err != nil {
			return nil, err
		}
		g.amko, opts.Policy = src, src
	}
	for _, c := range cfg.clusters {
		w, err := kube.NewWatcher(c, opts, store)
		if err != nil {
			return nil, err
		}
		g.watchers = append(g.watchers, w)
	}
	if g.amko != nil {
		// A new policy re-evaluates every object; a namespace's labels
		// changing, the objects of that one site.
		watchers := g.watchers
		g.amko.OnChange(func(site string) {
			for _, w := range watchers {
				if site == "" || w.Site() == site {
					w.Resync()
				}
			}
		})
	}
	if cfg.avi != nil {
		a := *cfg.avi
		a.InZone = opts.InZone
		s, err := avi.New(a, store)
		if err != nil {
			return nil, err
		}
		g.avi = s
	}
	// The checker's onChange needs the builder, which needs the health
	// adapter: tie the knot through g.
	g.checker = health.NewChecker(p.health, func() { g.health.flipped() })
	g.health = newMemberHealth(g.checker, p.apiGrace, g.watchers)
	g.builder = table.NewBuilder(tcfg, store, g.health)
	g.health.touch = g.builder.Touch
	g.builder.OnBuild = func(t *table.Table, records int) {
		log.Debugf("Published answer table serial %d: %d records", t.Serial, records)
	}
	return g, nil
}

// start runs the watchers and the table builder; called from OnStartup.
func (g *GSLB) start() error {
	g.wg.Add(4)
	go func() {
		defer g.wg.Done()
		g.builder.Run(g.stopCh)
	}()
	go func() {
		defer g.wg.Done()
		g.checker.Run(g.stopCh)
	}()
	go func() {
		defer g.wg.Done()
		g.health.watchGrace(g.stopCh)
	}()
	for _, w := range g.watchers {
		w.Start()
	}
	if g.avi != nil {
		g.avi.Start()
	}
	if g.amko != nil {
		g.amko.Start()
	}
	go func() {
		defer g.wg.Done()
		g.waitReady()
	}()
	return nil
}

// waitReady flips Ready once every cluster has synced, or when the startup
// timeout passes: then we serve what is known rather than nothing, and say
// which clusters are missing.
func (g *GSLB) waitReady() {
	deadline := time.NewTimer(g.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if g.synced() {
			g.ready.Store(true)
			return
		}
		select {
		case <-g.stopCh:
			return
		case <-deadline.C:
			for _, w := range g.watchers {
				if !w.HasSynced() {
					log.Warningf("Site %s (context %q) has not synced after %s; serving the other sites now, its members will appear when its API server answers",
						w.Site(), w.Context(), g.timeout)
				}
			}
			if g.avi != nil && !g.avi.HasSynced() {
				log.Warningf("Avi controller %s has not answered after %s; serving the other sources now, its GSLB services will appear when it answers",
					g.avi.URL(), g.timeout)
			}
			if g.amko != nil && !g.amko.HasSynced() {
				log.Warningf("AMKO policy objects in context %q have not been listed after %s; serving without them until they are",
					g.amko.Leader(), g.timeout)
			}
			g.ready.Store(true)
			return
		case <-tick.C:
		}
	}
}

func (g *GSLB) synced() bool {
	for _, w := range g.watchers {
		if !w.HasSynced() {
			return false
		}
	}
	return (g.avi == nil || g.avi.HasSynced()) && (g.amko == nil || g.amko.HasSynced())
}

// stop ends everything start began; a reload must not leak watches.
func (g *GSLB) stop() error {
	g.stopOnce.Do(func() {
		close(g.stopCh)
		for _, w := range g.watchers {
			w.Stop()
		}
		if g.avi != nil {
			g.avi.Stop()
		}
		if g.amko != nil {
			g.amko.Stop()
		}
		g.wg.Wait()
	})
	return nil
}

// CacheBypassZones implements cache.ZoneBypasser: CoreDNS's cache passes
// queries for our zones straight through. Its key (name, type, class, DO/CD)
// ignores the client subnet and its writer drops the EDNS options we echo,
// so behind it a per-query pick, a consistent hash or a topology answer
// would be frozen for everybody and ECS-aware resolvers would cache them as
// valid for all clients. Our answers come from memory anyway.
func (g *GSLB) CacheBypassZones() []string { return g.zones }

// Ready implements ready.Readiness.
func (g *GSLB) Ready() bool { return g.ready.Load() }

// Name implements plugin.Handler.
func (g *GSLB) Name() string { return pluginName }

// ServeDNS implements plugin.Handler. It is a lookup in the published table:
// no I/O, no lock, no scan; the per-query pick (rotation, weights, hash,
// topology) works on sets compiled off the hot path.
func (g *GSLB) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	qname := state.Name()

	t := g.builder.Table()
	z := t.Zone(qname)
	if z == nil {
		if g.Next == nil {
			return dns.RcodeRefused, nil
		}
		return plugin.NextOrFailure(g.Name(), g.Next, ctx, w, r)
	}
	client, ecs := clientOf(w, r)
	client.Ctx = ctx
	a := t.Lookup(z, qname, state.QType(), client)
	if a.Result == table.NXDomain && g.Fall.Through(qname) {
		return plugin.NextOrFailure(g.Name(), g.Next, ctx, w, r)
	}
	z.Count(a.Result)

	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Answer, m.Ns, m.Extra = a.Answer, a.Ns, a.Extra
	switch a.Result {
	case table.NXDomain:
		m.Rcode = dns.RcodeNameError
	case table.ServFail:
		m.Rcode = dns.RcodeServerFailure
	}
	if ecs != nil {
		echoECS(m, r, ecs, a.Scope)
	}
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
}
