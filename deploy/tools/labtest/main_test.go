// Package labtest proves the chart on the lab's real kube-apiservers:
// every rendered variant passes server-side apply dryRun=All (real schema,
// defaulting and admission), and the image's binary runs the way the Pod
// would, with the chart's ServiceAccount, ConfigMap and Secret.
package labtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gslb/gslb/deploy/tools/chart"
	"github.com/gslb/gslb/test/lab"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

var (
	theLab   *lab.Lab
	repoRoot string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Getenv("GSLB_SKIP_LAB") != "" {
		fmt.Println("labtest: GSLB_SKIP_LAB is set: skipping the chart's lab tests")
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var err error
	if repoRoot, err = lab.FindRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	theLab, err = lab.Start(ctx, 2, lab.Options{Log: os.Stderr, AuditLog: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest: starting the lab:", err)
		return 1
	}
	defer theLab.Close()
	defer func() {
		if rootfsDir != "" {
			os.RemoveAll(rootfsDir)
		}
	}()
	crd, err := os.ReadFile(filepath.Join("..", "testdata", "crds", "monitoring.coreos.com_servicemonitors.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i, c := range theLab.Clusters {
		if err := lab.SeedOnlineshop(ctx, c.Clientset(), lab.SeedVIP(i)); err != nil {
			fmt.Fprintln(os.Stderr, "labtest: seeding:", err)
			return 1
		}
		if err := installCRD(ctx, c, string(crd)); err != nil {
			fmt.Fprintln(os.Stderr, "labtest:", err)
			return 1
		}
	}
	return m.Run()
}

// applier applies unstructured objects with server-side apply, like
// `kubectl apply --server-side` (and Helm 4) do.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(c *lab.Cluster) (*applier, error) {
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		return nil, err
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

func (a *applier) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		a.mapper.Reset()
		if m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("%s is not served: %w", gvk, err)
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dyn.Resource(m.Resource).Namespace(o.GetNamespace()), nil
	}
	return a.dyn.Resource(m.Resource), nil
}

// apply sends o with server-side apply; dryRun runs every admission and
// validation step of the API server and stores nothing.
func (a *applier) apply(ctx context.Context, o *unstructured.Unstructured, dryRun bool) error {
	r, err := a.resource(o)
	if err != nil {
		return err
	}
	opts := metav1.ApplyOptions{FieldManager: "gslb-chart-test", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = r.Apply(ctx, o.GetName(), o, opts)
	return err
}

func installCRD(ctx context.Context, c *lab.Cluster, y string) error {
	objs, err := chart.Objects(y)
	if err != nil {
		return err
	}
	a, err := newApplier(c)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := a.apply(ctx, o, false); err != nil {
			return fmt.Errorf("%s: installing CRD %s: %w", c.Name, o.GetName(), err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			a.mapper.Reset()
			if _, err := a.mapper.RESTMapping(schemaGK(o), "v1"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: CRD %s not served after 60 s", c.Name, o.GetName())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func ensureNamespace(ctx context.Context, c *lab.Cluster, ns string) error {
	err := lab.EnsureNamespace(ctx, c.Clientset(), ns)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
