package table

import (
	"maps"
	"sync"

	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are bounded: zones and sites come from the Corefile, never from
// objects, so a cluster full of Ingresses cannot explode the series count.
//
// One rule for every gauge, so that server blocks and reloads never wipe or
// freeze each other's series: each gauge is labelled by zone, and a zone's
// series belong to the builder that serves it; across a reload that is the
// new one, which CoreDNS starts before it stops the old one. A builder sets
// and deletes only the series of the zones it owns, and Close deletes them
// all (a zone that a reload removed leaves nothing stale). Counters only add
// and belong to nobody.
var (
	answersTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "answers_total",
		Help:      "Answers given from the GSLB table, by zone and result (success, nodata, nxdomain, servfail).",
	}, []string{"zone", "result"})

	servicesGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "services",
		Help:      "GSLB service names with at least one member, by zone.",
	}, []string{"zone"})

	downGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "services_down",
		Help:      "GSLB service names with no healthy member (answering their down response), by zone.",
	}, []string{"zone"})

	membersGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "members",
		Help:      "Members (name, address) published, by zone and site.",
	}, []string{"zone", "site"})

	serialGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "table_serial",
		Help:      "SOA serial of the answer table in use, by zone.",
	}, []string{"zone"})

	buildsTotal = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "table_builds_total",
		Help:      "Answer tables compiled and published.",
	})
)

var log = clog.NewWithPlugin("gslb")

var (
	seriesMu  sync.Mutex
	zoneOwner = map[string]*Builder{} // zone -> the builder its series belong to
	gauges    = map[*Builder]*zoneGauges{}
)

// zoneGauges are a builder's latest figures, and the member series it has
// set.
type zoneGauges struct {
	zones    []*ZoneData
	services map[string]int            // zone -> names
	members  map[string]map[string]int // zone -> site -> members
	serial   uint32
	sites    map[string]map[string]bool // zone -> sites with a members series set
}

// updateGauges records the figures of the table just published, from the
// running totals the builder's state keeps (no pass over the names), and
// sets the gauges of the zones b owns.
func (b *Builder) updateGauges(t *Table) {
	st := b.st
	g := &zoneGauges{zones: t.zones, services: map[string]int{}, members: map[string]map[string]int{}, serial: t.Serial}
	for i, z := range t.zones {
		g.services[z.Name] = st.services[i]
		g.members[z.Name] = maps.Clone(st.members[i])
	}
	seriesMu.Lock()
	defer seriesMu.Unlock()
	if old := gauges[b]; old != nil {
		g.sites = old.sites
	} else {
		g.sites = map[string]map[string]bool{}
	}
	gauges[b] = g
	b.setGauges(g)
}

// setGauges sets the series of the zones b owns; seriesMu is held.
func (b *Builder) setGauges(g *zoneGauges) {
	for _, z := range g.zones {
		if zoneOwner[z.Name] != b {
			continue // not claimed yet, or a newer builder serves this zone
		}
		servicesGauge.WithLabelValues(z.Name).Set(float64(g.services[z.Name]))
		downGauge.WithLabelValues(z.Name).Set(float64(z.downNames))
		serialGauge.WithLabelValues(z.Name).Set(float64(g.serial))
		sites := map[string]bool{}
		for site, n := range g.members[z.Name] {
			membersGauge.WithLabelValues(z.Name, site).Set(float64(n))
			sites[site] = true
		}
		for site := range g.sites[z.Name] {
			if !sites[site] {
				membersGauge.DeleteLabelValues(z.Name, site)
			}
		}
		g.sites[z.Name] = sites
	}
}

// ClaimMetrics makes b the owner of its zones' series and sets them; call
// it when b's server block starts (so a reload that fails before its start
// never takes the series from the block still serving).
func (b *Builder) ClaimMetrics() {
	seriesMu.Lock()
	defer seriesMu.Unlock()
	for _, z := range b.cfg.Zones {
		zoneOwner[z.Name] = b
	}
	if g := gauges[b]; g != nil {
		b.setGauges(g)
	}
}

// Close deletes the series of the zones b still owns; call it once b's
// server block has stopped. The builder must not run afterwards.
func (b *Builder) Close() {
	seriesMu.Lock()
	defer seriesMu.Unlock()
	g := gauges[b]
	delete(gauges, b)
	for _, z := range b.cfg.Zones {
		if zoneOwner[z.Name] != b {
			continue
		}
		delete(zoneOwner, z.Name)
		servicesGauge.DeleteLabelValues(z.Name)
		downGauge.DeleteLabelValues(z.Name)
		serialGauge.DeleteLabelValues(z.Name)
		if g != nil {
			for site := range g.sites[z.Name] {
				membersGauge.DeleteLabelValues(z.Name, site)
			}
		}
	}
}
