// Package e2e runs the real bin/coredns with the gslb plugin against real
// kube-apiservers started by the lab (test/lab), and checks DNS answers as a
// client sees them.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
)

const zone = "gslb.sddc.lab."

var (
	theLab  *lab.Lab
	coredns string // path of the binary under test
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if lab.SkipRequested() {
		fmt.Printf("e2e: %s=1: skipping the end-to-end tests\n", lab.EnvSkipLab)
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "gslb-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if coredns, err = buildCoreDNS(ctx, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	theLab, err = lab.Start(ctx, 2, lab.Options{Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the lab:", err)
		return 1
	}
	defer theLab.Close()
	for i, c := range theLab.Clusters {
		if err := lab.SeedOnlineshop(ctx, c.Clientset(), lab.SeedVIP(i)); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: seeding:", err)
			return 1
		}
	}
	return m.Run()
}

// buildCoreDNS builds ./cmd/coredns (cached by Go after the first time), so
// that `go test ./test/e2e` tests the current code, not a stale bin/.
func buildCoreDNS(ctx context.Context, dir string) (string, error) {
	root, err := lab.FindRepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "coredns")
	// The flags of `make build` (static, -trimpath), so that this build is
	// the one make already did, from Go's cache, and CI compiles CoreDNS once.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/coredns")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/coredns: %v\n%s", err, b)
	}
	return out, nil
}

// server is one running coredns process.
type server struct {
	t                      *testing.T
	addr                   string // DNS, 127.0.0.1:port
	ready                  string // ready plugin URL
	metrics                string // prometheus URL
	corefile               string
	readyPort, metricsPort int
	cmd                    *exec.Cmd
	logMu                  sync.Mutex
	log                    strings.Builder
	exited                 chan struct{}
}

// gslbBlock is the body of the gslb stanza for the lab's two sites.
func gslbBlock(extra ...string) string {
	lines := []string{
		"kubeconfig " + theLab.Kubeconfig,
		"site sitea " + theLab.Clusters[0].Context,
		"site siteb " + theLab.Clusters[1].Context,
		"nameserver ns1.gslb.sddc.lab 127.0.0.53",
		"nameserver ns2.gslb.sddc.lab 127.0.0.54",
		// Probes may only ever reach loopback: the seed's VIPs (172.x)
		// are answer data, never contacted.
		"health_targets 127.0.0.0/8 ::1/128",
	}
	return strings.Join(append(lines, extra...), "\n        ")
}

// startServer runs coredns with a Corefile serving the zone with the given
// gslb stanza body, plus ready and prometheus, and waits until it is Ready.
func startServer(t *testing.T, body string, plugins ...string) *server {
	t.Helper()
	return startServerAs(t, nil, body, plugins...)
}

// runAs runs a server under another uid, from files that uid may read
// (vantage_test.go: a firewall rule then drops only that server's probes).
type runAs struct {
	uid     uint32
	dir     string // owned by uid
	coredns string // a copy of the binary in dir
}

// startServerAs is startServer, as user as when it is not nil.
func startServerAs(t *testing.T, as *runAs, body string, plugins ...string) *server {
	t.Helper()
	dnsPort, readyPort, metricsPort := freePort(t), freePort(t), freePort(t)
	s := &server{
		t:         t,
		addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort)),
		ready:     fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort),
		metrics:   fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		exited:    make(chan struct{}),
		readyPort: readyPort, metricsPort: metricsPort,
	}
	s.corefile = filepath.Join(t.TempDir(), "Corefile")
	bin := coredns
	if as != nil {
		s.corefile, bin = filepath.Join(as.dir, "Corefile"), as.coredns
	}
	s.writeCorefile(body, plugins...)
	s.cmd = exec.Command(bin, "-conf", s.corefile, "-dns.port", strconv.Itoa(dnsPort))
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if as != nil {
		s.cmd.Dir = as.dir
		s.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: as.uid, Gid: as.uid}
	}
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.logMu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.logMu.Unlock()
		}
	}()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", coredns, err)
	}
	go func() { s.cmd.Wait(); pw.Close(); close(s.exited) }()
	t.Cleanup(s.stop)
	s.waitReady(60 * time.Second)
	return s
}

func (s *server) writeCorefile(body string, plugins ...string) {
	s.t.Helper()
	extra := strings.Join(plugins, "\n    ")
	cf := fmt.Sprintf(`%s {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    prometheus 127.0.0.1:%d
    %s
    gslb {
        %s
    }
}
`, zone, s.readyPort, s.metricsPort, extra, body)
	if err := os.WriteFile(s.corefile, []byte(cf), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) waitReady(limit time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("coredns exited:\n%s", s.Log())
		default:
		}
		if resp, err := http.Get(s.ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("coredns not ready after %s:\n%s", limit, s.Log())
}

func (s *server) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.t.Failed() {
		s.t.Logf("coredns log:\n%s", s.Log())
	}
}

// Log returns what coredns printed so far.
func (s *server) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// query asks the server over UDP.
func (s *server) query(name string, qtype uint16) *dns.Msg {
	s.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	var err error
	for range 3 {
		var r *dns.Msg
		if r, _, err = c.Exchange(m, s.addr); err == nil {
			return r
		}
	}
	s.t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	return nil
}

// addrs returns the sorted A/AAAA addresses (or CNAME targets) answered.
func (s *server) addrs(name string, qtype uint16) []string {
	r := s.query(name, qtype)
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		case *dns.CNAME:
			out = append(out, v.Target)
		}
	}
	slices.Sort(out)
	return out
}

// eventually polls until the answer equals want, and returns how long it took.
func (s *server) eventually(name string, qtype uint16, limit time.Duration, want ...string) time.Duration {
	s.t.Helper()
	slices.Sort(want)
	begin := time.Now()
	var got []string
	for time.Since(begin) < limit {
		if got = s.addrs(name, qtype); slices.Equal(got, want) {
			return time.Since(begin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s %s: want %v within %s, still %v", name, dns.TypeToString[qtype], want, limit, got)
	return 0
}

// metric returns the value of one sample of the server's metrics, matched
// by name and label substring (e.g. `site="sitea"`); -1 when absent.
func (s *server) metric(name, labels string) float64 {
	s.t.Helper()
	return scrape(s.t, s.metrics, name, labels)
}

func scrape(t *testing.T, url, name, labels string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		if strings.Contains(m[1], labels) {
			v, _ := strconv.ParseFloat(m[2], 64)
			return v
		}
	}
	return -1
}

func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// DNS needs the UDP port too.
		if u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1")
	return 0
}
