package health

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProbeSchedule: N HTTP targets on one loopback server (one per
// name: the Host header differs, as for N GSLB names on one VIP) probed
// every second for a few seconds. It reports the probe rate reached
// against the N a second the schedule asks for, the worst lag of a
// target's probes behind its interval, and the checker's CPU per thousand
// probes. b.N is ignored beyond the first run: the measure is the window.
func BenchmarkProbeSchedule(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	for _, n := range []int{1000, 10000, 30000} {
		b.Run(fmt.Sprint("targets=", n), func(b *testing.B) {
			for b.Loop() {
				c := NewChecker(Settings{Interval: time.Second, Timeout: time.Second}, nil)
				targets := make([]Target, n)
				for i := range targets {
					targets[i] = Target{Addr: ap.Addr(), Port: ap.Port(), Proto: HTTP, Host: "app" + strconv.Itoa(i) + ".example.org", Site: "a"}
				}
				c.Update(targets, nil)
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() { c.Run(stop); close(done) }()
				time.Sleep(2 * time.Second) // every target's first, random delay is over
				probes0, cpu0 := totalProbes(c), cpuSeconds()
				const window = 5 * time.Second
				time.Sleep(window)
				probes, cpu := totalProbes(c)-probes0, cpuSeconds()-cpu0
				close(stop)
				<-done
				rate := float64(probes) / window.Seconds()
				b.ReportMetric(rate, "probes/s")
				b.ReportMetric(rate/float64(n), "of-schedule")
				b.ReportMetric(cpu/float64(probes)*1000*1000, "cpu-ms/1000probes")
			}
		})
	}
}

func totalProbes(c *Checker) int {
	n := 0
	for _, st := range c.Snapshot() {
		n += st.Probes
	}
	return n
}

// cpuSeconds is this process's user and system CPU so far: the probes and
// the test server answering them.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
