package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
)

// TestReloadLeaksNothing reloads the Corefile several times (reload plugin)
// and checks that each old instance stopped its informers: the API servers
// see as many watches as before, and CoreDNS runs as many goroutines.
func TestReloadLeaksNothing(t *testing.T) {
	body := func(ttl int) string { return gslbBlock("ttl " + strconv.Itoa(ttl)) }
	s := startServer(t, body(30), "reload 2s 0s")
	waitTTL(t, s, 30)
	settle := func() (goroutines float64, watches []int) {
		time.Sleep(2 * time.Second)
		return s.metric("go_goroutines", ""), apiserverWatches(t)
	}
	g0, w0 := settle()
	t.Logf("before reloads: %v goroutines, apiserver watches %v", g0, w0)

	for i, ttl := range []int{31, 32, 33} {
		s.writeCorefile(body(ttl), "reload 2s 0s")
		waitTTL(t, s, uint32(ttl))
		t.Logf("reload %d applied (ttl %d)", i+1, ttl)
	}
	s.waitReady(30 * time.Second)

	// Old instances shut down asynchronously; give them time.
	deadline := time.Now().Add(30 * time.Second)
	var g1 float64
	var w1 []int
	for {
		g1, w1 = settle()
		if g1 <= g0+5 && equalInts(w0, w1) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("after 3 reloads: %v goroutines, apiserver watches %v", g1, w1)
	if g1 > g0+5 {
		t.Errorf("goroutines grew from %v to %v over 3 reloads: an instance leaked", g0, g1)
	}
	if !equalInts(w0, w1) {
		t.Errorf("API server watches went from %v to %v over 3 reloads: informers leaked", w0, w1)
	}
	if r := s.query("onlineshop.gslb.sddc.lab", dns.TypeA); len(r.Answer) != 2 {
		t.Errorf("after reloads: want both sites, got:\n%v", r)
	}
}

func waitTTL(t *testing.T, s *server, ttl uint32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := s.query("onlineshop.gslb.sddc.lab", dns.TypeA)
		if len(r.Answer) > 0 && r.Answer[0].Header().Ttl == ttl {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the Corefile with ttl %d was not loaded within 30 s:\n%s", ttl, s.Log())
}

var watchLine = regexp.MustCompile(`(?m)^apiserver_longrunning_requests\{([^}]*)\} (\S+)$`)

// apiserverWatches returns, per cluster, the open WATCH requests on
// ingresses and services that the API server reports.
func apiserverWatches(t *testing.T) []int {
	t.Helper()
	var out []int
	for _, c := range theLab.Clusters {
		body, err := c.Clientset().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
		if err != nil {
			t.Fatalf("%s /metrics: %v", c.Name, err)
		}
		n := 0
		for _, m := range watchLine.FindAllStringSubmatch(string(body), -1) {
			if strings.Contains(m[1], `verb="WATCH"`) &&
				(strings.Contains(m[1], `resource="ingresses"`) || strings.Contains(m[1], `resource="services"`)) {
				v, _ := strconv.ParseFloat(m[2], 64)
				n += int(v)
			}
		}
		out = append(out, n)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReloadDuringOutage: Corefile reloads (SIGUSR1) while a site's API
// server is away keep answering that site's members, and the other site's:
// the reloaded instance takes over what the old one knew. Before, every
// cluster name was NXDOMAIN after a reload until its API server came back
// (found by test/chaos).
func TestReloadDuringOutage(t *testing.T) {
	s := startServer(t, gslbBlock())
	ns := namespace(t, "reloadout")
	host := ns + ".gslb.sddc.lab"
	ingress(t, 1, ns, "web", lab.GSLBLabels(), []string{host}, []string{"172.27.17.70"}, nil)
	ingress(t, 0, ns, "web", lab.GSLBLabels(), []string{host}, []string{"172.26.17.70"}, nil)
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.70", "172.27.17.70")

	b := theLab.Clusters[1]
	b.StopAPIServer()
	defer func() {
		if !b.Running() {
			b.Start(context.Background())
		}
	}()
	// One reload at a time: CoreDNS handles SIGUSR1 in order, and a reload
	// that ends only after its old instance stopped takes longer on a
	// loaded machine; what must hold is the answer, all the way through.
	for i := range 3 {
		if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			if got := strings.Join(s.addrs(host, dns.TypeA), ","); got != "172.26.17.70,172.27.17.70" {
				t.Fatalf("reload %d with site B's API server away: answer %q, want both sites", i+1, got)
			}
			if strings.Count(s.Log(), "Reloading complete") > i {
				break
			}
			if strings.Contains(s.Log(), "[ERROR] SIGUSR1") || strings.Contains(s.Log(), "Restart failed") {
				t.Fatalf("reload %d failed:\n%s", i+1, s.Log())
			}
			if time.Since(start) > testutil.WaitLimit {
				// Show where it hangs: the Go runtime dumps every
				// goroutine on SIGQUIT.
				_ = s.cmd.Process.Signal(syscall.SIGQUIT)
				time.Sleep(2 * time.Second)
				t.Fatalf("reload %d did not complete within %v:\n%s", i+1, testutil.WaitLimit, s.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("reload %d complete after %v", i+1, time.Since(start).Round(time.Millisecond))
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.eventually(host, dns.TypeA, resumeBound, "172.26.17.70", "172.27.17.70")
}
