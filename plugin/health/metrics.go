package health

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are bounded: sites come from the Corefile and protocols and
// results are fixed sets. Addresses and names never become labels (they
// are in the transition logs instead), so churn cannot explode the series.
var (
	healthyGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "member_healthy",
		Help:      "Health-checked endpoints currently healthy, by site (endpoints not probed yet or excluded from probing count as healthy).",
	}, []string{"site"})

	unhealthyGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "member_unhealthy",
		Help:      "Health-checked endpoints currently unhealthy (left out of answers), by site.",
	}, []string{"site"})

	transitionsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "health_transitions_total",
		Help:      "Endpoint health state changes, by site and new state (healthy, unhealthy).",
	}, []string{"site", "to"})

	probesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "probes_total",
		Help:      "Health probes run, by protocol and result (success, failure); failures that flip nothing show flapping early.",
	}, []string{"proto", "result"})

	probeDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "probe_duration_seconds",
		Help:      "Duration of health probes (to response headers for HTTP(S), to connect for TCP), by protocol.",
		// From loopback (sub-millisecond) to the default 1s timeout.
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"proto"})
)

func gaugeFor(healthy bool) *prometheus.GaugeVec {
	if healthy {
		return healthyGauge
	}
	return unhealthyGauge
}
