package e2e

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// member is an HTTP server standing in for a site's VIP, on its own
// loopback address (127.26.17.21 plays 172.26.17.21), that a test stops and
// starts to kill and revive the site.
type member struct {
	t    *testing.T
	addr string // ip:port
	mu   sync.Mutex
	srv  *http.Server
}

func startMember(t *testing.T, ip string, port int) *member {
	t.Helper()
	m := &member{t: t, addr: net.JoinHostPort(ip, strconv.Itoa(port))}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *member) start() {
	m.t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the port may linger briefly after a stop
		if l, err = net.Listen("tcp", m.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		m.t.Fatalf("member %s: %v", m.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(l)
	m.mu.Lock()
	m.srv = srv
	m.mu.Unlock()
}

func (m *member) stop() {
	m.mu.Lock()
	srv := m.srv
	m.srv = nil
	m.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// freePortOn returns a TCP port free on every given loopback address.
func freePortOn(t *testing.T, ips ...string) int {
	t.Helper()
	for range 50 {
		port := freePort(t)
		ok := true
		for _, ip := range ips {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no common free port")
	return 0
}

// waitProbed waits until the server completed at least n successful probes.
func (s *server) waitProbed(n float64) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.metric("coredns_gslb_probes_total", `result="success"`) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("fewer than %v successful probes after 30 s:\n%s", n, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gslbIngress publishes host in site i with a loopback VIP and annotations.
func gslbIngress(t *testing.T, i int, ns, host, vip string, ann map[string]string) {
	t.Helper()
	ctx := context.Background()
	deleteAtEnd(t, i, "ingress", ns, "web")
	if _, err := lab.CreateIngress(ctx, site(i), lab.IngressSpec{
		Namespace: ns, Name: "web", Labels: lab.GSLBLabels(), Annotations: ann,
		ClassName: "avi-lb", Hosts: []string{host}, Service: "web", Port: 80,
	}); err != nil {
		t.Fatal(err)
	}
	if err := lab.SetIngressStatus(ctx, site(i), ns, "web", []string{vip}, nil); err != nil {
		t.Fatal(err)
	}
}

// Failover bound: with the defaults (1 s interval, 1 s timeout, fall 3) a
// dead member leaves the answers in about 3-4 s; assert generously.
const failoverBound = 20 * time.Second

// TestFailover kills site A's member: answers move to site B within the
// bound; when it comes back it returns only after the rise count.
func TestFailover(t *testing.T) {
	const ipA, ipB = "127.26.17.21", "127.27.17.21"
	port := freePortOn(t, ipA, ipB)
	a, _ := startMember(t, ipA, port), startMember(t, ipB, port)
	ns := namespace(t, "failover")
	host := ns + ".gslb.sddc.lab"
	ann := map[string]string{"gslb.io/health-port": strconv.Itoa(port), "gslb.io/health-path": "/healthz"}
	gslbIngress(t, 0, ns, host, ipA, ann)
	gslbIngress(t, 1, ns, host, ipB, ann)

	s := startServer(t, gslbBlock())
	s.eventually(host, dns.TypeA, updateBound, ipA, ipB)
	s.waitProbed(4) // both members probed twice: the next flip goes through fall

	a.stop()
	took := s.eventually(host, dns.TypeA, failoverBound, ipB)
	t.Logf("site A killed: answers without it after %.2f s", took.Seconds())

	a.start()
	back := s.eventually(host, dns.TypeA, failoverBound, ipA, ipB)
	t.Logf("site A back: answered again after %.2f s (rise 2 at 1 s interval)", back.Seconds())
	// Rise 2: the first good probe must not bring it back; the second,
	// one interval later, does. So never sooner than about one interval.
	if back < 900*time.Millisecond {
		t.Errorf("site A returned after %s: sooner than the rise count allows", back)
	}
	if got := s.metric("coredns_gslb_health_transitions_total", `site="sitea",to="unhealthy"`); got < 1 {
		t.Errorf("coredns_gslb_health_transitions_total{site=sitea,to=unhealthy} = %v, want >= 1", got)
	}
}

// TestActiveStandby: site A has the higher priority and answers alone; site
// B answers only while A is down.
func TestActiveStandby(t *testing.T) {
	const ipA, ipB = "127.26.17.22", "127.27.17.22"
	port := freePortOn(t, ipA, ipB)
	a, _ := startMember(t, ipA, port), startMember(t, ipB, port)
	ns := namespace(t, "standby")
	host := ns + ".gslb.sddc.lab"
	gslbIngress(t, 0, ns, host, ipA, map[string]string{"gslb.io/health-port": strconv.Itoa(port), "gslb.io/priority": "20"})
	gslbIngress(t, 1, ns, host, ipB, map[string]string{"gslb.io/health-port": strconv.Itoa(port), "gslb.io/priority": "10"})

	s := startServer(t, gslbBlock())
	s.eventually(host, dns.TypeA, updateBound, ipA)
	s.waitProbed(4)
	a.stop()
	t.Logf("active down: standby answers after %.2f s", s.eventually(host, dns.TypeA, failoverBound, ipB).Seconds())
	a.start()
	t.Logf("active back: it alone answers after %.2f s", s.eventually(host, dns.TypeA, failoverBound, ipA).Seconds())
}

// TestDownResponse: with every member dead, the Corefile's down response
// applies, and an annotation can override it per service.
func TestDownResponse(t *testing.T) {
	const ipA = "127.26.17.23"
	port := freePortOn(t, ipA)
	a := startMember(t, ipA, port)
	ns := namespace(t, "down")
	host, other := ns+".gslb.sddc.lab", "other-"+ns+".gslb.sddc.lab"
	ann := map[string]string{"gslb.io/health-port": strconv.Itoa(port)}
	gslbIngress(t, 0, ns, host, ipA, ann)
	ctx := context.Background()
	deleteAtEnd(t, 0, "ingress", ns, "other")
	if _, err := lab.CreateIngress(ctx, site(0), lab.IngressSpec{
		Namespace: ns, Name: "other", Labels: lab.GSLBLabels(), ClassName: "avi-lb", Hosts: []string{other}, Service: "web", Port: 80,
		Annotations: map[string]string{"gslb.io/health-port": strconv.Itoa(port), "gslb.io/down-response": "fallback 192.0.2.53"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := lab.SetIngressStatus(ctx, site(0), ns, "other", []string{ipA}, nil); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, gslbBlock("down_response empty"))
	s.eventually(host, dns.TypeA, updateBound, ipA)
	s.eventually(other, dns.TypeA, updateBound, ipA)
	a.stop()
	s.eventually(other, dns.TypeA, failoverBound, "192.0.2.53")
	s.eventually(host, dns.TypeA, failoverBound) // no answer records...
	r := s.query(host, dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 { // ...as NODATA
		t.Errorf("down_response empty: want NODATA with the SOA, got:\n%v", r)
	}
	// Names that earlier tests left in the lab may be down too: at least ours.
	if got := s.metric("coredns_gslb_services_down", `zone="gslb.sddc.lab."`); got < 2 {
		t.Errorf("coredns_gslb_services_down = %v, want >= 2", got)
	}
}

// TestBadAnnotationFallsBack: an invalid annotation is logged with the
// object's name and the service keeps serving with the defaults.
func TestBadAnnotationFallsBack(t *testing.T) {
	ns := namespace(t, "badann")
	host := ns + ".gslb.sddc.lab"
	gslbIngress(t, 0, ns, host, "172.26.17.70", map[string]string{"gslb.io/weight": "heavy", "gslb.io/health-check": "none"})
	s := startServer(t, gslbBlock())
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.70")
	deadline := time.Now().Add(10 * time.Second)
	for !containsAll(s.Log(), ns+"/web", "gslb.io/weight") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line naming %s/web and the bad annotation:\n%s", ns, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// setEndpoints creates or updates the EndpointSlice of Service svc in site i
// with one endpoint whose readiness is ready (the lab has no controller
// manager to do it).
func setEndpoints(t *testing.T, i int, ns, svc string, ready bool) {
	t.Helper()
	ctx := context.Background()
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
	api := site(i).DiscoveryV1().EndpointSlices(ns)
	if old, err := api.Get(ctx, slice.Name, metav1.GetOptions{}); err == nil {
		slice.ResourceVersion = old.ResourceVersion
		if _, err := api.Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := api.Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestEndpointReadiness: with endpoint_readiness, a site whose backing
// Service has no ready endpoint is out of the answers.
func TestEndpointReadiness(t *testing.T) {
	ns := namespace(t, "ready")
	host := ns + ".gslb.sddc.lab"
	noProbe := map[string]string{"gslb.io/health-check": "none"}
	gslbIngress(t, 0, ns, host, "172.26.17.80", noProbe)
	gslbIngress(t, 1, ns, host, "172.27.17.80", noProbe)
	setEndpoints(t, 0, ns, "web", true)
	setEndpoints(t, 1, ns, "web", true)

	s := startServer(t, gslbBlock("endpoint_readiness"))
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.80", "172.27.17.80")
	setEndpoints(t, 1, ns, "web", false)
	took := s.eventually(host, dns.TypeA, updateBound, "172.26.17.80")
	t.Logf("site B's endpoints not ready: out of the answers after %.0f ms", took.Seconds()*1000)
	setEndpoints(t, 1, ns, "web", true)
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.80", "172.27.17.80")
	if err := site(0).DiscoveryV1().EndpointSlices(ns).Delete(context.Background(), "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.eventually(host, dns.TypeA, updateBound, "172.27.17.80")
}

// TestProbeEveryPath: like AMKO's monitors, every path of an Ingress rule
// is probed with HEAD (2xx/3xx pass), and a member answers only while all of
// them pass: site A's /cart failing takes site A out although / answers.
func TestProbeEveryPath(t *testing.T) {
	const ipA, ipB = "127.26.17.45", "127.27.17.45"
	port := freePortOn(t, ipA, ipB)
	var cartDown sync.Map // listen address -> true while its /cart fails
	var methods sync.Map  // methods seen
	serve := func(ip string) {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			methods.Store(r.Method, true)
			if _, down := cartDown.Load(addr); down && r.URL.Path == "/cart" {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	serve(ipA)
	serve(ipB)
	ns := namespace(t, "paths")
	host := ns + ".gslb.sddc.lab"
	prefix := networkingv1.PathTypePrefix
	for i, ip := range []string{ipA, ipB} {
		deleteAtEnd(t, i, "ingress", ns, "web")
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: lab.GSLBLabels(),
				Annotations: map[string]string{"gslb.io/health-port": strconv.Itoa(port)}},
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
					{Path: "/cart", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "cart", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
				}}}}}},
		}
		if _, err := site(i).NetworkingV1().Ingresses(ns).Create(context.Background(), ing, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := lab.SetAKOIngressStatus(context.Background(), site(i), ns, "web", lab.HostVIP{Host: host, IP: ip}); err != nil {
			t.Fatal(err)
		}
	}

	s := startServer(t, gslbBlock())
	s.eventually(host, dns.TypeA, updateBound, ipA, ipB)
	s.waitProbed(8) // 2 members x 2 paths, probed twice
	cartDown.Store(net.JoinHostPort(ipA, strconv.Itoa(port)), true)
	s.eventually(host, dns.TypeA, failoverBound, ipB)
	cartDown.Delete(net.JoinHostPort(ipA, strconv.Itoa(port)))
	s.eventually(host, dns.TypeA, failoverBound, ipA, ipB)
	if _, ok := methods.Load(http.MethodHead); !ok {
		t.Error("probes did not use HEAD")
	}
	if _, ok := methods.Load(http.MethodGet); ok {
		t.Error("a probe used GET")
	}
}
