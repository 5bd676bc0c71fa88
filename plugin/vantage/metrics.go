package vantage

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are bounded: vantages are the configured ones (objects of unknown
// vantages are ignored before any metric), verdicts up/down, and reasons a
// fixed list. Per-member views are not labels (10 000 members times the
// vantages would be a cardinality bomb): Board.Views serves them instead.
var (
	verdictsGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "vantage_verdicts",
		Help: "Probe targets each vantage currently reports up or down (its own for this server's vantage, the published sheet for the others).",
	}, []string{"vantage", "verdict"})
	freshGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "vantage_fresh",
		Help: "1 while a peer vantage's heartbeat is fresh and its verdicts count in the quorum, 0 while it is left out (stale, or no valid sheet).",
	}, []string{"vantage"})
	heartbeatAge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "vantage_heartbeat_age_seconds",
		Help: "Age of a peer vantage's last heartbeat as this server saw it (renewTime against the local clock).",
	}, []string{"vantage"})
	fallbackGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "vantage_fallback",
		Help: "1 while no other vantage is fresh and this server decides on its own probes alone.",
	})
	ignoredTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "vantage_ignored_objects_total",
		Help: "Verdict or heartbeat objects ignored, by reason (malformed, unknown_vantage, mismatch, duplicate_vantage).",
	}, []string{"reason"})
	// QuorumTargets is set by the health wiring, which knows the targets.
	QuorumTargets = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "quorum_targets",
		Help: "Probe targets by this server's own verdict and the quorum's decision; own=\"down\",decision=\"up\" counts partitions outvoted, own=\"up\",decision=\"down\" outages seen by the others first.",
	}, []string{"own", "decision"})
	// WritesTotal counts the publisher's API writes (plugin/kube).
	WritesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "vantage_writes_total",
		Help: "API writes of this vantage's objects, by object (lease, verdicts) and result (ok, error).",
	}, []string{"object", "result"})
	// SheetBytes is the size of the last verdicts written (plugin/kube).
	SheetBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: "gslb",
		Name: "vantage_sheet_bytes",
		Help: "Size of this vantage's last written verdicts object data; the limit is 900 KiB.",
	})
)

// SetOwnCounts publishes this server's own verdict counts.
func SetOwnCounts(vantage string, up, down int) {
	verdictsGauge.WithLabelValues(vantage, "up").Set(float64(up))
	verdictsGauge.WithLabelValues(vantage, "down").Set(float64(down))
}
