package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestTransformKeepsWhatGSLBReads: the informer transform drops managed
// fields, kubectl's last-applied copy and the Service spec fields gslb
// never reads, and keeps everything records.go and readiness.go read.
func TestTransformKeepsWhatGSLBReads(t *testing.T) {
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: "x", Namespace: "ns", Labels: map[string]string{"app": "gslb"},
			Annotations:   map[string]string{lastApplied: `{"big":"copy"}`, "gslb.sddc.lab/ttl": "30"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		}
	}
	svc := &corev1.Service{ObjectMeta: meta(), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443}},
		Selector: map[string]string{"app": "x"}, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
	}, Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "172.26.17.21"}}}}}
	w := &Watcher{}
	out, _ := w.trim(svc)
	got := out.(*corev1.Service)
	if got.ManagedFields != nil || got.Annotations[lastApplied] != "" || got.Spec.Selector != nil || got.Spec.ClusterIP != "" {
		t.Errorf("service keeps what gslb never reads: %+v", got)
	}
	if got.Spec.Type != corev1.ServiceTypeLoadBalancer || len(got.Spec.Ports) != 1 || got.Annotations["gslb.sddc.lab/ttl"] != "30" ||
		got.Labels["app"] != "gslb" || len(got.Status.LoadBalancer.Ingress) != 1 {
		t.Errorf("service lost what gslb reads: %+v", got)
	}

	ing := &networkingv1.Ingress{ObjectMeta: meta(), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "app.gslb.sddc.lab"}}}}
	out, _ = w.trim(ing)
	gi := out.(*networkingv1.Ingress)
	if gi.ManagedFields != nil || gi.Annotations[lastApplied] != "" {
		t.Errorf("ingress keeps managed fields or the last-applied copy: %+v", gi.ObjectMeta)
	}
	if len(gi.Spec.Rules) != 1 || gi.Annotations["gslb.sddc.lab/ttl"] != "30" {
		t.Errorf("ingress lost what gslb reads: %+v", gi)
	}
}

// TestTrimDropsBackendsWithoutReadiness: an Ingress's backends are cached
// only when endpoint readiness may read them (endpoint_readiness, or a
// policy whose unprobed names keep it); its paths always are: each path is
// probed.
func TestTrimDropsBackendsWithoutReadiness(t *testing.T) {
	ing := func() *networkingv1.Ingress {
		backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}}
		return &networkingv1.Ingress{Spec: networkingv1.IngressSpec{
			DefaultBackend: &backend,
			Rules: []networkingv1.IngressRule{{Host: "app.gslb.sddc.lab", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", Backend: backend}}},
			}}},
		}}
	}
	without := &Watcher{}
	out, _ := without.trim(ing())
	if got := out.(*networkingv1.Ingress); got.Spec.DefaultBackend != nil || len(BackendServices(got)) != 0 || got.Spec.Rules[0].Host != "app.gslb.sddc.lab" ||
		got.Spec.Rules[0].HTTP == nil || got.Spec.Rules[0].HTTP.Paths[0].Path != "/" {
		t.Errorf("without endpoint readiness: %+v, want the host and paths without backends", got.Spec)
	}
	with := &Watcher{opts: Options{EndpointReadiness: true}}
	out, _ = with.trim(ing())
	if got := out.(*networkingv1.Ingress); got.Spec.DefaultBackend == nil || got.Spec.Rules[0].HTTP == nil || len(BackendServices(got)) == 0 {
		t.Errorf("with endpoint readiness: %+v, want the backends kept", got.Spec)
	}
}
