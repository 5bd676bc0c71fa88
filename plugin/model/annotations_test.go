package model

import (
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestParseAnnotations covers every gslb.io/ annotation: a good value sets
// its field, a bad one is reported (naming the annotation) and leaves the
// field unset so the object falls back to the other layers.
func TestParseAnnotations(t *testing.T) {
	for _, tc := range annotationCases {
		name := tc.key + "=" + tc.val
		o, c, errs := ParseAnnotations(map[string]string{tc.key: tc.val, "other.io/weight": "99"})
		if o != tc.wantO || c != tc.wantC {
			t.Errorf("%s: got %+v %+v, want %+v %+v", name, o, c, tc.wantO, tc.wantC)
		}
		switch {
		case tc.wantErr == "" && len(errs) > 0:
			t.Errorf("%s: unexpected errors %v", name, errs)
		case tc.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr) || !strings.Contains(errs[0].Error(), tc.key)):
			t.Errorf("%s: errors %v, want one naming %s and saying %q", name, errs, tc.key, tc.wantErr)
		}
	}
}

var annotationCases = []struct {
	key, val string
	wantO    Overrides
	wantC    CheckSpec
	wantErr  string // substring of the error; "" for none
}{
	{key: AnnotationWeight, val: "5", wantO: Overrides{Weight: Some(5)}},
	{key: AnnotationWeight, val: " 0 ", wantO: Overrides{Weight: Some(0)}},
	{key: AnnotationWeight, val: "21", wantErr: "between 0 and 20"},
	{key: AnnotationWeight, val: "heavy", wantErr: "between 0 and 20"},
	{key: AnnotationPriority, val: "100", wantO: Overrides{Priority: Some(100)}},
	{key: AnnotationPriority, val: "-1", wantErr: "between 0 and 100"},
	{key: AnnotationAlgorithm, val: "weighted", wantO: Overrides{Algorithm: Weighted}},
	{key: AnnotationAlgorithm, val: "GSLB_ALGORITHM_CONSISTENT_HASH", wantO: Overrides{Algorithm: ConsistentHash}},
	{key: AnnotationAlgorithm, val: "random", wantErr: "round-robin, weighted, consistent-hash or topology"},
	{key: AnnotationFallback, val: "consistent-hash", wantO: Overrides{Fallback: ConsistentHash}},
	{key: AnnotationFallback, val: "topology", wantErr: "round-robin, weighted or consistent-hash"},
	{key: AnnotationHashMask, val: "16", wantO: Overrides{HashMask4: Some(16)}},
	{key: AnnotationHashMask, val: "20, 48", wantO: Overrides{HashMask4: Some(20), HashMask6: Some(48)}},
	{key: AnnotationHashMask, val: "33", wantErr: "want 1-32"},
	{key: AnnotationHashMask, val: "24 129", wantErr: "want 1-128"},
	{key: AnnotationTTL, val: "86400", wantO: Overrides{TTL: Some(86400)}},
	{key: AnnotationTTL, val: "86401", wantErr: "between 0 and 86400"},
	{key: AnnotationAnswers, val: "3", wantO: Overrides{Answers: Some(3)}},
	{key: AnnotationAnswers, val: "1001", wantErr: "between 0 and 1000"},
	{key: AnnotationDown, val: "all-records", wantO: Overrides{Down: Down{Kind: DownAllRecords}}},
	{key: AnnotationDown, val: "fallback 192.0.2.1 2001:db8::1", wantO: Overrides{Down: Down{Kind: DownFallback,
		V4: netip.MustParseAddr("192.0.2.1"), V6: netip.MustParseAddr("2001:db8::1")}}},
	{key: AnnotationDown, val: "cname Sorry.Example.NET", wantO: Overrides{Down: Down{Kind: DownCNAME, Target: "sorry.example.net."}}},
	{key: AnnotationDown, val: "fallback nowhere", wantErr: "not an IP address"},
	{key: AnnotationDown, val: "shrug", wantErr: "unknown down response"},
	{key: AnnotationHealthCheck, val: "tcp", wantC: CheckSpec{Proto: CheckTCP, ProtoSet: true}},
	{key: AnnotationHealthCheck, val: "NONE", wantC: CheckSpec{Proto: CheckNone, ProtoSet: true}},
	{key: AnnotationHealthCheck, val: "icmp", wantErr: "http, https, tcp or none"},
	{key: AnnotationHealthPort, val: "8443", wantC: CheckSpec{Port: 8443}},
	{key: AnnotationHealthPort, val: "0", wantErr: "between 1 and 65535"},
	{key: AnnotationHealthPath, val: "/healthz", wantC: CheckSpec{Path: "/healthz"}},
	{key: AnnotationHealthPath, val: "healthz", wantErr: "absolute path"},
	{key: AnnotationHealthPath, val: "/a b", wantErr: "absolute path"},
}

// TestEveryAnnotationIsCovered keeps the table above complete: an annotation
// added to the package without a case here fails.
func TestEveryAnnotationIsCovered(t *testing.T) {
	src, err := os.ReadFile("annotations.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := regexp.MustCompile(`(?m)^\s+Annotation\w+\s*= AnnotationPrefix \+ "([a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(declared) < 11 {
		t.Fatalf("found %d annotation constants in annotations.go; has their form changed?", len(declared))
	}
	for _, d := range declared {
		key := AnnotationPrefix + d[1]
		good, bad := false, false
		for _, tc := range annotationCases {
			if tc.key == key {
				good, bad = good || tc.wantErr == "", bad || tc.wantErr != ""
			}
		}
		if !good || !bad {
			t.Errorf("%s: TestParseAnnotations needs a valid and an invalid case for it", key)
		}
	}
}
