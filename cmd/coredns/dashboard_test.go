package main

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricName matches the metric names of a PromQL expression.
var metricName = regexp.MustCompile(`\bcoredns_[a-z0-9_]+`)

// exported tells whether this binary registers a metric called name with
// Prometheus: registering a collector of the same name fails then (with a
// different help or labels, or as already registered). A vector with no
// series yet counts, which a scrape would miss.
func exported(name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe of the dashboard test"})
	if err := prometheus.DefaultRegisterer.Register(probe); err != nil {
		return true
	}
	prometheus.DefaultRegisterer.Unregister(probe)
	return false
}

// TestDashboardMetricsExist: every metric the Grafana dashboard queries is
// one this binary (these plugins, this main package) exports; histogram
// series (_bucket, _sum, _count) count by their histogram's name.
func TestDashboardMetricsExist(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/gslb-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/gslb-dashboard.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	var used []string
	for _, e := range exprs {
		used = append(used, metricName.FindAllString(e, -1)...)
	}
	slices.Sort(used)
	used = slices.Compact(used)
	if len(used) < 20 {
		t.Fatalf("the dashboard uses only %d metrics: %q", len(used), used)
	}
	for _, name := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && exported(b) {
				base = b
			}
		}
		if !exported(base) {
			t.Errorf("the dashboard queries %s, which this binary does not export", name)
		}
	}
	// The probe must tell a missing metric from a present one.
	if exported("coredns_gslb_no_such_metric") {
		t.Error(errors.New("the export probe finds a metric that does not exist"))
	}
}
