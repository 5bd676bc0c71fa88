package kube

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// TestWatcherCRDKinds runs a watcher with Gateway API and OpenShift Route
// kinds on client-go's fake clients (the e2e tests run them on real API
// servers with the real CRDs): a route follows its Gateway's address, and
// the Route kind, not served at first, is picked up when it appears. Run
// with -race, it covers the informers registered after Start.
func TestWatcherCRDKinds(t *testing.T) {
	defer func(d time.Duration) { crdRecheck = d }(crdRecheck)
	crdRecheck = 50 * time.Millisecond

	gw := obj(t, gatewayDoc("gw", "  - {value: 10.0.0.1}", "  - {name: web, port: 80, protocol: HTTP, "+fromAll+"}"))
	route := obj(t, `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop, labels: {app: gslb}}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [web.example.org]
status:
  parents: [{parentRef: {name: gw, namespace: infra}, controllerName: x.io/y, conditions: [{type: Accepted, status: "True"}]}]
`)
	listKinds := map[schema.GroupVersionResource]string{
		GatewayResource(ResourceGateways):   "GatewayList",
		GatewayResource(ResourceHTTPRoutes): "HTTPRouteList",
		OpenShiftRouteResource:              "RouteList",
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	ctx := context.Background()
	if _, err := dyn.Resource(GatewayResource(ResourceGateways)).Namespace("infra").Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(GatewayResource(ResourceHTTPRoutes)).Namespace("shop").Create(ctx, route, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var routesServed atomic.Bool
	served := func(_ context.Context, gv string) (map[string]bool, error) {
		switch gv {
		case "gateway.networking.k8s.io/v1":
			return map[string]bool{ResourceGateways: true, ResourceHTTPRoutes: true}, nil
		case "route.openshift.io/v1":
			return map[string]bool{ResourceOpenShiftRoutes: routesServed.Load()}, nil
		}
		return map[string]bool{}, nil
	}
	store := model.NewStore()
	w := newWatcher(Cluster{Site: "sitea", Context: "ctx-a"}, Options{
		Selector: "app=gslb", InZone: inExampleOrg,
		GatewayRoutes: []string{ResourceHTTPRoutes}, OpenShiftRoutes: true,
	}, store, fake.NewClientset(), func(context.Context) error { return nil })
	w.dyn, w.served = dyn, served
	w.Start()
	t.Cleanup(w.Stop)

	published := func(want ...pub) func() bool {
		return func() bool { return slices.Equal(pubs(store.Records()), want) }
	}
	testutil.Eventually(t, "synced", w.HasSynced)
	testutil.Eventually(t, "the route's member", published(v("web.example.org.", "sitea", "10.0.0.1")))

	gwAPI := dyn.Resource(GatewayResource(ResourceGateways)).Namespace("infra")
	cur, err := gwAPI.Get(ctx, "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedSlice(cur.Object, []any{map[string]any{"value": "10.0.0.2"}}, "status", "addresses")
	if _, err := gwAPI.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the Gateway's new address", published(v("web.example.org.", "sitea", "10.0.0.2")))

	// Routes appear: the next check starts their informer.
	routesServed.Store(true)
	os := obj(t, `apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: shop, namespace: shop, labels: {app: gslb}}
spec: {host: shop.example.org, to: {kind: Service, name: web}}
status:
  ingress: [{host: shop.example.org, routerName: ako-a, conditions: [{type: Admitted, status: "True", message: 10.0.0.7}]}]
`)
	if _, err := dyn.Resource(OpenShiftRouteResource).Namespace("shop").Create(ctx, os, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the Route, once served", published(v("shop.example.org.", "sitea", "10.0.0.7"), v("web.example.org.", "sitea", "10.0.0.2")))

	if err := gwAPI.Delete(ctx, "gw", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the Gateway's deletion", published(v("shop.example.org.", "sitea", "10.0.0.7")))
}
