package e2e

import (
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// rawKlog matches a line in klog's own format (E1130 12:00:00.000000 ...).
var rawKlog = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ `)

// outageProxy forwards TCP to an API server until broken, then closes
// every connection at once, as a load balancer in front of a dead API
// server does. (A plain "connection refused" makes client-go retry
// silently; this outage is one it reports.)
type outageProxy struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	broken bool
	conns  []net.Conn
}

func newOutageProxy(t *testing.T, upstream string) *outageProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{ln: ln, upstream: upstream}
	t.Cleanup(func() { ln.Close(); p.breakAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *outageProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.broken {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// breakAll starts the outage: open connections close, new ones are closed
// as soon as they are accepted.
func (p *outageProxy) breakAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestAPIOutageLogsThroughCoreDNS: when a member cluster's API server goes
// away, client-go's reflector complaints come out as CoreDNS plugin lines
// ([WARNING] plugin/gslb: ...), never as raw klog lines.
func TestAPIOutageLogsThroughCoreDNS(t *testing.T) {
	b := theLab.Clusters[1]
	kc, err := clientcmd.LoadFromFile(theLab.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cl := kc.Clusters[kc.Contexts[b.Context].Cluster]
	upstream := strings.TrimPrefix(cl.Server, "https://")
	proxy := newOutageProxy(t, upstream)
	cl.Server = "https://" + proxy.ln.Addr().String()
	kubeconfig := filepath.Join(t.TempDir(), "gslb-members")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(gslbBlock("endpoint_readiness"), "kubeconfig "+theLab.Kubeconfig, "kubeconfig "+kubeconfig, 1)
	s := startServer(t, body)

	proxy.breakAll()
	reflector := regexp.MustCompile(`(?m)^\[WARNING\] plugin/gslb: .*(Failed to watch|watch ended with error).*reflector=.*$`)
	deadline := time.Now().Add(60 * time.Second)
	for !reflector.MatchString(s.Log()) {
		if time.Now().After(deadline) {
			t.Fatalf("no [WARNING] plugin/gslb: line from client-go within 60 s of site B's outage:\n%s", s.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if raw := rawKlog.FindAllString(s.Log(), -1); len(raw) > 0 {
		t.Errorf("raw klog lines in CoreDNS's output: %q\n%s", raw, s.Log())
	}
	t.Logf("client-go's lines:\n%s", strings.Join(reflector.FindAllString(s.Log(), 3), "\n"))
}
