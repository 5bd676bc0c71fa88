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
	var h *memberHealth
	c := health.NewChecker(health.Settings{Interval: 20 * time.Millisecond, Timeout: time.Second}, func() { h.flipped() })
	h = newMemberHealth(c, time.Second, nil)
	h.touch = func(names ...string) {
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
	defer func() { close(stop); <-done }()
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
