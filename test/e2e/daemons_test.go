package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// daemon is a third-party DNS server (BIND's named, NSD, Unbound) that a
// test runs in the foreground on a loopback port and stops at its end.
type daemon struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    strings.Builder
	exited chan struct{}
}

// tool returns the path of a program the tests need from a Debian package;
// .ci/run installs them.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/usr/bin/"} {
		if p, err := exec.LookPath(dir + name); err == nil {
			return p
		}
	}
	t.Fatalf("%s not found: install it with `apt-get install -y %s` (.ci/run does)", name, pkg)
	return ""
}

func startDaemon(t *testing.T, name string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, name: name, exited: make(chan struct{})}
	d.cmd = exec.Command(args[0], args[1:]...)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	pr, pw := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { d.cmd.Wait(); pw.Close(); close(d.exited) }()
	t.Cleanup(d.stop)
	return d
}

func (d *daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func (d *daemon) stop() {
	// Its process group: NSD forks its server and xfrd processes.
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.exited
	}
	if d.t.Failed() {
		d.t.Logf("%s log:\n%s", d.name, d.Log())
	}
}

// waitAnswer polls addr until qname answers NOERROR, or fails the test.
func (d *daemon) waitAnswer(addr, qname string, limit time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(limit)
	m := new(dns.Msg)
	m.SetQuestion(qname, dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			d.t.Fatalf("%s exited:\n%s", d.name, d.Log())
		default:
		}
		if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.t.Fatalf("%s does not answer %s SOA on %s after %s:\n%s", d.name, qname, addr, limit, d.Log())
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startNamed runs BIND as a secondary of zone from primary (ip:port of
// coredns), listening on 127.0.0.1:port.
func startNamed(t *testing.T, port int, primary string) *daemon {
	t.Helper()
	named := tool(t, "named", "bind9")
	dir := t.TempDir()
	host, pport, _ := strings.Cut(primary, ":")
	conf := writeFile(t, dir, "named.conf", fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
zone "%[3]s" {
	type secondary;
	primaries { %[4]s port %[5]s; };
	file "secondary.db";
	allow-notify { %[4]s; };
};
`, dir, port, zone, host, pport))
	return startDaemon(t, "named", named, "-g", "-c", conf)
}

// startNSD runs NSD as a secondary of zone from primary, on 127.0.0.1:port.
func startNSD(t *testing.T, port int, primary string) *daemon {
	t.Helper()
	nsd := tool(t, "nsd", "nsd")
	dir := t.TempDir()
	host, pport, _ := strings.Cut(primary, ":")
	conf := writeFile(t, dir, "nsd.conf", fmt.Sprintf(`server:
	ip-address: 127.0.0.1@%[2]d
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "%[1]s"
	database: ""
	zonelistfile: "%[1]s/zone.list"
	xfrdfile: "%[1]s/xfrd.state"
	xfrdir: "%[1]s"
	pidfile: "%[1]s/nsd.pid"
	logfile: "/dev/stderr"
	verbosity: 2
	server-count: 1
remote-control:
	control-enable: no
zone:
	name: "%[3]s"
	zonefile: "secondary.zone"
	request-xfr: %[4]s@%[5]s NOKEY
	allow-notify: %[4]s NOKEY
`, dir, port, zone, host, pport))
	return startDaemon(t, "nsd", nsd, "-d", "-c", conf)
}

// startUnbound runs Unbound as a validating resolver on 127.0.0.1:port with
// zone as a stub zone at coredns (ip:port) and trust anchor file anchor. It
// can only ever query loopback: every other zone is stubbed to a closed
// loopback port and it sends from 127.0.0.1 only. Client subnets are passed
// on to coredns (the subnetcache module), for topology.
func startUnbound(t *testing.T, port int, coredns, anchor string) *daemon {
	t.Helper()
	unbound := tool(t, "unbound", "unbound")
	dir := t.TempDir()
	host, pport, _ := strings.Cut(coredns, ":")
	conf := writeFile(t, dir, "unbound.conf", fmt.Sprintf(`server:
	interface: 127.0.0.1@%[2]d
	port: %[2]d
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "%[1]s"
	pidfile: "%[1]s/unbound.pid"
	use-syslog: no
	logfile: ""
	verbosity: 1
	val-log-level: 2
	do-ip6: no
	do-not-query-localhost: no
	outgoing-interface: 127.0.0.1
	access-control: 127.0.0.0/8 allow
	module-config: "subnetcache validator iterator"
	send-client-subnet: %[4]s
	client-subnet-always-forward: yes
	trust-anchor-file: "%[6]s"
	harden-dnssec-stripped: yes
	cache-max-ttl: 0
	cache-max-negative-ttl: 0
remote-control:
	control-enable: no
stub-zone:
	name: "%[3]s"
	stub-addr: %[4]s@%[5]s
stub-zone:
	name: "."
	stub-addr: 127.0.0.1@9
`, dir, port, zone, host, pport, anchor))
	return startDaemon(t, "unbound", unbound, "-d", "-c", conf)
}
