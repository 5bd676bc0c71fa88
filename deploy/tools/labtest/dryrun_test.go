package labtest

import (
	"context"
	"strings"
	"testing"

	"github.com/gslb/gslb/deploy/tools/chart"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func schemaGK(crd *unstructured.Unstructured) schema.GroupKind {
	g, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	k, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	return schema.GroupKind{Group: g, Kind: k}
}

// Variants of the chart a user can install; each must be accepted by a real
// kube-apiserver as rendered.
var variants = map[string]string{
	"defaults": "",
	"amko existingSecret": `
kubeconfig: {existingSecret: gslb-config-secret}
rbac: {amko: true}
gslb:
  amko: {enabled: true, context: sitea-tkg-wld01-admin@sitea-tkg-wld01, status: true}
`,
	"avi source": `
gslb:
  sites: []
  avi:
    enabled: true
    controller: https://avi-leader.sddc.lab
    tenant: admin
    credentials: "username: gslb\npassword: secret\n"
    ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
`,
	"avi existingSecret": `
gslb:
  avi: {enabled: true, controller: "https://avi-leader.sddc.lab:8443", existingSecret: avi-credentials, caKey: ca.pem}
`,
	"hostNetwork": `
hostNetwork: true
service: {type: ClusterIP}
`,
	"nodePort": `
service: {type: NodePort, nodePorts: {udp: 30053, tcp: 30053}}
`,
	"serviceMonitor on": `
metrics: {serviceMonitor: {enabled: true, labels: {release: prometheus}}}
`,
	"serviceMonitor off, no metrics Service": `
metrics: {service: {enabled: false}, serviceMonitor: {enabled: false}}
`,
	"networkPolicy": `
networkPolicy: {enabled: true, dnsFrom: [{ipBlock: {cidr: 0.0.0.0/0}}]}
`,
	"in-cluster": `
gslb: {inCluster: {enabled: true, site: sitea}}
`,
	"everything": `
kubeconfig: {content: "apiVersion: v1\nkind: Config\n"}
replicaCount: 3
gslb:
  policy: consistent-hash
  weights: {sitea: 3, siteb: 1}
  priorities: {sitea: 20}
  downResponse: fallback 192.0.2.1
  health: {check: "http 80 /healthz", interval: 2s, timeout: 1s, fall: 3, rise: 2, targets: [10.0.0.0/8]}
  endpointReadiness: true
corefile: {log: true, extraPlugins: "loadbalance"}
service: {loadBalancerIP: 172.26.17.53, loadBalancerSourceRanges: [0.0.0.0/0], annotations: {example.com/x: "y"}}
podDisruptionBudget: {maxUnavailable: 50%}
priorityClassName: system-cluster-critical
tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
`,
}

// Every variant, server-side applied with dryRun=All in namespace
// gslb-dryrun of both clusters: the real OpenAPI schema, defaulting and
// admission see every object, and nothing is stored.
func TestServerSideDryRun(t *testing.T) {
	ctx := context.Background()
	const ns = "gslb-dryrun"
	for _, c := range theLab.Clusters {
		for _, n := range []string{ns, "avi-system"} {
			if err := ensureNamespace(ctx, c, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, values := range variants {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			v, err := chart.Values(values)
			if err != nil {
				t.Fatal(err)
			}
			m, err := chart.RenderIn(chart.Dir(repoRoot), ns, v)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := chart.Objects(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range theLab.Clusters {
				a, err := newApplier(c)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range objs {
					if err := a.apply(ctx, o, true); err != nil {
						t.Errorf("%s: %s %s/%s refused: %v", c.Name, o.GetKind(), o.GetNamespace(), o.GetName(), err)
					}
				}
				// dryRun stored nothing.
				if _, err := c.Clientset().AppsV1().Deployments(ns).Get(ctx, "gslb", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("%s: the dry run stored the Deployment (err %v)", c.Name, err)
				}
			}
		})
	}
}

// The dry run is not a rubber stamp: the API server refuses what its
// schema refuses, even when the chart's values schema lets it through.
func TestServerSideDryRunRefuses(t *testing.T) {
	ctx := context.Background()
	c := theLab.Clusters[0]
	if err := ensureNamespace(ctx, c, "gslb-dryrun"); err != nil {
		t.Fatal(err)
	}
	v, _ := chart.Values(`podDisruptionBudget: {maxUnavailable: "lots"}`)
	m, err := chart.RenderIn(chart.Dir(repoRoot), "gslb-dryrun", v)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := chart.Objects(m)
	a, err := newApplier(c)
	if err != nil {
		t.Fatal(err)
	}
	pdb := chart.Find(objs, "PodDisruptionBudget", "gslb")
	if err := a.apply(ctx, pdb, true); err == nil {
		t.Fatalf("a PodDisruptionBudget with maxUnavailable \"lots\" was accepted")
	}
}
