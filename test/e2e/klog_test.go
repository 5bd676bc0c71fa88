package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// rawKlog matches a line in klog's own format (E1130 12:00:00.000000 ...).
var rawKlog = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ `)

// TestAPIOutageLogsThroughCoreDNS: when a member cluster's API server goes
// away, client-go's reflector complaints come out as CoreDNS plugin lines
// ([WARNING] plugin/gslb: ...), never as raw klog lines.
func TestAPIOutageLogsThroughCoreDNS(t *testing.T) {
	s := startServer(t, gslbBlock())
	b := theLab.Clusters[1]
	b.StopAPIServer()
	defer func() {
		if !b.Running() {
			if err := b.Start(context.Background()); err != nil {
				t.Errorf("restarting site B: %v", err)
			}
		}
	}()
	// The reflector notices when its watch breaks and retries with
	// back-off: its first complaint comes within seconds.
	reflector := regexp.MustCompile(`(?m)^\[WARNING\] plugin/gslb: .*(reflector|[Ww]atch|list)`)
	deadline := time.Now().Add(60 * time.Second)
	for !reflector.MatchString(s.Log()) {
		if time.Now().After(deadline) {
			t.Fatalf("no [WARNING] plugin/gslb: line from client-go within 60 s of site B's outage:\n%s", s.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if raw := rawKlog.FindAllString(s.Log(), -1); len(raw) > 0 {
		t.Errorf("raw klog lines in CoreDNS's output: %q\n%s", raw, s.Log())
	}
	t.Logf("client-go's lines:\n%s", reflector.FindAllString(s.Log(), 5))
}
