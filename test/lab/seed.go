package lab

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// The onlineshop scenario: Google's microservices demo ("boutique") exposed
// through an Avi (AKO) Ingress and selected for GSLB by the app=gslb label,
// as in the AMKO walkthrough this project replaces.
const (
	OnlineshopNamespace    = "boutique-app"
	OnlineshopService      = "frontend-external"
	OnlineshopIngress      = "onlineshop-ingress"
	OnlineshopHost         = "onlineshop.gslb.sddc.lab"
	OnlineshopIngressClass = "avi-lb"
	// AKOController is the controller name of AKO's IngressClass.
	AKOController = "ako.vmware.com/avi-lb"
)

// GSLBLabels is the label set that marks objects for GSLB.
func GSLBLabels() map[string]string { return map[string]string{"app": "gslb"} }

// SeedVIP is the virtual IP the i-th (0-based) site's Avi assigns:
// 172.26.17.21 for site A, 172.27.17.21 for site B, and so on.
func SeedVIP(i int) string { return fmt.Sprintf("172.%d.17.21", 26+i) }

// SeedOnlineshop creates (or updates) the onlineshop objects in one
// cluster and then, as AKO does once Avi has placed the virtual service,
// writes {ip: vip, hostname: onlineshop's host} into the Ingress status.
// Running it twice is harmless.
func SeedOnlineshop(ctx context.Context, cs kubernetes.Interface, vip string) error {
	if err := EnsureIngressClass(ctx, cs, OnlineshopIngressClass, AKOController); err != nil {
		return err
	}
	if err := EnsureNamespace(ctx, cs, OnlineshopNamespace); err != nil {
		return err
	}
	ports := []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}
	// Selects the frontend pods (app=frontend); it deliberately lacks the
	// GSLB label: only the Ingress is published.
	if _, err := CreateLoadBalancerService(ctx, cs, OnlineshopNamespace, OnlineshopService, map[string]string{"app": "frontend"}, nil, ports); err != nil {
		return err
	}
	if _, err := CreateIngress(ctx, cs, IngressSpec{
		Namespace: OnlineshopNamespace,
		Name:      OnlineshopIngress,
		Labels:    GSLBLabels(),
		ClassName: OnlineshopIngressClass,
		Hosts:     []string{OnlineshopHost},
		Service:   OnlineshopService,
		Port:      80,
	}); err != nil {
		return err
	}
	return SetAKOIngressStatus(ctx, cs, OnlineshopNamespace, OnlineshopIngress, HostVIP{Host: OnlineshopHost, IP: vip})
}

// EnsureNamespace creates ns if it does not exist.
func EnsureNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return nil
}

// EnsureIngressClass creates a cluster-scoped IngressClass if missing, as
// installing AKO does.
func EnsureIngressClass(ctx context.Context, cs kubernetes.Interface, name, controller string) error {
	ic := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       networkingv1.IngressClassSpec{Controller: controller},
	}
	_, err := cs.NetworkingV1().IngressClasses().Create(ctx, ic, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating IngressClass %s: %w", name, err)
	}
	return nil
}

// IngressSpec describes an Ingress with one rule per host, each routing /
// (Prefix) to Service:Port.
type IngressSpec struct {
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	ClassName   string   // spec.ingressClassName; empty leaves it unset
	Hosts       []string // one rule per host
	TLSHosts    []string // listed in one spec.tls entry (secret "<name>-tls"); empty means no TLS
	Service     string
	Port        int32
}

func (s IngressSpec) object() *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, Labels: s.Labels, Annotations: s.Annotations},
	}
	if s.ClassName != "" {
		ing.Spec.IngressClassName = &s.ClassName
	}
	for _, h := range s.Hosts {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
			Host: h,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path:     "/",
					PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: s.Service,
						Port: networkingv1.ServiceBackendPort{Number: s.Port},
					}},
				}},
			}},
		})
	}
	if len(s.TLSHosts) > 0 {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: s.TLSHosts, SecretName: s.Name + "-tls"}}
	}
	return ing
}

// CreateIngress creates the Ingress, or brings an existing one's labels,
// annotations and spec to what s describes. Its status is left untouched.
func CreateIngress(ctx context.Context, cs kubernetes.Interface, s IngressSpec) (*networkingv1.Ingress, error) {
	api := cs.NetworkingV1().Ingresses(s.Namespace)
	want := s.object()
	got, err := api.Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		return got, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating ingress %s/%s: %w", s.Namespace, s.Name, err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Labels, cur.Annotations, cur.Spec = want.Labels, want.Annotations, want.Spec
		got, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating ingress %s/%s: %w", s.Namespace, s.Name, err)
	}
	return got, nil
}

// SetIngressStatus writes status.loadBalancer.ingress through the status
// subresource, as an ingress controller such as ingress-nginx does: one
// entry per IP, then one per hostname (a cloud load balancer's name). It
// replaces whatever was there.
func SetIngressStatus(ctx context.Context, cs kubernetes.Interface, ns, name string, ips, hostnames []string) error {
	var lb []networkingv1.IngressLoadBalancerIngress
	for _, ip := range ips {
		lb = append(lb, networkingv1.IngressLoadBalancerIngress{IP: ip})
	}
	for _, h := range hostnames {
		lb = append(lb, networkingv1.IngressLoadBalancerIngress{Hostname: h})
	}
	return SetIngressStatusEntries(ctx, cs, ns, name, lb)
}

// HostVIP is one entry of an Ingress status as AKO writes it.
type HostVIP struct{ Host, IP string }

// SetAKOIngressStatus writes the status the way AKO does: one entry per
// host, {ip, hostname: <host>}. AKO may place the hosts of one Ingress on
// different virtual services, so hosts can have different VIPs.
func SetAKOIngressStatus(ctx context.Context, cs kubernetes.Interface, ns, name string, entries ...HostVIP) error {
	var lb []networkingv1.IngressLoadBalancerIngress
	for _, e := range entries {
		lb = append(lb, networkingv1.IngressLoadBalancerIngress{IP: e.IP, Hostname: e.Host})
	}
	return SetIngressStatusEntries(ctx, cs, ns, name, lb)
}

// SetIngressStatusEntries replaces status.loadBalancer.ingress with lb.
func SetIngressStatusEntries(ctx context.Context, cs kubernetes.Interface, ns, name string, lb []networkingv1.IngressLoadBalancerIngress) error {
	api := cs.NetworkingV1().Ingresses(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.LoadBalancer.Ingress = lb
		_, err = api.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("updating status of ingress %s/%s: %w", ns, name, err)
	}
	return nil
}

// ClearIngressStatus empties the Ingress's load-balancer status, as when
// the controller withdraws the virtual service.
func ClearIngressStatus(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	return SetIngressStatus(ctx, cs, ns, name, nil, nil)
}

// CreateLoadBalancerService creates a type=LoadBalancer Service selecting
// pods by labels (also set as its own labels), or updates an existing one's
// labels, annotations, selector and ports. The apiserver allocates the
// ClusterIP and node ports; with no cloud controller the status stays empty
// until SetServiceStatus.
func CreateLoadBalancerService(ctx context.Context, cs kubernetes.Interface, ns, name string, labels, annotations map[string]string, ports []corev1.ServicePort) (*corev1.Service, error) {
	api := cs.CoreV1().Services(ns)
	want := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels, Ports: ports},
	}
	got, err := api.Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		return got, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating service %s/%s: %w", ns, name, err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// Edit in place so allocated fields (ClusterIP, node ports of
		// unchanged ports) are kept rather than cleared.
		cur.Labels, cur.Annotations = labels, annotations
		cur.Spec.Type, cur.Spec.Selector = corev1.ServiceTypeLoadBalancer, labels
		cur.Spec.Ports = mergeNodePorts(cur.Spec.Ports, ports)
		got, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating service %s/%s: %w", ns, name, err)
	}
	return got, nil
}

// mergeNodePorts returns want with node ports carried over from the
// existing ports of the same port number, so an update does not ask the
// apiserver to reallocate them.
func mergeNodePorts(have, want []corev1.ServicePort) []corev1.ServicePort {
	out := make([]corev1.ServicePort, len(want))
	copy(out, want)
	for i := range out {
		for _, h := range have {
			if h.Port == out[i].Port && h.Protocol == out[i].Protocol && out[i].NodePort == 0 {
				out[i].NodePort = h.NodePort
			}
		}
	}
	return out
}

// SetServiceStatus writes status.loadBalancer.ingress of a Service (IPs,
// then hostnames), as a load-balancer controller does.
func SetServiceStatus(ctx context.Context, cs kubernetes.Interface, ns, name string, ips, hostnames []string) error {
	var lb []corev1.LoadBalancerIngress
	vip := corev1.LoadBalancerIPModeVIP
	for _, ip := range ips {
		lb = append(lb, corev1.LoadBalancerIngress{IP: ip, IPMode: &vip})
	}
	for _, h := range hostnames {
		lb = append(lb, corev1.LoadBalancerIngress{Hostname: h})
	}
	api := cs.CoreV1().Services(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.LoadBalancer.Ingress = lb
		_, err = api.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("updating status of service %s/%s: %w", ns, name, err)
	}
	return nil
}
