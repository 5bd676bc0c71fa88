package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// The AMKO objects live in the first cluster (the leader), as in AMKO.
var (
	crdGVR      = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gdpGVR      = schema.GroupVersionResource{Group: "amko.vmware.com", Version: "v1alpha2", Resource: "globaldeploymentpolicies"}
	hostRuleGVR = schema.GroupVersionResource{Group: "amko.vmware.com", Version: "v1alpha1", Resource: "gslbhostrules"}

	crdOnce sync.Once
	crdErr  error
)

func leaderClient(t *testing.T) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(theLab.Clusters[0].RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

func decodeYAML(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096).Decode(&u.Object); err != nil {
		t.Fatalf("decoding:\n%s\n%v", doc, err)
	}
	return u
}

// installAmkoCRDs installs AMKO's CRDs into the leader once per run and
// waits until they are Established and served.
func installAmkoCRDs(t *testing.T) {
	t.Helper()
	crdOnce.Do(func() {
		ctx := context.Background()
		dyn := leaderClient(t)
		for _, f := range []string{"gdp_def.yaml", "gslbhostrule_def.yaml", "gslb_config_def.yaml"} {
			b, err := os.ReadFile(filepath.Join("testdata", "amko", f))
			if err != nil {
				crdErr = err
				return
			}
			crd := decodeYAML(t, string(b))
			if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				crdErr = fmt.Errorf("creating CRD %s: %w", crd.GetName(), err)
				return
			}
			deadline := time.Now().Add(30 * time.Second)
			for !established(ctx, dyn, crd.GetName()) {
				if time.Now().After(deadline) {
					crdErr = fmt.Errorf("CRD %s not Established after 30 s", crd.GetName())
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		// Served as soon as discovery knows them.
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, e1 := dyn.Resource(gdpGVR).Namespace("default").List(ctx, metav1.ListOptions{})
			_, e2 := dyn.Resource(hostRuleGVR).Namespace("default").List(ctx, metav1.ListOptions{})
			if e1 == nil && e2 == nil {
				return
			}
			if time.Now().After(deadline) {
				crdErr = fmt.Errorf("AMKO resources not served after 30 s: %v %v", e1, e2)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if crdErr != nil {
		t.Fatal(crdErr)
	}
}

func established(ctx context.Context, dyn dynamic.Interface, name string) bool {
	u, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// amkoNamespace makes a fresh namespace for one test's AMKO objects in the
// leader, so that tests' GDPs never meet.
func amkoNamespace(t *testing.T, name string) string {
	t.Helper()
	installAmkoCRDs(t)
	ns := fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e6)
	if err := lab.EnsureNamespace(context.Background(), site(0), ns); err != nil {
		t.Fatal(err)
	}
	return ns
}

// apply creates the object or replaces its spec (and labels). A created
// object is deleted when the test ends: GSLBHostRules are read in every
// namespace, so one left behind would reach later tests.
func apply(t *testing.T, gvr schema.GroupVersionResource, doc string) {
	t.Helper()
	ctx := context.Background()
	want := decodeYAML(t, doc)
	api := leaderClient(t).Resource(gvr).Namespace(want.GetNamespace())
	if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err == nil {
		t.Cleanup(func() {
			if err := api.Delete(context.Background(), want.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting %s %s/%s: %v", gvr.Resource, want.GetNamespace(), want.GetName(), err)
			}
		})
		return
	} else if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating %s %s: %v", gvr.Resource, want.GetName(), err)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Object["spec"] = want.Object["spec"]
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating %s %s: %v", gvr.Resource, want.GetName(), err)
	}
}

// waitStatus waits until the object's status has field = a value
// containing want.
func waitStatus(t *testing.T, s *server, gvr schema.GroupVersionResource, ns, name, field, want string) {
	t.Helper()
	api := leaderClient(t).Resource(gvr).Namespace(ns)
	deadline := time.Now().Add(updateBound)
	var got string
	for time.Now().Before(deadline) {
		if u, err := api.Get(context.Background(), name, metav1.GetOptions{}); err == nil {
			got, _, _ = unstructured.NestedString(u.Object, "status", field)
			if strings.Contains(got, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s %s/%s: status.%s = %q, want it to contain %q\n%s", gvr.Resource, ns, name, field, got, want, s.Log())
}

// waitLog waits until the server's log has a line containing every sub.
func waitLog(t *testing.T, s *server, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(updateBound)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.Log(), "\n") {
			if containsAll(line, subs...) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no log line with %q:\n%s", subs, s.Log())
}

// ttlOf returns the TTL of the first answer record.
func (s *server) ttlOf(name string) uint32 {
	s.t.Helper()
	r := s.query(name, dns.TypeA)
	if len(r.Answer) == 0 {
		s.t.Fatalf("%s: no answer:\n%v", name, r)
	}
	return r.Answer[0].Header().Ttl
}

func (s *server) eventuallyTTL(name string, want uint32) {
	s.t.Helper()
	deadline := time.Now().Add(updateBound)
	var got uint32
	for time.Now().Before(deadline) {
		if got = s.ttlOf(name); got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("%s: TTL %d, want %d", name, got, want)
}

// gdpDoc is a GlobalDeploymentPolicy as AMKO's documentation writes it,
// selecting app=gslb in both lab clusters; extra is more of its spec.
func gdpDoc(ns, name, extra string) string {
	return fmt.Sprintf(`apiVersion: amko.vmware.com/v1alpha2
kind: GlobalDeploymentPolicy
metadata:
  name: %s
  namespace: %s
spec:
  matchRules:
    appSelector:
      label:
        app: gslb
  matchClusters:
    - cluster: %s
    - cluster: %s
%s`, name, ns, theLab.Clusters[0].Context, theLab.Clusters[1].Context, extra)
}

// split is a trafficSplit giving site A priority pa and site B pb.
func split(pa, pb int) string {
	return fmt.Sprintf(`  trafficSplit:
    - cluster: %s
      weight: 1
      priority: %d
    - cluster: %s
      weight: 1
      priority: %d
`, theLab.Clusters[0].Context, pa, theLab.Clusters[1].Context, pb)
}

func hostRuleDoc(ns, name, fqdn, extra string) string {
	return fmt.Sprintf(`apiVersion: amko.vmware.com/v1alpha1
kind: GSLBHostRule
metadata:
  name: %s
  namespace: %s
spec:
  fqdn: %s
%s`, name, ns, fqdn, extra)
}

var noProbe = map[string]string{"gslb.io/health-check": "none"}

// amkoApp is the common setting of an AMKO test: a fresh namespace for its
// AMKO objects in the leader, and an app namespace with an Ingress for its
// host in each site (site A's VIP vipA, site B's vipB).
func amkoApp(t *testing.T, name, vipA, vipB string, ann map[string]string) (amkoNS, ns, host string) {
	t.Helper()
	amkoNS = amkoNamespace(t, "amko-"+name)
	ns = namespace(t, "amko"+name)
	host = ns + ".gslb.sddc.lab"
	amkoIngress(t, 0, ns, host, vipA, ann)
	amkoIngress(t, 1, ns, host, vipB, ann)
	return amkoNS, ns, host
}

// amkoIngress is gslbIngress, removed when the test ends: the app=gslb
// objects of these tests would otherwise be published by later tests that
// count services.
func amkoIngress(t *testing.T, i int, ns, host, vip string, ann map[string]string) {
	t.Helper()
	gslbIngress(t, i, ns, host, vip, ann)
	deleteIngressAtEnd(t, i, ns, "web")
}

func deleteIngressAtEnd(t *testing.T, i int, ns, name string) {
	t.Cleanup(func() {
		err := site(i).NetworkingV1().Ingresses(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting ingress %s/%s: %v", ns, name, err)
		}
	})
}

// TestAmkoTrafficSplit: the GDP's trafficSplit priorities decide which site
// answers, its ttl applies, and edits to it show in the answers.
func TestAmkoTrafficSplit(t *testing.T) {
	amkoNS, _, host := amkoApp(t, "split", "172.26.30.1", "172.27.30.1", noProbe)
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", split(20, 10)+"  ttl: 15\n"))

	s := startServer(t, gslbBlock("amko "+theLab.Clusters[0].Context+" "+amkoNS))
	s.eventually(host, dns.TypeA, updateBound, "172.26.30.1")
	if got := s.ttlOf(host); got != 15 {
		t.Errorf("TTL %d, want the GDP's 15", got)
	}
	waitLog(t, s, "GlobalDeploymentPolicy "+amkoNS+"/global-gdp accepted", "app=gslb", "sitea, siteb")

	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", split(20, 10)+"  ttl: 25\n"))
	s.eventuallyTTL(host, 25)
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", split(20, 20)+"  ttl: 25\n"))
	s.eventually(host, dns.TypeA, updateBound, "172.26.30.1", "172.27.30.1")
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", split(10, 20)+"  ttl: 25\n"))
	s.eventually(host, dns.TypeA, updateBound, "172.27.30.1")
}

// TestAmkoHostRules: host rules add third-party members and NAT public
// IPs, override the ttl, keep the GDP's priorities when they give none, and
// an invalid rule is reported (log, metric, status) while the others work.
func TestAmkoHostRules(t *testing.T) {
	amkoNS := amkoNamespace(t, "amko-rules")
	ns := namespace(t, "amkorules")
	extra, weights, bad, nomask := "extra-"+ns+".gslb.sddc.lab", "weights-"+ns+".gslb.sddc.lab", "bad-"+ns+".gslb.sddc.lab", "nomask-"+ns+".gslb.sddc.lab"
	ctx := context.Background()
	for i, vip := range []string{"172.26.31.1", "172.27.31.1"} {
		if _, err := lab.CreateIngress(ctx, site(i), lab.IngressSpec{
			Namespace: ns, Name: "web", Labels: lab.GSLBLabels(), Annotations: noProbe, ClassName: "avi-lb",
			Hosts: []string{extra, weights, bad, nomask}, Service: "web", Port: 80,
		}); err != nil {
			t.Fatal(err)
		}
		deleteIngressAtEnd(t, i, ns, "web")
		if err := lab.SetIngressStatus(ctx, site(i), ns, "web", []string{vip}, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctxA, ctxB := theLab.Clusters[0].Context, theLab.Clusters[1].Context
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", split(20, 10)+"  ttl: 30\n"))
	apply(t, hostRuleGVR, hostRuleDoc(amkoNS, "extra", extra, fmt.Sprintf(`  ttl: 5
  thirdPartyMembers:
  - site: dc3
    vip: 172.30.0.5
  publicIP:
  - cluster: %s
    ip: 203.0.113.20
  trafficSplit:
  - cluster: %s
    weight: 1
    priority: 10
  - cluster: %s
    weight: 1
    priority: 10
  - cluster: dc3
    weight: 1
    priority: 10
`, ctxB, ctxA, ctxB)))
	// Weights only, as AMKO's documentation shows a host rule: the API
	// server fills in priority 1 (AMKO's GSLBHostRule default).
	apply(t, hostRuleGVR, hostRuleDoc(amkoNS, "weights", weights, fmt.Sprintf(`  trafficSplit:
  - cluster: %s
    weight: 15
  - cluster: %s
    weight: 5
`, ctxA, ctxB)))
	apply(t, hostRuleGVR, hostRuleDoc(amkoNS, "bad", bad, `  ttl: 7
  trafficSplit:
  - cluster: nowhere
    weight: 3
`))
	apply(t, hostRuleGVR, hostRuleDoc(amkoNS, "nomask", nomask, `  poolAlgorithmSettings:
    lbAlgorithm: GSLB_ALGORITHM_CONSISTENT_HASH
`))

	s := startServer(t, gslbBlock("amko "+ctxA+" "+amkoNS, "amko_status", "private_networks 10.0.0.0/8"))
	// Site B's member answers with its public IP, the third-party member
	// joins, all at priority 10; the rule's ttl applies.
	s.eventually(extra, dns.TypeA, updateBound, "172.26.31.1", "203.0.113.20", "172.30.0.5")
	// As Avi does: clients in the private networks get site B's VIP, the
	// others its public IP, and the ECS scope says which applies where.
	for _, tc := range []struct {
		subnet string
		want   []string
		scope  uint8
	}{
		{"10.1.2.0/24", []string{"172.26.31.1", "172.27.31.1", "172.30.0.5"}, 8},
		{"192.0.2.0/24", []string{"172.26.31.1", "172.30.0.5", "203.0.113.20"}, 1},
	} {
		r := resolve(t, s.addr, extra, dns.TypeA, tc.subnet)
		var got []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got = append(got, a.A.String())
			}
		}
		slices.Sort(got)
		var scope uint8 = 255
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_SUBNET); ok {
					scope = e.SourceScope
				}
			}
		}
		if !slices.Equal(got, tc.want) || scope != tc.scope {
			t.Errorf("client %s: %v scope %d, want %v scope %d", tc.subnet, got, scope, tc.want, tc.scope)
		}
	}
	if got := s.ttlOf(extra); got != 5 {
		t.Errorf("%s: TTL %d, want the host rule's 5", extra, got)
	}
	// Unlike AMKO (both sites at priority 1), the GDP's priorities stay:
	// site A alone.
	s.eventually(weights, dns.TypeA, updateBound, "172.26.31.1")
	waitLog(t, s, "GSLBHostRule "+amkoNS+"/weights", "unlike AMKO", "sitea 20 from the GDP")
	// Rejected rules: reported, their names served with the GDP's settings.
	s.eventually(bad, dns.TypeA, updateBound, "172.26.31.1")
	if got := s.ttlOf(bad); got != 30 {
		t.Errorf("%s: TTL %d, want the GDP's 30 (its host rule is rejected)", bad, got)
	}
	waitLog(t, s, "GSLBHostRule "+amkoNS+"/bad rejected", `cluster "nowhere"`)
	waitLog(t, s, "GSLBHostRule "+amkoNS+"/nomask rejected", "hashMask is required")
	waitStatus(t, s, hostRuleGVR, amkoNS, "bad", "status", "Rejected")
	waitStatus(t, s, hostRuleGVR, amkoNS, "bad", "error", `cluster "nowhere" is neither a member context`)
	waitStatus(t, s, hostRuleGVR, amkoNS, "nomask", "status", "Rejected")
	waitStatus(t, s, hostRuleGVR, amkoNS, "extra", "status", "Accepted")
	waitStatus(t, s, gdpGVR, amkoNS, "global-gdp", "errorStatus", "success")
	if got := s.metric("coredns_gslb_amko_rejected", `kind="GSLBHostRule"`); got != 2 {
		t.Errorf("coredns_gslb_amko_rejected{kind=GSLBHostRule} = %v, want 2", got)
	}
	if got := s.metric("coredns_gslb_amko_accepted", `kind="GSLBHostRule"`); got != 2 {
		t.Errorf("coredns_gslb_amko_accepted{kind=GSLBHostRule} = %v, want 2", got)
	}

	// Fixing the rule applies it and flips its status.
	apply(t, hostRuleGVR, hostRuleDoc(amkoNS, "bad", bad, `  ttl: 7
`))
	s.eventuallyTTL(bad, 7)
	waitStatus(t, s, hostRuleGVR, amkoNS, "bad", "status", "Accepted")
	// Deleting a rule withdraws its third-party member and public IP.
	if err := leaderClient(t).Resource(hostRuleGVR).Namespace(amkoNS).Delete(ctx, "extra", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.eventually(extra, dns.TypeA, updateBound, "172.26.31.1")
}

// TestAmkoThirdPartyStandby: a third-party member that no trafficSplit
// entry ranks gets AMKO's priority 1, a standby below the clusters' 10; it
// answers once no cluster member is left. The host rule lives in the app's
// own namespace, which AMKO (and gslb) read as well as avi-system.
func TestAmkoThirdPartyStandby(t *testing.T) {
	amkoNS, ns, host := amkoApp(t, "standby", "172.26.34.1", "172.27.34.1", noProbe)
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", ""))
	apply(t, hostRuleGVR, hostRuleDoc(ns, "standby", host, `  thirdPartyMembers:
  - site: dc4
    vip: 172.30.0.6
`))
	s := startServer(t, gslbBlock("amko "+theLab.Clusters[0].Context+" "+amkoNS))
	waitLog(t, s, "GSLBHostRule "+ns+"/standby accepted", "dc4")
	s.eventually(host, dns.TypeA, updateBound, "172.26.34.1", "172.27.34.1")
	for i := range theLab.Clusters {
		if err := lab.ClearIngressStatus(context.Background(), site(i), ns, "web"); err != nil {
			t.Fatal(err)
		}
	}
	s.eventually(host, dns.TypeA, updateBound, "172.30.0.6")
}

// TestAmkoDownResponse: with every member down (probes against loopback
// servers), the GDP's downResponse answers its fallback IP.
func TestAmkoDownResponse(t *testing.T) {
	const ipA, ipB = "127.26.17.40", "127.27.17.40"
	port := freePortOn(t, ipA, ipB)
	a, b := startMember(t, ipA, port), startMember(t, ipB, port)
	amkoNS := amkoNamespace(t, "amko-down")
	ns := namespace(t, "amkodown")
	host := ns + ".gslb.sddc.lab"
	ann := map[string]string{"gslb.io/health-port": strconv.Itoa(port)}
	amkoIngress(t, 0, ns, host, ipA, ann)
	amkoIngress(t, 1, ns, host, ipB, ann)
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", `  downResponse:
    type: GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP
    fallbackIP: 192.0.2.77
`))

	s := startServer(t, gslbBlock("amko "+theLab.Clusters[0].Context+" "+amkoNS))
	s.eventually(host, dns.TypeA, updateBound, ipA, ipB)
	s.waitProbed(4)
	a.stop()
	s.eventually(host, dns.TypeA, failoverBound, ipB)
	b.stop()
	s.eventually(host, dns.TypeA, failoverBound, "192.0.2.77")
	a.start()
	s.eventually(host, dns.TypeA, failoverBound, ipA)
}

// TestAmkoSelection: a GDP that selects nothing publishes nothing (and says
// so); a namespaceSelector follows namespace labels per cluster; an invalid
// update keeps the last accepted GDP, and a server that never had a valid
// one publishes nothing from the clusters (AMKO fails closed).
func TestAmkoSelection(t *testing.T) {
	amkoNS, ns, host := amkoApp(t, "select", "172.26.32.1", "172.27.32.1", noProbe)
	ctxA, ctxB := theLab.Clusters[0].Context, theLab.Clusters[1].Context
	// No matchRules: AMKO selects nothing.
	apply(t, gdpGVR, fmt.Sprintf(`apiVersion: amko.vmware.com/v1alpha2
kind: GlobalDeploymentPolicy
metadata:
  name: global-gdp
  namespace: %s
spec:
  matchClusters:
    - cluster: %s
    - cluster: %s
`, amkoNS, ctxA, ctxB))

	s := startServer(t, gslbBlock("amko "+ctxA+" "+amkoNS, "amko_status"))
	waitLog(t, s, "GlobalDeploymentPolicy "+amkoNS+"/global-gdp accepted", "selects nothing", "no matchRules")
	if r := s.query(host, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("a GDP that selects nothing: want NXDOMAIN, got:\n%v", r)
	}
	if got := s.metric("coredns_gslb_unselected_objects", `site="sitea"`); got < 1 {
		t.Errorf("coredns_gslb_unselected_objects{site=sitea} = %v, want >= 1", got)
	}

	// Select by namespace label: only site B's namespace carries it.
	label := "gslb-" + ns
	apply(t, gdpGVR, fmt.Sprintf(`apiVersion: amko.vmware.com/v1alpha2
kind: GlobalDeploymentPolicy
metadata:
  name: global-gdp
  namespace: %s
spec:
  matchRules:
    namespaceSelector:
      label:
        team: %s
  matchClusters:
    - cluster: %s
    - cluster: %s
`, amkoNS, label, ctxA, ctxB))
	labelNamespace(t, 1, ns, label)
	s.eventually(host, dns.TypeA, updateBound, "172.27.32.1")
	labelNamespace(t, 0, ns, label)
	s.eventually(host, dns.TypeA, updateBound, "172.26.32.1", "172.27.32.1")

	// The only GDP updated into an invalid one (an unknown cluster, and
	// an appSelector that would select the seed): the last accepted GDP
	// stays in force, as AMKO keeps its filter.
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", `    - cluster: sitec-admin@sitec
`))
	waitLog(t, s, "GlobalDeploymentPolicy "+amkoNS+"/global-gdp rejected", `"sitec-admin@sitec"`, "the last accepted policy, "+amkoNS+"/global-gdp, stays in force")
	waitStatus(t, s, gdpGVR, amkoNS, "global-gdp", "errorStatus", "is not a member context")
	s.eventually(host, dns.TypeA, updateBound, "172.26.32.1", "172.27.32.1")
	if r := s.query(lab.OnlineshopHost, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("the invalid GDP's selection applies (the seed is outside the last accepted one):\n%v", r)
	}

	// A server that starts with only the invalid GDP never had a valid
	// one: nothing from the clusters.
	s2 := startServer(t, gslbBlock("amko "+ctxA+" "+amkoNS))
	waitLog(t, s2, "GlobalDeploymentPolicy "+amkoNS+"/global-gdp rejected", "nothing from the clusters is published until one is valid")
	for _, name := range []string{host, lab.OnlineshopHost} {
		if r := s2.query(name, dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s published without a valid GDP:\n%v", name, r)
		}
	}
}

func labelNamespace(t *testing.T, i int, ns, team string) {
	t.Helper()
	ctx := context.Background()
	api := site(i).CoreV1().Namespaces()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		cur.Labels["team"] = team
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAmkoTwoGDPs: AMKO honours one GDP; the younger one is rejected with
// the reason and the older one keeps selecting.
func TestAmkoTwoGDPs(t *testing.T) {
	amkoNS, _, host := amkoApp(t, "two", "172.26.33.1", "172.27.33.1", noProbe)
	apply(t, gdpGVR, gdpDoc(amkoNS, "first", split(20, 10)))

	s := startServer(t, gslbBlock("amko "+theLab.Clusters[0].Context+" "+amkoNS, "amko_status"))
	s.eventually(host, dns.TypeA, updateBound, "172.26.33.1")
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has one-second resolution
	apply(t, gdpGVR, gdpDoc(amkoNS, "second", split(10, 20)))
	waitLog(t, s, "GlobalDeploymentPolicy "+amkoNS+"/second rejected", "only one is honoured", amkoNS+"/first")
	waitStatus(t, s, gdpGVR, amkoNS, "second", "errorStatus", "only one is honoured")
	waitStatus(t, s, gdpGVR, amkoNS, "first", "errorStatus", "success")
	if got := s.metric("coredns_gslb_amko_rejected", `kind="GlobalDeploymentPolicy"`); got != 1 {
		t.Errorf("coredns_gslb_amko_rejected{kind=GlobalDeploymentPolicy} = %v, want 1", got)
	}
	s.eventually(host, dns.TypeA, updateBound, "172.26.33.1")
}

// TestAmkoGSLBConfig: AMKO's GSLBConfig decides which kubeconfig contexts
// are member clusters. A context watched by the Corefile but not listed is
// not a site (its objects are not published); a listed context that the
// kubeconfig lacks is reported and the rest applies.
func TestAmkoGSLBConfig(t *testing.T) {
	amkoNS, _, host := amkoApp(t, "config", "172.26.35.1", "172.27.35.1", noProbe)
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", ""))
	configGVR := schema.GroupVersionResource{Group: "amko.vmware.com", Version: "v1alpha1", Resource: "gslbconfigs"}
	apply(t, configGVR, fmt.Sprintf(`apiVersion: amko.vmware.com/v1alpha1
kind: GSLBConfig
metadata:
  name: gc-1
  namespace: %s
spec:
  gslbLeader:
    credentials: gslb-avi-secret
    controllerVersion: 22.1.3
    controllerIP: 10.10.10.10
  memberClusters:
  - clusterContext: %s
  - clusterContext: sitec-tkg-wld01-admin@sitec-tkg-wld01
  refreshInterval: 1800
  logLevel: INFO
`, amkoNS, theLab.Clusters[0].Context))

	s := startServer(t, gslbBlock("amko "+theLab.Clusters[0].Context+" "+amkoNS))
	waitLog(t, s, "GSLBConfig "+amkoNS+"/gc-1", `context "sitec-tkg-wld01-admin@sitec-tkg-wld01" is not in gslb's kubeconfig`)
	waitLog(t, s, "GSLBConfig "+amkoNS+"/gc-1", "sites siteb are watched by the Corefile but not listed in memberClusters")
	if got := s.metric("coredns_gslb_amko_unknown_member_clusters", ""); got != 1 {
		t.Errorf("coredns_gslb_amko_unknown_member_clusters = %v, want 1", got)
	}
	s.eventually(host, dns.TypeA, updateBound, "172.26.35.1")

	// Site B joins the federation.
	apply(t, configGVR, fmt.Sprintf(`apiVersion: amko.vmware.com/v1alpha1
kind: GSLBConfig
metadata:
  name: gc-1
  namespace: %s
spec:
  memberClusters:
  - clusterContext: %s
  - clusterContext: %s
`, amkoNS, theLab.Clusters[0].Context, theLab.Clusters[1].Context))
	s.eventually(host, dns.TypeA, 2*updateBound, "172.26.35.1", "172.27.35.1")
}

// TestAmkoControlPlaneHmOnly: AMKO's controlPlaneHmOnly leaves a name to
// Avi's control-plane view instead of data-path monitors. gslb does not
// probe it, but keeps a health input: the Services behind the Ingress must
// have a ready endpoint, even without endpoint_readiness in the Corefile.
func TestAmkoControlPlaneHmOnly(t *testing.T) {
	amkoNS, ns, host := amkoApp(t, "cponly", "172.26.36.1", "172.27.36.1", nil)
	setEndpoints(t, 0, ns, "web", true)
	setEndpoints(t, 1, ns, "web", true)
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", "  controlPlaneHmOnly: true\n"))

	s := startServer(t, gslbBlock("amko "+theLab.Clusters[0].Context+" "+amkoNS))
	s.eventually(host, dns.TypeA, updateBound, "172.26.36.1", "172.27.36.1")
	setEndpoints(t, 1, ns, "web", false)
	s.eventually(host, dns.TypeA, updateBound, "172.26.36.1")
	setEndpoints(t, 1, ns, "web", true)
	s.eventually(host, dns.TypeA, updateBound, "172.26.36.1", "172.27.36.1")
}
