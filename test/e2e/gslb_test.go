package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Generous bounds: the machines are small and noisy. Typical figures are
// logged, not asserted.
const (
	updateBound = 20 * time.Second
	resumeBound = 120 * time.Second
)

func site(i int) kubernetes.Interface { return theLab.Clusters[i].Clientset() }

// namespace creates a fresh namespace per test (the lab has no controller
// manager, so a deleted namespace would stay Terminating: never reuse one).
// The namespace exists in every site.
func namespace(t *testing.T, name string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e6)
	for i := range theLab.Clusters {
		if err := lab.EnsureNamespace(context.Background(), site(i), ns); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// deleteAtEnd removes an object the test created, so that later tests (and
// their metrics) see the lab as the seed left it.
func deleteAtEnd(t *testing.T, i int, kind, ns, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		if kind == "service" {
			site(i).CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
			return
		}
		site(i).NetworkingV1().Ingresses(ns).Delete(ctx, name, metav1.DeleteOptions{})
	})
}

func ingress(t *testing.T, i int, ns, name string, labels map[string]string, hosts []string, ips, hostnames []string) {
	t.Helper()
	ctx := context.Background()
	deleteAtEnd(t, i, "ingress", ns, name)
	if _, err := lab.CreateIngress(ctx, site(i), lab.IngressSpec{
		Namespace: ns, Name: name, Labels: labels, ClassName: "avi-lb", Hosts: hosts, Service: "web", Port: 80,
	}); err != nil {
		t.Fatal(err)
	}
	if len(ips)+len(hostnames) > 0 {
		if err := lab.SetIngressStatus(ctx, site(i), ns, name, ips, hostnames); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSeedScenario(t *testing.T) {
	s := startServer(t, gslbBlock())
	s.eventually("onlineshop.gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.21", "172.27.17.21")

	r := s.query("OnlineShop.GSLB.sddc.lab", dns.TypeA)
	if !r.Authoritative || r.Rcode != dns.RcodeSuccess || r.Question[0].Name != "OnlineShop.GSLB.sddc.lab." {
		t.Errorf("want an authoritative NOERROR keeping the query's case, got:\n%v", r)
	}
	// Round robin: the first record alternates between the sites.
	first := map[string]bool{}
	for range 4 {
		r := s.query("onlineshop.gslb.sddc.lab", dns.TypeA)
		first[r.Answer[0].(*dns.A).A.String()] = true
	}
	if len(first) != 2 {
		t.Errorf("round robin: the first answer was always %v", first)
	}
	if r := s.query("nothere.gslb.sddc.lab", dns.TypeA); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Errorf("unknown name: want NXDOMAIN with the SOA, got:\n%v", r)
	}
	if r := s.query("onlineshop.gslb.sddc.lab", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Errorf("AAAA of a v4-only service: want NODATA with the SOA, got:\n%v", r)
	}
	if got := s.metric("coredns_gslb_services", `zone="gslb.sddc.lab."`); got != 1 {
		t.Errorf("coredns_gslb_services = %v, want 1", got)
	}
	for _, st := range []string{"sitea", "siteb"} {
		if got := s.metric("coredns_gslb_cluster_synced", `site="`+st+`"`); got != 1 {
			t.Errorf("coredns_gslb_cluster_synced{site=%q} = %v, want 1", st, got)
		}
		if got := s.metric("coredns_gslb_members", `site="`+st+`"`); got != 1 {
			t.Errorf("coredns_gslb_members{site=%q} = %v, want 1", st, got)
		}
	}
}

func TestIngressLifecycle(t *testing.T) {
	s := startServer(t, gslbBlock())
	ns := namespace(t, "lifecycle")
	host := ns + ".gslb.sddc.lab"

	ingress(t, 0, ns, "web", lab.GSLBLabels(), []string{host}, []string{"172.26.17.30"}, nil)
	t.Logf("added: answered %.0f ms after the status update", s.eventually(host, dns.TypeA, updateBound, "172.26.17.30").Seconds()*1000)

	// Not a member before its VIP exists; a member as soon as it has one.
	ingress(t, 0, ns, "novip", lab.GSLBLabels(), []string{"novip-" + host}, nil, nil)
	if r := s.query("novip-"+host, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("an Ingress without a VIP must not be published, got:\n%v", r)
	}

	if err := lab.SetIngressStatus(context.Background(), site(0), ns, "web", []string{"172.26.17.31"}, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("updated: answered %.0f ms after the status update", s.eventually(host, dns.TypeA, updateBound, "172.26.17.31").Seconds()*1000)

	if err := lab.ClearIngressStatus(context.Background(), site(0), ns, "web"); err != nil {
		t.Fatal(err)
	}
	s.eventually(host, dns.TypeA, updateBound)

	if err := lab.SetIngressStatus(context.Background(), site(0), ns, "web", []string{"172.26.17.32"}, nil); err != nil {
		t.Fatal(err)
	}
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.32")
	begin := time.Now()
	if err := site(0).NetworkingV1().Ingresses(ns).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.eventually(host, dns.TypeA, updateBound)
	if r := s.query(host, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("deleted Ingress: want NXDOMAIN, got:\n%v", r)
	}
	t.Logf("removed: NXDOMAIN %.0f ms after the delete", time.Since(begin).Seconds()*1000)
}

func TestIgnoredObjects(t *testing.T) {
	s := startServer(t, gslbBlock())
	ns := namespace(t, "ignored")
	ingress(t, 0, ns, "unlabelled", map[string]string{"app": "other"}, []string{"unlabelled-" + ns + ".gslb.sddc.lab"}, []string{"172.26.17.40"}, nil)
	ingress(t, 0, ns, "outside", lab.GSLBLabels(), []string{"outside.example.org", "inside-" + ns + ".gslb.sddc.lab"}, []string{"172.26.17.41"}, nil)

	// The labelled Ingress's in-zone host shows up; that proves the watch
	// delivered both objects before we look at what was left out.
	s.eventually("inside-"+ns+".gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.41")
	if r := s.query("unlabelled-"+ns+".gslb.sddc.lab", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("an Ingress without app=gslb must be ignored, got:\n%v", r)
	}
	if got := s.metric("coredns_gslb_ignored_hosts", `site="sitea"`); got < 1 {
		t.Errorf("coredns_gslb_ignored_hosts{site=sitea} = %v, want >= 1 (outside.example.org)", got)
	}
	// Out of zone queries are not ours: without a next plugin, REFUSED.
	if r := s.query("outside.example.org", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("out-of-zone query: want REFUSED, got %s", dns.RcodeToString[r.Rcode])
	}
}

func TestIPv6AndHostnameMembers(t *testing.T) {
	s := startServer(t, gslbBlock())
	ns := namespace(t, "v6")
	ctx := context.Background()

	ingress(t, 1, ns, "dual", lab.GSLBLabels(), []string{"dual-" + ns + ".gslb.sddc.lab"}, []string{"172.27.17.50", "2001:db8:27::50"}, nil)
	s.eventually("dual-"+ns+".gslb.sddc.lab", dns.TypeAAAA, updateBound, "2001:db8:27::50")
	s.eventually("dual-"+ns+".gslb.sddc.lab", dns.TypeA, updateBound, "172.27.17.50")

	// A hostname-only load balancer (as in clouds) is a CNAME.
	ingress(t, 1, ns, "elb", lab.GSLBLabels(), []string{"elb-" + ns + ".gslb.sddc.lab"}, nil, []string{"lb-1234.elb.example.net"})
	s.eventually("elb-"+ns+".gslb.sddc.lab", dns.TypeA, updateBound, "lb-1234.elb.example.net.")

	// A LoadBalancer Service named by the external-dns annotation.
	deleteAtEnd(t, 1, "service", ns, "api")
	if _, err := lab.CreateLoadBalancerService(ctx, site(1), ns, "api", lab.GSLBLabels(),
		map[string]string{"external-dns.alpha.kubernetes.io/hostname": "api-" + ns + ".gslb.sddc.lab"},
		[]corev1.ServicePort{{Name: "https", Port: 443}}); err != nil {
		t.Fatal(err)
	}
	if err := lab.SetServiceStatus(ctx, site(1), ns, "api", []string{"172.27.17.51"}, nil); err != nil {
		t.Fatal(err)
	}
	s.eventually("api-"+ns+".gslb.sddc.lab", dns.TypeA, updateBound, "172.27.17.51")
}

// TestSiteOutage stops site B's API server: its members must keep being
// answered, and once it is back, changes in site B must flow again.
func TestSiteOutage(t *testing.T) {
	s := startServer(t, gslbBlock())
	ns := namespace(t, "outage")
	host := ns + ".gslb.sddc.lab"
	ingress(t, 1, ns, "web", lab.GSLBLabels(), []string{host}, []string{"172.27.17.60"}, nil)
	ingress(t, 0, ns, "web", lab.GSLBLabels(), []string{host}, []string{"172.26.17.60"}, nil)
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.60", "172.27.17.60")

	b := theLab.Clusters[1]
	b.StopAPIServer()
	defer func() {
		if !b.Running() {
			b.Start(context.Background())
		}
	}()
	// The watch notices within seconds; the members must stay throughout.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if got := strings.Join(s.addrs(host, dns.TypeA), ","); got != "172.26.17.60,172.27.17.60" {
			t.Fatalf("site B's API server is down: its members must still be answered, got %s", got)
		}
		if s.metric("coredns_gslb_cluster_connected", `site="siteb"`) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := s.metric("coredns_gslb_cluster_connected", `site="siteb"`); got != 0 {
		t.Errorf("coredns_gslb_cluster_connected{site=siteb} = %v during the outage, want 0", got)
	}
	if !regexp.MustCompile(`Site siteb .*(lost the watch|unreachable)`).MatchString(s.Log()) {
		t.Errorf("no log line about site B's outage:\n%s", s.Log())
	}
	s.eventually(host, dns.TypeA, time.Second, "172.26.17.60", "172.27.17.60")

	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := lab.SetIngressStatus(context.Background(), site(1), ns, "web", []string{"172.27.17.61"}, nil); err != nil {
		t.Fatal(err)
	}
	took := s.eventually(host, dns.TypeA, resumeBound, "172.26.17.60", "172.27.17.61")
	t.Logf("site B back: an update made right after its restart was answered after %.1f s (reflector back-off)", took.Seconds())
}

// TestAPIGrace: members that are not probed stay while their cluster's API
// server is away for less than api_grace, then leave until it returns.
func TestAPIGrace(t *testing.T) {
	ns := namespace(t, "grace")
	host := ns + ".gslb.sddc.lab"
	noProbe := map[string]string{"gslb.io/health-check": "none"}
	for i, vip := range []string{"172.26.17.90", "172.27.17.90"} {
		deleteAtEnd(t, i, "ingress", ns, "web")
		if _, err := lab.CreateIngress(context.Background(), site(i), lab.IngressSpec{
			Namespace: ns, Name: "web", Labels: lab.GSLBLabels(), Annotations: noProbe, Hosts: []string{host}, Service: "web", Port: 80,
		}); err != nil {
			t.Fatal(err)
		}
		if err := lab.SetIngressStatus(context.Background(), site(i), ns, "web", []string{vip}, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, gslbBlock("api_grace 3s"))
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.90", "172.27.17.90")

	b := theLab.Clusters[1]
	b.StopAPIServer()
	defer func() {
		if !b.Running() {
			b.Start(context.Background())
		}
	}()
	begin := time.Now()
	took := s.eventually(host, dns.TypeA, resumeBound, "172.26.17.90")
	// Unreachability is noticed by a failed watch or the 5 s /readyz probe,
	// then the grace runs: never sooner than the grace itself.
	if took < 3*time.Second {
		t.Errorf("site B's members left %s after its API server stopped: sooner than api_grace 3s", took)
	}
	t.Logf("site B unreachable: its unprobed members left after %.1f s (api_grace 3s)", time.Since(begin).Seconds())
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("site B back: its members returned after %.1f s", s.eventually(host, dns.TypeA, resumeBound, "172.26.17.90", "172.27.17.90").Seconds())
}

// TestAKOPerHostStatus: AKO writes one status entry per host, {ip,
// hostname}, and may shard the hosts of one Ingress onto different virtual
// services. Each host answers only its own VIPs, as AMKO maps them; a host
// that is only in spec.tls is not published; an Ingress whose controller
// writes no hostnames (ingress-nginx style) gives every host every VIP.
func TestAKOPerHostStatus(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "ako-hosts")
	hosts := []string{"shop.gslb.sddc.lab", "cart.gslb.sddc.lab"}
	vips := [][]string{{"172.26.17.41", "172.26.17.42"}, {"172.27.17.41", "172.27.17.42"}}
	for i := range theLab.Clusters {
		deleteAtEnd(t, i, "ingress", ns, "web")
		if _, err := lab.CreateIngress(ctx, site(i), lab.IngressSpec{
			Namespace: ns, Name: "web", Labels: lab.GSLBLabels(), ClassName: "avi-lb",
			Hosts: hosts, TLSHosts: []string{"cart.gslb.sddc.lab", "tls-only.gslb.sddc.lab"}, Service: "web", Port: 80,
		}); err != nil {
			t.Fatal(err)
		}
		if err := lab.SetAKOIngressStatus(ctx, site(i), ns, "web",
			lab.HostVIP{Host: hosts[0], IP: vips[i][0]}, lab.HostVIP{Host: hosts[1], IP: vips[i][1]}); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, gslbBlock("answers 0", "health_check none"))
	s.eventually("shop.gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.41", "172.27.17.41")
	s.eventually("cart.gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.42", "172.27.17.42")
	if r := s.query("tls-only.gslb.sddc.lab", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("a host only in spec.tls was published: %v", r)
	}

	// Site B's controller rewrites its status without hostnames: every
	// host gets every entry there.
	if err := lab.SetIngressStatus(ctx, site(1), ns, "web", []string{"172.27.17.43"}, nil); err != nil {
		t.Fatal(err)
	}
	s.eventually("shop.gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.41", "172.27.17.43")
	s.eventually("cart.gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.42", "172.27.17.43")
}
