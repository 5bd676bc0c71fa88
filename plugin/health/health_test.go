package health

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	stdlog "log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/test/testutil"
)

func TestParseExpect(t *testing.T) {
	good := map[string][]StatusRange{
		"200":              {{200, 200}},
		"200-399":          {{200, 399}},
		"200-399,404":      {{200, 399}, {404, 404}},
		" 200 - 299 , 404": {{200, 299}, {404, 404}},
	}
	for in, want := range good {
		got, err := ParseExpect(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseExpect(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "200,", "399-200", "99", "600", "200-", "-300"} {
		if got, err := ParseExpect(in); err == nil {
			t.Errorf("ParseExpect(%q) = %v, want an error", in, got)
		}
	}
}

func TestTCPUpDown(t *testing.T) {
	up := countAccepts(t, "127.26.17.21")
	ua, up0 := addrPort(t, up.l.Addr())
	da, dp := deadPort(t, "127.26.17.21")
	live := Target{Addr: ua, Port: up0, Proto: TCP, Site: "tcp"}
	dead := Target{Addr: da, Port: dp, Proto: TCP, Site: "tcp"}
	targets := []Target{live, dead}

	// ::1 too, when the machine has it.
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		l.Close()
		up6 := countAccepts(t, "::1")
		a, p := addrPort(t, up6.l.Addr())
		targets = append(targets, Target{Addr: a, Port: p, Proto: TCP, Site: "tcp"})
	}

	c := NewChecker(fast(Settings{}), nil)
	rec := record(c)
	c.Sync(targets)
	run(t, c)

	for _, tg := range targets {
		rec.waitProbes(t, tg, 2)
	}
	if !c.Healthy(live) || c.Healthy(dead) {
		t.Fatalf("live healthy=%v dead healthy=%v; want true, false", c.Healthy(live), c.Healthy(dead))
	}
	if r := c.Snapshot()[dead].Reason; r != "connect: connection refused" {
		t.Errorf("dead reason = %q", r)
	}
	if r := c.Snapshot()[live].Reason; r != "connected" {
		t.Errorf("live reason = %q", r)
	}
	if len(targets) == 3 && !c.Healthy(targets[2]) {
		t.Errorf("::1 target unhealthy: %+v", c.Snapshot()[targets[2]])
	}
	if up.accepts.Load() < 2 {
		t.Errorf("listener saw %d connections, want >= 2", up.accepts.Load())
	}
}

func TestHTTPStatusAndHost(t *testing.T) {
	var mu sync.Mutex
	hosts := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fail", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1<<20)) // more than a probe reads
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts[r.Host] = true
		mu.Unlock()
		mux.ServeHTTP(w, r)
	})
	ts := serveHTTP(t, "127.26.17.22", h)

	cases := []struct {
		path   string
		expect string
		ok     bool
		reason string
	}{
		{"/ok", "", true, "HTTP 200"},
		{"/fail", "", false, "HTTP 503"},
		{"/missing", "", false, "HTTP 404"},
		{"/moved", "", true, "HTTP 301"}, // not followed to /fail
		{"/big", "", true, "HTTP 200"},
		{"/ok", "200,404", true, "HTTP 200"},
		{"/missing", "200,404", true, "HTTP 404"},
		{"/moved", "200,404", false, "HTTP 301"},
		{"/fail", "500-599", true, "HTTP 503"},
	}
	for _, tc := range cases {
		t.Run(tc.path+"/"+tc.expect, func(t *testing.T) {
			s := fast(Settings{})
			if tc.expect != "" {
				var err error
				if s.Expect, err = ParseExpect(tc.expect); err != nil {
					t.Fatal(err)
				}
			}
			c := NewChecker(s, nil)
			rec := record(c)
			tg := target(t, ts, HTTP, "shop.gslb.test", tc.path)
			c.Sync([]Target{tg})
			run(t, c)
			ev := rec.waitProbes(t, tg, 1)
			if ev[0].ok != tc.ok || ev[0].st.Healthy != tc.ok || ev[0].st.Reason != tc.reason {
				t.Errorf("first probe: ok=%v state=%+v; want ok=%v reason %q", ev[0].ok, ev[0].st, tc.ok, tc.reason)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) != 1 || !hosts["shop.gslb.test"] {
		t.Errorf("server saw Host headers %v, want only shop.gslb.test", hosts)
	}
}

func TestHTTPTimeout(t *testing.T) {
	ts := serveHTTP(t, "127.26.17.22", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(testutil.WaitLimit):
		}
	}))
	c := NewChecker(fast(Settings{Timeout: 100 * time.Millisecond}), nil)
	rec := record(c)
	tg := target(t, ts, HTTP, "slow.gslb.test", "/")
	c.Sync([]Target{tg})
	run(t, c)
	ev := rec.waitProbes(t, tg, 1)
	if ev[0].ok || ev[0].st.Reason != "timeout after 100ms" {
		t.Errorf("first probe: %+v, want a failure 'timeout after 100ms'", ev[0])
	}
	if l := ev[0].st.LastLatency; l < 100*time.Millisecond || l > time.Second {
		t.Errorf("latency %v, want about the timeout", l)
	}
}

// selfSigned makes a CA-like self-signed certificate for name.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func TestHTTPS(t *testing.T) {
	const fqdn = "shop.gslb.test"
	cert, pool := selfSigned(t, fqdn)
	_, otherPool := selfSigned(t, fqdn)

	var mu sync.Mutex
	seen := map[string]bool{} // "host|sni"
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Host+"|"+r.TLS.ServerName] = true
		mu.Unlock()
	}))
	ts.Listener.Close()
	ts.Listener = listen(t, "127.26.17.23")
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ts.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the failing cases make handshake errors
	ts.StartTLS()
	t.Cleanup(ts.Close)

	cases := []struct {
		name   string
		verify bool
		pool   *x509.CertPool
		host   string
		ok     bool
		reason string
	}{
		{"no verification", false, nil, fqdn, true, "HTTP 200"},
		{"verified with the cert's pool", true, pool, fqdn, true, "HTTP 200"},
		{"wrong pool", true, otherPool, fqdn, false, "certificate signed by unknown authority"},
		{"system roots", true, nil, fqdn, false, "certificate"},
		{"name mismatch", true, pool, "other.gslb.test", false, "certificate is valid for shop.gslb.test"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A TLS handshake under -race on a loaded machine can take more
			// than fast's 500 ms: the cases are about the verdict, not speed.
			c := NewChecker(fast(Settings{TLSVerify: tc.verify, RootCAs: tc.pool, Timeout: 10 * time.Second}), nil)
			rec := record(c)
			tg := target(t, ts, HTTPS, tc.host, "/")
			c.Sync([]Target{tg})
			run(t, c)
			ev := rec.waitProbes(t, tg, 1)
			if ev[0].ok != tc.ok || !strings.Contains(ev[0].st.Reason, tc.reason) {
				t.Errorf("first probe: %+v; want ok=%v, reason containing %q", ev[0], tc.ok, tc.reason)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]bool{fqdn + "|" + fqdn: true}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("server saw host|SNI %v, want %v", seen, want)
	}
}

// flakyServer answers 200, or 503 while failures are owed, on a fixed
// address and port that can be stopped and started again.
type flakyServer struct {
	t    *testing.T
	addr string
	fail atomic.Int64
	mu   sync.Mutex
	ts   *httptest.Server
}

func newFlaky(t *testing.T, ip string) *flakyServer {
	f := &flakyServer{t: t}
	f.start(listen(t, ip))
	f.addr = f.ts.Listener.Addr().String()
	t.Cleanup(f.stop)
	return f
}

func (f *flakyServer) start(l net.Listener) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			n := f.fail.Load()
			if n <= 0 {
				return
			}
			if f.fail.CompareAndSwap(n, n-1) {
				w.WriteHeader(503)
				return
			}
		}
	}))
	ts.Listener.Close()
	ts.Listener = l
	ts.Start()
	f.mu.Lock()
	f.ts = ts
	f.mu.Unlock()
}

func (f *flakyServer) stop() {
	f.mu.Lock()
	ts := f.ts
	f.ts = nil
	f.mu.Unlock()
	if ts != nil {
		ts.Close()
	}
}

func (f *flakyServer) restart() {
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("listen again on %s: %v", f.addr, err)
	}
	f.start(l)
}

func (f *flakyServer) target(t *testing.T) Target {
	ap := netip.MustParseAddrPort(f.addr)
	return Target{Addr: ap.Addr(), Port: ap.Port(), Proto: HTTP, Host: "flaky.gslb.test", Site: "hysteresis"}
}

// TestHysteresis follows one target through a single lost probe (no flip),
// a server stop (down on exactly the Fall-th failure) and a restart (up on
// exactly the Rise-th success), checking the state after every probe.
func TestHysteresis(t *testing.T) {
	f := newFlaky(t, "127.26.17.24")
	tg := f.target(t)
	var changes atomic.Int64
	c := NewChecker(fast(Settings{Rise: 2, Fall: 3}), func() { changes.Add(1) })
	rec := record(c)
	c.Sync([]Target{tg})
	run(t, c)

	ev := rec.waitProbes(t, tg, 2)
	if !ev[0].ok || !ev[0].st.Healthy {
		t.Fatalf("first probe %+v, want healthy", ev[0])
	}

	// Exactly one failed probe: the state must hold.
	n := len(ev)
	f.fail.Store(1)
	ev = rec.waitProbes(t, tg, n+4)
	failures := 0
	for _, e := range ev {
		if !e.ok {
			failures++
		}
		if !e.st.Healthy {
			t.Fatalf("one lost probe flipped the target: %+v", e)
		}
	}
	if failures != 1 {
		t.Fatalf("%d failed probes, want exactly 1", failures)
	}

	// Server gone: down on the third consecutive failure, not before.
	f.stop()
	n = len(rec.events(tg))
	ev = rec.waitProbes(t, tg, n+5)[n:]
	i := 0
	for i < len(ev) && ev[i].ok { // a probe in flight during the stop may pass
		i++
	}
	if len(ev)-i < 4 {
		t.Fatalf("too few failures after the stop: %+v", ev)
	}
	for k, e := range ev[i : i+4] {
		if e.ok {
			t.Fatalf("probe %d after stop succeeded: %+v", k+1, e)
		}
		if want := k+1 < 3; e.st.Healthy != want {
			t.Fatalf("after %d consecutive failures healthy=%v, want %v (%+v)", k+1, e.st.Healthy, want, e.st)
		}
	}
	if r := ev[i+2].st.Reason; r != "connect: connection refused" {
		t.Errorf("down reason %q", r)
	}
	if c.Healthy(tg) {
		t.Fatal("Healthy() still true")
	}
	testutil.Eventually(t, "onChange after the fall", func() bool { return changes.Load() >= 1 })

	// Back: up on the second consecutive success.
	f.restart()
	n = len(rec.events(tg))
	ev = rec.waitProbes(t, tg, n+4)[n:]
	i = 0
	for i < len(ev) && !ev[i].ok {
		i++
	}
	if len(ev)-i < 3 {
		t.Fatalf("too few successes after the restart: %+v", ev)
	}
	for k, e := range ev[i : i+3] {
		if want := k+1 >= 2; e.st.Healthy != want {
			t.Fatalf("after %d consecutive successes healthy=%v, want %v (%+v)", k+1, e.st.Healthy, want, e.st)
		}
	}
	if !c.Healthy(tg) {
		t.Fatal("Healthy() still false")
	}
	testutil.Eventually(t, "onChange after the rise", func() bool { return changes.Load() >= 2 })
}

// TestFirstProbe: optimistic before any probe, then the first result counts
// at once, without waiting for Fall failures; a passing first probe changes
// nothing and so calls nothing.
func TestFirstProbe(t *testing.T) {
	ts := serveHTTP(t, "127.26.17.25", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	live := target(t, ts, HTTP, "live.gslb.test", "/")
	da, dp := deadPort(t, "127.26.17.25")
	dead := Target{Addr: da, Port: dp, Proto: HTTP, Host: "dead.gslb.test", Site: "first"}

	var changes atomic.Int64
	s := fast(Settings{Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond, Fall: 3})
	c := NewChecker(s, func() { changes.Add(1) })
	rec := record(c)
	c.Sync([]Target{live, dead})
	if !c.Healthy(dead) || !c.Healthy(live) {
		t.Fatal("targets not healthy before their first probe")
	}
	if st := c.Snapshot()[dead]; st.Reason != "not probed yet" || st.Probes != 0 {
		t.Errorf("unprobed state %+v", st)
	}
	if !c.Healthy(Target{Addr: da, Port: 1, Proto: TCP}) {
		t.Error("unknown target not healthy")
	}

	begin := time.Now()
	run(t, c)
	ev := rec.waitProbes(t, dead, 1)
	took := time.Since(begin)
	if ev[0].ok || ev[0].st.Healthy || !strings.Contains(ev[0].st.Reason, "connection refused") {
		t.Fatalf("first probe of the dead target: %+v", ev[0])
	}
	// The first probe comes within the first interval (jitter), not after
	// Fall of them; the slack is for a loaded machine under -race. That
	// the first failure alone takes it out is asserted just below,
	// without timing.
	if took > s.Interval+s.Timeout+2*time.Second {
		t.Errorf("dead target out after %v, want within interval+timeout", took)
	}
	if c.Healthy(dead) {
		t.Error("Healthy(dead) after its first probe")
	}
	testutil.Eventually(t, "onChange", func() bool { return changes.Load() == 1 })

	rec.waitProbes(t, live, 3)
	time.Sleep(50 * time.Millisecond)
	if n := changes.Load(); n != 1 {
		t.Errorf("onChange called %d times, want 1 (only the dead target flipped)", n)
	}
}

// TestSyncRemoves: a target left out of Sync is no longer contacted, the
// others go on, and an unchanged Sync restarts nothing.
func TestSyncRemoves(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	ts := serveHTTP(t, "127.26.17.26", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
	}))
	count := func(p string) int { mu.Lock(); defer mu.Unlock(); return hits[p] }
	a := target(t, ts, HTTP, "a.gslb.test", "/a")
	b := target(t, ts, HTTP, "b.gslb.test", "/b")

	c := NewChecker(fast(Settings{}), nil)
	rec := record(c)
	c.Sync([]Target{a, b})
	run(t, c)
	rec.waitProbes(t, b, 3)

	c.mu.RLock()
	ea := c.entries[a]
	c.mu.RUnlock()
	for range 100 {
		c.Sync([]Target{b, a, a}) // same set, duplicates and order aside
	}
	c.mu.RLock()
	same := c.entries[a] == ea && len(c.entries) == 2
	c.mu.RUnlock()
	if !same {
		t.Error("an unchanged Sync replaced entries")
	}
	since := c.Snapshot()[a].Since

	c.Sync([]Target{a})
	if _, ok := c.Snapshot()[b]; ok {
		t.Fatal("removed target still in the snapshot")
	}
	if !c.Healthy(b) {
		t.Error("removed target reported unhealthy")
	}
	time.Sleep(100 * time.Millisecond) // a probe in flight at removal may land
	nb, na := count("/b"), rec.count(a)
	rec.waitProbes(t, a, na+6)
	if got := count("/b"); got != nb {
		t.Errorf("server saw %d more requests for the removed target", got-nb)
	}
	if got := c.Snapshot()[a].Since; !got.Equal(since) {
		t.Errorf("re-syncing restarted the kept target (since %v -> %v)", since, got)
	}

	// Adding it back probes it afresh.
	c.Sync([]Target{a, b})
	testutil.Eventually(t, "probes of the re-added target", func() bool { return count("/b") > nb })
}

// TestAllowed: a target outside Allowed is healthy, never contacted, not
// even through dial directly.
func TestAllowed(t *testing.T) {
	outside := countAccepts(t, "127.99.1.1")
	oa, op := addrPort(t, outside.l.Addr())
	da, dp := deadPort(t, "127.99.1.2") // would be unhealthy if probed
	inside := countAccepts(t, "127.26.17.27")
	ia, ip := addrPort(t, inside.l.Addr())

	targets := []Target{
		{Addr: oa, Port: op, Proto: TCP, Site: "allowed"},
		{Addr: oa, Port: op, Proto: HTTP, Host: "x.gslb.test", Site: "allowed"},
		{Addr: oa, Port: op, Proto: HTTPS, Host: "x.gslb.test", Site: "allowed"},
		{Addr: netip.AddrFrom16(oa.As16()), Port: op, Proto: TCP, Site: "allowed"}, // v4-mapped
		{Addr: da, Port: dp, Proto: TCP, Site: "allowed"},
	}
	probed := Target{Addr: ia, Port: ip, Proto: TCP, Site: "allowed"}

	c := NewChecker(fast(Settings{Allowed: []netip.Prefix{netip.MustParsePrefix("127.26.0.0/16")}}), nil)
	rec := record(c)
	c.Sync(append(targets, probed))
	run(t, c)
	rec.waitProbes(t, probed, 5)

	for _, tg := range targets {
		if !c.Healthy(tg) {
			t.Errorf("%v: unhealthy", tg)
		}
		st := c.Snapshot()[tg]
		if st.Probes != 0 || !strings.Contains(st.Reason, "allowed") {
			t.Errorf("%v: state %+v", tg, st)
		}
		if n := rec.count(tg); n != 0 {
			t.Errorf("%v: %d probes recorded", tg, n)
		}
		if _, err := c.dial(t.Context(), tg); err != errNotAllowed {
			t.Errorf("dial(%v) = %v, want errNotAllowed", tg, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := outside.accepts.Load(); n != 0 {
		t.Errorf("listener outside Allowed accepted %d connections", n)
	}
	if inside.accepts.Load() < 5 {
		t.Errorf("listener inside Allowed accepted %d connections, want >= 5", inside.accepts.Load())
	}
}

// TestGuardedDefault: without health_targets, loopback, link-local and
// metadata addresses are never contacted (they count as healthy, with a
// reason that names the fix); a prefix naming such a range opens it, a wide
// one does not.
func TestGuardedDefault(t *testing.T) {
	pfx := func(ps ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range ps {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	cases := []struct {
		allowed []netip.Prefix
		addr    string
		want    bool
	}{
		{nil, "10.1.2.3", true},
		{nil, "2001:db8::1", true},
		{nil, "127.0.0.1", false},
		{nil, "127.26.17.21", false},
		{nil, "::1", false},
		{nil, "::ffff:127.0.0.1", false},
		{nil, "0.0.0.0", false},
		{nil, "::", false},
		{nil, "169.254.169.254", false},
		{nil, "fe80::1%eth0", false},
		{nil, "fd00:ec2::254", false},
		{nil, "100.100.100.200", false},
		{pfx("0.0.0.0/0", "::/0"), "127.0.0.1", false},
		{pfx("0.0.0.0/0", "::/0"), "169.254.169.254", false},
		{pfx("0.0.0.0/0", "::/0"), "fd00:ec2::254", false},
		{pfx("0.0.0.0/0", "::/0"), "10.1.2.3", true},
		{pfx("127.0.0.0/8", "::1/128"), "127.0.0.1", true},
		{pfx("127.0.0.0/8", "::1/128"), "::1", true},
		{pfx("127.0.0.0/8"), "10.1.2.3", false},
		{pfx("127.26.0.0/16"), "127.26.17.21", true},
		{pfx("127.26.0.0/16"), "127.0.0.1", false},
		{pfx("169.254.0.0/16"), "169.254.169.254", true},
	}
	for _, c := range cases {
		s := Settings{Allowed: c.allowed}
		if got := s.allowed(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("health_targets %v: allowed(%s) = %v, want %v", c.allowed, c.addr, got, c.want)
		}
	}

	// End to end on a checker with the default settings: never contacted.
	l := countAccepts(t, "127.99.2.1")
	a, p := addrPort(t, l.l.Addr())
	tg := Target{Addr: a, Port: p, Proto: TCP, Site: "guarded"}
	c := NewChecker(Settings{Interval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond}, nil)
	c.Sync([]Target{tg})
	run(t, c)
	time.Sleep(300 * time.Millisecond)
	st := c.Snapshot()[tg]
	if !st.Healthy || st.Probes != 0 || !strings.Contains(st.Reason, "health_targets") {
		t.Errorf("guarded target: state %+v, want healthy, unprobed, and a reason naming health_targets", st)
	}
	if _, err := c.dial(t.Context(), tg); err != errNotAllowed {
		t.Errorf("dial(%v) = %v, want errNotAllowed", tg, err)
	}
	if n := l.accepts.Load(); n != 0 {
		t.Errorf("a loopback listener was contacted %d times without health_targets", n)
	}
}

func TestConcurrencyBound(t *testing.T) {
	const limit = 3
	var inflight, peak atomic.Int64
	var mu sync.Mutex
	perPath := map[string]int{}
	overlap := false
	ts := serveHTTP(t, "127.26.17.28", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		mu.Lock()
		perPath[r.URL.Path]++
		overlap = overlap || perPath[r.URL.Path] > 1
		mu.Unlock()
		defer func() { mu.Lock(); perPath[r.URL.Path]--; mu.Unlock() }()
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(40 * time.Millisecond)
	}))
	var targets []Target
	for i := range 12 {
		targets = append(targets, target(t, ts, HTTP, "c.gslb.test", "/"+strconv.Itoa(i)))
	}
	c := NewChecker(fast(Settings{Concurrency: limit, Interval: 20 * time.Millisecond, Timeout: 2 * time.Second}), nil)
	rec := record(c)
	c.Sync(targets)
	run(t, c)
	for _, tg := range targets {
		rec.waitProbes(t, tg, 3)
	}
	if p := peak.Load(); p > limit || p < 2 {
		t.Errorf("peak concurrent probes %d, want 2..%d", p, limit)
	}
	mu.Lock()
	if overlap {
		// Each probe (40ms) outlasts the interval (20ms): the next one
		// must wait for it, not run beside it.
		t.Error("two probes of one target overlapped")
	}
	mu.Unlock()
	for _, tg := range targets {
		if !c.Healthy(tg) {
			t.Errorf("%v unhealthy: %+v (waiting for the semaphore must not count against the timeout)", tg, c.Snapshot()[tg])
		}
	}
}

// TestInvalidTargets are never probed and stay healthy.
func TestInvalidTargets(t *testing.T) {
	c := NewChecker(fast(Settings{}), nil)
	bad := []Target{
		{Port: 80, Proto: TCP},
		{Addr: netip.MustParseAddr("127.0.0.1"), Proto: TCP},
		{Addr: netip.MustParseAddr("127.0.0.1"), Port: 80, Proto: Proto(9)},
		{Addr: netip.MustParseAddr("127.0.0.1"), Port: 80, Proto: HTTP, Path: "/\x7f bad"},
	}
	c.Sync(bad)
	stop := run(t, c)
	time.Sleep(150 * time.Millisecond)
	stop()
	for _, tg := range bad {
		st := c.Snapshot()[tg]
		if !st.Healthy || st.Probes != 0 || !strings.HasPrefix(st.Reason, "not probed: ") {
			t.Errorf("%v: %+v", tg, st)
		}
	}
}

func TestMetrics(t *testing.T) {
	ts := serveHTTP(t, "127.26.17.29", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	live := target(t, ts, HTTP, "m.gslb.test", "/")
	live.Site = "metrics"
	da, dp := deadPort(t, "127.26.17.29")
	dead := Target{Addr: da, Port: dp, Proto: TCP, Site: "metrics"}

	downs := testutil.Value(t, transitionsTotal.WithLabelValues("metrics", "unhealthy")) // counters outlive a test run (-count)
	c := NewChecker(fast(Settings{}), nil)
	rec := record(c)
	c.Sync([]Target{live, dead})
	stop := run(t, c)
	rec.waitProbes(t, dead, 1)
	rec.waitProbes(t, live, 1)

	if h, u := testutil.Value(t, healthyGauge.WithLabelValues("metrics")), testutil.Value(t, unhealthyGauge.WithLabelValues("metrics")); h != 1 || u != 1 {
		t.Errorf("healthy=%v unhealthy=%v, want 1 and 1", h, u)
	}
	if n := testutil.Value(t, transitionsTotal.WithLabelValues("metrics", "unhealthy")) - downs; n != 1 {
		t.Errorf("transitions to unhealthy = %v, want 1", n)
	}
	c.Sync([]Target{live})
	if u := testutil.Value(t, unhealthyGauge.WithLabelValues("metrics")); u != 0 {
		t.Errorf("unhealthy after removal = %v", u)
	}
	stop()
	if h := testutil.Value(t, healthyGauge.WithLabelValues("metrics")); h != 0 {
		t.Errorf("healthy after Run returned = %v, want 0 (a stopped checker withdraws its counts)", h)
	}
}

// TestNoGoroutineLeak: after Run returns, every goroutine the checker made
// (probe loops, HTTP transport readers and writers, dials) has ended.
func TestNoGoroutineLeak(t *testing.T) {
	ts := serveHTTP(t, "127.26.17.30", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	slow := serveHTTP(t, "127.26.17.30", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(testutil.WaitLimit):
		}
	}))
	tcp := countAccepts(t, "127.26.17.30")
	ta, tp := addrPort(t, tcp.l.Addr())
	da, dp := deadPort(t, "127.26.17.30")

	var targets []Target
	for i := range 10 {
		p := "/" + strconv.Itoa(i)
		targets = append(targets,
			target(t, ts, HTTP, "l.gslb.test", p),
			target(t, slow, HTTP, "s.gslb.test", p),
			Target{Addr: da, Port: dp, Proto: HTTP, Path: p},
		)
	}
	targets = append(targets, Target{Addr: ta, Port: tp, Proto: TCP})

	time.Sleep(20 * time.Millisecond)
	base := runtime.NumGoroutine()

	c := NewChecker(fast(Settings{Interval: 30 * time.Millisecond, Timeout: 60 * time.Millisecond}), nil)
	rec := record(c)
	c.Sync(targets)
	stop := run(t, c)
	for _, tg := range targets {
		rec.waitProbes(t, tg, 3)
	}
	c.Sync(targets[:5])
	time.Sleep(50 * time.Millisecond)
	stop()

	// The checker's own goroutines have all called wg.Done when Run
	// returns; give them a moment to leave their last frame.
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		st := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(st, "(*Checker).loop") {
			break
		}
		if i == 100 {
			t.Fatalf("probe loops still running 100ms after Run returned:\n%s", st)
		}
		time.Sleep(time.Millisecond)
	}

	// Server-side handler goroutines end a moment after the client hangs up.
	deadline := time.Now().Add(testutil.WaitLimit)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines after Run returned, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// TestInherit: a reloaded instance's checker starts each target the old
// checker had probed down as down, and brings it back only by the usual
// hysteresis: a dead member is not answered again until it passes rise
// probes. Other targets start as usual.
func TestInherit(t *testing.T) {
	up := countAccepts(t, "127.0.0.1")
	a, p := addrPort(t, up.l.Addr())
	live := Target{Addr: a, Port: p, Proto: TCP, Site: "a"}
	other := Target{Addr: a, Port: p, Proto: TCP, Site: "b"}
	unprobed := Target{Addr: a, Port: p, Proto: TCP, Site: "c"}
	healthy := Target{Addr: a, Port: p, Proto: TCP, Site: "d"}

	c := NewChecker(fast(Settings{Rise: 3}), nil)
	// other is known to this checker before Inherit (a Sync won the race).
	c.Sync([]Target{other})
	c.Inherit(map[Target]State{
		live:     {Healthy: false, Reason: "HTTP 503", Probes: 7},
		other:    {Healthy: false, Reason: "HTTP 503", Probes: 7},
		unprobed: {Healthy: false, Reason: "not probed yet"},
		healthy:  {Healthy: true, Reason: "connected", Probes: 7},
	})
	c.Sync([]Target{live, other, unprobed, healthy})
	if c.Healthy(live) || c.Healthy(other) {
		t.Fatalf("inherited down targets start healthy (live %v, other %v)", c.Healthy(live), c.Healthy(other))
	}
	if !c.Healthy(unprobed) {
		t.Fatal("a target the old checker never probed must start as usual (healthy until probed)")
	}
	if !c.Healthy(healthy) || c.Snapshot()[healthy].Reason != "not probed yet" {
		t.Fatal("a healthy target must start as usual: its first probe decides at once")
	}
	// Both down targets are reported, so that the table is rebuilt
	// without them: the one known before Inherit and the one added after.
	if got := c.TakeFlipped(); len(got) != 2 || !slices.Contains(got, other) || !slices.Contains(got, live) {
		t.Fatalf("flipped %v, want the two inherited down targets", got)
	}
	rec := record(c)
	run(t, c)
	// The state each probe left, as recorded when it was taken.
	ev := rec.waitProbes(t, live, 3)
	for i, e := range ev[:2] {
		if !e.ok || e.st.Healthy {
			t.Fatalf("probe %d: ok %v left healthy %v; want a good probe leaving it down (rise is 3)", i+1, e.ok, e.st.Healthy)
		}
	}
	if !ev[2].st.Healthy {
		t.Fatal("still down after rise good probes")
	}
	// An inherited verdict is used once: a target removed and added
	// again later (its VIP changed and changed back) starts anew.
	c.Sync([]Target{other, unprobed, healthy})
	c.Sync([]Target{live, other, unprobed, healthy})
	if st := c.Snapshot()[live]; !st.Healthy || st.Reason == "HTTP 503" {
		t.Fatalf("re-added target took the old inherited verdict again: %+v", st)
	}
}
