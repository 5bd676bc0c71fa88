// Package chart renders deploy/helm/gslb with Helm's own engine (what `helm
// template` runs), so that tests and deploy/manifests see exactly what
// `helm install` would send.
package chart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Release name and namespace the plain manifests and the tests use; with
// them every object is called "gslb", as in deploy/rbac.yaml.
const (
	ReleaseName = "gslb"
	Namespace   = "gslb-system"
)

// Dir is the chart's directory under the repository root.
func Dir(root string) string { return filepath.Join(root, "deploy", "helm", "gslb") }

// Render renders the chart with values layered over values.yaml (and
// checked by values.schema.json), for a v1.37 cluster, as release "gslb" in
// namespace "gslb-system".
func Render(chartDir string, values map[string]any) (string, error) {
	return RenderIn(chartDir, Namespace, values)
}

// RenderIn is Render for another namespace.
func RenderIn(chartDir, namespace string, values map[string]any) (string, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return "", err
	}
	inst := action.NewInstall(action.NewConfiguration())
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName = ReleaseName
	inst.Namespace = namespace
	inst.Replace = true
	inst.KubeVersion = &common.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}
	if values == nil {
		values = map[string]any{}
	}
	r, err := inst.Run(ch, values)
	if err != nil {
		return "", err
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return "", fmt.Errorf("unexpected release type %T", r)
	}
	return strings.TrimSpace(rel.Manifest) + "\n", nil
}

// Values parses YAML into a values map (what -f values.yaml does).
func Values(y string) (map[string]any, error) {
	v := map[string]any{}
	err := yaml.Unmarshal([]byte(y), &v)
	return v, err
}

// Objects splits a rendered manifest into objects.
func Objects(manifest string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%w in\n%s", err, doc)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("%w in\n%s", err, doc)
		}
		objs = append(objs, u)
	}
}

// Find returns the object of that kind and name, or nil.
func Find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// ManifestsHeader starts deploy/manifests/gslb.yaml.
const ManifestsHeader = `# Generated from deploy/helm/gslb with its default values (release "gslb", namespace
# "gslb-system") by ` + "`make manifests`" + `; a test keeps it in sync with the chart. Do not edit: change
# the chart, or render your own with ` + "`helm template gslb deploy/helm/gslb -n gslb-system -f my-values.yaml`" + `.
#
# Before applying: create the Secret gslb-members (key gslb-members, the merged kubeconfig of the member
# clusters; deploy/README.md), or edit the Deployment's volume to use AMKO's gslb-config-secret, and edit the
# ConfigMap's Corefile (zone, sites, name servers) and the image.
---
apiVersion: v1
kind: Namespace
metadata:
  name: gslb-system
`

// PlainManifests is deploy/manifests/gslb.yaml: the Namespace, then the
// chart rendered with its defaults.
func PlainManifests(chartDir string) ([]byte, error) {
	m, err := Render(chartDir, nil)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(ManifestsHeader)
	b.WriteString(m)
	return b.Bytes(), nil
}

// ManifestsFile is where PlainManifests is kept, under the repository root.
func ManifestsFile(root string) string {
	return filepath.Join(root, "deploy", "manifests", "gslb.yaml")
}
