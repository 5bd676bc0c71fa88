package kube

import (
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func slice(ns, svc string, ready ...*bool) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}}}
	for _, r := range ready {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: r}})
	}
	return s
}

func TestEndpointsReadiness(t *testing.T) {
	yes, no := true, false
	e := newEndpoints()
	if !e.anyReady("shop", []string{"web"}) {
		t.Fatal("before the slices are listed nothing may be taken down")
	}
	e.markSynced()
	if e.anyReady("shop", []string{"web"}) {
		t.Fatal("no slice: not ready")
	}
	if svc, flipped := e.set("shop/web-1", slice("shop", "web", &no)); svc != "shop/web" || flipped {
		t.Fatalf("a slice without ready endpoints flips nothing: %s %v", svc, flipped)
	}
	if _, flipped := e.set("shop/web-2", slice("shop", "web", nil)); !flipped || !e.anyReady("shop", []string{"web"}) {
		t.Fatal("unknown readiness (nil) counts as ready, and flips the service")
	}
	if e.anyReady("other", []string{"web"}) || !e.anyReady("shop", []string{"api", "web"}) {
		t.Fatal("readiness is per namespace and any backend counts")
	}
	if _, flipped := e.set("shop/web-2", slice("shop", "web", &no, &no)); !flipped || e.anyReady("shop", []string{"web"}) {
		t.Fatal("an updated slice replaces its old count")
	}
	e.set("shop/web-1", slice("shop", "web", &yes))
	if _, flipped := e.remove("shop/web-1"); !flipped || e.anyReady("shop", []string{"web"}) {
		t.Fatal("removing the only ready slice flips the service down")
	}
	if _, flipped := e.set("shop/x", slice("shop", "")); flipped {
		t.Fatal("a slice without a service label is ignored")
	}
}

func TestBackendServices(t *testing.T) {
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{
		DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "default"}},
		Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{
				{Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}}},
				{Backend: networkingv1.IngressBackend{}}, // resource backend: no Service
			},
		}}}, {Host: "no-http"}},
	}}
	got := BackendServices(ing)
	if len(got) != 2 || got[0] != "default" || got[1] != "web" {
		t.Fatalf("BackendServices = %v, want [default web]", got)
	}
}
