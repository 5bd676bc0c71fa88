package kube

import (
	"slices"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func inExampleOrg(fqdn string) bool { return dns.IsSubDomain("example.org.", fqdn) }

// pub is what a record publishes, without the probe and policy details.
type pub struct {
	fqdn, site, addr, target string
}

func v(fqdn, site, addr string) pub    { return pub{fqdn: fqdn, site: site, addr: addr} }
func cn(fqdn, site, target string) pub { return pub{fqdn: fqdn, site: site, target: target} }

func pubs(recs []model.Record) []pub {
	var out []pub
	for _, r := range recs {
		p := pub{fqdn: r.FQDN, site: r.Member.Site, target: r.Member.Target}
		if r.Member.Addr.IsValid() {
			p.addr = r.Member.Addr.String()
		}
		if r.Member.Addr.IsValid() == r.Member.IsAlias() {
			p.addr = "INVALID: both or neither of address and target"
		}
		out = append(out, p)
	}
	return out
}

func lbStatus(entries ...networkingv1.IngressLoadBalancerIngress) networkingv1.IngressStatus {
	return networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: entries}}
}

func ingress(rules []string, tls [][]string, status ...networkingv1.IngressLoadBalancerIngress) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	for _, h := range rules {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: h})
	}
	for _, hosts := range tls {
		ing.Spec.TLS = append(ing.Spec.TLS, networkingv1.IngressTLS{Hosts: hosts, SecretName: "tls"})
	}
	ing.Status = lbStatus(status...)
	return ing
}

func TestFromIngress(t *testing.T) {
	ip := func(a string) networkingv1.IngressLoadBalancerIngress {
		return networkingv1.IngressLoadBalancerIngress{IP: a}
	}
	host := func(h string) networkingv1.IngressLoadBalancerIngress {
		return networkingv1.IngressLoadBalancerIngress{Hostname: h}
	}
	tests := []struct {
		name        string
		ing         *networkingv1.Ingress
		want        []pub
		wantIgnored int
	}{
		{
			// A host only in spec.tls has no rule routing it: AKO
			// programs none, AMKO publishes none.
			name: "rule hosts each once, TLS-only hosts not published",
			ing:  ingress([]string{"app.example.org", "api.example.org", "app.example.org"}, [][]string{{"app.example.org", "secure.example.org"}}, ip("10.0.0.1")),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.1"), v("api.example.org.", "sitea", "10.0.0.1")},
		},
		{
			// AKO: one entry per host, and hosts sharded onto two
			// virtual services with different VIPs.
			name: "AKO per-host status: each host gets its own entries",
			ing: ingress([]string{"shop.example.org", "cart.example.org", "pay.example.org"}, nil,
				networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.1", Hostname: "shop.example.org"},
				networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.2", Hostname: "Cart.Example.org"},
				networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.3", Hostname: "other.example.org"},
				ip("10.0.0.9")),
			// pay has no entry of its own yet: not a member. The entry
			// without a hostname and the one for no rule host are
			// left out, as AMKO does.
			want: []pub{v("shop.example.org.", "sitea", "10.0.0.1"), v("cart.example.org.", "sitea", "10.0.0.2")},
		},
		{
			name: "AKO per-host status with two entries for one host (dual stack)",
			ing: ingress([]string{"shop.example.org"}, nil,
				networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.1", Hostname: "shop.example.org"},
				networkingv1.IngressLoadBalancerIngress{IP: "2001:db8::1", Hostname: "shop.example.org"}),
			want: []pub{v("shop.example.org.", "sitea", "10.0.0.1"), v("shop.example.org.", "sitea", "2001:db8::1")},
		},
		{
			name: "several status addresses",
			ing:  ingress([]string{"app.example.org"}, nil, ip("10.0.0.1"), ip("10.0.0.2")),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.1"), v("app.example.org.", "sitea", "10.0.0.2")},
		},
		{
			name:        "host outside the zones is ignored and counted",
			ing:         ingress([]string{"app.example.org", "app.example.net", "www.other.com"}, nil, ip("10.0.0.1")),
			want:        []pub{v("app.example.org.", "sitea", "10.0.0.1")},
			wantIgnored: 2,
		},
		{
			name:        "wildcard host is ignored and counted",
			ing:         ingress([]string{"*.example.org", "app.example.org"}, [][]string{{"*.example.org"}}, ip("10.0.0.1")),
			want:        []pub{v("app.example.org.", "sitea", "10.0.0.1")},
			wantIgnored: 1,
		},
		{
			name: "empty rule host (default backend rule) is neither served nor counted",
			ing:  ingress([]string{"", "app.example.org"}, nil, ip("10.0.0.1")),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.1")},
		},
		{
			name: "upper-case and trailing-dot hosts are normalised",
			ing:  ingress([]string{"App.Example.ORG", " API.example.org. "}, nil, ip("10.0.0.1")),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.1"), v("api.example.org.", "sitea", "10.0.0.1")},
		},
		{
			name: "no status: not a member yet",
			ing:  ingress([]string{"app.example.org"}, nil),
		},
		{
			name:        "no status, host outside still counted",
			ing:         ingress([]string{"app.example.net"}, nil),
			wantIgnored: 1,
		},
		{
			name: "IPv6 status",
			ing:  ingress([]string{"app.example.org"}, nil, ip("2001:DB8::1"), ip("10.0.0.1")),
			want: []pub{v("app.example.org.", "sitea", "2001:db8::1"), v("app.example.org.", "sitea", "10.0.0.1")},
		},
		{
			name: "IPv4-mapped IPv6 status is IPv4",
			ing:  ingress([]string{"app.example.org"}, nil, ip("::ffff:10.0.0.1")),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.1")},
		},
		{
			name: "hostname-only status is a CNAME target",
			ing:  ingress([]string{"app.example.org"}, nil, host("LB-1.eu-west-1.elb.amazonaws.com")),
			want: []pub{cn("app.example.org.", "sitea", "lb-1.eu-west-1.elb.amazonaws.com.")},
		},
		{
			name: "status with IP and hostname publishes the IP",
			ing: ingress([]string{"app.example.org"}, nil, networkingv1.IngressLoadBalancerIngress{
				IP: "10.0.0.1", Hostname: "lb.example.net",
			}),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.1")},
		},
		{
			name: "bad IP in status is skipped",
			ing:  ingress([]string{"app.example.org"}, nil, ip("10.0.0.300"), ip("not-an-ip"), ip("10.0.0.2")),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.2")},
		},
		{
			name: "wildcard status hostname is skipped",
			ing:  ingress([]string{"app.example.org"}, nil, host("*.elb.example.net"), ip("10.0.0.2")),
			want: []pub{v("app.example.org.", "sitea", "10.0.0.2")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FromIngress(tc.ing, "sitea", inExampleOrg, nil)
			if p := pubs(got.Records); !slices.Equal(p, tc.want) {
				t.Errorf("records\n got %v\nwant %v", p, tc.want)
			}
			if got.Ignored != tc.wantIgnored {
				t.Errorf("ignored %d, want %d", got.Ignored, tc.wantIgnored)
			}
		})
	}
}

func service(typ corev1.ServiceType, hostnames string, status ...corev1.LoadBalancerIngress) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       corev1.ServiceSpec{Type: typ, Ports: []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP}}},
		Status:     corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: status}},
	}
	if hostnames != "" {
		svc.Annotations = map[string]string{HostnameAnnotation: hostnames}
	}
	return svc
}

func TestFromService(t *testing.T) {
	lb := corev1.ServiceTypeLoadBalancer
	ip := func(a string) corev1.LoadBalancerIngress { return corev1.LoadBalancerIngress{IP: a} }
	host := func(h string) corev1.LoadBalancerIngress { return corev1.LoadBalancerIngress{Hostname: h} }
	tests := []struct {
		name        string
		svc         *corev1.Service
		want        []pub
		wantIgnored int
	}{
		{
			name: "annotated LoadBalancer",
			svc:  service(lb, "app.example.org", ip("10.0.0.1")),
			want: []pub{v("app.example.org.", "siteb", "10.0.0.1")},
		},
		{
			name: "ClusterIP: nothing, even annotated",
			svc:  service(corev1.ServiceTypeClusterIP, "app.example.org", ip("10.0.0.1")),
		},
		{
			name: "NodePort: nothing",
			svc:  service(corev1.ServiceTypeNodePort, "app.example.org", ip("10.0.0.1")),
		},
		{
			name: "ExternalName: nothing",
			svc:  service(corev1.ServiceTypeExternalName, "app.example.org", ip("10.0.0.1")),
		},
		{
			name: "no annotation and no in-zone status hostname: nothing",
			svc:  service(lb, "", ip("10.0.0.1")),
		},
		{
			name: "annotation with several comma-separated names",
			svc:  service(lb, "app.example.org, API.example.org,app.example.org,www.example.net, *.example.org", ip("10.0.0.1"), ip("2001:db8::1")),
			want: []pub{
				v("app.example.org.", "siteb", "10.0.0.1"), v("app.example.org.", "siteb", "2001:db8::1"),
				v("api.example.org.", "siteb", "10.0.0.1"), v("api.example.org.", "siteb", "2001:db8::1"),
			},
			wantIgnored: 2,
		},
		{
			name: "annotation with an empty entry",
			svc:  service(lb, "app.example.org,,", ip("10.0.0.1")),
			want: []pub{v("app.example.org.", "siteb", "10.0.0.1")},
		},
		{
			name: "no status: nothing",
			svc:  service(lb, "app.example.org"),
		},
		{
			name: "hostname-only status is a CNAME target",
			svc:  service(lb, "app.example.org", host("a1b2.elb.amazonaws.com")),
			want: []pub{cn("app.example.org.", "siteb", "a1b2.elb.amazonaws.com.")},
		},
		{
			name: "status hostname inside the zone is published with the status IPs",
			svc: service(lb, "app.example.org", corev1.LoadBalancerIngress{IP: "10.0.0.1", Hostname: "LB.example.org"},
				ip("10.0.0.2")),
			want: []pub{
				v("app.example.org.", "siteb", "10.0.0.1"), v("app.example.org.", "siteb", "10.0.0.2"),
				v("lb.example.org.", "siteb", "10.0.0.1"), v("lb.example.org.", "siteb", "10.0.0.2"),
			},
		},
		{
			name: "status hostname inside the zone without annotation",
			svc:  service(lb, "", corev1.LoadBalancerIngress{IP: "10.0.0.1", Hostname: "lb.example.org"}),
			want: []pub{v("lb.example.org.", "siteb", "10.0.0.1")},
		},
		{
			name: "status hostname inside the zone without IP is never an alias of itself",
			svc:  service(lb, "app.example.org", host("lb.example.org")),
		},
		{
			name: "status hostname outside the zone with an IP publishes the IP",
			svc:  service(lb, "app.example.org", corev1.LoadBalancerIngress{IP: "10.0.0.1", Hostname: "lb.example.net"}),
			want: []pub{v("app.example.org.", "siteb", "10.0.0.1")},
		},
		{
			name: "bad IP in status is skipped",
			svc:  service(lb, "app.example.org", ip("10.0.0.1.5"), ip("10.0.0.2")),
			want: []pub{v("app.example.org.", "siteb", "10.0.0.2")},
		},
		{
			name:        "annotated names all outside the zones",
			svc:         service(lb, "app.example.net,app.example.com", ip("10.0.0.1")),
			wantIgnored: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FromService(tc.svc, "siteb", inExampleOrg, nil)
			if p := pubs(got.Records); !slices.Equal(p, tc.want) {
				t.Errorf("records\n got %v\nwant %v", p, tc.want)
			}
			if got.Ignored != tc.wantIgnored {
				t.Errorf("ignored %d, want %d", got.Ignored, tc.wantIgnored)
			}
		})
	}
}

// Ingress hosts are probed like AMKO's monitors: HTTPS on 443 for the hosts
// of spec.tls, and for every host when AKO's default-secret annotation is
// present (whatever its value); HTTP on 80 otherwise.
func TestFromIngressProbes(t *testing.T) {
	https := model.Check{Proto: model.CheckHTTPS, Port: 443, Path: "/"}
	http := model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}
	tests := []struct {
		name string
		ann  map[string]string
		tls  [][]string
		want map[string]model.Check
	}{
		{"no TLS", nil, nil, map[string]model.Check{"app.example.org.": http, "api.example.org.": http}},
		{"TLS hosts", nil, [][]string{{"API.example.org"}}, map[string]model.Check{"app.example.org.": http, "api.example.org.": https}},
		{"AKO default secret", map[string]string{DefaultSecretAnnotation: "true"}, nil, map[string]model.Check{"app.example.org.": https, "api.example.org.": https}},
		{"AKO default secret, any value", map[string]string{DefaultSecretAnnotation: ""}, nil, map[string]model.Check{"app.example.org.": https, "api.example.org.": https}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ing := ingress([]string{"app.example.org", "api.example.org"}, tc.tls, networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.1"})
			ing.Annotations = tc.ann
			got := FromIngress(ing, "sitea", inExampleOrg, nil)
			if len(got.Records) != 2 {
				t.Fatalf("records %v", pubs(got.Records))
			}
			for _, r := range got.Records {
				if r.Check != tc.want[r.FQDN] {
					t.Errorf("%s: check %+v, want %+v", r.FQDN, r.Check, tc.want[r.FQDN])
				}
			}
		})
	}
}

// AMKO gives every path of a host's rule a monitor of its own: gslb emits one
// record per path probe (the table merges them by address, so the member
// answers only while every path passes). A health-path annotation, a forced
// check or a Service give one probe.
func TestFromIngressProbesEveryPath(t *testing.T) {
	prefix := networkingv1.PathTypePrefix
	ing := ingress([]string{"app.example.org"}, nil, networkingv1.IngressLoadBalancerIngress{IP: "10.0.0.1"})
	ing.Spec.Rules[0].HTTP = &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
		{Path: "/api", PathType: &prefix}, {Path: "", PathType: &prefix}, {Path: "/api", PathType: &prefix}, {Path: "/cart", PathType: &prefix},
	}}
	var paths []string
	for _, r := range FromIngress(ing, "sitea", inExampleOrg, nil).Records {
		if r.Check.Proto != model.CheckHTTP || r.Check.Port != 80 || r.Member.Addr.String() != "10.0.0.1" {
			t.Errorf("record %+v", r)
		}
		paths = append(paths, r.Check.Path)
	}
	if want := []string{"/api", "/", "/cart"}; !slices.Equal(paths, want) {
		t.Errorf("probe paths %q, want %q", paths, want)
	}
	ing.Annotations = map[string]string{"gslb.io/health-path": "/healthz"}
	if recs := FromIngress(ing, "sitea", inExampleOrg, nil).Records; len(recs) != 1 || recs[0].Check.Path != "/healthz" {
		t.Errorf("with a health-path annotation: %+v", recs)
	}
	ing.Annotations = nil
	forced := model.Check{Proto: model.CheckTCP, Port: 8443}
	if recs := FromIngress(ing, "sitea", inExampleOrg, &forced).Records; len(recs) != 1 || recs[0].Check != forced {
		t.Errorf("with a forced check: %+v", recs)
	}
}
