package avi

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// One controller per Corefile stanza, so no labels but the poll result.
var (
	upGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "avi_up",
		Help:      "1 when the last poll of the Avi controller succeeded, 0 while it fails (the last known GSLB services are kept).",
	})

	pollsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "avi_polls_total",
		Help:      "Polls of the Avi controller, by result: success, unreachable, tls_error, auth_failed, rejected, malformed.",
	}, []string{"result"})

	lastSuccessGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "avi_last_success_timestamp_seconds",
		Help:      "Unix time of the last successful poll of the Avi controller; age = time() - value.",
	})

	servicesGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "avi_services",
		Help:      "GslbServices read from the Avi controller in the last successful poll (disabled ones included).",
	})

	ignoredGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "avi_ignored_names",
		Help:      "Domain names (and members) of Avi GslbServices that are not served: outside every zone, wildcards, or without a usable address.",
	})

	malformedGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "avi_malformed_objects",
		Help:      "Avi objects (GslbServices, inventory entries, runtimes) of the last successful poll that did not decode into their model; their last known state is kept.",
	})

	expiredGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "avi_verdicts_expired",
		Help:      "1 while no Avi controller has answered for longer than the grace period, so Avi's member verdicts are not used.",
	})
)
