package health

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/test/testutil"
)

// Safety rule: these tests only ever listen on and connect to 127.0.0.0/8
// (every 127.x.y.z reaches lo on Linux). Each checker gets Allowed set to
// loopback as a guard against a mistake in a test.
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func fast(s Settings) Settings {
	if s.Interval == 0 {
		s.Interval = 50 * time.Millisecond
	}
	if s.Timeout == 0 {
		s.Timeout = 500 * time.Millisecond
	}
	if s.Allowed == nil {
		s.Allowed = loopbackOnly
	}
	return s
}

func listen(t *testing.T, ip string) net.Listener {
	t.Helper()
	if !netip.MustParseAddr(ip).IsLoopback() {
		t.Fatalf("test bug: %s is not a loopback address", ip)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	return l
}

// addrPort splits a listener's address into a target's fields.
func addrPort(t *testing.T, a net.Addr) (netip.Addr, uint16) {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap.Addr(), ap.Port()
}

// deadPort returns a loopback address and port where nothing listens.
func deadPort(t *testing.T, ip string) (netip.Addr, uint16) {
	l := listen(t, ip)
	a, p := addrPort(t, l.Addr())
	l.Close()
	return a, p
}

// serveHTTP starts an HTTP server on ip (a 127.x address), stopped at the
// end of the test.
func serveHTTP(t *testing.T, ip string, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ts.Listener = listen(t, ip)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func target(t *testing.T, ts *httptest.Server, proto Proto, host, path string) Target {
	a, p := addrPort(t, ts.Listener.Addr())
	return Target{Addr: a, Port: p, Proto: proto, Host: host, Path: path, Site: "test"}
}

// tcpCounter accepts and closes connections on ip, counting them.
type tcpCounter struct {
	l       net.Listener
	accepts atomic.Int64
	done    chan struct{}
}

func countAccepts(t *testing.T, ip string) *tcpCounter {
	c := &tcpCounter{l: listen(t, ip), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			conn, err := c.l.Accept()
			if err != nil {
				return
			}
			c.accepts.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { c.l.Close(); <-c.done })
	return c
}

// run starts c.Run and stops it (waiting for Run to return) at cleanup or
// when the returned function is called.
func run(t *testing.T, c *Checker) (stop func()) {
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() { c.Run(ch); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(ch)
			select {
			case <-done:
			case <-time.After(testutil.WaitLimit):
				t.Errorf("Run did not return within 5s of stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// event is one recorded probe, as afterProbe reports it.
type event struct {
	ok bool
	st State
}

// recorder collects afterProbe events per target.
type recorder struct {
	mu sync.Mutex
	ev map[Target][]event
}

func record(c *Checker) *recorder {
	r := &recorder{ev: map[Target][]event{}}
	c.afterProbe = func(t Target, ok bool, st State) {
		r.mu.Lock()
		r.ev[t] = append(r.ev[t], event{ok, st})
		r.mu.Unlock()
	}
	return r
}

func (r *recorder) events(t Target) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.ev[t]...)
}

func (r *recorder) count(t Target) int { return len(r.events(t)) }

// waitProbes waits until t has been probed at least n times in total and
// returns all its events.
func (r *recorder) waitProbes(t *testing.T, tg Target, n int) []event {
	t.Helper()
	testutil.Eventually(t, strconv.Itoa(n)+" probes of "+tg.String(), func() bool { return r.count(tg) >= n })
	return r.events(tg)
}
