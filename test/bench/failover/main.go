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
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/gslb/gslb/test/testutil"
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

func run(coredns string, trials int, interval, timeout time.Duration, fall, rise int) error {
	httpPort, err := testutil.FreePort(ipA, ipB)
	if err != nil {
		return err
	}
	dnsPort, err := testutil.FreePort("127.0.0.1")
	if err != nil {
		return err
	}
	a, b := &testutil.ProbeTarget{Addr: net.JoinHostPort(ipA, strconv.Itoa(httpPort))}, &testutil.ProbeTarget{Addr: net.JoinHostPort(ipB, strconv.Itoa(httpPort))}
	if err := a.Start(); err != nil {
		return err
	}
	defer a.Stop()
	if err := b.Start(); err != nil {
		return err
	}
	defer b.Stop()

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
		trials, interval, timeout, fall, rise, a.Addr, b.Addr)
	both := []string{ipA, ipB}
	if _, err := testutil.WaitAnswer(server, name, both, 30*time.Second); err != nil {
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
		victim.Stop()
		rest := []string{ipB}
		if victim == b {
			rest = []string{ipA}
		}
		d, err := testutil.WaitAnswer(server, name, rest, 60*time.Second)
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		took = append(took, d)
		fmt.Printf("trial %2d: %s stopped, first answer without it after %.2f s\n", i+1, victim.Addr, d.Seconds())
		if err := victim.Start(); err != nil {
			return err
		}
		if _, err := testutil.WaitAnswer(server, name, both, 60*time.Second); err != nil {
			return fmt.Errorf("trial %d: member did not come back: %w", i+1, err)
		}
	}
	slices.Sort(took)
	fmt.Printf("failover p50: %.2f s\n", testutil.Quantile(took, 0.50).Seconds())
	fmt.Printf("failover p99: %.2f s\n", testutil.Quantile(took, 0.99).Seconds())
	return nil
}
