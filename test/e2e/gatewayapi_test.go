package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
)

func gatewayGVR(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: resource}
}

// installGatewayAPI installs the Gateway API's standard-channel CRDs of
// every kind gslb reads in site A only: site B stays a cluster that serves
// none of them.
func installGatewayAPI(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	docs, err := lab.GatewayAPICRDs(ctx, "gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "udproutes")
	if err != nil {
		t.Fatal(err)
	}
	if err := theLab.Clusters[0].InstallCRDs(ctx, docs...); err != nil {
		t.Fatal(err)
	}
}

// createWithStatus creates an object of site i from YAML, writes its status
// (as its controller would) when status is not empty, and deletes it when
// the test ends.
func createWithStatus(t *testing.T, i int, gvr schema.GroupVersionResource, doc, status string) {
	t.Helper()
	ctx := context.Background()
	u := decodeYAML(t, doc)
	api := siteClient(t, i).Resource(gvr).Namespace(u.GetNamespace())
	got, err := api.Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating %s %s: %v", gvr.Resource, u.GetName(), err)
	}
	t.Cleanup(func() {
		if err := api.Delete(context.Background(), u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s %s/%s: %v", gvr.Resource, u.GetNamespace(), u.GetName(), err)
		}
	})
	if status != "" {
		setStatus(t, i, gvr, got.GetNamespace(), got.GetName(), status)
	}
}

// setStatus replaces an object's status with the YAML given.
func setStatus(t *testing.T, i int, gvr schema.GroupVersionResource, ns, name, status string) {
	t.Helper()
	ctx := context.Background()
	api := siteClient(t, i).Resource(gvr).Namespace(ns)
	st := decodeYAML(t, status)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Object["status"] = st.Object
		_, err = api.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("status of %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
}

func gatewayDoc(ns, name, listeners string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: %s, namespace: %s}
spec:
  gatewayClassName: avi-lb
  listeners:
%s`, name, ns, listeners)
}

func gatewayAddresses(ips ...string) string {
	var b strings.Builder
	b.WriteString("addresses:\n")
	for _, ip := range ips {
		fmt.Fprintf(&b, "  - {type: IPAddress, value: %q}\n", ip)
	}
	return b.String()
}

func routeDoc(kind, ns, name string, labels map[string]string, parents, hostnames string) string {
	var l []string
	for k, v := range labels {
		l = append(l, k+": "+v)
	}
	doc := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: %s
metadata:
  name: %s
  namespace: %s
  labels: {%s}
spec:
  parentRefs:
%s
  rules:
  - backendRefs: [{name: web, port: 80}]
`, kind, name, ns, strings.Join(l, ", "), parents)
	if hostnames != "" {
		doc += "  hostnames: " + hostnames + "\n"
	}
	return doc
}

// parentStatus is a route's status.parents entry for one parentRef.
func parentStatus(parentRef, accepted string) string {
	reason := "Accepted"
	if accepted != "True" {
		reason = "NotAllowedByListeners"
	}
	return fmt.Sprintf(`  - parentRef: %s
    controllerName: ako.vmware.com/avi-lb
    conditions:
    - {type: Accepted, status: "%s", reason: %s, message: "", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1}
`, parentRef, accepted, reason)
}

// TestGatewayAPIRoutes runs the Gateway API source on the lab's real API
// servers with the real CRDs: a route attached to two Gateways of which
// one did not accept it, a listener hostname that narrows a wildcard
// route, a TCPRoute named by its hostname annotation, a Gateway without an
// address yet, a Gateway whose address changes, and site B, which serves
// none of the kinds (skipped with one log line).
func TestGatewayAPIRoutes(t *testing.T) {
	installGatewayAPI(t)
	ns := namespace(t, "gwapi")
	host := func(n string) string { return n + "-" + ns + ".gslb.sddc.lab" }
	gw, http, tcp := gatewayGVR("gateways"), gatewayGVR("httproutes"), gatewayGVR("tcproutes")

	listeners := fmt.Sprintf(`  - {name: web, port: 80, protocol: HTTP, hostname: "*.gslb.sddc.lab"}
  - {name: shop, port: 443, protocol: HTTPS, hostname: %s, tls: {certificateRefs: [{name: shop-cert}]}}
  - {name: db, port: 5432, protocol: TCP}
`, host("shop"))
	createWithStatus(t, 0, gw, gatewayDoc(ns, "gw-a", listeners), gatewayAddresses("172.26.40.1"))
	createWithStatus(t, 0, gw, gatewayDoc(ns, "gw-b", "  - {name: web, port: 80, protocol: HTTP}\n"), gatewayAddresses("172.26.40.2"))
	createWithStatus(t, 0, gw, gatewayDoc(ns, "gw-new", "  - {name: web, port: 80, protocol: HTTP}\n"), "")

	ref := func(gw, extra string) string { return fmt.Sprintf("{name: %s%s}", gw, extra) }
	// Attached to gw-a and gw-b; gw-b refuses it.
	createWithStatus(t, 0, http, routeDoc("HTTPRoute", ns, "two", lab.GSLBLabels(), "  - "+ref("gw-a", "")+"\n  - "+ref("gw-b", ""), "["+host("two")+"]"),
		"parents:\n"+parentStatus(ref("gw-a", ""), "True")+parentStatus(ref("gw-b", ""), "False"))
	// A wildcard route on the shop listener: the listener's name is published.
	createWithStatus(t, 0, http, routeDoc("HTTPRoute", ns, "narrow", lab.GSLBLabels(), "  - "+ref("gw-a", ", sectionName: shop"), `["*.gslb.sddc.lab"]`),
		"parents:\n"+parentStatus(ref("gw-a", ", sectionName: shop"), "True"))
	// No hostnames in a TCPRoute: the external-dns annotation names it.
	tcpRoute := routeDoc("TCPRoute", ns, "db", lab.GSLBLabels(), "  - "+ref("gw-a", ", sectionName: db"), "")
	tcpRoute = strings.Replace(tcpRoute, "  labels:", "  annotations: {external-dns.alpha.kubernetes.io/hostname: "+host("db")+"}\n  labels:", 1)
	createWithStatus(t, 0, tcp, tcpRoute, "parents:\n"+parentStatus(ref("gw-a", ", sectionName: db"), "True"))
	// Accepted by a Gateway that has no address yet.
	createWithStatus(t, 0, http, routeDoc("HTTPRoute", ns, "waiting", lab.GSLBLabels(), "  - "+ref("gw-new", ""), "["+host("waiting")+"]"),
		"parents:\n"+parentStatus(ref("gw-new", ""), "True"))
	// Not selected: no app=gslb label.
	createWithStatus(t, 0, http, routeDoc("HTTPRoute", ns, "unlabelled", map[string]string{"app": "other"}, "  - "+ref("gw-b", ""), "["+host("unlabelled")+"]"),
		"parents:\n"+parentStatus(ref("gw-b", ""), "True"))

	s := startServer(t, gslbBlock("resources ingress gatewayapi"))
	s.eventually(host("two"), dns.TypeA, updateBound, "172.26.40.1")
	s.eventually(host("shop"), dns.TypeA, updateBound, "172.26.40.1")
	s.eventually(host("db"), dns.TypeA, updateBound, "172.26.40.1")
	for _, n := range []string{"waiting", "unlabelled"} {
		if r := s.query(host(n), dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: want NXDOMAIN, got:\n%v", host(n), r)
		}
	}
	if got := s.metric("coredns_gslb_unattached_routes", `site="sitea"`); got < 1 {
		t.Errorf("coredns_gslb_unattached_routes{site=sitea} = %v, want >= 1 (the route of the Gateway without an address)", got)
	}
	// Site B serves none of the kinds: one log line, no error, and the
	// site still syncs (its Ingresses are published).
	skipped := 0
	for _, line := range strings.Split(s.Log(), "\n") {
		if containsAll(line, "Site siteb", "does not serve", "gateways.gateway.networking.k8s.io/v1", "httproutes.gateway.networking.k8s.io/v1") {
			skipped++
		}
	}
	if skipped != 1 {
		t.Errorf("want one log line for site B's missing Gateway API kinds, got %d:\n%s", skipped, s.Log())
	}
	if got := s.metric("coredns_gslb_cluster_synced", `site="siteb"`); got != 1 {
		t.Errorf("coredns_gslb_cluster_synced{site=siteb} = %v, want 1", got)
	}

	// The Gateway's address changes: every route on it follows.
	setStatus(t, 0, gw, ns, "gw-a", gatewayAddresses("172.26.40.11"))
	s.eventually(host("two"), dns.TypeA, updateBound, "172.26.40.11")
	s.eventually(host("shop"), dns.TypeA, updateBound, "172.26.40.11")
	s.eventually(host("db"), dns.TypeA, updateBound, "172.26.40.11")
	// gw-b accepts the route now: both Gateways' addresses.
	setStatus(t, 0, http, ns, "two", "parents:\n"+parentStatus(ref("gw-a", ""), "True")+parentStatus(ref("gw-b", ""), "True"))
	s.eventually(host("two"), dns.TypeA, updateBound, "172.26.40.11", "172.26.40.2")
	// The waiting route's Gateway gets its address: it becomes a member.
	setStatus(t, 0, gw, ns, "gw-new", gatewayAddresses("172.26.40.3"))
	s.eventually(host("waiting"), dns.TypeA, updateBound, "172.26.40.3")
	// A deleted Gateway takes its routes' members with it.
	if err := siteClient(t, 0).Resource(gw).Namespace(ns).Delete(context.Background(), "gw-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.eventually(host("two"), dns.TypeA, updateBound, "172.26.40.11")
	if strings.Contains(strings.ToLower(s.Log()), "forbidden") || strings.Contains(s.Log(), "[ERROR]") {
		t.Errorf("errors in the log:\n%s", s.Log())
	}
}

// TestGatewaySelection: with `gateway_selection gateway` the selector picks
// Gateways, and every route they accepted is published, labelled or not.
func TestGatewaySelection(t *testing.T) {
	installGatewayAPI(t)
	ns := namespace(t, "gwsel")
	host := func(n string) string { return n + "-" + ns + ".gslb.sddc.lab" }
	gw, http := gatewayGVR("gateways"), gatewayGVR("httproutes")
	selected := gatewayDoc(ns, "selected", "  - {name: web, port: 80, protocol: HTTP}\n")
	selected = strings.Replace(selected, "metadata: {name: selected, namespace: "+ns+"}", "metadata: {name: selected, namespace: "+ns+", labels: {app: gslb}}", 1)
	createWithStatus(t, 0, gw, selected, gatewayAddresses("172.26.42.1"))
	createWithStatus(t, 0, gw, gatewayDoc(ns, "other", "  - {name: web, port: 80, protocol: HTTP}\n"), gatewayAddresses("172.26.42.2"))
	ref := func(gw string) string { return fmt.Sprintf("{name: %s}", gw) }
	createWithStatus(t, 0, http, routeDoc("HTTPRoute", ns, "app", map[string]string{"team": "shop"}, "  - "+ref("selected")+"\n  - "+ref("other"), "["+host("app")+"]"),
		"parents:\n"+parentStatus(ref("selected"), "True")+parentStatus(ref("other"), "True"))

	s := startServer(t, gslbBlock("resources gatewayapi", "gateway_selection gateway"))
	s.eventually(host("app"), dns.TypeA, updateBound, "172.26.42.1")
}
