package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	authv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TestLeastPrivilege applies deploy/rbac.yaml to both clusters (and
// deploy/rbac-amko.yaml to the AMKO leader, site A) and runs
// bin/coredns as the gslb ServiceAccount (a kubeconfig with its tokens):
// the lab's API servers enforce RBAC, so this proves the manifest grants
// enough, and nothing more than reading what gslb publishes.
func TestLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	root, err := lab.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(root, "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	amkoManifest, err := os.ReadFile(filepath.Join(root, "deploy", "rbac-amko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Exercise every permission: AMKO's objects are listed in the leader,
	// EndpointSlices everywhere (the seed's Service gets a ready one).
	installAmkoCRDs(t)
	// The Gateway API and OpenShift Route kinds are watched where served:
	// site A serves them (site B does not, and is skipped).
	installGatewayAPI(t)
	if err := theLab.Clusters[0].InstallCRDs(ctx, routeCRDManifest(t)); err != nil {
		t.Fatal(err)
	}
	for i := range theLab.Clusters {
		setEndpoints(t, i, lab.OnlineshopNamespace, lab.OnlineshopService, true)
		t.Cleanup(func() {
			site(i).DiscoveryV1().EndpointSlices(lab.OnlineshopNamespace).Delete(context.Background(), lab.OnlineshopService+"-1", metav1.DeleteOptions{})
		})
	}
	kc := clientcmdapi.NewConfig()
	for i, c := range theLab.Clusters {
		applyManifest(t, c.Clientset(), manifest)
		if i == 0 { // site A is the AMKO leader
			if err := lab.EnsureNamespace(ctx, c.Clientset(), "avi-system"); err != nil {
				t.Fatal(err)
			}
			applyManifest(t, c.Clientset(), amkoManifest)
		}
		tok, err := c.Clientset().CoreV1().ServiceAccounts("gslb-system").CreateToken(ctx, "gslb",
			&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: token for the gslb ServiceAccount: %v", c.Name, err)
		}
		kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.APIServerURL, CertificateAuthorityData: c.CAData()}
		kc.AuthInfos["gslb@"+c.Name] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
		kc.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: "gslb@" + c.Name}

		// The token really is limited: no Secrets.
		limited, err := kubernetes.NewForConfig(&rest.Config{Host: c.APIServerURL, BearerToken: tok.Status.Token,
			TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := limited.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("%s: the gslb ServiceAccount can list Secrets (err %v): RBAC is not enforced or too wide", c.Name, err)
		}
		// Events (the `events` property): create and patch, nothing more.
		ev, err := limited.CoreV1().Events("default").Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "gslb-rbac-"},
			InvolvedObject: corev1.ObjectReference{Kind: "Namespace", Name: "default", APIVersion: "v1"},
			Reason:         "RBACCheck", Message: "TestLeastPrivilege", Type: corev1.EventTypeNormal,
			Source: corev1.EventSource{Component: "gslb"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: the gslb ServiceAccount cannot create an Event: %v", c.Name, err)
		}
		if _, err := limited.CoreV1().Events("default").Patch(ctx, ev.Name, types.StrategicMergePatchType, []byte(`{"count":2}`), metav1.PatchOptions{}); err != nil {
			t.Errorf("%s: the gslb ServiceAccount cannot patch its Event: %v", c.Name, err)
		}
		if _, err := limited.CoreV1().Events("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("%s: the gslb ServiceAccount can list Events (err %v): only create and patch are granted", c.Name, err)
		}
		if err := limited.CoreV1().Events("default").Delete(ctx, ev.Name, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("%s: the gslb ServiceAccount can delete Events (err %v): only create and patch are granted", c.Name, err)
		}
	}
	kubeconfig := filepath.Join(t.TempDir(), "gslb-members")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}

	body := strings.Replace(gslbBlock("endpoint_readiness", "events", "amko "+theLab.Clusters[0].Context, "resources ingress service gatewayapi route"), "kubeconfig "+theLab.Kubeconfig, "kubeconfig "+kubeconfig, 1)
	s := startServer(t, body)
	s.eventually("onlineshop.gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.21", "172.27.17.21")
	if !strings.Contains(s.Log(), "AMKO: policy objects") {
		t.Errorf("the AMKO objects were not listed with the ServiceAccount's rights:\n%s", s.Log())
	}
	if strings.Contains(strings.ToLower(s.Log()), "forbidden") {
		t.Errorf("a request was forbidden: deploy/rbac.yaml misses a permission:\n%s", s.Log())
	}
}

// applyManifest creates the typed objects of a multi-document YAML file
// (the kinds deploy/rbac.yaml uses), or leaves existing ones in place.
func applyManifest(t *testing.T, cs kubernetes.Interface, manifest []byte) {
	t.Helper()
	ctx := context.Background()
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("deploy/rbac.yaml: %v", err)
		}
		err = create(ctx, cs, obj)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("applying %T: %v", obj, err)
		}
	}
}

func create(ctx context.Context, cs kubernetes.Interface, obj runtime.Object) error {
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = cs.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
	case *corev1.ServiceAccount:
		_, err = cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRole:
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRoleBinding:
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.Role:
		_, err = cs.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.RoleBinding:
		_, err = cs.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *coordinationv1.Lease: // deploy/rbac-vantage.yaml
		_, err = cs.CoordinationV1().Leases(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.ConfigMap:
		_, err = cs.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	default:
		return errors.New("unexpected kind in the manifest")
	}
	return err
}
