package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var routeGVR = schema.GroupVersionResource{Group: "route.openshift.io", Version: "v1", Resource: "routes"}

const routeCRD = "routes.route.openshift.io"

func routeCRDManifest(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "openshift", "routes.crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openshiftRoute(ns, name, spec string) string {
	return fmt.Sprintf(`apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: %s, namespace: %s, labels: {app: gslb}}
spec:
%s
  to: {kind: Service, name: web}
`, name, ns, spec)
}

// akoAdmitted is the status AKO writes on a Route it serves: the VIP as the
// message of the Admitted condition, under its routerName.
func akoAdmitted(host, admitted, vip string) string {
	return fmt.Sprintf(`ingress:
- host: %s
  routerName: ako-sitea
  conditions:
  - {type: Admitted, status: "%s", message: "%s", lastTransitionTime: "2026-01-01T00:00:00Z"}
`, host, admitted, vip)
}

// TestOpenShiftRoutes runs the OpenShift Route source on the lab with
// OpenShift's Route CRD: an admitted Route answers with the VIP AKO wrote,
// a refused one is no member, a Route with only a subdomain is named by the
// AMKO GDP's defaultDomain, and site B, which does not serve Routes at
// first, is skipped with one log line and picked up once its CRD appears.
func TestOpenShiftRoutes(t *testing.T) {
	ctx := context.Background()
	if err := theLab.Clusters[0].InstallCRDs(ctx, routeCRDManifest(t)); err != nil {
		t.Fatal(err)
	}
	// Site B starts without the CRD (a run before may have left it).
	if err := theLab.Clusters[1].DeleteCRD(ctx, routeCRD); err != nil {
		t.Fatal(err)
	}
	amkoNS := amkoNamespace(t, "amko-routes")
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", "  defaultDomain: .gslb.sddc.lab\n"))

	ns := namespace(t, "routes")
	host := func(n string) string { return n + "-" + ns + ".gslb.sddc.lab" }
	createWithStatus(t, 0, routeGVR, openshiftRoute(ns, "admitted", "  host: "+host("adm")), akoAdmitted(host("adm"), "True", "172.26.41.1"))
	createWithStatus(t, 0, routeGVR, openshiftRoute(ns, "refused", "  host: "+host("ref")), akoAdmitted(host("ref"), "False", ""))
	createWithStatus(t, 0, routeGVR, openshiftRoute(ns, "sub", "  subdomain: sub-"+ns), akoAdmitted(host("sub"), "True", "172.26.41.2"))

	s := startServer(t, gslbBlock("resources ingress route", "amko "+theLab.Clusters[0].Context+" "+amkoNS))
	s.eventually(host("adm"), dns.TypeA, updateBound, "172.26.41.1")
	s.eventually(host("sub"), dns.TypeA, updateBound, "172.26.41.2")
	if r := s.query(host("ref"), dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("a Route its router did not admit: want NXDOMAIN, got:\n%v", r)
	}
	skipped := 0
	for _, line := range strings.Split(s.Log(), "\n") {
		if containsAll(line, "Site siteb", "does not serve", "routes.route.openshift.io/v1") {
			skipped++
		}
	}
	if skipped != 1 {
		t.Errorf("want one log line for site B's missing Route kind, got %d:\n%s", skipped, s.Log())
	}

	// The router admits the refused Route.
	setStatus(t, 0, routeGVR, ns, "refused", akoAdmitted(host("ref"), "True", "172.26.41.3"))
	s.eventually(host("ref"), dns.TypeA, updateBound, "172.26.41.3")

	// Site B gets the CRD and an admitted Route: picked up at the next
	// check (every 30 s).
	if err := theLab.Clusters[1].InstallCRDs(ctx, routeCRDManifest(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := theLab.Clusters[1].DeleteCRD(context.Background(), routeCRD); err != nil {
			t.Error(err)
		}
	})
	createWithStatus(t, 1, routeGVR, openshiftRoute(ns, "admitted", "  host: "+host("adm")), akoAdmitted(host("adm"), "True", "172.27.41.1"))
	took := s.eventually(host("adm"), dns.TypeA, 90*time.Second, "172.26.41.1", "172.27.41.1")
	t.Logf("site B's Route answered %.1f s after its CRD appeared", took.Seconds())
	waitLog(t, s, "Site siteb", "serves routes.route.openshift.io/v1 now")

	// A GDP without defaultDomain: the subdomain-only Route has no name.
	apply(t, gdpGVR, gdpDoc(amkoNS, "global-gdp", ""))
	s.eventually(host("sub"), dns.TypeA, updateBound)
	if strings.Contains(strings.ToLower(s.Log()), "forbidden") {
		t.Errorf("forbidden requests:\n%s", s.Log())
	}
}
