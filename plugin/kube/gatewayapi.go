package kube

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/gslb/gslb/plugin/model"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GatewayGroup is the Gateway API's group; its standard channel serves
// every kind gslb reads at v1 (Gateway API v1.6).
const GatewayGroup = "gateway.networking.k8s.io"

// The Gateway API kinds gslb reads, by resource name (the `resources`
// property's words). Routes publish their hostnames with the addresses of
// the Gateways that accepted them.
const (
	ResourceGateways   = "gateways"
	ResourceHTTPRoutes = "httproutes"
	ResourceGRPCRoutes = "grpcroutes"
	ResourceTLSRoutes  = "tlsroutes"
	ResourceTCPRoutes  = "tcproutes"
	ResourceUDPRoutes  = "udproutes"
)

// GatewayRouteResources are every route kind gslb can read, in the order
// they are reported.
var GatewayRouteResources = []string{ResourceHTTPRoutes, ResourceGRPCRoutes, ResourceTLSRoutes, ResourceTCPRoutes, ResourceUDPRoutes}

// GatewayResource is the GroupVersionResource of a Gateway API resource.
func GatewayResource(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: GatewayGroup, Version: "v1", Resource: resource}
}

// The parts of Gateway API objects gslb reads, decoded from the
// informers' unstructured objects (the CRDs have no protobuf, and the
// gateway-api module's typed clients are not needed for a handful of
// fields: see trimCRD for what the cache keeps).
type (
	gwRoute struct {
		Spec struct {
			ParentRefs []parentRef `json:"parentRefs,omitempty"`
			Hostnames  []string    `json:"hostnames,omitempty"`
			Rules      []struct {
				BackendRefs []backendRef `json:"backendRefs,omitempty"`
			} `json:"rules,omitempty"`
		} `json:"spec"`
		Status struct {
			Parents []struct {
				ParentRef  parentRef          `json:"parentRef"`
				Conditions []metav1.Condition `json:"conditions,omitempty"`
			} `json:"parents,omitempty"`
		} `json:"status"`
	}
	parentRef struct {
		Group       *string `json:"group,omitempty"`
		Kind        *string `json:"kind,omitempty"`
		Namespace   *string `json:"namespace,omitempty"`
		Name        string  `json:"name"`
		SectionName *string `json:"sectionName,omitempty"`
		Port        *int32  `json:"port,omitempty"`
	}
	backendRef struct {
		Group     *string `json:"group,omitempty"`
		Kind      *string `json:"kind,omitempty"`
		Namespace *string `json:"namespace,omitempty"`
		Name      string  `json:"name"`
	}
	gateway struct {
		Spec struct {
			Listeners []listener `json:"listeners,omitempty"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type  *string `json:"type,omitempty"`
				Value string  `json:"value"`
			} `json:"addresses,omitempty"`
		} `json:"status"`
	}
	listener struct {
		Name          string         `json:"name"`
		Hostname      *string        `json:"hostname,omitempty"`
		Port          int32          `json:"port"`
		Protocol      string         `json:"protocol"`
		AllowedRoutes *allowedRoutes `json:"allowedRoutes,omitempty"`
	}
	allowedRoutes struct {
		Namespaces *struct {
			From *string `json:"from,omitempty"`
		} `json:"namespaces,omitempty"`
		Kinds []routeGroupKind `json:"kinds,omitempty"`
	}
	routeGroupKind struct {
		Group *string `json:"group,omitempty"`
		Kind  string  `json:"kind"`
	}
)

// routeKinds are the route kinds by resource name.
var routeKinds = map[string]string{
	ResourceHTTPRoutes: "HTTPRoute",
	ResourceGRPCRoutes: "GRPCRoute",
	ResourceTLSRoutes:  "TLSRoute",
	ResourceTCPRoutes:  "TCPRoute",
	ResourceUDPRoutes:  "UDPRoute",
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parentKey is a parentRef with its defaults filled in, comparable.
type parentKey struct {
	group, kind, namespace, name, section string
	port                                  int32
}

func (p parentRef) key(routeNS string) parentKey {
	k := parentKey{group: str(p.Group), kind: str(p.Kind), namespace: str(p.Namespace), name: p.Name, section: str(p.SectionName)}
	if p.Group == nil {
		k.group = GatewayGroup
	}
	if k.kind == "" {
		k.kind = "Gateway"
	}
	if k.namespace == "" {
		k.namespace = routeNS
	}
	if p.Port != nil {
		k.port = *p.Port
	}
	return k
}

// isGateway tells whether a parent is a Gateway (not a Service, as in
// GAMMA mesh routing, nor a ListenerSet).
func (k parentKey) isGateway() bool { return k.group == GatewayGroup && k.kind == "Gateway" }

func decode(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}

// GatewayLookup finds a Gateway by namespace and name, from the cache.
type GatewayLookup func(namespace, name string) (*unstructured.Unstructured, bool)

// routeParents lists the Gateways (namespace/name) a route refers to, for
// the index that re-evaluates a Gateway's routes when it changes.
func routeParents(u *unstructured.Unstructured) []string {
	var r gwRoute
	if decode(u, &r) != nil {
		return nil
	}
	var out []string
	for _, p := range r.Spec.ParentRefs {
		if k := p.key(u.GetNamespace()); k.isGateway() {
			if s := k.namespace + "/" + k.name; !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// routeBackends are the Services of the route's own namespace its rules
// send traffic to (for endpoint readiness).
func routeBackends(u *unstructured.Unstructured) []string {
	var r gwRoute
	if decode(u, &r) != nil {
		return nil
	}
	var out []string
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if str(b.Group) == "" && (b.Kind == nil || *b.Kind == "Service") && (b.Namespace == nil || *b.Namespace == u.GetNamespace()) && !slices.Contains(out, b.Name) {
				out = append(out, b.Name)
			}
		}
	}
	return out
}

// listenerAllows tells whether a route of resource kind may attach to a
// listener of that protocol: HTTP and gRPC routes to HTTP/HTTPS listeners,
// each of the others to its own protocol. Implementation-specific
// protocols (domain-prefixed) are left to the controller's Accepted.
func listenerAllows(resource, protocol string) bool {
	if strings.Contains(protocol, "/") {
		return true
	}
	switch resource {
	case ResourceHTTPRoutes, ResourceGRPCRoutes:
		return protocol == "HTTP" || protocol == "HTTPS"
	case ResourceTLSRoutes:
		return protocol == "TLS"
	case ResourceTCPRoutes:
		return protocol == "TCP"
	case ResourceUDPRoutes:
		return protocol == "UDP"
	}
	return false
}

// admits tells whether a route of resource kind in namespace routeNS may
// attach to the listener l of a Gateway in namespace gatewayNS, by the
// listener's allowedRoutes (the route's Accepted is per parentRef, not per
// listener: a parentRef without sectionName is accepted when any listener
// admits the route, and the route must not publish through the others).
//
//   - kinds: when listed, the route's kind (group gateway.networking.k8s.io,
//     the default) must be one of them; the protocol must allow it either
//     way (listenerAllows), as a kind the protocol does not carry makes the
//     listener invalid.
//   - namespaces.from: Same (the default, also when allowedRoutes or
//     namespaces is absent) the Gateway's own namespace, All any, None
//     none. Selector is left to the controller's Accepted: telling it
//     needs the route namespace's labels, which gslb does not watch.
func (l listener) admits(resource, routeNS, gatewayNS string) bool {
	if !listenerAllows(resource, l.Protocol) {
		return false
	}
	ar := l.AllowedRoutes
	if ar == nil {
		return routeNS == gatewayNS
	}
	if len(ar.Kinds) > 0 && !slices.ContainsFunc(ar.Kinds, func(k routeGroupKind) bool {
		return (k.Group == nil || *k.Group == GatewayGroup) && k.Kind == routeKinds[resource]
	}) {
		return false
	}
	from := "Same"
	if ar.Namespaces != nil && ar.Namespaces.From != nil {
		from = *ar.Namespaces.From
	}
	switch from {
	case "All", "Selector":
		return true
	case "Same":
		return routeNS == gatewayNS
	}
	return false // None, or a value this version of the API does not know
}

// hostnameless: TCP and UDP routes have no hostnames, and v1 forbids a
// hostname on TCP and UDP listeners. Their names come from the route's
// external-dns hostname annotation, as external-dns reads them (and from
// a listener hostname, should an older CRD or an implementation set one).
func hostnameless(resource string) bool {
	return resource == ResourceTCPRoutes || resource == ResourceUDPRoutes
}

// annotatedHostnames are the names of the external-dns hostname annotation.
func annotatedHostnames(ann map[string]string) []string {
	var out []string
	for _, h := range strings.Split(ann[HostnameAnnotation], ",") {
		if h = normalHost(h); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// listenerCheck is the default probe of a route's member behind a
// listener: HTTP or HTTPS on the listener's port for HTTP routes, a TCP
// connect for gRPC, TLS and TCP routes, none for UDP (nothing to probe
// without knowing the protocol).
func listenerCheck(resource string, l listener) model.Check {
	port := uint16(l.Port)
	switch {
	case resource == ResourceUDPRoutes:
		return model.Check{}
	case resource == ResourceHTTPRoutes && l.Protocol == "HTTPS":
		return model.Check{Proto: model.CheckHTTPS, Port: port, Path: "/"}
	case resource == ResourceHTTPRoutes && l.Protocol == "HTTP":
		return model.Check{Proto: model.CheckHTTP, Port: port, Path: "/"}
	}
	return model.Check{Proto: model.CheckTCP, Port: port}
}

// gatewayMembers are a Gateway's addresses as members: IPAddress (the
// default type) gives an address, Hostname an alias (CNAME), as a
// hostname-only load balancer does for a Service. Named addresses mean
// nothing outside their implementation and are left out.
func gatewayMembers(gw *gateway, site string) []model.Member {
	var out []model.Member
	for _, a := range gw.Status.Addresses {
		switch str(a.Type) {
		case "", "IPAddress":
			if ip, err := netip.ParseAddr(strings.TrimSpace(a.Value)); err == nil {
				out = appendUnique(out, model.Member{Site: site, Addr: ip.Unmap()})
			}
		case "Hostname":
			if fqdn, ok := model.HostName(a.Value); ok {
				out = appendUnique(out, model.Member{Site: site, Target: fqdn})
			}
		}
	}
	return out
}

func appendUnique[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// accepted tells whether the route's status says a parent accepted it:
// the status entry for exactly that parentRef has Accepted=True. Which
// controller wrote it does not matter.
func (r *gwRoute) accepted(routeNS string, want parentKey) bool {
	for _, p := range r.Status.Parents {
		if p.ParentRef.key(routeNS) == want && meta.IsStatusConditionTrue(p.Conditions, "Accepted") {
			return true
		}
	}
	return false
}

// memberCheck is one member of a name, with the probe that checks it.
type memberCheck struct {
	member model.Member
	check  model.Check
}

// routeTargets is what a route publishes before zones and annotations:
// names in the order found, and the members (with probes) of each.
type routeTargets struct {
	names   []string
	members map[string][]memberCheck
	// claimed are the names the object gives itself (a route's
	// hostnames), members or not: what it claims under name ownership.
	claimed []string
	// attached: at least one accepting parent Gateway with an address has
	// a listener the route's hostnames may use.
	attached bool
}

func (t *routeTargets) add(name string, mc memberCheck) {
	if t.members == nil {
		t.members = map[string][]memberCheck{}
	}
	if _, ok := t.members[name]; !ok {
		t.names = append(t.names, name)
	}
	if !slices.Contains(t.members[name], mc) {
		t.members[name] = append(t.members[name], mc)
	}
}

// ParentFilter tells whether a parent Gateway may publish the route
// (selection by the Gateway's labels, the AMKO policy on Gateways). Nil
// allows every Gateway the lookup finds.
type ParentFilter func(gw *unstructured.Unstructured) bool

// FromGatewayRoute publishes a Gateway API route (resource is its kind's
// resource name, e.g. "httproutes"): each of its hostnames that a listener
// of an accepting parent Gateway allows, with that Gateway's addresses. A
// parentRef narrows the listeners by sectionName (the listener's name) and
// port; the hostname published is the intersection of the route's and the
// listener's (a wildcard listener keeps the route's names, a listener name
// narrows a wildcard route's). TCP and UDP routes, which have no
// hostnames, publish the names of their external-dns hostname annotation
// through the TCP or UDP listeners they attach to. attached is false when
// no accepting Gateway with an address lets any hostname through: the route
// is then simply not a member yet.
func FromGatewayRoute(resource string, u *unstructured.Unstructured, lookup GatewayLookup, allow ParentFilter, site string, inZone InZone, def *model.Check) (ex Extracted, attached bool) {
	var r gwRoute
	if err := decode(u, &r); err != nil {
		return Extracted{}, false
	}
	ns := u.GetNamespace()
	var t routeTargets
	if hostnameless(resource) {
		t.claimed = annotatedHostnames(u.GetAnnotations())
	} else {
		for _, h := range r.Spec.Hostnames {
			t.claimed = append(t.claimed, normalHost(h))
		}
	}
	for _, p := range r.Spec.ParentRefs {
		k := p.key(ns)
		if !k.isGateway() || !r.accepted(ns, k) {
			continue
		}
		gu, ok := lookup(k.namespace, k.name)
		if !ok || (allow != nil && !allow(gu)) {
			continue
		}
		var gw gateway
		if decode(gu, &gw) != nil {
			continue
		}
		members := gatewayMembers(&gw, site)
		if len(members) == 0 {
			continue // no address yet: not a member until it has one
		}
		for _, l := range gw.Spec.Listeners {
			if (k.section != "" && l.Name != k.section) || (k.port != 0 && l.Port != k.port) || !l.admits(resource, ns, gu.GetNamespace()) {
				continue
			}
			lh := normalHost(str(l.Hostname))
			var names []string
			if hostnameless(resource) {
				names = slices.Clone(t.claimed) // the annotated names
				if lh != "" && !slices.Contains(names, lh) {
					names = append(names, lh)
				}
			} else if len(r.Spec.Hostnames) == 0 {
				if lh != "" {
					names = []string{lh}
				}
			} else {
				for _, h := range r.Spec.Hostnames {
					if n, ok := intersectHostname(lh, normalHost(h)); ok {
						names = append(names, n)
					}
				}
			}
			check := listenerCheck(resource, l)
			if def != nil {
				check = *def
			}
			for _, n := range names {
				t.attached = true
				for _, m := range members {
					t.add(n, memberCheck{member: m, check: check})
				}
			}
		}
	}
	return extractTargets(&t, inZone, u.GetAnnotations()), t.attached
}

// extractTargets applies zones and the object's gslb.io annotations to
// targets, as extract does for Ingresses and Services. The names an object
// claims are counted and claimed even while it publishes nothing for them;
// a claimed wildcard is neither (a listener may still narrow it to a name).
func extractTargets(t *routeTargets, inZone InZone, ann map[string]string) Extracted {
	var out Extracted
	overrides, spec, errs := model.ParseAnnotations(ann)
	out.Errors, out.Check = errs, spec
	seen := map[string]bool{}
	names := slices.Clone(t.names)
	for _, c := range t.claimed {
		if !strings.Contains(c, "*") && !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	for _, name := range names {
		fqdn, ok := model.HostName(name)
		if !ok || !inZone(fqdn) {
			out.Ignored++
			continue
		}
		if seen[fqdn] {
			continue
		}
		seen[fqdn] = true
		out.Names = append(out.Names, fqdn)
		var recs []model.Record
		for _, mc := range t.members[name] {
			rec := model.Record{FQDN: fqdn, Member: mc.member, Overrides: overrides}
			if !mc.member.IsAlias() {
				rec.Check = spec.Apply(mc.check)
			}
			if !slices.Contains(recs, rec) {
				recs = append(recs, rec)
			}
		}
		out.Records = append(out.Records, recs...)
	}
	return out
}
