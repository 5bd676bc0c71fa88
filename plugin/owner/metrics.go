package owner

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are bounded: sites come from the Corefile and reasons are two
// constants; names and namespaces, which objects choose, are left to the
// log and to Judge.Conflicts.
var (
	conflictsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "ownership_conflicts_total",
		Help:      "Objects found publishing a name they may not (each conflict counted once, when it starts), by the object's site and reason (rule, claimed).",
	}, []string{"site", "reason"})

	conflictsGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "ownership_conflicts",
		Help:      "Object and name pairs currently not answered because the object's namespace does not own the name, by the object's site.",
	}, []string{"site"})
)
