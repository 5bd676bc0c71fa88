package kube

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	connectedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "cluster_connected",
		Help:      "1 when the member cluster's API server answers, 0 while it is unreachable (last known members are kept).",
	}, []string{"site"})

	syncedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "cluster_synced",
		Help:      "1 once the member cluster's watched objects (Ingresses, Services, Gateway API routes, OpenShift Routes, as configured) have been listed.",
	}, []string{"site"})

	lastEventGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "cluster_last_event_timestamp_seconds",
		Help:      "Unix time of the last event of a watched object from the member cluster; age = time() - value.",
	}, []string{"site"})

	ignoredGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "ignored_hosts",
		Help:      "Hosts of selected objects that lie outside every served zone (or are wildcards or invalid), by site.",
	}, []string{"site"})

	invalidAnnotations = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "invalid_annotations_total",
		Help:      "Objects seen with invalid gslb.io/ annotations (the object is served with defaults for those settings), by site.",
	}, []string{"site"})

	unselectedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "unselected_objects",
		Help:      "Objects the Corefile selector watches that the policy objects (AMKO GlobalDeploymentPolicy) do not publish, by site.",
	}, []string{"site"})

	unattachedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "unattached_routes",
		Help:      "Selected Gateway API routes and OpenShift Routes that are not members yet: no parent Gateway accepted them with an address and a listener for their hostnames, or no router admitted them with a VIP, by site.",
	}, []string{"site"})
)
