package kube

import (
	"fmt"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
	"k8s.io/client-go/rest"
)

// TestStopWhileAPIServerAway: a watcher whose API server is away stops
// within ShutdownGrace, although its reflectors are sleeping out a backoff
// that ignores the stop channel (client-go's streaming list). Before, Stop
// waited for the longest of those sleeps, which grow to 30 s and more: a
// Corefile reload during an outage hung that long (found in CI by e2e
// TestReloadDuringOutage).
func TestStopWhileAPIServerAway(t *testing.T) {
	port, err := testutil.FreePort() // nothing listens: connection refused, as when kube-apiserver is down
	if err != nil {
		t.Fatal(err)
	}
	defer func(g time.Duration) { ShutdownGrace = g }(ShutdownGrace)
	ShutdownGrace = 300 * time.Millisecond

	w, err := NewWatcher(Cluster{Site: "sitea", Context: "ctx-a", Config: &rest.Config{Host: fmt.Sprintf("https://127.0.0.1:%d", port)}},
		// Many informers, each with its own jittered backoff: Stop
		// without the grace waits for the longest sleep of them all.
		Options{Selector: "app=gslb", Namespaces: []string{"shop", "pay", "web"}, Ingresses: true, Services: true,
			EndpointReadiness: true, InZone: inExampleOrg}, model.NewStore())
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	// Long enough for every reflector's backoff to reach seconds
	// (0.8 s, doubling, with up to as much again of jitter).
	time.Sleep(7 * time.Second)
	if w.HasSynced() {
		t.Fatal("synced without an API server")
	}
	start := time.Now()
	w.Stop()
	// Generous against the grace, far below the backoff being waited out.
	if took := time.Since(start); took > ShutdownGrace+2*time.Second {
		t.Fatalf("Stop took %v with the API server away, want about %v", took, ShutdownGrace)
	}
}
