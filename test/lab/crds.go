package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// GatewayAPIModule is the Gateway API release whose standard-channel CRDs
// the tests install: every kind gslb reads is served at v1 there.
const GatewayAPIModule = "sigs.k8s.io/gateway-api@v1.6.3"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// GatewayAPICRDs returns the standard-channel CRD manifests of the given
// Gateway API resources ("gateways", "httproutes", ...), read from the
// pinned module, which `go mod download` fetches into the module cache the
// first time (the module is not a dependency of gslb's code).
func GatewayAPICRDs(ctx context.Context, resources ...string) ([][]byte, error) {
	goBin, err := findGo()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", GatewayAPIModule)
	// Outside any module: the download must not touch gslb's go.mod/go.sum.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: %v %s", GatewayAPIModule, err, info.Error)
	}
	var docs [][]byte
	for _, r := range resources {
		b, err := os.ReadFile(filepath.Join(info.Dir, "config", "crd", "standard", "gateway.networking.k8s.io_"+r+".yaml"))
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return docs, nil
}

// InstallCRDs creates CustomResourceDefinitions (one YAML manifest each) in
// the cluster, or leaves them when they exist, and waits until the API
// server serves their resources.
func (c *Cluster) InstallCRDs(ctx context.Context, manifests ...[]byte) error {
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	for _, m := range manifests {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(m, &u.Object); err != nil {
			return fmt.Errorf("CRD manifest: %w", err)
		}
		if _, err := dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: creating CRD %s: %w", c.Name, u.GetName(), err)
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
		var version string
		for _, v := range versions {
			if m, ok := v.(map[string]any); ok && m["storage"] == true {
				version, _ = m["name"].(string)
			}
		}
		gvr := schema.GroupVersionResource{Group: group, Version: version, Resource: plural}
		// Served once a list answers (Established, and known to the
		// handler chain).
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %s not served 60 s after creating its CRD: %w", c.Name, gvr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// DeleteCRD removes a CustomResourceDefinition (and with it every object of
// its kind) and waits until it is gone.
func (c *Cluster) DeleteCRD(ctx context.Context, name string) error {
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	if err := dyn.Resource(crdGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: CRD %s still there 90 s after its deletion", c.Name, name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
