package testutil

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// FreePort finds a port free for both TCP and UDP on every one of ips
// (loopback addresses: a DNS server listens on both protocols, an HTTP
// probe target on TCP). It is free when checked; a caller binds it soon.
func FreePort(ips ...string) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if portFree(port, ips) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free for TCP and UDP on %v after 50 tries", ips)
}

func portFree(port int, ips []string) bool {
	for _, ip := range ips {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		t, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		t.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}

// WaitAnswer asks server for name's A records every 10 ms until the
// addresses answered, sorted, are exactly want (sorted), and returns how
// long that took. A benchmark's failover and agreement times are these.
func WaitAnswer(server, name string, want []string, limit time.Duration) (time.Duration, error) {
	begin := time.Now()
	c := &dns.Client{Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
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
	return 0, fmt.Errorf("%s at %s: answer still %s after %s, want %s", name, server, strings.Join(got, ","), limit, strings.Join(want, ","))
}

// ProbeTarget is an HTTP server answering 200 on a fixed address: a
// member's VIP that benchmarks stop (an outage) and start again on the same
// address and port.
type ProbeTarget struct {
	Addr string // host:port
	mu   sync.Mutex
	srv  *http.Server
}

// Start listens on Addr, retrying for 5 s while the port is still held by
// the previous Stop's connections.
func (p *ProbeTarget) Start() error {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go srv.Serve(ln)
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	return nil
}

// Stop closes the server and its connections: probes are refused.
func (p *ProbeTarget) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		p.srv.Close()
		p.srv = nil
	}
}
