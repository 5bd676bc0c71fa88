package e2e

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// creationGap separates two objects' creationTimestamps, which have a
// resolution of one second: without it a tie would go to the namespace that
// sorts first, and the tests below could pass for that reason alone.
const creationGap = 1100 * time.Millisecond

// neverAnswers checks for a while that name's answers never include addr.
func (s *server) neverAnswers(name, addr string, d time.Duration) {
	s.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got := s.addrs(name, dns.TypeA); slices.Contains(got, addr) {
			s.t.Fatalf("%s answered %v: %s may not publish it", name, got, addr)
		}
	}
}

// waitMetric waits until a sample of the server's metrics equals want.
func (s *server) waitMetric(name, labels string, want float64) {
	s.t.Helper()
	deadline := time.Now().Add(updateBound)
	for got := s.metric(name, labels); got != want; got = s.metric(name, labels) {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s{%s} = %v, want %v within %s:\n%s", name, labels, got, want, updateBound, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deleteIngress(t *testing.T, i int, ns, name string) {
	t.Helper()
	if err := site(i).NetworkingV1().Ingresses(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestOwnershipFirstClaim: team A publishes payroll in site A; team B, in
// another namespace of site B, publishes the same name later and is not
// answered; the conflict is logged once (however often the name changes),
// counted and in the gauge. When team A deletes its object, the name is
// released and team B's claim takes over, in every server alike.
func TestOwnershipFirstClaim(t *testing.T) {
	teamA, teamB := namespace(t, "payroll"), namespace(t, "hijack")
	host := teamA + ".gslb.sddc.lab"
	const vipA, vipB = "172.26.17.40", "172.27.17.66"

	s := startServer(t, gslbBlock())
	ingress(t, 0, teamA, "payroll", lab.GSLBLabels(), []string{host}, []string{vipA}, nil)
	s.eventually(host, dns.TypeA, updateBound, vipA)

	time.Sleep(creationGap)
	ingress(t, 1, teamB, "payroll", lab.GSLBLabels(), []string{host}, []string{vipB}, nil)
	s.waitMetric("coredns_gslb_ownership_conflicts", `site="siteb"`, 1)
	s.neverAnswers(host, vipB, 2*time.Second)
	if got := s.metric("coredns_gslb_ownership_conflicts_total", `reason="claimed",site="siteb"`); got != 1 {
		t.Errorf("coredns_gslb_ownership_conflicts_total{site=siteb,reason=claimed} = %v, want 1", got)
	}

	// A second server started now decides the same from the objects alone.
	s2 := startServer(t, gslbBlock())
	s2.eventually(host, dns.TypeA, updateBound, vipA)
	s2.waitMetric("coredns_gslb_ownership_conflicts", `site="siteb"`, 1)

	// Team A's VIP moves: the name is recomputed, the conflict is no news.
	if err := lab.SetIngressStatus(context.Background(), site(0), teamA, "payroll", []string{"172.26.17.41"}, nil); err != nil {
		t.Fatal(err)
	}
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.41")
	want := "ingress " + teamB + "/payroll in site siteb may not publish " + host + ".: namespace " + teamA + " claimed it first"
	if n := strings.Count(s.Log(), want); n != 1 {
		t.Errorf("the conflict was logged %d times, want once (%q):\n%s", n, want, s.Log())
	}

	// Team A releases the name: team B's claim is the first now.
	deleteIngress(t, 0, teamA, "payroll")
	for _, srv := range []*server{s, s2} {
		srv.eventually(host, dns.TypeA, updateBound, vipB)
		srv.waitMetric("coredns_gslb_ownership_conflicts", `site="siteb"`, 0)
	}
}

// TestOwnershipRules: an owner rule gives the name to team A whoever came
// first; team B, in a namespace the rule does not list, is never answered,
// not even after team A leaves. ownership off answers both, as before.
func TestOwnershipRules(t *testing.T) {
	teamA, teamB := namespace(t, "payroll"), namespace(t, "hijack")
	host := teamA + ".gslb.sddc.lab"
	const vipA, vipB = "172.26.17.42", "172.27.17.67"

	// Team B's object is the older one: only the rule keeps it out.
	ingress(t, 1, teamB, "payroll", lab.GSLBLabels(), []string{host}, []string{vipB}, nil)
	time.Sleep(creationGap)
	ingress(t, 0, teamA, "payroll", lab.GSLBLabels(), []string{host}, []string{vipA}, nil)

	s := startServer(t, gslbBlock("owner *."+teamA+".gslb.sddc.lab "+teamA, "owner "+host+" sitea/"+teamA))
	s.eventually(host, dns.TypeA, updateBound, vipA)
	s.waitMetric("coredns_gslb_ownership_conflicts_total", `reason="rule",site="siteb"`, 1)
	if !strings.Contains(s.Log(), "the owner rule "+host+". sitea/"+teamA+" does not list its namespace") {
		t.Errorf("the log does not explain the rule conflict:\n%s", s.Log())
	}

	off := startServer(t, gslbBlock("ownership off"))
	off.eventually(host, dns.TypeA, updateBound, vipA, vipB)
	if got := off.metric("coredns_gslb_ownership_conflicts", `site="siteb"`); got > 0 {
		t.Errorf("ownership off: coredns_gslb_ownership_conflicts{site=siteb} = %v, want none", got)
	}

	deleteIngress(t, 0, teamA, "payroll")
	off.eventually(host, dns.TypeA, updateBound, vipB)
	deadline := time.Now().Add(updateBound)
	for {
		r := s.query(host, dns.TypeA)
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok && a.A.String() == vipB {
				t.Fatalf("team B answered after team A left, against the rule:\n%v", r)
			}
		}
		if r.Rcode == dns.RcodeNameError {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want NXDOMAIN once team A left, got:\n%v", host, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.neverAnswers(host, vipB, 2*time.Second)
}

// TestProbesGuardLoopback: without health_targets a member on loopback is
// never probed (it counts as healthy and the log says how to allow it);
// naming loopback in health_targets lets the same member be probed.
func TestProbesGuardLoopback(t *testing.T) {
	const vip = "127.26.17.44"
	port := freePortOn(t, vip)
	var hits atomic.Int64
	l, err := net.Listen("tcp", net.JoinHostPort(vip, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	ns := namespace(t, "guard")
	host := ns + ".gslb.sddc.lab"
	gslbIngress(t, 0, ns, host, vip, map[string]string{"gslb.io/health-port": strconv.Itoa(port)})

	guarded := startServer(t, strings.Replace(gslbBlock(), "health_targets 127.0.0.0/8 ::1/128", "", 1))
	guarded.eventually(host, dns.TypeA, updateBound, vip)
	time.Sleep(3 * time.Second) // three probe intervals
	if n := hits.Load(); n != 0 {
		t.Fatalf("the member on loopback was probed %d times without health_targets", n)
	}
	if !strings.Contains(guarded.Log(), "contact only when health_targets names its range") {
		t.Errorf("the log does not say why the member is not probed:\n%s", guarded.Log())
	}
	guarded.stop()

	allowed := startServer(t, gslbBlock())
	allowed.waitProbed(1)
	if hits.Load() == 0 {
		t.Error("with health_targets 127.0.0.0/8 the member was not probed")
	}
}
