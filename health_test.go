package gslb

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/model"
)

type fakeSite struct {
	name  string
	since time.Time
}

func (f *fakeSite) Site() string                 { return f.name }
func (f *fakeSite) DisconnectedSince() time.Time { return f.since }

// TestAPIGrace: an unprobed member leaves the answers only once its site's
// API server has been unreachable for longer than the grace period, comes
// back when it answers again, and a probed member follows its probe alone.
func TestAPIGrace(t *testing.T) {
	a, b := &fakeSite{name: "sitea"}, &fakeSite{name: "siteb"}
	h := newMemberHealth(health.Settings{}, time.Minute, nil)
	h.sites = []siteConnection{a, b}
	unprobed := func(site string) model.Record {
		return model.Record{FQDN: "app.example.org.", Member: model.Member{Site: site, Addr: netip.MustParseAddr("10.0.0.1")}}
	}
	probed := unprobed("sitea")
	probed.Check = model.Check{Proto: model.CheckTCP, Port: 443}
	up := func(when string, wantA, wantB bool) {
		t.Helper()
		if got := h.Up(unprobed("sitea")); got != wantA {
			t.Errorf("%s: sitea's unprobed member up = %t, want %t", when, got, wantA)
		}
		if got := h.Up(unprobed("siteb")); got != wantB {
			t.Errorf("%s: siteb's unprobed member up = %t, want %t", when, got, wantB)
		}
		if !h.Up(probed) {
			t.Errorf("%s: a probed member (not yet probed: healthy) must not follow its API server", when)
		}
	}
	changed := func(now time.Time, want bool) {
		t.Helper()
		if got := h.updateStale(now); got != want {
			t.Errorf("updateStale at %s: changed = %t, want %t", now.Format(time.TimeOnly), got, want)
		}
	}

	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	changed(t0, false)
	up("both connected", true, true)

	a.since = t0
	changed(t0.Add(59*time.Second), false)
	up("sitea down for 59s of a 1m grace", true, true)
	changed(t0.Add(time.Minute), false)
	up("sitea down for exactly the grace", true, true)
	changed(t0.Add(61*time.Second), true)
	up("sitea down past the grace", false, true)
	changed(t0.Add(2*time.Minute), false) // reported once, not every tick

	b.since = t0.Add(90 * time.Second)
	changed(t0.Add(3*time.Minute), true)
	up("both down past the grace", false, false)

	a.since = time.Time{}
	changed(t0.Add(3*time.Minute+time.Second), true)
	up("sitea back", true, false)

	src := unprobed("sitea")
	src.SourceDown = true
	if h.Up(src) {
		t.Error("a member its source reports down is down, whatever its site's connection")
	}
}
