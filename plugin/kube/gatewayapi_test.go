package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"
)

// TestIntersectHostname walks the Gateway API's hostname matching rules
// (HTTPRoute spec.hostnames and Listener hostname documentation).
func TestIntersectHostname(t *testing.T) {
	for _, c := range []struct {
		listener, route, want string
		ok                    bool
	}{
		{"", "foo.example.com", "foo.example.com", true}, // no listener hostname: any
		{"", "*.example.com", "*.example.com", true},     // stays a wildcard (not published)
		{"foo.example.com", "", "foo.example.com", true}, // no route hostnames: the listener's
		{"", "", "", false},                              // neither: nothing to publish
		{"foo.example.com", "foo.example.com", "foo.example.com", true},
		{"foo.example.com", "bar.example.com", "", false},
		{"*.example.com", "foo.example.com", "foo.example.com", true},         // wildcard listener keeps the route's
		{"*.example.com", "a.b.example.com", "a.b.example.com", true},         // a suffix match: several labels
		{"*.example.com", "example.com", "", false},                           // never the bare suffix
		{"*.example.com", "fooexample.com", "", false},                        // on a label boundary
		{"foo.example.com", "*.example.com", "foo.example.com", true},         // the listener narrows a wildcard route
		{"example.com", "*.example.com", "", false},                           // not the bare suffix either way
		{"*.example.com", "*.foo.example.com", "*.foo.example.com", true},     // both wildcards: the narrower
		{"*.foo.example.com", "*.example.com", "*.foo.example.com", true},     // whichever side it is on
		{"*.example.com", "*.example.com", "*.example.com", true},             // equal
		{"*.example.com", "*.example.org", "", false},                         // disjoint
		{"*.bar.example.com", "foo.example.com", "", false},                   // deeper wildcard, shallower name
		{"foo.bar.example.com", "*.example.com", "foo.bar.example.com", true}, // route wildcard spans labels
	} {
		got, ok := intersectHostname(c.listener, c.route)
		if got != c.want || ok != c.ok {
			t.Errorf("intersect(listener %q, route %q) = %q, %v; want %q, %v", c.listener, c.route, got, ok, c.want, c.ok)
		}
	}
}

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func gatewayDoc(name, addresses, listeners string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: %s, namespace: infra}
spec:
  gatewayClassName: avi
  listeners:
%s
status:
  addresses:
%s
`, name, listeners, addresses)
}

func lookupOf(gws ...*unstructured.Unstructured) GatewayLookup {
	return func(ns, name string) (*unstructured.Unstructured, bool) {
		for _, g := range gws {
			if g.GetNamespace() == ns && g.GetName() == name {
				return g, true
			}
		}
		return nil, false
	}
}

func inExample(fqdn string) bool { return model.InZone("example.com.", fqdn) }

// recs renders records as "fqdn member check" lines, sorted.
func recs(rs []model.Record) []string {
	var out []string
	for _, r := range rs {
		m := r.Member.Addr.String()
		if r.Member.IsAlias() {
			m = "CNAME " + r.Member.Target
		}
		out = append(out, fmt.Sprintf("%s %s %s %d %s", r.FQDN, m, r.Check.Proto, r.Check.Port, r.Check.Path))
	}
	slices.Sort(out)
	return out
}

// fromAll lets a listener take routes of every namespace (the Gateways
// here are in infra, the routes in their teams' namespaces).
const fromAll = "allowedRoutes: {namespaces: {from: All}}"

const twoListeners = `  - {name: web, port: 80, protocol: HTTP, hostname: "*.example.com", ` + fromAll + `}
  - {name: shop, port: 443, protocol: HTTPS, hostname: shop.example.com, ` + fromAll + `}
  - {name: raw, port: 5432, protocol: TCP, ` + fromAll + `}`

func TestFromGatewayRoute(t *testing.T) {
	gwA := obj(t, gatewayDoc("gw-a", "  - {type: IPAddress, value: 10.0.0.1}\n  - {value: 2001:db8::1}", twoListeners))
	gwB := obj(t, gatewayDoc("gw-b", "  - {type: Hostname, value: lb.cloud.example.net}\n  - {type: example.com/named, value: pool-7}", twoListeners))
	noAddr := obj(t, gatewayDoc("gw-new", "", twoListeners))
	anyHost := obj(t, gatewayDoc("gw-any", "  - {value: 10.0.0.9}", "  - {name: any, port: 8080, protocol: HTTP, "+fromAll+"}"))
	lookup := lookupOf(gwA, gwB, noAddr, anyHost)

	route := func(parents, hostnames, status string) *unstructured.Unstructured {
		return obj(t, fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop, annotations: {gslb.io/ttl: "10"}}
spec:
  parentRefs:
%s
  hostnames: %s
status:
  parents:
%s
`, parents, hostnames, status))
	}
	accepted := func(name, extra string) string {
		return fmt.Sprintf(`  - parentRef: {name: %s, namespace: infra%s}
    controllerName: ako.vmware.com/avi-lb
    conditions: [{type: Accepted, status: "True"}, {type: ResolvedRefs, status: "True"}]`, name, extra)
	}
	refused := func(name string) string {
		return fmt.Sprintf(`  - parentRef: {name: %s, namespace: infra}
    controllerName: example.net/other
    conditions: [{type: Accepted, status: "False", reason: NotAllowedByListeners}]`, name)
	}

	for _, c := range []struct {
		name     string
		resource string
		route    *unstructured.Unstructured
		want     []string
		attached bool
		ignored  int
	}{
		{
			name:     "two Gateways, one not accepted: only the accepting one's addresses",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-a, namespace: infra}\n  - {name: gw-b, namespace: infra}", "[app.example.com]", accepted("gw-a", "")+"\n"+refused("gw-b")),
			want:     []string{"app.example.com. 10.0.0.1 http 80 /", "app.example.com. 2001:db8::1 http 80 /"},
			attached: true,
		},
		{
			name:     "both accepted: the hostname Gateway is a CNAME member",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-a, namespace: infra}\n  - {name: gw-b, namespace: infra}", "[app.example.com]", accepted("gw-a", "")+"\n"+accepted("gw-b", "")),
			want:     []string{"app.example.com. 10.0.0.1 http 80 /", "app.example.com. 2001:db8::1 http 80 /", "app.example.com. CNAME lb.cloud.example.net. none 0 "},
			attached: true,
		},
		{
			name:     "sectionName narrows to the HTTPS listener, whose hostname narrows the wildcard route",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-a, namespace: infra, sectionName: shop}", `["*.example.com", "other.example.com"]`, accepted("gw-a", ", sectionName: shop")),
			want:     []string{"shop.example.com. 10.0.0.1 https 443 /", "shop.example.com. 2001:db8::1 https 443 /"},
			attached: true,
		},
		{
			name:     "accepted for another sectionName than the one referenced: not accepted",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-a, namespace: infra, sectionName: shop}", "[shop.example.com]", accepted("gw-a", ", sectionName: web")),
		},
		{
			name:     "port narrows: 80 only, the wildcard listener keeps the route's names it matches; names outside the zones are counted",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-a, namespace: infra, port: 80}", `[a.example.com, b.c.example.com, x.example.org]`, accepted("gw-a", ", port: 80")),
			want: []string{"a.example.com. 10.0.0.1 http 80 /", "a.example.com. 2001:db8::1 http 80 /",
				"b.c.example.com. 10.0.0.1 http 80 /", "b.c.example.com. 2001:db8::1 http 80 /"},
			attached: true,
			ignored:  1,
		},
		{
			name:     "a listener without hostname allows every name; names outside the zones are counted",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-any, namespace: infra}", `[a.example.com, x.example.org, "*.example.com"]`, accepted("gw-any", "")),
			want:     []string{"a.example.com. 10.0.0.9 http 8080 /"},
			attached: true,
			ignored:  2,
		},
		{
			name:     "no listener allows the hostname: not attached",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-a, namespace: infra, sectionName: shop}", "[web.example.com]", accepted("gw-a", ", sectionName: shop")),
		},
		{
			name:     "Gateway without an address yet: not attached",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-new, namespace: infra}", "[app.example.com]", accepted("gw-new", "")),
		},
		{
			name:     "missing Gateway: not attached",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gone, namespace: infra}", "[app.example.com]", accepted("gone", "")),
		},
		{
			name:     "a wildcard that stays a wildcard is counted, not published",
			resource: ResourceHTTPRoutes,
			route:    route("  - {name: gw-a, namespace: infra, sectionName: web}", `["*.example.com"]`, accepted("gw-a", ", sectionName: web")),
			attached: true,
			ignored:  1,
		},
		{
			name:     "a TCPRoute without the hostname annotation has no name",
			resource: ResourceTCPRoutes,
			route:    route("  - {name: gw-a, namespace: infra}", "[]", accepted("gw-a", "")),
		},
		{
			name:     "a TCPRoute publishes its annotated names through its TCP listener, probed by TCP",
			resource: ResourceTCPRoutes,
			route: func() *unstructured.Unstructured {
				u := route("  - {name: gw-a, namespace: infra}", "[]", accepted("gw-a", ""))
				u.SetAnnotations(map[string]string{"gslb.io/ttl": "10", HostnameAnnotation: "db.example.com, DB.example.com,replica.example.com"})
				return u
			}(),
			want: []string{"db.example.com. 10.0.0.1 tcp 5432 ", "db.example.com. 2001:db8::1 tcp 5432 ",
				"replica.example.com. 10.0.0.1 tcp 5432 ", "replica.example.com. 2001:db8::1 tcp 5432 "},
			attached: true,
		},
		{
			name:     "a parentRef to a Service (mesh) is no Gateway",
			resource: ResourceHTTPRoutes,
			route: route("  - {name: gw-a, namespace: infra, kind: Service, group: \"\"}", "[app.example.com]", `  - parentRef: {name: gw-a, namespace: infra, kind: Service, group: ""}
    conditions: [{type: Accepted, status: "True"}]`),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex, attached := FromGatewayRoute(c.resource, c.route, lookup, nil, "sitea", inExample, nil)
			if got := recs(ex.Records); !slices.Equal(got, c.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if attached != c.attached {
				t.Errorf("attached = %v, want %v", attached, c.attached)
			}
			if ex.Ignored != c.ignored {
				t.Errorf("ignored = %d, want %d", ex.Ignored, c.ignored)
			}
			for _, r := range ex.Records {
				if r.Overrides.TTL != model.Some(10) {
					t.Errorf("%s: the route's gslb.io/ttl annotation is lost: %+v", r.FQDN, r.Overrides)
				}
			}
		})
	}

	// A route waiting for its Gateway's address claims its names already
	// (name ownership), publishing nothing.
	ex, attached := FromGatewayRoute(ResourceHTTPRoutes, route("  - {name: gw-new, namespace: infra}", `[app.example.com, "*.example.com"]`, accepted("gw-new", "")), lookup, nil, "sitea", inExample, nil)
	if attached || len(ex.Records) != 0 || !slices.Equal(ex.Names, []string{"app.example.com."}) || ex.Ignored != 0 {
		t.Errorf("waiting route: attached %v, records %v, names %v, ignored %d", attached, ex.Records, ex.Names, ex.Ignored)
	}

	// The parent filter (selection on Gateways) drops a Gateway as if it
	// had not accepted the route.
	r := route("  - {name: gw-a, namespace: infra}\n  - {name: gw-b, namespace: infra}", "[app.example.com]", accepted("gw-a", "")+"\n"+accepted("gw-b", ""))
	onlyB := func(gw *unstructured.Unstructured) bool { return gw.GetName() == "gw-b" }
	ex, _ = FromGatewayRoute(ResourceHTTPRoutes, r, lookup, onlyB, "sitea", inExample, nil)
	if got := recs(ex.Records); !slices.Equal(got, []string{"app.example.com. CNAME lb.cloud.example.net. none 0 "}) {
		t.Errorf("selection on Gateways: %v", got)
	}
	// The Corefile's forced probe replaces the listener's.
	def := model.Check{Proto: model.CheckTCP, Port: 8443}
	ex, _ = FromGatewayRoute(ResourceHTTPRoutes, r, lookup, onlyB, "sitea", inExample, &def)
	if got := recs(ex.Records); !slices.Equal(got, []string{"app.example.com. CNAME lb.cloud.example.net. none 0 "}) {
		t.Errorf("forced probe on a CNAME member, which is never probed: %v", got)
	}
	ex2, _ := FromGatewayRoute(ResourceHTTPRoutes, route("  - {name: gw-a, namespace: infra}", "[app.example.com]", accepted("gw-a", "")), lookup, nil, "sitea", inExample, &def)
	if got := recs(ex2.Records); !slices.Equal(got, []string{"app.example.com. 10.0.0.1 tcp 8443 ", "app.example.com. 2001:db8::1 tcp 8443 "}) {
		t.Errorf("forced probe: %v", got)
	}
}

func TestListenerAllows(t *testing.T) {
	for _, c := range []struct {
		resource, protocol string
		want               bool
	}{
		{ResourceHTTPRoutes, "HTTP", true}, {ResourceHTTPRoutes, "HTTPS", true}, {ResourceHTTPRoutes, "TLS", false},
		{ResourceGRPCRoutes, "HTTPS", true}, {ResourceTLSRoutes, "TLS", true}, {ResourceTLSRoutes, "HTTPS", false},
		{ResourceTCPRoutes, "TCP", true}, {ResourceTCPRoutes, "UDP", false}, {ResourceUDPRoutes, "UDP", true},
		{ResourceHTTPRoutes, "example.com/h3", true},
	} {
		if got := listenerAllows(c.resource, c.protocol); got != c.want {
			t.Errorf("listenerAllows(%s, %s) = %v", c.resource, c.protocol, got)
		}
	}
}

func TestRouteParentsAndBackends(t *testing.T) {
	r := obj(t, `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: gw}, {name: gw, sectionName: web}, {name: shared, namespace: infra}, {name: mesh, kind: Service, group: ""}]
  rules:
  - backendRefs: [{name: front, port: 80}, {name: other, namespace: elsewhere, port: 80}]
  - backendRefs: [{name: bucket, group: example.com, kind: Bucket}, {name: front, port: 8080}]
`)
	if got := routeParents(r); !slices.Equal(got, []string{"shop/gw", "infra/shared"}) {
		t.Errorf("parents = %v", got)
	}
	if got := routeBackends(r); !slices.Equal(got, []string{"front"}) {
		t.Errorf("backends = %v", got)
	}
}

func TestFromOpenShiftRoute(t *testing.T) {
	route := func(spec, ingress string) *unstructured.Unstructured {
		return obj(t, fmt.Sprintf(`apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web, namespace: shop}
spec:
%s
  to: {kind: Service, name: front}
status:
  ingress:
%s
`, spec, ingress))
	}
	ako := func(host, status, vip string) string {
		return fmt.Sprintf(`  - host: %s
    routerName: ako-sitea
    conditions: [{type: Admitted, status: "%s", message: "%s"}]`, host, status, vip)
	}
	router := `  - host: app.example.com
    routerName: default
    routerCanonicalHostname: router-default.apps.ocp.example.net
    conditions: [{type: Admitted, status: "True"}]`
	for _, c := range []struct {
		name, spec, ingress, domain string
		want                        []string
		attached                    bool
	}{
		{"admitted by AKO: its VIP", "  host: app.example.com", ako("app.example.com", "True", "10.1.0.5"), "",
			[]string{"app.example.com. 10.1.0.5 http 80 /"}, true},
		{"not admitted: nothing", "  host: app.example.com", ako("app.example.com", "False", ""), "", nil, false},
		{"an entry for another host is not this host's", "  host: app.example.com", ako("old.example.com", "True", "10.1.0.5"), "", nil, false},
		{"AKO's VIP wins over another router's canonical name", "  host: app.example.com", ako("app.example.com", "True", "10.1.0.5") + "\n" + router, "",
			[]string{"app.example.com. 10.1.0.5 http 80 /"}, true},
		{"only the OpenShift router: a CNAME to its canonical hostname", "  host: app.example.com", router, "",
			[]string{"app.example.com. CNAME router-default.apps.ocp.example.net. none 0 "}, true},
		{"subdomain under the GDP's defaultDomain", "  subdomain: app", ako("app.example.com", "True", "10.1.0.6"), ".example.com",
			[]string{"app.example.com. 10.1.0.6 http 80 /"}, true},
		{"subdomain without a defaultDomain: no host", "  subdomain: app", ako("app.example.com", "True", "10.1.0.6"), "", nil, false},
		{"edge TLS and a path: HTTPS 443 on the path", "  host: app.example.com\n  path: /shop\n  tls: {termination: edge}", ako("app.example.com", "True", "10.1.0.5"), "",
			[]string{"app.example.com. 10.1.0.5 https 443 /shop"}, true},
		{"passthrough: TCP 443", "  host: app.example.com\n  tls: {termination: passthrough}", ako("app.example.com", "True", "10.1.0.5"), "",
			[]string{"app.example.com. 10.1.0.5 tcp 443 "}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex, attached := FromOpenShiftRoute(route(c.spec, c.ingress), c.domain, "sitea", inExample, nil)
			// Its host is claimed (name ownership) admitted or not.
			if strings.Contains(c.spec, "host: app.example.com") && !slices.Equal(ex.Names, []string{"app.example.com."}) {
				t.Errorf("claimed names %v, want [app.example.com.]", ex.Names)
			}
			if got := recs(ex.Records); !slices.Equal(got, c.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if attached != c.attached {
				t.Errorf("attached = %v, want %v", attached, c.attached)
			}
		})
	}
}

// TestTrimCRD: the cache keeps what the records are made of, and neither
// route rules nor a Route's TLS keys.
func TestTrimCRD(t *testing.T) {
	r := obj(t, `apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: web
  namespace: shop
  labels: {app: gslb}
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}", gslb.io/ttl: "5"}
  managedFields: [{manager: kubectl}]
spec:
  host: app.example.com
  to: {kind: Service, name: front}
  tls: {termination: edge, key: SECRET, certificate: CERT}
status:
  ingress: [{host: app.example.com, routerName: ako-a, conditions: [{type: Admitted, status: "True", message: 10.1.0.5}]}]
`)
	w := &Watcher{}
	out, _ := w.trimCRD(ResourceOpenShiftRoutes)(r)
	u := out.(*unstructured.Unstructured)
	b, _ := yaml.Marshal(u.Object)
	for _, gone := range []string{"SECRET", "CERT", "last-applied", "managedFields"} {
		if strings.Contains(string(b), gone) {
			t.Errorf("trimmed Route keeps %s:\n%s", gone, b)
		}
	}
	ex, attached := FromOpenShiftRoute(u, "", "sitea", inExample, nil)
	if !attached || len(ex.Records) != 1 || ex.Records[0].Check.Proto != model.CheckHTTPS || ex.Records[0].Overrides.TTL != model.Some(5) {
		t.Errorf("trimmed Route reads differently: %+v", ex)
	}

	h := obj(t, `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: gw}]
  hostnames: [a.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /big}}], filters: [{type: RequestHeaderModifier}], backendRefs: [{name: front, port: 80}]}]
status:
  parents: [{parentRef: {name: gw}, controllerName: x/y, conditions: [{type: Accepted, status: "True"}]}]
`)
	out, _ = w.trimCRD(ResourceHTTPRoutes)(h)
	b, _ = yaml.Marshal(out.(*unstructured.Unstructured).Object)
	if strings.Contains(string(b), "matches") || strings.Contains(string(b), "backendRefs") || !strings.Contains(string(b), "a.example.com") || !strings.Contains(string(b), "Accepted") {
		t.Errorf("trimmed HTTPRoute without readiness:\n%s", b)
	}
	w.opts.EndpointReadiness = true
	out, _ = w.trimCRD(ResourceHTTPRoutes)(h)
	if got := routeBackends(out.(*unstructured.Unstructured)); !slices.Equal(got, []string{"front"}) {
		t.Errorf("trimmed HTTPRoute with readiness: backends %v", got)
	}
}

// TestSelectGatewaysPublishesThroughSelectedParents: with the selection on
// Gateways (gateway_selection gateway), routes are watched in every
// namespace; one whose parent Gateways are none of the selected ones is not
// gslb's: it claims no name (which would take it under first-claim
// ownership), counts as neither unattached nor unselected, and publishes
// once its Gateway becomes selected.
func TestSelectGatewaysPublishesThroughSelectedParents(t *testing.T) {
	w := testWatcher(&fakePolicy{})
	w.opts.Ingresses, w.opts.SelectGateways, w.opts.GatewayRoutes = false, true, []string{ResourceHTTPRoutes}
	w.unattached = map[string]bool{}
	gws := cache.NewSharedIndexInformer(&cache.ListWatch{}, &unstructured.Unstructured{}, 0, cache.Indexers{})
	w.gateways = append(w.gateways, gws)
	gateway := func(name string, labels map[string]string) *unstructured.Unstructured {
		g := obj(t, gatewayDoc(name, "  - {value: 10.0.0.1}", "  - {name: web, port: 80, protocol: HTTP, "+fromAll+"}"))
		g.SetLabels(labels)
		return g
	}
	for _, g := range []*unstructured.Unstructured{gateway("selected", map[string]string{"gslb": "yes"}), gateway("other", nil)} {
		if err := gws.GetIndexer().Add(g); err != nil {
			t.Fatal(err)
		}
	}
	route := func(name, parent, host string) *unstructured.Unstructured {
		return obj(t, fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %[1]s, namespace: team}
spec:
  parentRefs: [{name: %[2]s, namespace: infra}]
  hostnames: [%[3]s, outside.example.net]
status:
  parents: [{parentRef: {name: %[2]s, namespace: infra}, controllerName: x.io/y, conditions: [{type: Accepted, status: "True"}]}]
`, name, parent, host))
	}
	mine, theirs := route("mine", "selected", "mine.example.org"), route("theirs", "other", "theirs.example.org")
	// A route of the selected Gateway waiting for acceptance elsewhere is
	// still claimed and counted: only the parent decides.
	waiting := route("waiting", "selected", "waiting.example.org")
	_ = unstructured.SetNestedSlice(waiting.Object, nil, "status", "parents")
	for _, r := range []*unstructured.Unstructured{mine, theirs, waiting} {
		w.update(ResourceHTTPRoutes, r)
	}

	if got := pubs(w.store.Records()); !slices.Equal(got, []pub{v("mine.example.org.", "sitea", "10.0.0.1")}) {
		t.Errorf("published %v, want mine.example.org. only", got)
	}
	if p := w.store.PublishersOf("theirs.example.org."); p != nil {
		t.Errorf("a route of an unselected Gateway claims its name: %+v", p)
	}
	if p := w.store.PublishersOf("waiting.example.org."); len(p) != 1 || p[0].Claim == nil {
		t.Errorf("a route of the selected Gateway, not accepted yet, does not claim its name: %+v", p)
	}
	if !maps.Equal(w.unattached, map[string]bool{"kube/sitea/httproutes/team/waiting": true}) {
		t.Errorf("unattached %v, want the waiting route only", w.unattached)
	}
	if len(w.unselected) != 0 {
		t.Errorf("unselected %v: the routes themselves are not what the policy selects", w.unselected)
	}
	if !maps.Equal(w.ignored, map[string]int{"kube/sitea/httproutes/team/mine": 1, "kube/sitea/httproutes/team/waiting": 1}) {
		t.Errorf("ignored %v: only the selected Gateway's routes count their names outside the zones", w.ignored)
	}

	// The Gateway becomes selected: re-evaluated, its route publishes.
	if err := gws.GetIndexer().Update(gateway("other", map[string]string{"gslb": "yes"})); err != nil {
		t.Fatal(err)
	}
	w.update(ResourceHTTPRoutes, theirs)
	if p := w.store.PublishersOf("theirs.example.org."); len(p) != 1 || len(p[0].Records) != 1 {
		t.Errorf("the route of a newly selected Gateway: %+v", p)
	}
}

// TestListenerAllowedRoutes: a route publishes only through the listeners
// whose allowedRoutes admit it (its Accepted is per parentRef: without a
// sectionName the route is accepted when any listener admits it).
func TestListenerAllowedRoutes(t *testing.T) {
	gw := obj(t, gatewayDoc("gw", "  - {value: 10.0.0.5}", `  - {name: team-a, port: 80, protocol: HTTP, hostname: "*.a.example.com"}
  - {name: shared, port: 8080, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
  - {name: grpc, port: 9000, protocol: HTTPS, hostname: "*.example.com", allowedRoutes: {kinds: [{kind: GRPCRoute}], namespaces: {from: All}}}
  - {name: closed, port: 7000, protocol: HTTP, allowedRoutes: {namespaces: {from: None}}}
  - {name: same, port: 7001, protocol: HTTP, hostname: "*.same.example.com", allowedRoutes: {namespaces: {from: Same}}}
  - {name: teams, port: 6000, protocol: HTTP, hostname: "*.sel.example.com", allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {gateway: shared}}}}}`))
	gw.SetNamespace("team-a")
	lookup := lookupOf(gw)
	route := func(kind, ns, section, hostnames string) *unstructured.Unstructured {
		ref := "{name: gw, namespace: team-a" + section + "}"
		return obj(t, fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: %s
metadata: {name: r, namespace: %s}
spec:
  parentRefs: [%s]
  hostnames: %s
status:
  parents: [{parentRef: %s, controllerName: x.io/y, conditions: [{type: Accepted, status: "True"}]}]
`, kind, ns, ref, hostnames, ref))
	}
	for _, c := range []struct {
		name     string
		resource string
		route    *unstructured.Unstructured
		want     []string
		attached bool
	}{
		{
			name:     "the Gateway's own namespace: the default (Same) listener and the open one",
			resource: ResourceHTTPRoutes,
			route:    route("HTTPRoute", "team-a", "", "[x.a.example.com, y.same.example.com]"),
			want: []string{"x.a.example.com. 10.0.0.5 http 80 /", "x.a.example.com. 10.0.0.5 http 8080 /",
				"y.same.example.com. 10.0.0.5 http 7001 /", "y.same.example.com. 10.0.0.5 http 8080 /"},
			attached: true,
		},
		{
			name:     "another namespace: neither Same listener, nor None, nor the GRPCRoute-only one",
			resource: ResourceHTTPRoutes,
			route:    route("HTTPRoute", "team-b", "", "[x.a.example.com, y.same.example.com]"),
			want:     []string{"x.a.example.com. 10.0.0.5 http 8080 /", "y.same.example.com. 10.0.0.5 http 8080 /"},
			attached: true,
		},
		{
			name:     "a GRPCRoute: the listener that lists its kind too",
			resource: ResourceGRPCRoutes,
			route:    route("GRPCRoute", "team-b", "", "[svc.example.com]"),
			want:     []string{"svc.example.com. 10.0.0.5 tcp 8080 ", "svc.example.com. 10.0.0.5 tcp 9000 "},
			attached: true,
		},
		{
			name:     "a namespace selector is left to Accepted",
			resource: ResourceHTTPRoutes,
			route:    route("HTTPRoute", "team-b", "", "[x.sel.example.com]"),
			want:     []string{"x.sel.example.com. 10.0.0.5 http 6000 /", "x.sel.example.com. 10.0.0.5 http 8080 /"},
			attached: true,
		},
		{
			name:     "sectionName of a listener that does not admit the namespace: nothing, accepted or not",
			resource: ResourceHTTPRoutes,
			route:    route("HTTPRoute", "team-b", ", sectionName: team-a", "[x.a.example.com]"),
		},
		{
			name:     "sectionName of a listener for GRPCRoutes only: nothing for an HTTPRoute",
			resource: ResourceHTTPRoutes,
			route:    route("HTTPRoute", "team-a", ", sectionName: grpc", "[svc.example.com]"),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex, attached := FromGatewayRoute(c.resource, c.route, lookup, nil, "sitea", inExample, nil)
			if got := recs(ex.Records); !slices.Equal(got, c.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if attached != c.attached {
				t.Errorf("attached = %v, want %v", attached, c.attached)
			}
		})
	}

	str := func(s string) *string { return &s }
	for _, c := range []struct {
		ar       *allowedRoutes
		resource string
		routeNS  string
		want     bool
	}{
		{nil, ResourceHTTPRoutes, "infra", true},
		{nil, ResourceHTTPRoutes, "team", false},
		{&allowedRoutes{}, ResourceHTTPRoutes, "team", false}, // from defaults to Same
		{&allowedRoutes{Kinds: []routeGroupKind{{Kind: "HTTPRoute"}}}, ResourceHTTPRoutes, "infra", true},
		{&allowedRoutes{Kinds: []routeGroupKind{{Group: str(GatewayGroup), Kind: "GRPCRoute"}}}, ResourceHTTPRoutes, "infra", false},
		{&allowedRoutes{Kinds: []routeGroupKind{{Group: str("example.com"), Kind: "HTTPRoute"}}}, ResourceHTTPRoutes, "infra", false},
	} {
		l := listener{Name: "l", Port: 80, Protocol: "HTTP", AllowedRoutes: c.ar}
		if got := l.admits(c.resource, c.routeNS, "infra"); got != c.want {
			t.Errorf("allowedRoutes %+v: %s of %s admitted = %v, want %v", c.ar, c.resource, c.routeNS, got, c.want)
		}
	}
	// The protocol still decides: a TCP listener listing HTTPRoute is
	// invalid, not a way in.
	l := listener{Name: "l", Port: 80, Protocol: "TCP", AllowedRoutes: &allowedRoutes{Kinds: []routeGroupKind{{Kind: "HTTPRoute"}}}}
	if l.admits(ResourceHTTPRoutes, "infra", "infra") {
		t.Error("a TCP listener admits an HTTPRoute")
	}
}
