package amko

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/yaml"
)

// FuzzCompile decodes arbitrary objects (a YAML or JSON stream, as the
// API server would hand them over unstructured) into GDPs, GSLBHostRules
// and GSLBConfigs by their kind, and compiles them. Compile must not
// panic, must give every object a verdict naming it, must reject with a
// reason, and must be a pure function: the same objects compile to the
// same verdicts again.
func FuzzCompile(f *testing.F) {
	f.Add(gdpYAML)
	f.Add(hostRuleYAML)
	f.Add(gdpYAML + "\n---\n" + hostRuleYAML)
	f.Add(`{"kind":"GSLBConfig","metadata":{"namespace":"avi-system","name":"gc"},"spec":{"memberClusters":[{"clusterContext":"` + ctxA + `"},{"clusterContext":"nowhere"}]}}`)
	f.Add(`{"kind":"GlobalDeploymentPolicy","metadata":{"name":"g"},"spec":{"trafficSplit":[{"cluster":"` + ctxA + `","weight":21,"priority":-1}],"ttl":86401,"poolAlgorithmSettings":{"lbAlgorithm":"GSLB_ALGORITHM_CONSISTENT_HASH","hashMask":32},"downResponse":{"type":"GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP","fallbackIP":"not-an-ip"}}}`)
	f.Add(`{"kind":"GSLBHostRule","metadata":{"name":"h"},"spec":{"fqdn":"*.gslb.sddc.lab","thirdPartyMembers":[{"site":"dc3","vip":"::1"}],"publicIP":[{"cluster":"` + ctxB + `","ip":"203.0.113.9"}]}}`)
	f.Fuzz(func(t *testing.T, stream string) {
		var gdps []GlobalDeploymentPolicy
		var rules []GSLBHostRule
		var configs []GSLBConfig
		dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
		for range 16 {
			var obj map[string]any
			if dec.Decode(&obj) != nil {
				break
			}
			switch obj["kind"] {
			case "GlobalDeploymentPolicy":
				var g GlobalDeploymentPolicy
				if fromUnstructured(obj, &g) == nil {
					gdps = append(gdps, g)
				}
			case "GSLBHostRule":
				var r GSLBHostRule
				if fromUnstructured(obj, &r) == nil {
					rules = append(rules, r)
				}
			case "GSLBConfig":
				var c GSLBConfig
				if fromUnstructured(obj, &c) == nil {
					configs = append(configs, c)
				}
			}
		}
		env := testEnv()
		snap, verdicts := Compile(env, gdps, rules, nil, configs...)
		if snap == nil {
			t.Fatal("no snapshot")
		}
		if len(verdicts) != len(gdps)+len(rules)+len(configs) {
			t.Fatalf("%d verdicts for %d objects", len(verdicts), len(gdps)+len(rules)+len(configs))
		}
		for _, v := range verdicts {
			if !v.Accepted && v.Reason == "" {
				t.Fatalf("%s rejected without a reason", v.Key())
			}
			_ = v.Status()
		}
		for fqdn, r := range snap.Rules {
			if !env.InZone(fqdn) {
				t.Fatalf("host rule for %q outside the zone accepted", fqdn)
			}
			for _, m := range r.Members {
				if !m.Member.Addr.IsValid() && m.Member.Target == "" {
					t.Fatalf("third-party member %+v of %s has no address", m, fqdn)
				}
			}
			for _, s := range env.Sites {
				_ = snap.layer(s.Name, fqdn)
			}
		}
		_ = snap.NeedsNamespaces()
		// Pure: the same objects compile to the same verdicts. With the
		// accepted GDP as the last good one it must not panic either.
		again, verdicts2 := Compile(env, gdps, rules, nil, configs...)
		if !reflect.DeepEqual(verdicts, verdicts2) || !reflect.DeepEqual(snap, again) {
			t.Fatalf("compiling the same objects twice differs:\n%+v\n%+v", verdicts, verdicts2)
		}
		_, _ = Compile(env, gdps, rules, snap.GDP, configs...)
	})
}
