package table

import (
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are bounded: zones and sites come from the Corefile, never from
// objects, so a cluster full of Ingresses cannot explode the series count.
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
		Help:      "Members (name, address) published, by site.",
	}, []string{"site"})

	serialGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "table_serial",
		Help:      "SOA serial of the answer table in use.",
	})

	buildsTotal = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "gslb",
		Name:      "table_builds_total",
		Help:      "Answer tables compiled and published.",
	})
)

var log = clog.NewWithPlugin("gslb")
