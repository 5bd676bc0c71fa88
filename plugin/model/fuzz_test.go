package model

import (
	"strings"
	"testing"
)

// FuzzAnnotations parses arbitrary gslb.io/ annotations, one `key=value`
// per line of the input (keys without the prefix get it). A value is
// either accepted within its documented range or reported in an error
// that names its annotation; it never panics and never half-applies.
func FuzzAnnotations(f *testing.F) {
	f.Add("weight=5\npriority=100\nttl=30\nanswers=1")
	f.Add("algorithm=topology\nfallback-algorithm=consistent-hash\nhash-mask=24,56")
	f.Add("down-response=fallback 192.0.2.1 2001:db8::1\nhealth-check=https\nhealth-port=8443\nhealth-path=/healthz")
	f.Add("down-response=cname maintenance.example.org\nweight= 0 \nhash-mask=33")
	f.Add("health-check=tcp\nhealth-port=0\nttl=-1\nanswers=1001")
	f.Fuzz(func(t *testing.T, in string) {
		ann := map[string]string{}
		for _, line := range strings.Split(in, "\n") {
			k, v, _ := strings.Cut(line, "=")
			if !strings.HasPrefix(k, AnnotationPrefix) {
				k = AnnotationPrefix + k
			}
			ann[k] = v
		}
		o, check, errs := ParseAnnotations(ann)
		for _, err := range errs {
			msg := err.Error()
			named := false
			for k := range ann {
				if strings.Contains(msg, "annotation "+k+"=") {
					named = true
				}
			}
			if !named {
				t.Fatalf("error %q names no annotation", msg)
			}
		}
		// Never half-applies: a value reported bad is not set at all.
		for name, v := range map[string]Opt{"weight": o.Weight, "priority": o.Priority, "ttl": o.TTL, "answers": o.Answers} {
			for _, err := range errs {
				if v.Set && strings.Contains(err.Error(), "annotation "+AnnotationPrefix+name+"=") {
					t.Fatalf("%s set to %d although reported bad: %v", name, v.V, err)
				}
			}
		}
		inRange := func(name string, v Opt, lo, hi int) {
			if v.Set && (v.V < lo || v.V > hi) {
				t.Fatalf("%s %d accepted outside %d-%d", name, v.V, lo, hi)
			}
		}
		inRange("weight", o.Weight, 0, MaxWeight)
		inRange("priority", o.Priority, 0, MaxPriority)
		inRange("ttl", o.TTL, 0, MaxTTL)
		inRange("answers", o.Answers, 0, MaxAnswers)
		inRange("hash mask v4", o.HashMask4, 0, 32)
		inRange("hash mask v6", o.HashMask6, 0, 128)
		if o.Fallback == Topology {
			t.Fatal("topology accepted as a fallback")
		}
		switch o.Down.Kind {
		case DownFallback:
			if !o.Down.V4.IsValid() && !o.Down.V6.IsValid() {
				t.Fatalf("fallback down response without an address: %+v", o.Down)
			}
			if o.Down.V4.IsValid() && !o.Down.V4.Is4() || o.Down.V6.IsValid() && !o.Down.V6.Is6() {
				t.Fatalf("fallback addresses of the wrong family: %+v", o.Down)
			}
		case DownCNAME:
			if o.Down.Target == "" || !strings.HasSuffix(o.Down.Target, ".") || o.Down.Target != strings.ToLower(o.Down.Target) {
				t.Fatalf("CNAME down response target %q not fully qualified lower case", o.Down.Target)
			}
		}
		if check.Path != "" && !strings.HasPrefix(check.Path, "/") {
			t.Fatalf("health path %q does not start with /", check.Path)
		}
		_ = check.Apply(Check{})
		_ = o.Down.String()
	})
}
