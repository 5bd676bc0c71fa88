package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

var akoHostRuleGVR = schema.GroupVersionResource{Group: "ako.vmware.com", Version: "v1beta1", Resource: "hostrules"}

// siteClient is a dynamic client of site i.
func siteClient(t *testing.T, i int) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(theLab.Clusters[i].RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

// installAKOHostRuleCRD installs AKO's HostRule CRD in every site.
func installAKOHostRuleCRD(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "amko", "ako.vmware.com_hostrules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range theLab.Clusters {
		dyn := siteClient(t, i)
		crd := decodeYAML(t, string(b))
		if _, err := dyn.Resource(crdGVR).Create(context.Background(), crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		deadline := time.Now().Add(updateBound)
		for !established(context.Background(), dyn, crd.GetName()) {
			if time.Now().After(deadline) {
				t.Fatalf("site %d: CRD %s not established", i, crd.GetName())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// akoHostRule creates an AKO HostRule in site i and writes AKO's Accepted
// status, as AKO does once it applied it.
func akoHostRule(t *testing.T, i int, ns, name, local, global string) {
	t.Helper()
	ctx := context.Background()
	api := siteClient(t, i).Resource(akoHostRuleGVR).Namespace(ns)
	u := decodeYAML(t, fmt.Sprintf(`apiVersion: ako.vmware.com/v1beta1
kind: HostRule
metadata:
  name: %s
  namespace: %s
spec:
  virtualhost:
    fqdn: %s
    gslb:
      fqdn: %s
`, name, ns, local, global))
	got, err := api.Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	got.Object["status"] = map[string]any{"status": "Accepted"}
	if _, err := api.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestCustomGlobalFQDN: with custom_global_fqdn (AMKO's useCustomGlobalFqdn)
// each site's local host is published under the global name its AKO
// HostRule gives; a host without one is not published, and a HostRule whose
// global name lies outside the zones is reported and changes nothing else.
func TestCustomGlobalFQDN(t *testing.T) {
	installAKOHostRuleCRD(t)
	ns := namespace(t, "customfqdn")
	global := ns + ".gslb.sddc.lab"
	locals := []string{ns + ".sitea.sddc.lab", ns + ".siteb.sddc.lab"}
	plain := "plain-" + ns + ".gslb.sddc.lab"
	for i, vip := range []string{"172.26.37.1", "172.27.37.1"} {
		deleteAtEnd(t, i, "ingress", ns, "web")
		if _, err := lab.CreateIngress(context.Background(), site(i), lab.IngressSpec{
			Namespace: ns, Name: "web", Labels: lab.GSLBLabels(), ClassName: "avi-lb",
			Hosts: []string{locals[i], plain}, Service: "web", Port: 80,
		}); err != nil {
			t.Fatal(err)
		}
		if err := lab.SetAKOIngressStatus(context.Background(), site(i), ns, "web",
			lab.HostVIP{Host: locals[i], IP: vip}, lab.HostVIP{Host: plain, IP: vip}); err != nil {
			t.Fatal(err)
		}
		akoHostRule(t, i, ns, "web", locals[i], global)
	}
	akoHostRule(t, 0, ns, "outside", plain, "shop.example.com")

	s := startServer(t, gslbBlock("custom_global_fqdn", "health_check none"))
	s.eventually(global, dns.TypeA, updateBound, "172.26.37.1", "172.27.37.1")
	if r := s.query(plain, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("%s has no global name but was published:\n%v", plain, r)
	}
	waitLog(t, s, "AKO HostRule "+ns+"/outside", `"shop.example.com" is outside the zones`)
	if got := s.metric("coredns_gslb_hostrule_invalid_global_fqdns", `site="sitea"`); got != 1 {
		t.Errorf("coredns_gslb_hostrule_invalid_global_fqdns{site=sitea} = %v, want 1", got)
	}
	// Site B's HostRule goes away: its host leaves the global name.
	if err := siteClient(t, 1).Resource(akoHostRuleGVR).Namespace(ns).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.eventually(global, dns.TypeA, updateBound, "172.26.37.1")
}
