package gslb

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
)

// transferText collects what Transfer sends, one record per line.
func transferText(t *testing.T, g *GSLB, zone string, serial uint32) string {
	t.Helper()
	ch, err := g.Transfer(zone, serial)
	if err != nil {
		t.Fatalf("Transfer(%s, %d): %v", zone, serial, err)
	}
	var b strings.Builder
	for rrs := range ch {
		for _, rr := range rrs {
			b.WriteString(strings.ReplaceAll(rr.String(), "\t", " ") + "\n")
		}
	}
	return b.String()
}

func TestTransfer(t *testing.T) {
	g := newTestGSLB(t, exampleCorefile)
	serial := g.builder.Table().Serial
	soa := "example.org. 60 IN SOA ns1.example.org. dns-admin.example.org. " + strconv.FormatUint(uint64(serial), 10) + " 7200 1800 1209600 60\n"
	want := soa + `example.org. 60 IN NS ns1.example.org.
example.org. 60 IN NS ns2.example.net.
alias.example.org. 60 IN CNAME lb-1.eu-west-1.elb.amazonaws.com.
app.example.org. 60 IN A 10.0.0.1
app.example.org. 60 IN A 10.0.0.2
app.example.org. 60 IN A 10.0.1.1
svc.team.apps.example.org. 60 IN A 10.0.0.4
dual.example.org. 60 IN A 10.0.0.3
dual.example.org. 60 IN AAAA 2001:db8::3
ns1.example.org. 60 IN A 192.0.2.53
ns1.example.org. 60 IN AAAA 2001:db8::53
v6.example.org. 60 IN AAAA 2001:db8::1
v6.example.org. 60 IN AAAA 2001:db8::2
` + soa
	if got := transferText(t, g, "example.org.", 0); got != want {
		t.Errorf("AXFR:\n%s\nwant:\n%s", got, want)
	}
	// IXFR: a secondary at our serial (or, by serial arithmetic, ahead
	// of it) gets the SOA alone; one behind gets the whole zone.
	for _, s := range []uint32{serial, serial + 1, serial + 1<<30} {
		if got := transferText(t, g, "example.org.", s); got != soa {
			t.Errorf("IXFR from %d (ours %d): got\n%s\nwant the SOA alone", s, serial, got)
		}
	}
	for _, s := range []uint32{serial - 1, serial + 1<<31 + 1} {
		if got := transferText(t, g, "example.org.", s); got != want {
			t.Errorf("IXFR from %d (ours %d): got\n%s\nwant the whole zone", s, serial, got)
		}
	}
	for _, zone := range []string{"app.example.org.", "example.net.", "org."} {
		if _, err := g.Transfer(zone, 0); err != transfer.ErrNotAuthoritative {
			t.Errorf("Transfer(%s): err %v, want ErrNotAuthoritative", zone, err)
		}
	}
}

func TestSerialBefore(t *testing.T) {
	tests := []struct {
		a, b uint32
		want bool
	}{
		{1, 2, true},
		{2, 1, false},
		{5, 5, false},
		{0xffffffff, 0, true}, // wraps
		{0, 0xffffffff, false},
		{1, 1 + 1<<31 - 1, true},
		{1, 1 + 1<<31 + 1, false}, // too far ahead: b is older
	}
	for _, tc := range tests {
		if got := serialBefore(tc.a, tc.b); got != tc.want {
			t.Errorf("serialBefore(%d, %d) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestNotifyRateLimit: the first change is announced at once, a burst of
// changes within the interval costs one more round at its end, and every
// zone is notified in each round.
func TestNotifyRateLimit(t *testing.T) {
	g := newTestGSLB(t, `gslb example.org example.net {
		member app.example.org 10.0.0.1
	}`)
	type call struct {
		zone string
		at   time.Time
	}
	calls := make(chan call, 100)
	notify := func(zone string) error {
		calls <- call{zone, time.Now()}
		return nil
	}
	const every = 300 * time.Millisecond
	done := make(chan struct{})
	go func() { g.notifyLoop(notify, every); close(done) }()
	defer func() {
		close(g.stopCh)
		<-done
	}()

	round := func(what string) time.Time {
		t.Helper()
		var zones []string
		var at time.Time
		for range 2 {
			select {
			case c := <-calls:
				zones = append(zones, c.zone)
				at = c.at
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no NOTIFY after 10 s (got %v)", what, zones)
			}
		}
		slices.Sort(zones)
		if !slices.Equal(zones, []string{"example.net.", "example.org."}) {
			t.Errorf("%s: notified %v, want both zones", what, zones)
		}
		return at
	}
	start := time.Now()
	g.requestNotify()
	first := round("first change")
	// A burst right after: one round, not before the interval ran out.
	for range 5 {
		g.requestNotify()
	}
	second := round("burst")
	if gap := second.Sub(first); gap < every {
		t.Errorf("second round %v after the first, want at least %v", gap, every)
	}
	select {
	case c := <-calls:
		t.Errorf("a burst of 5 changes notified more than once more: %v at +%v", c.zone, c.at.Sub(start))
	case <-time.After(3 * every):
	}
}
