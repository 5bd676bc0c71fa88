package table

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
)

// TestOnMemberHealth: a member whose verdict flips is reported once, with
// its new verdict; members that only come or go are not flips.
func TestOnMemberHealth(t *testing.T) {
	store := model.NewStore()
	store.Set("a", []model.Record{addr("app.example.org.", "sitea", "10.0.0.1"), addr("app.example.org.", "siteb", "10.0.1.1")})
	h := &fakeHealth{down: map[netip.Addr]bool{}}
	b := NewBuilder(polConfig(), store, h)
	type flip struct {
		name, addr string
		up         bool
	}
	var mu sync.Mutex
	var flips []flip
	b.OnMemberHealth = func(name string, r model.Record, up bool) {
		mu.Lock()
		defer mu.Unlock()
		flips = append(flips, flip{name, r.Member.Addr.String(), up})
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { b.Run(stop); close(done) }()
	defer func() { close(stop); <-done }()
	wait := func(n int) []flip {
		t.Helper()
		deadline := time.Now().Add(testutil.WaitLimit)
		for {
			mu.Lock()
			got := slices.Clone(flips)
			mu.Unlock()
			if len(got) >= n || time.Now().After(deadline) {
				return got
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	h.set("10.0.1.1", true)
	b.Notify()
	if got := wait(1); !slices.Equal(got, []flip{{"app.example.org.", "10.0.1.1", false}}) {
		t.Fatalf("flips %v, want 10.0.1.1 down", got)
	}
	// A new member (down from the start) is no flip; the old one's recovery is.
	h.set("10.0.2.1", true)
	store.Set("b", []model.Record{addr("app.example.org.", "sitec", "10.0.2.1")})
	h.set("10.0.1.1", false)
	b.Notify()
	time.Sleep(10 * Debounce)
	if got := wait(2); !slices.Equal(got, []flip{{"app.example.org.", "10.0.1.1", false}, {"app.example.org.", "10.0.1.1", true}}) {
		t.Fatalf("flips %v, want 10.0.1.1 down then up only", got)
	}
}

// TestExplainMatchesLookup: an explanation's answer is the next lookup's,
// for round robin, and explaining does not move the rotation.
func TestExplainMatchesLookup(t *testing.T) {
	recs := []model.Record{addr("app.example.org.", "sitea", "10.0.0.1"), addr("app.example.org.", "siteb", "10.0.1.1"), addr("app.example.org.", "sitec", "10.0.2.1")}
	cfg := polConfig()
	cfg.Answers = model.Some(1)
	tb := Compile(cfg, recs, nil, 1)
	z := tb.Zone("app.example.org.")
	c := policy.Client{Addr: netip.MustParseAddr("192.0.2.1"), Bits: 32}
	for range 5 {
		e1 := tb.Explain(z, "app.example.org.", dns.TypeA, c)
		e2 := tb.Explain(z, "app.example.org.", dns.TypeA, c)
		a := tb.Lookup(z, "app.example.org.", dns.TypeA, c)
		if !slices.Equal(addrs(e1.Answer.Answer), addrs(e2.Answer.Answer)) || !slices.Equal(addrs(e1.Answer.Answer), addrs(a.Answer)) {
			t.Fatalf("explained %v, %v; looked up %v", e1.Answer.Answer, e2.Answer.Answer, a.Answer)
		}
		if !e1.Picked || len(e1.Candidates) != 3 || e1.Service.Name != "app.example.org." || len(e1.Service.Members) != 3 {
			t.Fatalf("explanation %+v", e1)
		}
	}
}
