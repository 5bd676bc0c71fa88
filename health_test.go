package gslb

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"sync"
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
		if got := len(h.updateStale(now)) > 0; got != want {
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

// TestMemberHealthTracksNames: a probe target shared by two names is
// probed once, for as long as either uses it; a failing probe touches
// exactly the names behind it; a grace expiry touches the names with
// unprobed members of that site.
func TestMemberHealthTracksNames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	addr := netip.MustParseAddr(host)
	tcp := model.Check{Proto: model.CheckTCP, Port: uint16(p)}
	probed := func(fqdn string) model.Record {
		return model.Record{FQDN: fqdn, Member: model.Member{Site: "a", Addr: addr}, Check: tcp}
	}
	unprobed := func(fqdn, site string) model.Record {
		return model.Record{FQDN: fqdn, Member: model.Member{Site: site, Addr: netip.MustParseAddr("10.0.0.1")}}
	}

	var mu sync.Mutex
	touched := map[string]bool{}
	flips := make(chan struct{}, 1)
	// The test server is on loopback, which probes reach only when named.
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	h := newMemberHealth(health.Settings{Interval: 20 * time.Millisecond, Timeout: time.Second, Allowed: loopback}, time.Second, nil)
	c := h.checker
	touch := func(names ...string) {
		mu.Lock()
		for _, n := range names {
			touched[n] = true
		}
		mu.Unlock()
		select {
		case flips <- struct{}{}:
		default:
		}
	}
	targets := func() int { return len(c.Snapshot()) }

	h.Track("one.", nil, []model.Record{probed("one."), unprobed("one.", "b")})
	h.Track("two.", nil, []model.Record{probed("two."), unprobed("two.", "c")})
	if n := targets(); n != 1 {
		t.Fatalf("%d targets for one shared TCP endpoint, want 1", n)
	}
	h.Track("one.", []model.Record{probed("one."), unprobed("one.", "b")}, []model.Record{unprobed("one.", "b")})
	if n := targets(); n != 1 {
		t.Fatalf("%d targets while two. still uses it, want 1", n)
	}
	h.Track("one.", []model.Record{unprobed("one.", "b")}, []model.Record{probed("one."), unprobed("one.", "b")})

	// TCP connects succeed even on a 503 server: turn it into a failing
	// endpoint by closing it, then wait for the first probe's flip.
	srv.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { c.Run(stop); close(done) }()
	ran := make(chan struct{})
	go func() { h.run(stop, touch); close(ran) }()
	defer func() { close(stop); <-done; <-ran }()
	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		got := touched["one."] && touched["two."]
		mu.Unlock()
		if got {
			break
		}
		select {
		case <-flips:
		case <-deadline:
			t.Fatalf("a failing shared probe touched %v, want one. and two.", touched)
		}
	}
	if h.Up(probed("one.")) {
		t.Error("the member behind the failing probe is still up")
	}

	mu.Lock()
	clear(touched)
	mu.Unlock()
	if got := h.namesOf([]string{"c"}); !slices.Equal(got, []string{"two."}) {
		t.Errorf("names with unprobed members in site c: %q, want two.", got)
	}
	h.Track("two.", []model.Record{probed("two."), unprobed("two.", "c")}, nil)
	h.Track("one.", []model.Record{probed("one."), unprobed("one.", "b")}, nil)
	if n := targets(); n != 0 {
		t.Errorf("%d targets after every name left, want 0", n)
	}
	if len(h.byTarget) != 0 || len(h.unprobed) != 0 {
		t.Errorf("index keeps %v and %v after every name left", h.byTarget, h.unprobed)
	}
}
