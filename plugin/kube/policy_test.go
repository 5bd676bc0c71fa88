package kube

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// fakePolicy publishes objects labelled gslb=yes and layers fixed settings.
type fakePolicy struct {
	mu     sync.Mutex
	layers map[string]Layer // "site/fqdn"
}

func (p *fakePolicy) Publish(_, ns string, labels map[string]string) bool {
	return labels["gslb"] == "yes" && ns != "hidden"
}

func (p *fakePolicy) Layer(site, fqdn string) Layer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.layers[site+"/"+fqdn]
}

func testWatcher(p Policy) *Watcher {
	return &Watcher{
		cluster: Cluster{Site: "sitea", Context: "ctx-a"},
		opts:    Options{InZone: inExampleOrg, Ingresses: true, Policy: p},
		store:   model.NewStore(), endpoints: newEndpoints(),
		ignored: map[string]int{}, invalid: map[string]string{}, unselected: map[string]bool{},
		informers: map[string][]cache.SharedIndexInformer{},
	}
}

func TestPolicyLayer(t *testing.T) {
	p := &fakePolicy{layers: map[string]Layer{
		"sitea/web.example.org.": {
			Overrides: model.Overrides{Priority: model.Some(20), Weight: model.Some(5), TTL: model.Some(10)},
			NoProbe:   true,
			PublicIP:  netip.MustParseAddr("203.0.113.10"),
		},
	}}
	w := testWatcher(p)
	ing := ingress([]string{"web.example.org", "api.example.org"}, nil,
		networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.1"}, networkingv1.IngressLoadBalancerIngress{IP: "2001:db8::1"})
	ing.Labels = map[string]string{"gslb": "yes"}
	// The annotation wins over the policy layer, field by field.
	ing.Annotations = map[string]string{model.AnnotationWeight: "2"}
	w.update("ingress", ing)

	recs := w.store.Records()
	byName := map[string][]model.Record{}
	for _, r := range recs {
		byName[r.FQDN] = append(byName[r.FQDN], r)
	}
	web := byName["web.example.org."]
	if len(web) != 2 {
		t.Fatalf("web: want 2 records, got %v", web)
	}
	for _, r := range web {
		o := r.Overrides
		if o.Weight != model.Some(2) || o.Priority != model.Some(20) || o.TTL != model.Some(10) {
			t.Errorf("web %s: overrides %+v: want weight 2 (annotation), priority 20 and ttl 10 (policy)", r.Member.Addr, o)
		}
		if r.Check != (model.Check{}) {
			t.Errorf("web %s: NoProbe: want no check, got %+v", r.Member.Addr, r.Check)
		}
	}
	// The public IP goes with the IPv4 VIP only; the VIP stays the
	// member (probed, answered inside the private networks).
	if web[0].Member.Addr.String() != "10.0.0.1" || web[0].Public.String() != "203.0.113.10" ||
		web[1].Member.Addr.String() != "2001:db8::1" || web[1].Public.IsValid() {
		t.Errorf("web addresses: %v public %v, %v public %v", web[0].Member.Addr, web[0].Public, web[1].Member.Addr, web[1].Public)
	}
	// Another name of the same object gets its own (empty) layer.
	for _, r := range byName["api.example.org."] {
		if r.Overrides != (model.Overrides{Weight: model.Some(2)}) || r.Check.Proto != model.CheckHTTP {
			t.Errorf("api: want the annotation only and the default probe, got %+v %+v", r.Overrides, r.Check)
		}
	}

	// A probe annotation still turns probing on under NoProbe.
	ing.Annotations = map[string]string{model.AnnotationHealthCheck: "tcp", model.AnnotationHealthPort: "8443"}
	w.update("ingress", ing)
	for _, r := range w.store.Records() {
		if r.FQDN == "web.example.org." && r.Check != (model.Check{Proto: model.CheckTCP, Port: 8443}) {
			t.Errorf("web with health-check tcp: got %+v", r.Check)
		}
	}
}

func TestPolicyPublish(t *testing.T) {
	w := testWatcher(&fakePolicy{})
	ing := ingress([]string{"web.example.org"}, nil, networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.1"})
	w.update("ingress", ing) // no gslb=yes label: not published
	if got := w.store.Records(); len(got) != 0 {
		t.Fatalf("unselected object published: %v", got)
	}
	if len(w.unselected) != 1 {
		t.Errorf("unselected = %v", w.unselected)
	}
	ing.Labels = map[string]string{"gslb": "yes"}
	w.update("ingress", ing)
	if got := w.store.Records(); len(got) != 1 || len(w.unselected) != 0 {
		t.Fatalf("selected object: records %v, unselected %v", got, w.unselected)
	}
	ing.Namespace = "hidden"
	w.update("ingress", ing) // another object (other key), in a namespace the policy hides
	if got := w.store.Records(); len(got) != 1 {
		t.Fatalf("object in hidden namespace published: %v", got)
	}
	w.remove("ingress", ing)
	if len(w.unselected) != 0 {
		t.Errorf("removed object still counted unselected: %v", w.unselected)
	}
}
