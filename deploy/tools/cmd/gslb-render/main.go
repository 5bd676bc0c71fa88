// Command gslb-render is `helm template` for deploy/helm/gslb without a
// helm binary (Helm's own engine, release "gslb"). With -pod-on NODE it
// prints instead the Pod the Deployment would make, bound to NODE, for
// clusters without a scheduler and controller-manager (kubelet-pod.sh).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/gslb/gslb/deploy/tools/chart"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func main() {
	root := flag.String("root", "../..", "the repository root")
	valuesFile := flag.String("f", "", "a values file")
	ns := flag.String("n", chart.Namespace, "the namespace")
	node := flag.String("pod-on", "", "print the Deployment's Pod for this node instead")
	probeHost := flag.String("probe-host", "", "with -pod-on: the host the kubelet's probes connect to (default: the Pod IP)")
	flag.Parse()
	values := map[string]any{}
	if *valuesFile != "" {
		b, err := os.ReadFile(*valuesFile)
		check(err)
		values, err = chart.Values(string(b))
		check(err)
	}
	m, err := chart.RenderIn(chart.Dir(*root), *ns, values)
	check(err)
	if *node == "" {
		fmt.Print(m)
		return
	}
	objs, err := chart.Objects(m)
	check(err)
	d := chart.Find(objs, "Deployment", chart.ReleaseName)
	if d == nil {
		check(fmt.Errorf("no Deployment %q rendered", chart.ReleaseName))
	}
	tmpl, _, _ := unstructured.NestedMap(d.Object, "spec", "template")
	spec := tmpl["spec"].(map[string]any)
	spec["nodeName"] = *node
	if *probeHost != "" {
		for _, c := range spec["containers"].([]any) {
			for _, p := range []string{"livenessProbe", "readinessProbe"} {
				unstructured.SetNestedField(c.(map[string]any), *probeHost, p, "httpGet", "host")
			}
		}
	}
	meta := tmpl["metadata"].(map[string]any)
	meta["name"], meta["namespace"] = chart.ReleaseName+"-0", *ns
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
	check(json.NewEncoder(os.Stdout).Encode(pod))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gslb-render:", err)
		os.Exit(1)
	}
}
