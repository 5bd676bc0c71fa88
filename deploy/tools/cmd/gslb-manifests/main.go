// Command gslb-manifests writes deploy/manifests/gslb.yaml from the chart
// (`make manifests`); TestManifestsInSync fails when it is stale.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gslb/gslb/deploy/tools/chart"
)

func main() {
	root := flag.String("root", "../..", "the repository root")
	flag.Parse()
	b, err := chart.PlainManifests(chart.Dir(*root))
	if err == nil {
		err = os.WriteFile(chart.ManifestsFile(*root), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gslb-manifests:", err)
		os.Exit(1)
	}
}
