// Command vantage measures shared health verdicts (the Corefile's vantage
// block) on the lab's real API servers:
//
//  1. Agreement: three sites, one bin/coredns per site (three vantages,
//     health_quorum majority), one member per site on its own loopback
//     address. Each trial stops site B's member at a random phase of the
//     probe schedule and polls all three servers every 10 ms; it records
//     when the first server answers without the member (the baseline: what
//     one server alone would take, which a vantage can never beat) and when
//     all three do (agreement). Prints p50/p99 of both, their ratio, and
//     p50/p99 of the spread (all three minus the first, per trial).
//  2. Write rate: a vantage's publisher (plugin/kube.Publisher, in process)
//     writes into a lab API server for -members synthetic targets while a
//     fraction of them flips, at three churn rates; prints the API writes per
//     second (Lease and verdicts), the verdict object's size and the bytes
//     written per second.
//
// Everything runs on 127.0.0.0/8.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/vantage"
	"github.com/gslb/gslb/test/lab"
	"github.com/gslb/gslb/test/testutil"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func main() {
	coredns := flag.String("coredns", "bin/coredns", "CoreDNS binary with the gslb plugin")
	trials := flag.Int("trials", 10, "outages to measure (0: skip the agreement part)")
	members := flag.Int("members", 10000, "synthetic probe targets of the write-rate part (0: skip it)")
	seconds := flag.Int("seconds", 30, "duration of each write-rate run")
	flag.Parse()
	if abs, err := filepath.Abs(*coredns); err == nil {
		*coredns = abs
	}
	if err := run(*coredns, *trials, *members, time.Duration(*seconds)*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "vantage:", err)
		os.Exit(1)
	}
}

func run(coredns string, trials, members int, d time.Duration) error {
	ctx := context.Background()
	l, err := lab.Start(ctx, 3, lab.Options{Log: os.Stderr})
	if err != nil {
		return err
	}
	defer l.Close()
	if trials > 0 {
		if err := agreement(ctx, l, coredns, trials); err != nil {
			return err
		}
	}
	if members > 0 {
		return writeRate(ctx, l, members, d)
	}
	return nil
}

const objects = "gslb-vantages"

func agreement(ctx context.Context, l *lab.Lab, coredns string, trials int) error {
	host := "app.vantage.gslb.bench"
	ips := []string{"127.26.17.51", "127.27.17.51", "127.28.17.51"}
	port, err := testutil.FreePort(ips...)
	if err != nil {
		return err
	}
	var ms []*testutil.ProbeTarget
	for i, c := range l.Clusters {
		m := &testutil.ProbeTarget{Addr: net.JoinHostPort(ips[i], strconv.Itoa(port))}
		if err := m.Start(); err != nil {
			return err
		}
		defer m.Stop()
		ms = append(ms, m)
		cs := c.Clientset()
		for _, ns := range []string{"bench", objects} {
			if err := lab.EnsureNamespace(ctx, cs, ns); err != nil {
				return err
			}
		}
		if _, err := lab.CreateIngress(ctx, cs, lab.IngressSpec{Namespace: "bench", Name: "app", Labels: lab.GSLBLabels(),
			Annotations: map[string]string{"gslb.io/health-port": strconv.Itoa(port)},
			ClassName:   "avi-lb", Hosts: []string{host}, Service: "app", Port: 80}); err != nil {
			return err
		}
		if err := lab.SetIngressStatus(ctx, cs, "bench", "app", []string{ips[i]}, nil); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "gslb-bench-vantage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var servers []string
	for i, c := range l.Clusters {
		dnsPort, err := testutil.FreePort("127.0.0.1")
		if err != nil {
			return err
		}
		var sites []string
		for _, cl := range l.Clusters {
			sites = append(sites, "site "+cl.Site+" "+cl.Context)
		}
		cf := fmt.Sprintf(`gslb.bench {
    bind 127.0.0.1
    gslb {
        kubeconfig %s
        %s
        health_targets 127.0.0.0/8
        vantage {
            context %s
            namespace %s
        }
        health_quorum majority
    }
}
`, l.Kubeconfig, strings.Join(sites, "\n        "), c.Site, objects)
		file := filepath.Join(dir, fmt.Sprintf("Corefile.%d", i))
		if err := os.WriteFile(file, []byte(cf), 0o644); err != nil {
			return err
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("coredns.%d.log", i)))
		if err != nil {
			return err
		}
		defer logf.Close()
		cmd := exec.Command(coredns, "-conf", file, "-dns.port", strconv.Itoa(dnsPort))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return err
		}
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		servers = append(servers, net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort)))
	}
	all := slices.Clone(ips)
	without := []string{ips[0], ips[2]}
	for _, s := range servers {
		if _, err := testutil.WaitAnswer(s, host, all, 60*time.Second); err != nil {
			return fmt.Errorf("server %s: %v", s, err)
		}
	}
	// Every vantage's heartbeat and first sheet are read by the others.
	time.Sleep(5 * time.Second)
	fmt.Printf("agreement: 3 servers (vantages), health_quorum majority, defaults (interval 1s, timeout 1s, fall 3, heartbeat 2s), %d trials\n", trials)
	var first, agree []time.Duration
	for i := range trials {
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second)))) // a random phase of the probe schedule
		ms[1].Stop()
		begin := time.Now()
		got := make([]time.Duration, len(servers))
		var wg sync.WaitGroup
		var errs []error
		var mu sync.Mutex
		for j, s := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := testutil.WaitAnswer(s, host, without, 60*time.Second); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				got[j] = time.Since(begin)
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			return errs[0]
		}
		f, a := slices.Min(got), slices.Max(got)
		first, agree = append(first, f), append(agree, a)
		fmt.Printf("trial %2d: first server %.2f s, all three %.2f s (spread %.2f s)\n", i+1, f.Seconds(), a.Seconds(), (a - f).Seconds())
		if err := ms[1].Start(); err != nil {
			return err
		}
		for _, s := range servers {
			if _, err := testutil.WaitAnswer(s, host, all, 60*time.Second); err != nil {
				return err
			}
		}
		time.Sleep(3 * time.Second) // rise, and every sheet written again
	}
	spread := make([]time.Duration, len(first))
	for i := range first {
		spread[i] = agree[i] - first[i]
	}
	slices.Sort(first)
	slices.Sort(agree)
	slices.Sort(spread)
	fmt.Printf("first server without the member p50: %.2f s, p99: %.2f s\n", testutil.Quantile(first, .5).Seconds(), testutil.Quantile(first, .99).Seconds())
	fmt.Printf("all servers agree p50: %.2f s, p99: %.2f s\n", testutil.Quantile(agree, .5).Seconds(), testutil.Quantile(agree, .99).Seconds())
	fmt.Printf("ratio agree/first p50: %.2f\n", testutil.Quantile(agree, .5).Seconds()/testutil.Quantile(first, .5).Seconds())
	fmt.Printf("spread (all three minus the first) p50: %.2f s, p99: %.2f s\n", testutil.Quantile(spread, .5).Seconds(), testutil.Quantile(spread, .99).Seconds())
	return nil
}

// writeRate runs a publisher for members synthetic targets at three churn
// rates: steady (nothing flips), quiet (0.1 % of the targets flip per
// second) and a storm (10 % flip every 100 ms), each for d.
func writeRate(ctx context.Context, l *lab.Lab, members int, d time.Duration) error {
	c := l.Clusters[0]
	if err := lab.EnsureNamespace(ctx, c.Clientset(), objects); err != nil {
		return err
	}
	fmt.Printf("write rate: one vantage publishing %d verdicts into a lab API server, heartbeat 2s, %s per run\n", members, d)
	for _, churn := range []struct {
		name  string
		every time.Duration
		frac  float64
	}{{"steady (no flip)", time.Second, 0}, {"quiet (0.1% flip per second)", time.Second, 0.001}, {"storm (10% flip every 100 ms)", 100 * time.Millisecond, 0.1}} {
		var mu sync.Mutex
		now := time.Now()
		vs := make([]vantage.Verdict, members)
		for i := range vs {
			vs[i] = vantage.Verdict{ID: uint64(i) * 0x9e3779b97f4a7c15, Since: now} // any distinct IDs
		}
		name := "bench-" + strconv.Itoa(int(churn.frac*1000)) + "-" + strconv.Itoa(int(churn.every/time.Millisecond))
		pub, err := kube.NewPublisher(kube.PublisherConfig{
			Cluster: kube.Cluster{Site: c.Site, Context: c.Context, Config: c.RESTConfig()}, Namespace: objects, Vantage: name,
			Heartbeat: 2 * time.Second,
			Verdicts: func() []vantage.Verdict {
				mu.Lock()
				defer mu.Unlock()
				return slices.Clone(vs)
			},
		})
		if err != nil {
			return err
		}
		okLease := value(vantage.WritesTotal.WithLabelValues("lease", "ok"))
		okSheet := value(vantage.WritesTotal.WithLabelValues("verdicts", "ok"))
		errs := value(vantage.WritesTotal.WithLabelValues("verdicts", "error")) + value(vantage.WritesTotal.WithLabelValues("lease", "error"))
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { pub.Run(stop); close(done) }()
		flips := 0
		var bytes float64
		tick := time.NewTicker(churn.every)
		end := time.After(d)
		lastSheets := okSheet
	loop:
		for {
			select {
			case <-end:
				break loop
			case <-tick.C:
				mu.Lock()
				for range int(churn.frac * float64(members)) {
					v := &vs[rand.IntN(members)]
					v.Down, v.Since = !v.Down, time.Now()
					if v.Down {
						v.Reason = "timeout after 1s"
					} else {
						v.Reason = ""
					}
					flips++
				}
				mu.Unlock()
				pub.Kick()
				if s := value(vantage.WritesTotal.WithLabelValues("verdicts", "ok")); s != lastSheets {
					bytes += (s - lastSheets) * value(vantage.SheetBytes)
					lastSheets = s
				}
			}
		}
		tick.Stop()
		close(stop)
		<-done
		leases := value(vantage.WritesTotal.WithLabelValues("lease", "ok")) - okLease
		sheets := value(vantage.WritesTotal.WithLabelValues("verdicts", "ok")) - okSheet
		failed := value(vantage.WritesTotal.WithLabelValues("verdicts", "error")) + value(vantage.WritesTotal.WithLabelValues("lease", "error")) - errs
		secs := d.Seconds()
		fmt.Printf("%-32s flips %6.0f/s  writes %.2f/s (lease %.2f/s, verdicts %.2f/s, failed %.0f)  verdicts object %.0f KiB  %.0f KiB/s written\n",
			churn.name, float64(flips)/secs, (leases+sheets)/secs, leases/secs, sheets/secs, failed, value(vantage.SheetBytes)/1024, bytes/1024/secs)
	}
	return nil
}

// value reads a counter or gauge of this process.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
