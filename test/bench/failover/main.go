// Command failover measures how long a GSLB name keeps answering a member
// after it dies: bin/coredns serves one name with two static members, each
// an HTTP server on its own loopback address; every trial stops one server
// and polls DNS until the first answer without it. It prints the settings,
// every trial, and the lines `failover p50: X.XX s` and `failover p99: X.XX s`.
//
// Everything runs on 127.0.0.0/8: the members are 127.26.17.21 and
// 127.27.17.21, which all reach lo on Linux.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

const (
	ipA  = "127.26.17.21"
	ipB  = "127.27.17.21"
	name = "app.failover.bench."
)

func main() {
	coredns := flag.String("coredns", "bin/coredns", "CoreDNS binary with the gslb plugin")
	trials := flag.Int("trials", 20, "number of failovers to measure")
	interval := flag.Duration("interval", time.Second, "health_interval")
	timeout := flag.Duration("timeout", time.Second, "health_timeout")
	fall := flag.Int("fall", 3, "health_fall")
	rise := flag.Int("rise", 2, "health_rise")
	flag.Parse()
	if err := run(*coredns, *trials, *interval, *timeout, *fall, *rise); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

type member struct {
	addr string
	srv  *http.Server
}

func (m *member) start() error {
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", m.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	m.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
	go m.srv.Serve(l)
	return nil
}

func (m *member) stop() {
	if m.srv != nil {
		m.srv.Close()
		m.srv = nil
	}
}

func freePort(ips ...string) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for _, ip := range ips {
			if c, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port))); err == nil {
				c.Close()
			} else {
				ok = false
			}
			if t, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port))); err == nil {
				t.Close()
			} else {
				ok = false
			}
		}
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

func run(coredns string, trials int, interval, timeout time.Duration, fall, rise int) error {
	httpPort, err := freePort(ipA, ipB)
	if err != nil {
		return err
	}
	dnsPort, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	a, b := &member{addr: net.JoinHostPort(ipA, strconv.Itoa(httpPort))}, &member{addr: net.JoinHostPort(ipB, strconv.Itoa(httpPort))}
	if err := a.start(); err != nil {
		return err
	}
	defer a.stop()
	if err := b.start(); err != nil {
		return err
	}
	defer b.stop()

	dir, err := os.MkdirTemp("", "gslb-failover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	corefile := filepath.Join(dir, "Corefile")
	cf := fmt.Sprintf(`failover.bench:%d {
    bind 127.0.0.1
    gslb {
        member %s %s site a
        member %s %s site b
        health_check http %d /
        health_interval %s
        health_timeout %s
        health_fall %d
        health_rise %d
        health_targets 127.0.0.0/8
    }
}
`, dnsPort, name, ipA, name, ipB, httpPort, interval, timeout, fall, rise)
	if err := os.WriteFile(corefile, []byte(cf), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(coredns, "-conf", corefile)
	cmd.Stdout, cmd.Stderr = nil, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w (run make build first)", coredns, err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; cmd.Process.Kill(); os.Exit(130) }()

	server := net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort))
	fmt.Printf("failover: %d trials; health_check http, interval %s, timeout %s, fall %d, rise %d; members %s and %s\n",
		trials, interval, timeout, fall, rise, a.addr, b.addr)
	both := []string{ipA, ipB}
	if _, err := waitFor(server, both, 30*time.Second); err != nil {
		return err
	}
	var took []time.Duration
	for i := range trials {
		victim := a
		if i%2 == 1 {
			victim = b
		}
		// Let the survivor's and victim's probe histories settle: both up,
		// each probed at least rise times since its last change.
		// A random extra delay puts the kill at a random phase of the
		// probe schedule, so the trials sample the whole distribution.
		time.Sleep(interval*time.Duration(rise) + interval/2 + rand.N(interval))
		victim.stop()
		rest := []string{ipB}
		if victim == b {
			rest = []string{ipA}
		}
		d, err := waitFor(server, rest, 60*time.Second)
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		took = append(took, d)
		fmt.Printf("trial %2d: %s stopped, first answer without it after %.2f s\n", i+1, victim.addr, d.Seconds())
		if err := victim.start(); err != nil {
			return err
		}
		if _, err := waitFor(server, both, 60*time.Second); err != nil {
			return fmt.Errorf("trial %d: member did not come back: %w", i+1, err)
		}
	}
	slices.Sort(took)
	fmt.Printf("failover p50: %.2f s\n", quantile(took, 0.50).Seconds())
	fmt.Printf("failover p99: %.2f s\n", quantile(took, 0.99).Seconds())
	return nil
}

// waitFor polls every 10 ms until the answer is exactly want.
func waitFor(server string, want []string, limit time.Duration) (time.Duration, error) {
	begin := time.Now()
	c := &dns.Client{Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	var got []string
	for time.Since(begin) < limit {
		if r, _, err := c.Exchange(m, server); err == nil {
			got = got[:0]
			for _, rr := range r.Answer {
				if a, ok := rr.(*dns.A); ok {
					got = append(got, a.A.String())
				}
			}
			slices.Sort(got)
			if slices.Equal(got, want) {
				return time.Since(begin), nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("answer still %s after %s, want %s", strings.Join(got, ","), limit, strings.Join(want, ","))
}

// quantile uses the nearest-rank method on sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
