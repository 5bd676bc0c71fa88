package amko

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

const (
	ctxA = "sitea-tkg-wld01-admin@sitea-tkg-wld01"
	ctxB = "siteb-tkg-wld01-admin@siteb-tkg-wld01"
)

func testEnv() *Env {
	return &Env{
		Sites:         []Site{{Name: "sitea", Context: ctxA}, {Name: "siteb", Context: ctxB}},
		InZone:        func(f string) bool { return dns.IsSubDomain("gslb.sddc.lab.", f) },
		Zones:         []string{"gslb.sddc.lab."},
		DefaultWeight: 1,
	}
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func meta(name string, age int) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "avi-system", Name: name, CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Minute))}
}

// decode reads an object as AMKO's documentation writes it.
func decode(t *testing.T, doc string, into any) {
	t.Helper()
	var obj map[string]any
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096).Decode(&obj); err != nil {
		t.Fatal(err)
	}
	if err := fromUnstructured(obj, into); err != nil {
		t.Fatal(err)
	}
}

const gdpYAML = `
apiVersion: amko.vmware.com/v1alpha2
kind: GlobalDeploymentPolicy
metadata:
  name: global-gdp
  namespace: avi-system
spec:
  matchRules:
    appSelector:
      label:
        app: gslb
  matchClusters:
    - cluster: sitea-tkg-wld01-admin@sitea-tkg-wld01
    - cluster: siteb-tkg-wld01-admin@siteb-tkg-wld01
  trafficSplit:
    - cluster: sitea-tkg-wld01-admin@sitea-tkg-wld01
      weight: 8
      priority: 20
    - cluster: siteb-tkg-wld01-admin@siteb-tkg-wld01
      weight: 2
      priority: 10
  ttl: 10
  healthMonitorRefs:
  - my-health-monitor1
  poolAlgorithmSettings:
    lbAlgorithm: GSLB_ALGORITHM_ROUND_ROBIN
  downResponse:
    type: GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP
    fallbackIP: 192.0.2.53
`

func mustGDP(t *testing.T) GlobalDeploymentPolicy {
	var g GlobalDeploymentPolicy
	decode(t, gdpYAML, &g)
	g.CreationTimestamp = metav1.NewTime(epoch)
	return g
}

func TestGDPAsAMKODocumentsIt(t *testing.T) {
	env := testEnv()
	env.Selector = "app=gslb"
	snap, vs := Compile(env, []GlobalDeploymentPolicy{mustGDP(t)}, nil, nil)
	if len(vs) != 1 || !vs[0].Accepted {
		t.Fatalf("verdicts: %+v", vs)
	}
	if !strings.Contains(vs[0].Summary, "labelled app=gslb of sites sitea, siteb among those the Corefile selector app=gslb watches") {
		t.Errorf("summary: %s", vs[0].Summary)
	}
	if len(vs[0].Notes) != 1 || !strings.Contains(vs[0].Notes[0], "healthMonitorRefs") {
		t.Errorf("notes: %q", vs[0].Notes)
	}
	g := snap.GDP
	if g == nil || g.Nothing || !g.Sites["sitea"] || !g.Sites["siteb"] || g.App["app"] != "gslb" || g.Namespace != nil {
		t.Fatalf("gdp: %+v", g)
	}
	a := snap.layer("sitea", "web.gslb.sddc.lab.")
	want := model.Overrides{
		Weight: model.Some(8), Priority: model.Some(20), TTL: model.Some(10),
		// Round robin with different weights is Avi's weighted round robin.
		Algorithm: model.Weighted,
		Down:      model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.53")},
	}
	if a.Overrides != want || a.NoProbe || a.PublicIP.IsValid() {
		t.Errorf("site A layer:\n got %+v\nwant %+v", a, want)
	}
	b := snap.layer("siteb", "web.gslb.sddc.lab.")
	if b.Overrides.Weight != model.Some(2) || b.Overrides.Priority != model.Some(10) {
		t.Errorf("site B layer: %+v", b.Overrides)
	}
}

func TestGDPSelection(t *testing.T) {
	env := testEnv()
	for _, tc := range []struct {
		name    string
		spec    GDPSpec
		nothing bool
		reject  string
	}{
		{name: "no matchRules selects nothing", spec: GDPSpec{MatchClusters: []MatchCluster{{Cluster: ctxA}}}, nothing: true},
		{name: "no matchClusters selects nothing", spec: GDPSpec{MatchRules: MatchRules{AppSelector: LabelSelector{Label: map[string]string{"app": "gslb"}}}}, nothing: true},
		{name: "namespace selector alone", spec: GDPSpec{
			MatchRules:    MatchRules{NamespaceSelector: LabelSelector{Label: map[string]string{"ns": "gslb"}}},
			MatchClusters: []MatchCluster{{Cluster: ctxB}},
		}},
		{name: "unknown cluster", spec: GDPSpec{MatchClusters: []MatchCluster{{Cluster: "nowhere"}}}, reject: `matchClusters: cluster context "nowhere" is not a member context of this gslb (` + ctxA + ", " + ctxB + ")"},
		{name: "bad label", spec: GDPSpec{MatchRules: MatchRules{AppSelector: LabelSelector{Label: map[string]string{"app": ""}}}}, reject: `label "app" has no value`},
		{name: "unknown trafficSplit cluster", spec: GDPSpec{TrafficSplit: []TrafficSplit{{Cluster: "siteb"}}}, reject: `trafficSplit: cluster context "siteb" is not a member context`},
		{name: "weight out of range", spec: GDPSpec{TrafficSplit: []TrafficSplit{{Cluster: ctxA, Weight: ptr(21)}}}, reject: "weight 21 is not between 1 and 20"},
		{name: "duplicate trafficSplit", spec: GDPSpec{TrafficSplit: []TrafficSplit{{Cluster: ctxA}, {Cluster: ctxA}}}, reject: "listed twice"},
		{name: "ttl out of range", spec: GDPSpec{TTL: ptr(86401)}, reject: "ttl 86401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, vs := Compile(env, []GlobalDeploymentPolicy{{ObjectMeta: meta("gdp", 0), Spec: tc.spec}}, nil, nil)
			if tc.reject != "" {
				if vs[0].Accepted || !strings.Contains(vs[0].Reason, tc.reject) {
					t.Fatalf("want rejected with %q, got %+v", tc.reject, vs[0])
				}
				if snap.GDP == nil || !snap.GDP.Nothing {
					t.Errorf("a rejected GDP must fail closed (select nothing), got %+v", snap.GDP)
				}
				return
			}
			if !vs[0].Accepted || snap.GDP.Nothing != tc.nothing {
				t.Fatalf("verdict %+v, nothing=%v", vs[0], snap.GDP.Nothing)
			}
			if tc.nothing && !strings.Contains(vs[0].Summary, "selects nothing") {
				t.Errorf("summary should say it selects nothing: %s", vs[0].Summary)
			}
		})
	}
}

func TestSeveralGDPs(t *testing.T) {
	env := testEnv()
	good := mustGDP(t)
	younger := mustGDP(t)
	younger.Name, younger.CreationTimestamp = "another", metav1.NewTime(epoch.Add(time.Hour))
	snap, vs := Compile(env, []GlobalDeploymentPolicy{younger, good}, nil, nil)
	if snap.GDP.Name != "avi-system/global-gdp" {
		t.Fatalf("the oldest must apply, got %s", snap.GDP.Name)
	}
	for _, v := range vs {
		if v.Name == "another" && (v.Accepted || !strings.Contains(v.Reason, "only one is honoured") || !strings.Contains(v.Reason, "avi-system/global-gdp")) {
			t.Errorf("younger GDP: %+v", v)
		}
	}
	// Same age: by name.
	sameAge := mustGDP(t)
	sameAge.Name = "aaa"
	if snap, _ := Compile(env, []GlobalDeploymentPolicy{good, sameAge}, nil, nil); snap.GDP.Name != "avi-system/aaa" {
		t.Errorf("same creation time: want the first by name, got %s", snap.GDP.Name)
	}
	// An invalid older GDP does not hold the place.
	bad := mustGDP(t)
	bad.Name, bad.CreationTimestamp = "broken", metav1.NewTime(epoch.Add(-time.Hour))
	bad.Spec.MatchClusters = []MatchCluster{{Cluster: "nowhere"}}
	snap, vs = Compile(env, []GlobalDeploymentPolicy{good, bad}, nil, nil)
	if snap.GDP == nil || snap.GDP.Name != "avi-system/global-gdp" || vs[0].Accepted || !vs[1].Accepted {
		t.Errorf("invalid older GDP: snap %+v verdicts %+v", snap.GDP, vs)
	}
	// Only invalid GDPs, none accepted before: fail closed, like AMKO:
	// nothing from the clusters is published (not the Corefile selection).
	snap, vs = Compile(env, []GlobalDeploymentPolicy{bad}, nil, nil)
	if snap.GDP == nil || !snap.GDP.Nothing || vs[0].Accepted || !strings.Contains(vs[0].Reason, "nothing from the clusters is published") {
		t.Errorf("only a rejected GDP: snap %+v verdicts %+v", snap.GDP, vs)
	}
	// Only invalid GDPs after a valid one: the last accepted one stays.
	last, _ := Compile(env, []GlobalDeploymentPolicy{good}, nil, nil)
	snap, vs = Compile(env, []GlobalDeploymentPolicy{bad}, nil, last.GDP)
	if snap.GDP != last.GDP || !strings.Contains(vs[0].Reason, "the last accepted policy, avi-system/global-gdp, stays in force") {
		t.Errorf("an invalid update: snap %+v verdicts %+v", snap.GDP, vs)
	}
	// No GDP at all: the Corefile selection, as without amko.
	if snap, _ := Compile(env, nil, nil, last.GDP); snap.GDP != nil {
		t.Errorf("no GDP: %+v", snap.GDP)
	}
}

// A GDP whose appSelector label the Corefile selector does not let through
// selects objects gslb never sees: it is accepted with a note naming both.
func TestGDPSelectorNotImpliedByTheCorefile(t *testing.T) {
	env := testEnv()
	g := mustGDP(t)
	env.Selector = "app=gslb"
	if _, vs := Compile(env, []GlobalDeploymentPolicy{g}, nil, nil); slices.ContainsFunc(vs[0].Notes, func(n string) bool { return strings.Contains(n, "not implied") }) {
		t.Errorf("a matching selector got a note: %v", vs[0].Notes)
	}
	g.Spec.MatchRules.AppSelector.Label = map[string]string{"app": "shop"}
	_, vs := Compile(env, []GlobalDeploymentPolicy{g}, nil, nil)
	if !vs[0].Accepted || !slices.ContainsFunc(vs[0].Notes, func(n string) bool {
		return strings.Contains(n, "matchRules.appSelector app=shop is not implied by the Corefile `selector app=gslb`")
	}) {
		t.Errorf("verdict %+v", vs[0])
	}
}

const hostRuleYAML = `
apiVersion: amko.vmware.com/v1alpha1
kind: GSLBHostRule
metadata:
  name: gslb-host-rule-1
  namespace: avi-system
spec:
  fqdn: Web.GSLB.sddc.lab
  sitePersistence:
    enabled: true
    profileRef: "gap-1"
  thirdPartyMembers:
  - site: non-avi-site
    vip: 10.10.10.10
  - site: nat-site
    vip: 10.10.10.11
    publicIP: 198.51.100.11
  healthMonitorRefs:
  - hm1
  trafficSplit:
  - cluster: sitea-tkg-wld01-admin@sitea-tkg-wld01
    weight: 15
  - cluster: siteb-tkg-wld01-admin@siteb-tkg-wld01
    weight: 5
  publicIP:
  - cluster: siteb-tkg-wld01-admin@siteb-tkg-wld01
    ip: 203.0.113.20
  ttl: 30
  controlPlaneHmOnly: true
  poolAlgorithmSettings:
    lbAlgorithm: GSLB_ALGORITHM_GEO
    geoFallback:
      lbAlgorithm: GSLB_ALGORITHM_CONSISTENT_HASH
      hashMask: 20
`

func mustRule(t *testing.T) GSLBHostRule {
	var r GSLBHostRule
	decode(t, hostRuleYAML, &r)
	r.CreationTimestamp = metav1.NewTime(epoch)
	return r
}

func TestHostRuleOverGDP(t *testing.T) {
	snap, vs := Compile(testEnv(), []GlobalDeploymentPolicy{mustGDP(t)}, []GSLBHostRule{mustRule(t)}, nil)
	var hv Verdict
	for _, v := range vs {
		if v.Kind == KindHostRule {
			hv = v
		}
	}
	if !hv.Accepted {
		t.Fatalf("host rule: %+v", hv)
	}
	joined := strings.Join(hv.Notes, "\n")
	for _, want := range []string{"keeps their priorities (sitea 20 from the GDP, siteb 10 from the GDP)", "healthMonitorRefs", "controlPlaneHmOnly", "sitePersistence"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
	const fqdn = "web.gslb.sddc.lab."
	a := snap.layer("sitea", fqdn)
	want := model.Overrides{
		Weight: model.Some(15), Priority: model.Some(20), // weight from the rule, priority kept from the GDP
		TTL:       model.Some(30),
		Algorithm: model.Topology, Fallback: model.ConsistentHash, HashMask4: model.Some(20),
		Down: model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.53")}, // from the GDP
	}
	if a.Overrides != want || !a.NoProbe || a.PublicIP.IsValid() {
		t.Errorf("site A:\n got %+v\nwant %+v", a, want)
	}
	b := snap.layer("siteb", fqdn)
	if b.PublicIP != netip.MustParseAddr("203.0.113.20") || b.Overrides.Weight != model.Some(5) || b.Overrides.Priority != model.Some(10) {
		t.Errorf("site B: %+v", b)
	}
	// Other names keep the GDP's settings.
	if o := snap.layer("sitea", "other.gslb.sddc.lab."); o.Overrides.TTL != model.Some(10) || o.NoProbe {
		t.Errorf("other name: %+v", o)
	}
	r := snap.Rules[fqdn]
	if len(r.Members) != 2 {
		t.Fatalf("third-party members: %+v", r.Members)
	}
	for _, m := range r.Members {
		// No trafficSplit priority for their sites: AMKO's 1, a standby
		// pool below the clusters.
		if m.FQDN != fqdn || m.Check != (model.Check{}) || m.Overrides.TTL != model.Some(30) || m.Overrides.Priority != model.Some(1) {
			t.Errorf("third-party member %+v", m)
		}
	}
	// The VIP is the member (probed, answered inside the private
	// networks); the publicIP is answered outside them.
	if got := r.Members[1]; got.Member.Site != "nat-site" || got.Member.Addr != netip.MustParseAddr("10.10.10.11") || got.Public != netip.MustParseAddr("198.51.100.11") {
		t.Errorf("a third-party member behind NAT: %+v", got)
	}
}

func ptr(n int) *int { return &n }

func TestHostRulePriorities(t *testing.T) {
	env := testEnv()
	rule := func(prios ...*int) GSLBHostRule {
		r := GSLBHostRule{ObjectMeta: meta("r", 0), Spec: GSLBHostRuleSpec{Fqdn: "web.gslb.sddc.lab"}}
		for i, p := range prios {
			ctx := []string{ctxA, ctxB}[i]
			r.Spec.TrafficSplit = append(r.Spec.TrafficSplit, TrafficSplit{Cluster: ctx, Weight: ptr(1), Priority: p})
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		rule   GSLBHostRule
		wantA  model.Opt
		wantB  model.Opt
		warned bool
	}{
		{"omitted", rule(nil, nil), model.Opt{}, model.Opt{}, true},
		{"all 1 as the API server fills in", rule(ptr(1), ptr(1)), model.Opt{}, model.Opt{}, true},
		{"given", rule(ptr(20), ptr(1)), model.Some(20), model.Some(1), false},
		{"given, one omitted", rule(ptr(20), nil), model.Some(20), model.Opt{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, vs := Compile(env, nil, []GSLBHostRule{tc.rule}, nil)
			if !vs[0].Accepted {
				t.Fatal(vs[0].Reason)
			}
			r := snap.Rules["web.gslb.sddc.lab."]
			if r.PerSite["sitea"].Priority != tc.wantA || r.PerSite["siteb"].Priority != tc.wantB {
				t.Errorf("priorities: %+v", r.PerSite)
			}
			warned := strings.Contains(strings.Join(vs[0].Notes, ""), "unlike AMKO")
			if warned != tc.warned {
				t.Errorf("warned = %v, notes %q", warned, vs[0].Notes)
			}
		})
	}
}

func TestHostRuleRejections(t *testing.T) {
	env := testEnv()
	for _, tc := range []struct {
		name   string
		edit   func(*GSLBHostRuleSpec)
		reason string
	}{
		{"no fqdn", func(s *GSLBHostRuleSpec) { s.Fqdn = "" }, "fqdn is missing"},
		{"outside the zones", func(s *GSLBHostRuleSpec) { s.Fqdn = "web.example.org" }, "outside the zones this gslb serves (gslb.sddc.lab.)"},
		{"wildcard", func(s *GSLBHostRuleSpec) { s.Fqdn = "*.gslb.sddc.lab" }, "not a host name"},
		{"consistent hash without mask", func(s *GSLBHostRuleSpec) {
			s.PoolAlgorithmSettings = &PoolAlgorithmSettings{LBAlgorithm: "GSLB_ALGORITHM_CONSISTENT_HASH"}
		}, "hashMask is required"},
		{"hash mask out of range", func(s *GSLBHostRuleSpec) {
			s.PoolAlgorithmSettings = &PoolAlgorithmSettings{LBAlgorithm: "GSLB_ALGORITHM_CONSISTENT_HASH", HashMask: ptr(40)}
		}, "hashMask 40 is not between 1 and 31"},
		{"mask with round robin", func(s *GSLBHostRuleSpec) {
			s.PoolAlgorithmSettings = &PoolAlgorithmSettings{LBAlgorithm: "GSLB_ALGORITHM_ROUND_ROBIN", HashMask: ptr(24)}
		}, "hashMask is not allowed"},
		{"geo without fallback", func(s *GSLBHostRuleSpec) {
			s.PoolAlgorithmSettings = &PoolAlgorithmSettings{LBAlgorithm: "GSLB_ALGORITHM_GEO"}
		}, "geoFallback is required"},
		{"unknown algorithm", func(s *GSLBHostRuleSpec) {
			s.PoolAlgorithmSettings = &PoolAlgorithmSettings{LBAlgorithm: "GSLB_ALGORITHM_FASTEST"}
		}, `unsupported lbAlgorithm "GSLB_ALGORITHM_FASTEST"`},
		{"fallback without IP", func(s *GSLBHostRuleSpec) {
			s.DownResponse = &DownResponse{Type: "GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP"}
		}, "needs a fallbackIP"},
		{"bad fallback IP", func(s *GSLBHostRuleSpec) {
			s.DownResponse = &DownResponse{Type: "GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP", FallbackIP: "10.0.0.300"}
		}, `fallbackIP "10.0.0.300" is not an IP address`},
		{"unknown down type", func(s *GSLBHostRuleSpec) { s.DownResponse = &DownResponse{Type: "SERVFAIL"} }, `unknown type "SERVFAIL"`},
		{"unknown trafficSplit cluster", func(s *GSLBHostRuleSpec) {
			s.TrafficSplit = []TrafficSplit{{Cluster: "nowhere", Weight: ptr(1)}}
		}, `cluster "nowhere" is neither a member context`},
		{"bad vip", func(s *GSLBHostRuleSpec) {
			s.ThirdPartyMembers = []ThirdPartyMember{{Site: "dc3", VIP: "dc3.example.org"}}
		}, `vip "dc3.example.org" is not an IP address`},
		{"third-party site named like a cluster", func(s *GSLBHostRuleSpec) {
			s.ThirdPartyMembers = []ThirdPartyMember{{Site: "sitea", VIP: "10.0.0.1"}}
		}, "is a Kubernetes member"},
		{"bad third-party site name", func(s *GSLBHostRuleSpec) {
			s.ThirdPartyMembers = []ThirdPartyMember{{Site: "dc 3", VIP: "10.0.0.1"}}
		}, `site name "dc 3"`},
		{"publicIP of an unknown cluster", func(s *GSLBHostRuleSpec) { s.PublicIP = []PublicIP{{Cluster: "nowhere", IP: "10.0.0.1"}} }, `publicIP: cluster context "nowhere"`},
		{"bad publicIP", func(s *GSLBHostRuleSpec) { s.PublicIP = []PublicIP{{Cluster: ctxA, IP: "nat"}} }, `"nat" is not an IP address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := GSLBHostRule{ObjectMeta: meta("r", 0), Spec: GSLBHostRuleSpec{Fqdn: "web.gslb.sddc.lab"}}
			tc.edit(&r.Spec)
			good := GSLBHostRule{ObjectMeta: meta("good", 1), Spec: GSLBHostRuleSpec{Fqdn: "other.gslb.sddc.lab", TTL: ptr(5)}}
			snap, vs := Compile(env, nil, []GSLBHostRule{r, good}, nil)
			if vs[0].Accepted || !strings.Contains(vs[0].Reason, tc.reason) {
				t.Fatalf("want rejected with %q, got %+v", tc.reason, vs[0])
			}
			if len(snap.Rules) != 1 || snap.Rules["other.gslb.sddc.lab."] == nil {
				t.Errorf("the other rule must keep working: %+v", snap.Rules)
			}
		})
	}
}

func TestDuplicateHostRules(t *testing.T) {
	older := GSLBHostRule{ObjectMeta: meta("older", 0), Spec: GSLBHostRuleSpec{Fqdn: "web.gslb.sddc.lab", TTL: ptr(5)}}
	newer := GSLBHostRule{ObjectMeta: meta("newer", 1), Spec: GSLBHostRuleSpec{Fqdn: "WEB.gslb.sddc.lab.", TTL: ptr(7)}}
	snap, vs := Compile(testEnv(), nil, []GSLBHostRule{newer, older}, nil)
	if snap.Rules["web.gslb.sddc.lab."].Common.TTL != model.Some(5) {
		t.Errorf("the older rule must apply")
	}
	if vs[1].Name != "newer" || vs[1].Accepted || !strings.Contains(vs[1].Reason, "avi-system/older") {
		t.Errorf("newer: %+v", vs[1])
	}
	// An invalid older rule does not hold the name.
	older.Spec.TTL = ptr(-1)
	snap, _ = Compile(testEnv(), nil, []GSLBHostRule{newer, older}, nil)
	if snap.Rules["web.gslb.sddc.lab."].Common.TTL != model.Some(7) {
		t.Errorf("the valid rule must apply when the older one is invalid")
	}
}

func TestThirdPartySiteInTrafficSplit(t *testing.T) {
	r := GSLBHostRule{ObjectMeta: meta("r", 0), Spec: GSLBHostRuleSpec{
		Fqdn:              "web.gslb.sddc.lab",
		ThirdPartyMembers: []ThirdPartyMember{{Site: "dc3", VIP: "10.0.0.3"}},
		TrafficSplit:      []TrafficSplit{{Cluster: "dc3", Weight: ptr(1), Priority: ptr(5)}, {Cluster: ctxA, Weight: ptr(1), Priority: ptr(10)}},
	}}
	snap, vs := Compile(testEnv(), nil, []GSLBHostRule{r}, nil)
	if !vs[0].Accepted {
		t.Fatal(vs[0].Reason)
	}
	m := snap.Rules["web.gslb.sddc.lab."].Members[0]
	if m.Overrides.Priority != model.Some(5) || m.Member.Site != "dc3" {
		t.Errorf("standby third-party member: %+v", m)
	}
	// Equal weights: round robin stays a rotation of all.
	if snap.Rules["web.gslb.sddc.lab."].Weighted {
		t.Errorf("equal weights must not make the service weighted")
	}
}

func TestTooManyThirdPartySites(t *testing.T) {
	var rules []GSLBHostRule
	for i := range maxThirdPartySites + 1 {
		rules = append(rules, GSLBHostRule{ObjectMeta: meta("r"+string(rune('a'+i%26))+string(rune('a'+i/26)), i), Spec: GSLBHostRuleSpec{
			Fqdn:              "web.gslb.sddc.lab",
			ThirdPartyMembers: []ThirdPartyMember{{Site: "dc" + string(rune('a'+i%26)) + string(rune('a'+i/26)), VIP: "10.0.0.3"}},
		}})
		rules[i].Spec.Fqdn = rules[i].Name + ".gslb.sddc.lab"
	}
	_, vs := Compile(testEnv(), nil, rules, nil)
	last := vs[len(vs)-1]
	if last.Accepted || !strings.Contains(last.Reason, "third-party site names") {
		t.Errorf("rule beyond the bound: %+v", last)
	}
	if !vs[len(vs)-2].Accepted {
		t.Errorf("rules within the bound: %+v", vs[len(vs)-2])
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		v    Verdict
		want map[string]any
	}{
		{Verdict{Kind: KindGDP, Accepted: true}, map[string]any{"errorStatus": "success"}},
		{Verdict{Kind: KindGDP, Reason: "bad"}, map[string]any{"errorStatus": "bad"}},
		{Verdict{Kind: KindHostRule, Accepted: true}, map[string]any{"status": "Accepted", "error": ""}},
		{Verdict{Kind: KindHostRule, Reason: "bad"}, map[string]any{"status": "Rejected", "error": "bad"}},
	} {
		got := tc.v.Status()
		if !statusEqual(got, tc.want) || len(got) != len(tc.want) {
			t.Errorf("%+v: status %v, want %v", tc.v, got, tc.want)
		}
	}
	if statusEqual(map[string]any{"status": "Accepted"}, map[string]any{"status": "Rejected", "error": "x"}) {
		t.Error("different statuses compare equal")
	}
	if !statusEqual(map[string]any{"status": "Accepted"}, map[string]any{"status": "Accepted", "error": ""}) {
		t.Error("an absent error is an empty one")
	}
}

func TestPublish(t *testing.T) {
	s := &Source{}
	labels := map[string]string{"app": "gslb"}
	if s.Publish("sitea", "shop", labels) {
		t.Error("before the objects are listed nothing is published")
	}
	s.snap.Store(&Snapshot{Ready: true})
	if !s.Publish("sitea", "shop", nil) {
		t.Error("without a GDP the Corefile selection applies")
	}
	snap, _ := Compile(testEnv(), []GlobalDeploymentPolicy{mustGDP(t)}, nil, nil)
	snap.GDP.Sites = map[string]bool{"sitea": true}
	s.snap.Store(snap)
	if !s.Publish("sitea", "shop", map[string]string{"app": "gslb", "tier": "web"}) {
		t.Error("selected object not published")
	}
	if s.Publish("siteb", "shop", labels) {
		t.Error("a site outside matchClusters is published")
	}
	if s.Publish("sitea", "shop", map[string]string{"app": "other"}) {
		t.Error("an object the appSelector does not match is published")
	}
	if l := s.Layer("sitea", "x.gslb.sddc.lab."); l.Overrides.TTL != model.Some(10) {
		t.Errorf("layer: %+v", l)
	}
}

// AMKO's GSLBConfig: memberClusters decide which sites are members; a
// context the kubeconfig lacks is reported and the rest applies; AMKO reads
// one GSLBConfig.
func TestGSLBConfigMemberClusters(t *testing.T) {
	env := testEnv()
	gc := GSLBConfig{ObjectMeta: meta("gc-1", 0), Spec: GSLBConfigSpec{MemberClusters: []MemberCluster{{ClusterContext: ctxA}, {ClusterContext: "nowhere"}}}}
	younger := GSLBConfig{ObjectMeta: meta("gc-2", 5)}
	snap, vs := Compile(env, nil, nil, nil, younger, gc)
	if !snap.Members["sitea"] || snap.Members["siteb"] || len(snap.Members) != 1 || snap.UnknownContexts != 1 {
		t.Errorf("members %v, unknown contexts %d", snap.Members, snap.UnknownContexts)
	}
	if len(vs) != 2 || !vs[0].Accepted || vs[0].Name != "gc-1" || vs[1].Accepted || !strings.Contains(vs[1].Reason, "AMKO reads one") {
		t.Fatalf("verdicts %+v", vs)
	}
	notes := strings.Join(vs[0].Notes, "\n")
	for _, want := range []string{`context "nowhere" is not in gslb's kubeconfig`, "sites siteb are watched by the Corefile but not listed"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	// Without a GSLBConfig, or with empty memberClusters, every site is a member.
	if snap, _ := Compile(env, nil, nil, nil); snap.Members != nil {
		t.Errorf("no GSLBConfig: members %v", snap.Members)
	}
	if snap, _ := Compile(env, nil, nil, nil, GSLBConfig{ObjectMeta: meta("gc", 0)}); snap.Members != nil {
		t.Errorf("empty memberClusters: members %v", snap.Members)
	}
}

// TestGDPDefaultDomain: the GDP's defaultDomain names OpenShift Routes
// that give only a subdomain (leading dot or not); one outside the zones
// is accepted with a note, as it can name nothing gslb serves.
func TestGDPDefaultDomain(t *testing.T) {
	for _, c := range []struct{ domain, want, note string }{
		{".apps.gslb.sddc.lab", "apps.gslb.sddc.lab", ""},
		{"gslb.sddc.lab", "gslb.sddc.lab", ""},
		{"apps.example.org", "apps.example.org", `defaultDomain "apps.example.org" is outside the zones`},
		{"", "", ""},
	} {
		g := mustGDP(t)
		g.Spec.DefaultDomain = c.domain
		snap, vs := Compile(testEnv(), []GlobalDeploymentPolicy{g}, nil, nil)
		if len(vs) != 1 || !vs[0].Accepted {
			t.Fatalf("%q: verdicts %+v", c.domain, vs)
		}
		if snap.GDP.DefaultDomain != c.want {
			t.Errorf("%q: DefaultDomain = %q, want %q", c.domain, snap.GDP.DefaultDomain, c.want)
		}
		noted := false
		for _, n := range vs[0].Notes {
			noted = noted || (c.note != "" && strings.Contains(n, c.note))
			if strings.Contains(n, "defaultDomain") && c.note == "" {
				t.Errorf("%q: unexpected note %q", c.domain, n)
			}
		}
		if c.note != "" && !noted {
			t.Errorf("%q: no note %q in %q", c.domain, c.note, vs[0].Notes)
		}
	}
}
