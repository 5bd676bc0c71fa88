package table

import (
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
)

func metricsBuilder(zone string, recs ...model.Record) (*Builder, *model.Store) {
	store := model.NewStore()
	store.Set("o", recs)
	cfg := Config{Zones: []Zone{{Name: zone}}, Overrides: model.Overrides{TTL: model.Some(30)}}
	return NewBuilder(cfg, store, nil), store
}

func membersMetric(t *testing.T, zone, site string) float64 {
	t.Helper()
	return testutil.Metric(t, "coredns_gslb_members", "zone", zone, "site", site)
}

// TestMetricsAcrossBlocksAndReloads: two server blocks with the same site
// keep their own series; a reload (new builder started, then the old one
// stopped) keeps the zone's series with the new figures; a zone the reload
// dropped leaves no series; and a builder that never started (a reload
// that failed) takes nothing from the one serving.
func TestMetricsAcrossBlocksAndReloads(t *testing.T) {
	const za, zb = "block-a.metrics.test.", "block-b.metrics.test."
	a, _ := metricsBuilder(za, addr("x."+za, "sitea", "10.0.0.1"), addr("y."+za, "sitea", "10.0.0.2"))
	a.ClaimMetrics()
	b, storeB := metricsBuilder(zb, addr("x."+zb, "sitea", "10.0.1.1"))
	b.ClaimMetrics()
	if got := membersMetric(t, za, "sitea"); got != 2 {
		t.Errorf("block a's members = %v, want 2", got)
	}
	if got := membersMetric(t, zb, "sitea"); got != 1 {
		t.Errorf("block b's members = %v, want 1", got)
	}

	// Block b's site goes away: its series goes, block a's stays.
	storeB.Set("o", []model.Record{addr("x."+zb, "siteb", "10.0.1.1")})
	b.rebuild(time.Now().Add(time.Second))
	if got := membersMetric(t, zb, "sitea"); got != -1 {
		t.Errorf("block b's sitea series = %v after its last member left, want none", got)
	}
	if got := membersMetric(t, zb, "siteb"); got != 1 {
		t.Errorf("block b's siteb members = %v, want 1", got)
	}
	if got := membersMetric(t, za, "sitea"); got != 2 {
		t.Errorf("block a's members = %v after block b's change, want 2", got)
	}

	// A reload whose new instance never starts: block a keeps its series
	// and keeps updating them.
	failed, _ := metricsBuilder(za, addr("x."+za, "sitea", "10.0.0.1"))
	if got := membersMetric(t, za, "sitea"); got != 2 {
		t.Errorf("members = %v after a builder was set up but never started, want block a's 2", got)
	}
	failed.Close()
	if got := membersMetric(t, za, "sitea"); got != 2 {
		t.Errorf("members = %v after a never-started builder closed, want block a's 2", got)
	}

	// A reload of block a: the new builder starts, then the old one stops.
	a2, _ := metricsBuilder(za, addr("x."+za, "sitea", "10.0.0.1"), addr("x."+za, "sitec", "10.0.2.1"))
	a2.ClaimMetrics()
	a.rebuild(time.Now().Add(2 * time.Second)) // the old one may still build before it stops
	a.Close()
	if got := membersMetric(t, za, "sitea"); got != 1 {
		t.Errorf("members{sitea} = %v after the reload, want the new builder's 1", got)
	}
	if got := membersMetric(t, za, "sitec"); got != 1 {
		t.Errorf("members{sitec} = %v after the reload, want 1", got)
	}
	if got := testutil.Metric(t, "coredns_gslb_table_serial", "zone", za); got != float64(a2.Table().Serial) {
		t.Errorf("table_serial = %v, want the new table's %d", got, a2.Table().Serial)
	}

	// Block b removed by a reload: its series go.
	b.Close()
	if got := membersMetric(t, zb, "siteb"); got != -1 {
		t.Errorf("a removed block's members = %v, want none", got)
	}
	if got := testutil.Metric(t, "coredns_gslb_services", "zone", zb); got != -1 {
		t.Errorf("a removed block's services = %v, want none", got)
	}
	a2.Close()
	if got := membersMetric(t, za, "sitea"); got != -1 {
		t.Errorf("members = %v after the last builder closed, want none", got)
	}
}
