package kube

import (
	"net/netip"
	"strings"

	"github.com/gslb/gslb/plugin/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// OpenShiftRouteResource is OpenShift's Route (route.openshift.io/v1).
var OpenShiftRouteResource = schema.GroupVersionResource{Group: "route.openshift.io", Version: "v1", Resource: "routes"}

// ResourceOpenShiftRoutes is its `resources` word and watcher kind.
const ResourceOpenShiftRoutes = "routes"

// akoRouterPrefix starts the routerName AKO writes in a Route's status
// ("ako-<cluster>"); AMKO reads only those entries.
const akoRouterPrefix = "ako-"

// osRoute is the part of a Route gslb reads.
type osRoute struct {
	Spec struct {
		Host      string `json:"host,omitempty"`
		Subdomain string `json:"subdomain,omitempty"`
		Path      string `json:"path,omitempty"`
		To        struct {
			Kind string `json:"kind,omitempty"`
			Name string `json:"name"`
		} `json:"to"`
		AlternateBackends []struct {
			Kind string `json:"kind,omitempty"`
			Name string `json:"name"`
		} `json:"alternateBackends,omitempty"`
		TLS *struct {
			Termination string `json:"termination,omitempty"`
		} `json:"tls,omitempty"`
	} `json:"spec"`
	Status struct {
		Ingress []struct {
			Host                    string `json:"host,omitempty"`
			RouterName              string `json:"routerName,omitempty"`
			RouterCanonicalHostname string `json:"routerCanonicalHostname,omitempty"`
			Conditions              []struct {
				Type    string `json:"type"`
				Status  string `json:"status"`
				Message string `json:"message,omitempty"`
			} `json:"conditions,omitempty"`
		} `json:"ingress,omitempty"`
	} `json:"status"`
}

// RouteHost is the host a Route serves: spec.host, or for a Route that
// only names a spec.subdomain, that label under defaultDomain (AMKO's GDP
// defaultDomain, with or without its leading dot). Empty when neither
// gives one.
func RouteHost(host, subdomain, defaultDomain string) string {
	if host != "" {
		return host
	}
	defaultDomain = strings.TrimPrefix(defaultDomain, ".")
	if subdomain == "" || defaultDomain == "" {
		return ""
	}
	return subdomain + "." + defaultDomain
}

// routeServices are the Services a Route sends traffic to (endpoint
// readiness).
func routeServices(u *unstructured.Unstructured) []string {
	var r osRoute
	if decode(u, &r) != nil {
		return nil
	}
	var out []string
	if r.Spec.To.Kind == "" || r.Spec.To.Kind == "Service" {
		out = appendUnique(out, r.Spec.To.Name)
	}
	for _, b := range r.Spec.AlternateBackends {
		if b.Kind == "" || b.Kind == "Service" {
			out = appendUnique(out, b.Name)
		}
	}
	return out
}

// FromOpenShiftRoute publishes a Route's host with the VIP of the router
// that admitted it, read as AMKO reads it: the status.ingress entries for
// that host whose Admitted condition is True; AKO (routerName "ako-...")
// writes its virtual service's VIP as that condition's message. Other
// routers (OpenShift's HAProxy router) write no address: their
// routerCanonicalHostname, the name of the router's load balancer, is the
// member then, as a CNAME target. When AKO gave a VIP, only the VIPs are
// published (AMKO ignores the other routers), so one name never mixes
// addresses and aliases. attached is false while no router admitted the
// host with an address or a canonical name.
//
// A passthrough Route is probed with a TCP connect to 443, an edge or
// re-encrypt one with HTTPS on 443, a plain one with HTTP on 80, each on
// spec.path.
func FromOpenShiftRoute(u *unstructured.Unstructured, defaultDomain, site string, inZone InZone, def *model.Check) (ex Extracted, attached bool) {
	var r osRoute
	if err := decode(u, &r); err != nil {
		return Extracted{}, false
	}
	host := normalHost(RouteHost(r.Spec.Host, r.Spec.Subdomain, defaultDomain))
	if host == "" {
		return extractTargets(&routeTargets{}, inZone, u.GetAnnotations()), false
	}
	var vips, aliases []model.Member
	for _, in := range r.Status.Ingress {
		if normalHost(in.Host) != host {
			continue
		}
		for _, c := range in.Conditions {
			if c.Type != "Admitted" || c.Status != "True" {
				continue
			}
			if strings.HasPrefix(in.RouterName, akoRouterPrefix) {
				if ip, err := netip.ParseAddr(strings.TrimSpace(c.Message)); err == nil {
					vips = appendUnique(vips, model.Member{Site: site, Addr: ip.Unmap()})
				}
			} else if fqdn, ok := model.HostName(in.RouterCanonicalHostname); ok {
				aliases = appendUnique(aliases, model.Member{Site: site, Target: fqdn})
			}
		}
	}
	members := vips
	if len(members) == 0 {
		members = aliases
	}
	check := model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}
	if r.Spec.Path != "" {
		check.Path = r.Spec.Path
	}
	if r.Spec.TLS != nil {
		check.Proto, check.Port = model.CheckHTTPS, 443
		if strings.EqualFold(r.Spec.TLS.Termination, "passthrough") {
			check = model.Check{Proto: model.CheckTCP, Port: 443}
		}
	}
	if def != nil {
		check = *def
	}
	// The host is claimed admitted or not (name ownership).
	t := routeTargets{claimed: []string{host}}
	for _, m := range members {
		t.add(host, memberCheck{m, check})
	}
	return extractTargets(&t, inZone, u.GetAnnotations()), len(members) > 0
}
