package amko

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are bounded: kind is GlobalDeploymentPolicy, GSLBHostRule or
// GSLBConfig.
var (
	rejectedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "amko_rejected",
		Help:      "AMKO policy objects that cannot be applied (invalid, or a duplicate of an older one), by kind; each is logged with its reason.",
	}, []string{"kind"})

	acceptedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "amko_accepted",
		Help:      "AMKO policy objects in force, by kind.",
	}, []string{"kind"})

	unknownContextsGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "amko_unknown_member_clusters",
		Help:      "Contexts the GSLBConfig's memberClusters names that gslb's kubeconfig lacks (each logged); the other clusters apply.",
	})

	syncedGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "amko_synced",
		Help:      "1 once the AMKO policy objects were listed from the leader cluster.",
	})

	statusWrites = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "amko_status_updates_total",
		Help:      "Status writes to AMKO policy objects (amko_status), by result: success, conflict, error.",
	}, []string{"result"})
)
