package gslb

import (
	"fmt"
	"time"

	"github.com/gslb/gslb/plugin/amko"
	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/owner"
	"github.com/gslb/gslb/plugin/table"
	"github.com/gslb/gslb/plugin/vantage"
)

// source is what fills the store between OnStartup and OnShutdown: a member
// cluster's watcher, the Avi controller's poller, AMKO's policy objects.
type source interface {
	Start()
	Stop()
	HasSynced() bool
	// NotSynced is the warning logged when the source has not synced
	// by the startup timeout: what is missing, and what happens meanwhile.
	NotSynced(timeout time.Duration) string
	// KeyPrefix starts the store keys of every object the source sets.
	KeyPrefix() string
}

// The sources of the plugin packages, with the warning each gives.
type (
	clusterSource struct{ *kube.Watcher }
	aviSource     struct{ *avi.Source }
	amkoSource    struct{ *amko.Source }
)

func (w clusterSource) KeyPrefix() string { return "kube/" + w.Site() + "/" }
func (a aviSource) KeyPrefix() string     { return avi.KeyPrefix }
func (a amkoSource) KeyPrefix() string    { return "amko/" }

func (w clusterSource) NotSynced(timeout time.Duration) string {
	return fmt.Sprintf("Site %s (context %q) has not synced after %s; serving the other sites now, its members will appear when its API server answers",
		w.Site(), w.Context(), timeout)
}

func (a aviSource) NotSynced(timeout time.Duration) string {
	return fmt.Sprintf("Avi controller %s has not answered after %s; serving the other sources now, its GSLB services will appear when it answers",
		a.URL(), timeout)
}

func (a amkoSource) NotSynced(timeout time.Duration) string {
	return fmt.Sprintf("AMKO policy objects in context %q have not been listed after %s; serving without them until they are",
		a.Leader(), timeout)
}

// newGSLB wires the parsed stanza into its components: the store, the
// sources that fill it, health, and the table builder that reads them.
func newGSLB(cfg *config) (*GSLB, error) {
	store := model.NewStore()
	if len(cfg.static) > 0 {
		store.Set("static", cfg.static)
	}
	g := &GSLB{
		Fall:     cfg.fall,
		zones:    cfg.zones,
		store:    store,
		timeout:  cfg.startupTimeout,
		stopCh:   make(chan struct{}),
		private:  cfg.privateNetworks,
		notifyCh: make(chan struct{}, 1),

		statusAddr: cfg.statusAddr,
		hasStatic:  len(cfg.static) > 0,
	}
	g.status = &statusView{g: g, endpointReadiness: cfg.health.endpointReadiness}
	opts := kube.Options{
		Selector:   cfg.selector,
		Namespaces: cfg.namespaces,
		Ingresses:  cfg.ingresses,
		Services:   cfg.services,

		GatewayRoutes:   cfg.gatewayRoutes,
		SelectGateways:  cfg.selectGateways,
		OpenShiftRoutes: cfg.openShiftRoutes,
		InZone:          model.Zones(cfg.zones).Contains,

		EndpointReadiness: cfg.health.endpointReadiness,
		CustomGlobalFQDN:  cfg.customGlobalFQDN,
		Events:            cfg.events,
	}
	switch cfg.health.mode {
	case healthNone:
		opts.DefaultCheck = &model.Check{}
	case healthForced:
		opts.DefaultCheck = &cfg.health.check
	}
	var board *vantage.Board // nil without a vantage block
	if v := cfg.vantage; v != nil {
		board = vantage.NewBoard(vantage.Config{Self: v.name, Peers: v.peers, Quorum: v.quorum, StaleAfter: v.staleAfter()})
		opts.Vantages = &kube.Vantages{Namespace: v.namespace, Sink: board}
	}
	var amkoSrc *amko.Source // nil without an amko line
	if cfg.amko != nil {
		src, err := newAmko(cfg, opts.InZone, store)
		if err != nil {
			return nil, err
		}
		amkoSrc, opts.Policy = src, src
	}
	var watchers []*kube.Watcher
	for _, c := range cfg.clusters {
		w, err := kube.NewWatcher(c, opts, store)
		if err != nil {
			return nil, err
		}
		watchers = append(watchers, w)
		g.sources = append(g.sources, clusterSource{w})
	}
	if amkoSrc != nil {
		// A new policy re-evaluates every object; a namespace's labels
		// changing, the objects of that one site.
		amkoSrc.OnChange(func(site string) {
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
		if a.Grace == 0 {
			a.Grace = cfg.health.apiGrace
		}
		if cfg.health.mode == healthForced {
			a.Check = cfg.health.check
		}
		s, err := avi.New(a, store)
		if err != nil {
			return nil, err
		}
		g.sources = append(g.sources, aviSource{s})
	}
	if amkoSrc != nil {
		g.sources = append(g.sources, amkoSource{amkoSrc})
	}

	g.health = newMemberHealth(cfg.health.probe, cfg.health.apiGrace, watchers)
	if v := cfg.vantage; v != nil {
		if err := g.health.share(v, board); err != nil {
			return nil, err
		}
		log.Infof("Sharing health verdicts as %s", v)
	}
	p := &cfg.policy
	if p.topology.HasGeo() {
		p.topology.Geo = geoOf
	}
	g.topology = p.topology
	tcfg := table.Config{
		Overrides:  cfg.defaults,
		Topology:   p.topology,
		Weights:    p.weights,
		Priorities: p.priorities,
	}
	for _, z := range cfg.zones {
		zone := table.Zone{Name: z, Hostmaster: cfg.hostmaster}
		for _, ns := range cfg.nameServers {
			if !model.InZone(z, ns.Name) {
				ns.Addrs = nil // glue belongs to the zone that holds the name
			}
			zone.NameServers = append(zone.NameServers, ns)
		}
		tcfg.Zones = append(tcfg.Zones, zone)
	}
	// Name ownership sits between the store and the table: records of an
	// object whose namespace may not publish a name are never probed or
	// answered. g.owners.Conflicts() and g.owners.OnChange are the seams
	// for a status page and for events on the objects.
	g.owners = owner.New(store, cfg.ownership.rules, cfg.ownership.mode)
	g.builder = table.NewBuilder(tcfg, g.owners, g.health)
	if cfg.events {
		g.builder.OnMemberHealth = g.memberEvent
		g.owners.OnChange = g.ownershipEvent
	}
	g.builder.OnBuild = func(t *table.Table, records int) {
		log.Debugf("Published answer table serial %d: %d records", t.Serial, records)
		g.requestNotify()
	}
	return g, nil
}
