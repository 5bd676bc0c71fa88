// Package kube watches Ingresses, LoadBalancer Services, Gateway API routes
// (with their Gateways) and OpenShift Routes in every member cluster and
// publishes their hosts and VIPs as model records.
package kube

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/gslb/gslb/plugin/model"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// HostnameAnnotation lists the names a LoadBalancer Service publishes
// (comma separated), as external-dns users already write it.
const HostnameAnnotation = "external-dns.alpha.kubernetes.io/hostname"

// InZone tells whether a fully-qualified, lower-case name is served.
type InZone func(fqdn string) bool

// Extracted is what one object contributes.
type Extracted struct {
	Records []model.Record
	// Names are the hosts inside a served zone that the object names,
	// members or not: what it claims under name ownership.
	Names []string
	// Ignored counts hosts that lie outside every served zone (or are not
	// valid names); they are counted, not logged, to keep logs quiet.
	Ignored int
	// Errors are bad gslb.io/ annotations; the object is published with
	// the defaults for those settings, and the caller reports them.
	Errors []error
	// Check is what the object's gslb.io/health-* annotations say, for a
	// Policy layer that changes the default probe under them.
	Check model.CheckSpec
}

// DefaultSecretAnnotation is AKO's switch to serve every host of an
// Ingress over TLS with the default certificate, TLS section or not. Its
// presence (any value) is what AKO and AMKO look at.
const DefaultSecretAnnotation = "ako.vmware.com/enable-tls"

// FromIngress publishes every rule host inside a served zone with the
// addresses of the Ingress status. An Ingress without a VIP yet publishes
// nothing: it simply is not a member until its controller sets the status.
//
// AKO writes one status entry per host, {ip, hostname: <host>}, and may
// shard the hosts of one Ingress onto different virtual services: when the
// status names rule hosts, each host gets only the addresses of its own
// entries, and entries without a hostname are left out, as AMKO maps them.
// Controllers that write addresses without hostnames (ingress-nginx,
// Traefik, Contour, cloud load balancers' hostname-only entries) give every
// host every entry. Hosts only in spec.tls are not published: no rule
// routes them, and AKO programs none.
//
// def, when non-nil, replaces the default probe (see Options.DefaultCheck).
func FromIngress(ing *networkingv1.Ingress, site string, inZone InZone, def *model.Check) Extracted {
	var hosts []string
	ruleHost := map[string]bool{}
	for _, r := range ing.Spec.Rules {
		hosts = append(hosts, r.Host)
		if fqdn, ok := model.HostName(r.Host); ok {
			ruleHost[fqdn] = true
		}
	}
	var members []model.Member
	perHost := map[string][]model.Member{}
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		if h, ok := model.HostName(lb.Hostname); ok && lb.IP != "" && ruleHost[h] {
			perHost[h] = appendMember(perHost[h], site, lb.IP, "")
			continue
		}
		members = appendMember(members, site, lb.IP, lb.Hostname)
	}
	membersOf := func(string) []model.Member { return members }
	if len(perHost) > 0 {
		membersOf = func(fqdn string) []model.Member { return perHost[fqdn] }
	}
	// Probe like AMKO's monitors: one probe per path of the host's rule
	// (a member is up while every path answers), HTTP on 80, HTTPS on 443
	// for TLS hosts (those in spec.tls, or every host with AKO's default
	// secret), with the host as Host header and SNI.
	_, allTLS := ing.Annotations[DefaultSecretAnnotation]
	tlsHost := map[string]bool{}
	for _, tls := range ing.Spec.TLS {
		for _, h := range tls.Hosts {
			if fqdn, ok := model.HostName(h); ok {
				tlsHost[fqdn] = true
			}
		}
	}
	checksFor := func(fqdn string) []model.Check {
		if def != nil {
			return []model.Check{*def}
		}
		c := model.Check{Proto: model.CheckHTTP, Port: 80}
		if allTLS || tlsHost[fqdn] {
			c = model.Check{Proto: model.CheckHTTPS, Port: 443}
		}
		paths := rulePaths(ing, fqdn)
		out := make([]model.Check, len(paths))
		for i, p := range paths {
			c.Path = p
			out[i] = c
		}
		return out
	}
	return extract(hosts, membersOf, inZone, checksFor, ing.Annotations)
}

// FromService publishes a LoadBalancer Service under the names of its
// hostname annotation, and under a status hostname that lies inside a served
// zone (then with the status IPs). Status hostnames outside the zones are
// CNAME targets for the annotated names when the status has no IP.
func FromService(svc *corev1.Service, site string, inZone InZone, def *model.Check) Extracted {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return Extracted{}
	}
	var hosts []string
	if v := svc.Annotations[HostnameAnnotation]; v != "" {
		for _, h := range strings.Split(v, ",") {
			hosts = append(hosts, strings.TrimSpace(h))
		}
	}
	var members []model.Member
	for _, lb := range svc.Status.LoadBalancer.Ingress {
		if lb.Hostname != "" {
			if fqdn, ok := model.HostName(lb.Hostname); ok && inZone(fqdn) {
				// The load balancer's own name is one we serve: publish it
				// with the addresses rather than aliasing it to itself.
				hosts = append(hosts, lb.Hostname)
				members = appendMember(members, site, lb.IP, "")
				continue
			}
		}
		members = appendMember(members, site, lb.IP, lb.Hostname)
	}
	// Probe the lowest TCP port: the Service's main port in practice.
	var check model.Check
	for _, p := range svc.Spec.Ports {
		if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && p.Port > 0 && (check.Port == 0 || uint16(p.Port) < check.Port) {
			check = model.Check{Proto: model.CheckTCP, Port: uint16(p.Port)}
		}
	}
	if def != nil {
		check = *def
	}
	return extract(hosts, func(string) []model.Member { return members }, inZone, func(string) []model.Check { return []model.Check{check} }, svc.Annotations)
}

func appendMember(members []model.Member, site, ip, hostname string) []model.Member {
	if ip != "" {
		if a, err := netip.ParseAddr(ip); err == nil {
			return append(members, model.Member{Site: site, Addr: a.Unmap()})
		}
		return members
	}
	if hostname != "" {
		if fqdn, ok := model.HostName(hostname); ok {
			return append(members, model.Member{Site: site, Target: fqdn})
		}
	}
	return members
}

// rulePaths are the distinct paths of the first rule for host ("/" for an
// empty path, or when the rule has none), which AMKO gives one monitor each.
func rulePaths(ing *networkingv1.Ingress, fqdn string) []string {
	var paths []string
	for _, r := range ing.Spec.Rules {
		if h, ok := model.HostName(r.Host); !ok || h != fqdn {
			continue
		}
		if r.HTTP != nil {
			for _, p := range r.HTTP.Paths {
				path := p.Path
				if path == "" {
					path = "/"
				}
				if !slices.Contains(paths, path) {
					paths = append(paths, path)
				}
			}
		}
		break
	}
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	return paths
}

func extract(hosts []string, membersOf func(fqdn string) []model.Member, inZone InZone, checksFor func(fqdn string) []model.Check, ann map[string]string) Extracted {
	var out Extracted
	overrides, spec, errs := model.ParseAnnotations(ann)
	out.Errors, out.Check = errs, spec
	seen := map[string]bool{}
	for _, h := range hosts {
		fqdn, ok := model.HostName(h)
		if !ok || !inZone(fqdn) {
			if h != "" {
				out.Ignored++
			}
			continue
		}
		if seen[fqdn] {
			continue
		}
		seen[fqdn] = true
		out.Names = append(out.Names, fqdn)
		// One record per probe: the table merges them by address, and
		// a member answers only while every one of them passes.
		var checks []model.Check
		for _, c := range checksFor(fqdn) {
			if c = spec.Apply(c); !slices.Contains(checks, c) {
				checks = append(checks, c)
			}
		}
		for _, m := range membersOf(fqdn) {
			if m.IsAlias() {
				// An alias has no address of ours to probe.
				out.Records = append(out.Records, model.Record{FQDN: fqdn, Member: m, Overrides: overrides})
				continue
			}
			for _, c := range checks {
				out.Records = append(out.Records, model.Record{FQDN: fqdn, Member: m, Overrides: overrides, Check: c})
			}
		}
	}
	return out
}
