package kube

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func lbIP(ip string) networkingv1.IngressLoadBalancerIngress {
	return networkingv1.IngressLoadBalancerIngress{IP: ip}
}

// TestWatcherOnFakeClientset runs a watcher's informers on client-go's fake
// clientset: the initial list syncs it and fills the store, an Ingress's new
// status and a deletion follow, a Service publishes its load balancer, and
// the /readyz verdicts drive DisconnectedSince. The lab's e2e tests cover
// the real API server; this covers the watcher's own logic in a second.
func TestWatcherOnFakeClientset(t *testing.T) {
	ing := ingress([]string{"web.example.org"}, nil, lbIP("10.0.0.1"))
	ing.Labels = map[string]string{"app": "gslb"}
	client := fake.NewClientset(ing)
	var down atomic.Bool
	down.Store(true)
	readyz := func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}
	store := model.NewStore()
	w := newWatcher(Cluster{Site: "sitea", Context: "ctx-a"}, Options{
		Selector: "app=gslb", Ingresses: true, Services: true, InZone: inExampleOrg,
	}, store, client, readyz)
	w.Start()
	t.Cleanup(w.Stop)

	published := func(want ...pub) func() bool {
		return func() bool { return slices.Equal(pubs(store.Records()), want) }
	}
	testutil.Eventually(t, "synced", w.HasSynced)
	testutil.Eventually(t, "the Ingress's member", published(v("web.example.org.", "sitea", "10.0.0.1")))
	testutil.Eventually(t, "the first /readyz failure", func() bool { return !w.DisconnectedSince().IsZero() })

	ctx := context.Background()
	ing.Status = lbStatus(lbIP("10.0.0.2"))
	if _, err := client.NetworkingV1().Ingresses("shop").UpdateStatus(ctx, ing, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the new status", published(v("web.example.org.", "sitea", "10.0.0.2")))

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", Labels: map[string]string{"app": "gslb"},
			Annotations: map[string]string{HostnameAnnotation: "db.example.org"}},
		Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 5432}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "10.0.0.9"}}}},
	}
	if _, err := client.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the Service's member", published(v("db.example.org.", "sitea", "10.0.0.9"), v("web.example.org.", "sitea", "10.0.0.2")))

	if err := client.NetworkingV1().Ingresses("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the deletion", published(v("db.example.org.", "sitea", "10.0.0.9")))

	down.Store(false) // the next probe, at most probeInterval away, reconnects
	testutil.Eventually(t, "the reconnect", func() bool { return w.DisconnectedSince().IsZero() })
}

// TestWatcherClaims: an object claims its in-zone hosts for its namespace,
// with its creationTimestamp, before it has a VIP (so that name ownership
// holds the name meanwhile); a host outside the zones is not claimed, and
// a deleted object claims nothing.
func TestWatcherClaims(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	ing := ingress([]string{"wait.example.org", "elsewhere.example.net"}, nil)
	ing.Labels = map[string]string{"app": "gslb"}
	ing.CreationTimestamp = created
	client := fake.NewClientset(ing)
	store := model.NewStore()
	w := newWatcher(Cluster{Site: "sitea", Context: "ctx-a"}, Options{
		Selector: "app=gslb", Ingresses: true, InZone: inExampleOrg,
	}, store, client, func(context.Context) error { return nil })
	w.Start()
	t.Cleanup(w.Stop)

	testutil.Eventually(t, "the claim of a host without a VIP", func() bool { return len(store.PublishersOf("wait.example.org.")) == 1 })
	p := store.PublishersOf("wait.example.org.")[0]
	want := model.Claim{Site: "sitea", Kind: "ingress", Namespace: "shop", Name: "web", Created: created.Time, Names: []string{"wait.example.org."}}
	if p.Claim == nil || !p.Claim.Equal(&want) || len(p.Records) != 0 {
		t.Fatalf("publisher %+v, want the claim %+v without records", p, want)
	}
	if got := store.PublishersOf("elsewhere.example.net."); got != nil {
		t.Errorf("a host outside the zones is claimed: %+v", got)
	}

	if err := client.NetworkingV1().Ingresses("shop").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the claim's release", func() bool { return store.PublishersOf("wait.example.org.") == nil })
}
