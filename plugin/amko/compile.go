package amko

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits of AMKO's CRDs, checked again here: a CRD installed without its
// schema (or an older one) must not bring a bad value into the answers.
const (
	maxHashMask = 31
	// hostRulePriorityDefault is what AMKO's GSLBHostRule CRD writes into
	// a trafficSplit entry without a priority (the GDP's default is 10).
	hostRulePriorityDefault = 1
	// maxThirdPartySites bounds the site names that objects (rather than
	// the Corefile) bring in, since sites label metrics.
	maxThirdPartySites = 32
)

// Site is one member cluster: its site name and kubeconfig context.
type Site struct {
	Name    string
	Context string
}

// Env is what the Corefile says that the policy objects are checked
// against.
type Env struct {
	// Sites are the member clusters; AMKO objects name them by context.
	Sites  []Site
	InZone kube.InZone
	Zones  []string // for messages
	// Corefile weights, to tell whether a service's trafficSplit weights
	// differ (then round robin honours them as Avi does: weighted).
	Weights       map[string]int
	DefaultWeight int
	// ThirdPartyCheck is the probe of third-party members: the Corefile's
	// forced health_check, or none (there is no port to guess).
	ThirdPartyCheck model.Check
	// Selector is the Corefile's label selector, for messages: the API
	// servers apply it before any GDP sees an object.
	Selector string
}

func (e *Env) siteOf(context string) (string, bool) {
	for _, s := range e.Sites {
		if s.Context == context {
			return s.Name, true
		}
	}
	return "", false
}

func (e *Env) contexts() string {
	var cs []string
	for _, s := range e.Sites {
		cs = append(cs, s.Context)
	}
	return strings.Join(cs, ", ")
}

func (e *Env) isClusterSite(name string) bool {
	for _, s := range e.Sites {
		if s.Name == name || s.Context == name {
			return true
		}
	}
	return false
}

func (e *Env) corefileWeight(site string) int {
	if w, ok := e.Weights[site]; ok {
		return w
	}
	return max(e.DefaultWeight, 1)
}

// Verdict is the outcome for one policy object.
type Verdict struct {
	Kind, Namespace, Name string
	Accepted              bool
	// Reason says why a rejected object was rejected.
	Reason string
	// Notes are things worth a log line on an applied object: settings that
	// do not carry over, deviations from AMKO.
	Notes []string
	// Summary describes what an accepted object does, for the log.
	Summary string
}

// Key names the object in logs: "GSLBHostRule avi-system/web".
func (v Verdict) Key() string { return v.Kind + " " + v.Namespace + "/" + v.Name }

// Status is the status AMKO would write for this verdict.
func (v Verdict) Status() map[string]any {
	if v.Kind == KindGDP {
		if v.Accepted {
			return map[string]any{"errorStatus": GDPSuccess}
		}
		return map[string]any{"errorStatus": v.Reason}
	}
	if v.Accepted {
		return map[string]any{"status": StatusAccepted, "error": ""}
	}
	return map[string]any{"status": StatusRejected, "error": v.Reason}
}

// Snapshot is the compiled, immutable policy: what the kube watchers ask.
type Snapshot struct {
	// Ready is false until the objects were listed (or the startup
	// timeout passed): nothing from the clusters is published before.
	Ready bool
	// GDP is the policy in force; nil means none is (none exists, or all
	// were rejected): every object the Corefile selector watches is
	// published, as without amko.
	GDP *GDPRule
	// Rules are the accepted host rules by FQDN.
	Rules map[string]*HostRule
	// Weighted tells, for names without a host rule, whether the GDP's
	// trafficSplit weights make round robin a weighted pick.
	Weighted bool
	// Members are the sites AMKO's GSLBConfig lists in memberClusters;
	// nil without a GSLBConfig (every site of the Corefile is a member).
	Members map[string]bool
	// UnknownContexts counts the memberClusters contexts that gslb's
	// kubeconfig lacks.
	UnknownContexts int
}

// GDPRule is an accepted GlobalDeploymentPolicy, compiled.
type GDPRule struct {
	Name string // namespace/name
	// Sites whose objects are published (matchClusters).
	Sites map[string]bool
	// App and Namespace labels that must all match; a nil map is no rule.
	App, Namespace map[string]string
	// Nothing is set when the GDP cannot select anything (no matchRules or
	// no matchClusters), as in AMKO.
	Nothing bool
	// Common are the service-wide settings; PerSite the trafficSplit.
	Common  model.Overrides
	PerSite map[string]model.Overrides
	// NoProbe is controlPlaneHmOnly; nil when unset.
	NoProbe *bool
	// DefaultDomain names the hosts of OpenShift Routes that give only a
	// spec.subdomain: <subdomain>.<defaultDomain>, as AMKO builds them.
	DefaultDomain string
}

// HostRule is an accepted GSLBHostRule, compiled.
type HostRule struct {
	Key     string // store key of its third-party members
	FQDN    string
	Common  model.Overrides
	PerSite map[string]model.Overrides
	NoProbe *bool
	// PublicIP by site: answered instead of that site's VIP to clients
	// outside the private networks.
	PublicIP map[string]netip.Addr
	// Weighted: the trafficSplit weights that apply to this name differ.
	Weighted bool
	// Members are its third-party members (layer applied, see finish).
	Members []model.Record
}

// NeedsNamespaces tells whether selection reads namespace labels.
func (s *Snapshot) NeedsNamespaces() bool {
	return s != nil && s.GDP != nil && !s.GDP.Nothing && s.GDP.Namespace != nil
}

// layer is the settings of fqdn's members at site: host rule over GDP.
func (s *Snapshot) layer(site, fqdn string) kube.Layer {
	var l kube.Layer
	var noProbe *bool
	weighted := false
	if g := s.GDP; g != nil {
		l.Overrides = g.PerSite[site].Over(g.Common)
		noProbe = g.NoProbe
		weighted = s.Weighted
	}
	if r := s.Rules[fqdn]; r != nil {
		l.Overrides = r.PerSite[site].Over(r.Common).Over(l.Overrides)
		if r.NoProbe != nil {
			noProbe = r.NoProbe
		}
		l.PublicIP = r.PublicIP[site]
		weighted = r.Weighted
	}
	if weighted && (l.Overrides.Algorithm == model.AlgorithmUnset || l.Overrides.Algorithm == model.RoundRobin) {
		// Avi's round robin honours the members' ratios: a weighted pick.
		l.Overrides.Algorithm = model.Weighted
	}
	l.NoProbe = noProbe != nil && *noProbe
	return l
}

// Compile checks the objects against env and compiles those that apply.
// It is a pure function of its inputs, so every gslb replica reading the
// same objects reaches the same verdicts.
//
// Several GDPs: AMKO honours exactly one. The oldest valid one
// (creationTimestamp, then namespace/name) is in force and the others are
// rejected. Several host rules for one FQDN: likewise, the oldest valid one.
//
// Fail closed, like AMKO: when GDPs exist but none is valid, last (the GDP
// accepted before, if any) stays in force; without one nothing from the
// clusters is published, rather than everything the Corefile selects.
func Compile(env *Env, gdps []GlobalDeploymentPolicy, rules []GSLBHostRule, last *GDPRule, configs ...GSLBConfig) (*Snapshot, []Verdict) {
	snap := &Snapshot{Ready: true, Rules: map[string]*HostRule{}}
	var verdicts []Verdict

	slices.SortFunc(configs, func(a, b GSLBConfig) int { return olderFirst(&a.ObjectMeta, &b.ObjectMeta) })
	for i, c := range configs {
		v := Verdict{Kind: KindConfig, Namespace: c.Namespace, Name: c.Name}
		if i > 0 {
			v.Reason = fmt.Sprintf("a GSLBConfig already applies (%s/%s, the oldest); AMKO reads one: delete this one", configs[0].Namespace, configs[0].Name)
		} else {
			snap.Members, snap.UnknownContexts, v.Notes, v.Summary = compileConfig(env, &c)
			v.Accepted = true
		}
		verdicts = append(verdicts, v)
	}

	slices.SortFunc(gdps, func(a, b GlobalDeploymentPolicy) int { return olderFirst(&a.ObjectMeta, &b.ObjectMeta) })
	for _, g := range gdps {
		v := Verdict{Kind: KindGDP, Namespace: g.Namespace, Name: g.Name}
		rule, notes, err := compileGDP(env, &g)
		switch {
		case err != nil:
			v.Reason = err.Error()
		case snap.GDP != nil:
			v.Reason = fmt.Sprintf("a GlobalDeploymentPolicy already applies (%s, the oldest); only one is honoured, as in AMKO: delete this one or merge it into %s", snap.GDP.Name, snap.GDP.Name)
		default:
			snap.GDP, v.Accepted, v.Notes, v.Summary = rule, true, notes, rule.describe(env.Selector)
		}
		verdicts = append(verdicts, v)
	}
	if snap.GDP == nil && len(gdps) > 0 {
		keep := "nothing from the clusters is published until one is valid (AMKO fails closed the same way)"
		if last != nil {
			snap.GDP = last
			keep = "the last accepted policy, " + last.Name + ", stays in force until one is valid (as AMKO keeps its filter)"
		} else {
			snap.GDP = &GDPRule{Name: "(no valid GlobalDeploymentPolicy)", Sites: map[string]bool{}, Nothing: true}
		}
		for i := range verdicts {
			if verdicts[i].Kind == KindGDP {
				verdicts[i].Reason += "; " + keep
			}
		}
	}
	if g := snap.GDP; g != nil {
		snap.Weighted = weightsDiffer(env, g, nil)
	}

	slices.SortFunc(rules, func(a, b GSLBHostRule) int { return olderFirst(&a.ObjectMeta, &b.ObjectMeta) })
	thirdParty := map[string]bool{}
	for _, r := range rules {
		v := Verdict{Kind: KindHostRule, Namespace: r.Namespace, Name: r.Name}
		rule, notes, err := compileHostRule(env, snap.GDP, &r)
		if err == nil {
			if other := snap.Rules[rule.FQDN]; other != nil {
				err = fmt.Errorf("there's an existing GSLBHostRule for the same FQDN %s (%s, the oldest); only one applies, as in AMKO", strings.TrimSuffix(rule.FQDN, "."), strings.TrimPrefix(other.Key, "amko/hostrule/"))
			}
		}
		if err == nil {
			added := 0
			for _, m := range rule.Members {
				if !thirdParty[m.Member.Site] {
					added++
				}
			}
			if len(thirdParty)+added > maxThirdPartySites {
				err = fmt.Errorf("thirdPartyMembers: more than %d third-party site names in all host rules; gslb bounds them because sites label its metrics", maxThirdPartySites)
			}
		}
		if err != nil {
			v.Reason = err.Error()
		} else {
			for _, m := range rule.Members {
				thirdParty[m.Member.Site] = true
			}
			rule.Weighted = weightsDiffer(env, snap.GDP, rule)
			snap.Rules[rule.FQDN] = rule
			v.Accepted, v.Notes, v.Summary = true, notes, rule.describe()
		}
		verdicts = append(verdicts, v)
	}
	// Third-party members carry the same layer as the name's other members.
	for _, r := range snap.Rules {
		for i := range r.Members {
			m := &r.Members[i]
			l := snap.layer(m.Member.Site, r.FQDN)
			m.Overrides = l.Overrides
			if l.NoProbe {
				m.Check = model.Check{}
			}
		}
	}
	return snap, verdicts
}

func olderFirst(a, b interface {
	GetCreationTimestamp() metav1.Time
	GetNamespace() string
	GetName() string
}) int {
	if c := a.GetCreationTimestamp().Time.Compare(b.GetCreationTimestamp().Time); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
}

// weightsDiffer tells whether the trafficSplit weights (host rule over GDP
// over Corefile) of the sites that may serve a name differ, when at least
// one trafficSplit entry applies.
func weightsDiffer(env *Env, g *GDPRule, r *HostRule) bool {
	var sites []string
	for _, s := range env.Sites {
		if g == nil || g.Sites[s.Name] {
			sites = append(sites, s.Name)
		}
	}
	if r != nil {
		for _, m := range r.Members {
			sites = append(sites, m.Member.Site)
		}
	}
	some, first, differ := false, -1, false
	for _, s := range sites {
		var w model.Opt
		if r != nil {
			w = r.PerSite[s].Weight
		}
		if !w.Set && g != nil {
			w = g.PerSite[s].Weight
		}
		some = some || w.Set
		n := w.Or(env.corefileWeight(s))
		if first >= 0 && n != first {
			differ = true
		}
		if first < 0 {
			first = n
		}
	}
	return some && differ
}

// compileConfig reads a GSLBConfig's memberClusters into sites. A context
// that no kubeconfig line of the Corefile has is reported and left out; the
// others still apply. Without memberClusters every site stays a member.
func compileConfig(env *Env, c *GSLBConfig) (map[string]bool, int, []string, string) {
	var notes []string
	if len(c.Spec.MemberClusters) == 0 {
		return nil, 0, []string{"memberClusters is empty: every site of the Corefile is a member"}, "lists no member clusters"
	}
	members := map[string]bool{}
	unknown := 0
	for _, m := range c.Spec.MemberClusters {
		site, ok := env.siteOf(m.ClusterContext)
		if !ok {
			unknown++
			notes = append(notes, fmt.Sprintf("memberClusters: context %q is not in gslb's kubeconfig (%s): add it to the kubeconfig and a `kubeconfig` line, or remove it here; the other clusters apply", m.ClusterContext, env.contexts()))
			continue
		}
		members[site] = true
	}
	var out []string
	for _, site := range env.Sites {
		if !members[site.Name] {
			out = append(out, site.Name)
		}
	}
	if len(out) > 0 {
		notes = append(notes, "sites "+strings.Join(out, ", ")+" are watched by the Corefile but not listed in memberClusters: their objects are not published, as AMKO would not read them")
	}
	if c.Spec.UseCustomGlobalFqdn != nil && *c.Spec.UseCustomGlobalFqdn {
		notes = append(notes, "useCustomGlobalFqdn: gslb reads AKO HostRules' global names only with `custom_global_fqdn` in the Corefile")
	}
	if c.Spec.GSLBLeader != nil && c.Spec.GSLBLeader.ControllerIP != "" {
		notes = append(notes, "gslbLeader names the Avi controller AMKO programs; gslb writes nothing to Avi (to read its GSLB services, use an `avi` block)")
	}
	return members, unknown, notes, "member clusters " + strings.Join(slices.Sorted(maps.Keys(members)), ", ")
}

// thirdPartyPriority is AMKO's priority for a third-party member that no
// trafficSplit entry ranks.
const thirdPartyPriority = 1

func compileGDP(env *Env, g *GlobalDeploymentPolicy) (*GDPRule, []string, error) {
	s := &g.Spec
	r := &GDPRule{Name: g.Namespace + "/" + g.Name, Sites: map[string]bool{}, PerSite: map[string]model.Overrides{}, NoProbe: s.ControlPlaneHmOnly}
	var err error
	if r.App, err = selector("matchRules.appSelector", s.MatchRules.AppSelector.Label); err != nil {
		return nil, nil, err
	}
	if r.Namespace, err = selector("matchRules.namespaceSelector", s.MatchRules.NamespaceSelector.Label); err != nil {
		return nil, nil, err
	}
	for _, mc := range s.MatchClusters {
		site, ok := env.siteOf(mc.Cluster)
		if !ok {
			return nil, nil, fmt.Errorf("matchClusters: cluster context %q is not a member context of this gslb (%s)", mc.Cluster, env.contexts())
		}
		r.Sites[site] = true
	}
	r.Nothing = len(r.Sites) == 0 || (r.App == nil && r.Namespace == nil)
	if r.PerSite, err = trafficSplit(env, s.TrafficSplit, nil, false, nil); err != nil {
		return nil, nil, err
	}
	if r.Common, err = common(s.TTL, s.PoolAlgorithmSettings, s.DownResponse); err != nil {
		return nil, nil, err
	}
	var notes []string
	if n := selectorNote(env.Selector, r.App); n != "" {
		notes = append(notes, n)
	}
	notes = append(notes, healthNotes(s.HealthMonitorRefs, s.HealthMonitorTemplate, s.ControlPlaneHmOnly)...)
	if s.SitePersistenceRef != nil || s.PKIProfileRef != nil {
		notes = append(notes, "sitePersistenceRef and pkiProfileRef are Avi profiles: gslb has no site persistence, they are ignored")
	}
	for _, mc := range s.MatchClusters {
		if mc.SyncVipOnly {
			notes = append(notes, "matchClusters syncVipOnly is ignored: gslb always publishes the VIPs")
			break
		}
	}
	r.DefaultDomain = strings.TrimPrefix(strings.TrimSpace(s.DefaultDomain), ".")
	if r.DefaultDomain != "" && env.InZone != nil {
		if fqdn, ok := model.HostName("x." + r.DefaultDomain); !ok || !env.InZone(fqdn) {
			notes = append(notes, fmt.Sprintf("defaultDomain %q is outside the zones gslb serves: Routes with only a subdomain under it are not published", s.DefaultDomain))
		}
	}
	return r, notes, nil
}

func (r *GDPRule) describe(corefileSelector string) string {
	if r.Nothing {
		why := "it has no matchRules (appSelector or namespaceSelector), and AMKO selects nothing then"
		if len(r.Sites) == 0 {
			why = "it has no matchClusters"
		}
		return "selects nothing: " + why + "; no Kubernetes object is published"
	}
	var parts []string
	if r.App != nil {
		parts = append(parts, "objects labelled "+labelString(r.App))
	} else {
		parts = append(parts, "every object")
	}
	if r.Namespace != nil {
		parts = append(parts, "in namespaces labelled "+labelString(r.Namespace))
	}
	sites := slices.Sorted(maps.Keys(r.Sites))
	parts = append(parts, "of sites "+strings.Join(sites, ", "))
	d := "publishes " + strings.Join(parts, " ")
	if corefileSelector != "" {
		// Only what the Corefile selector lets through is ever seen.
		d += " among those the Corefile selector " + corefileSelector + " watches"
	}
	return d
}

// selectorNote warns when the GDP's appSelector labels do not satisfy the
// Corefile selector: the API server only ever sends objects the Corefile
// selector matches, so objects that AMKO would select by the GDP alone are
// not seen unless they carry both.
func selectorNote(corefileSelector string, app map[string]string) string {
	if app == nil || corefileSelector == "" {
		return ""
	}
	sel, err := labels.Parse(corefileSelector)
	if err != nil || sel.Matches(labels.Set(app)) {
		return ""
	}
	return fmt.Sprintf("matchRules.appSelector %s is not implied by the Corefile `selector %s`: only objects carrying both are published; "+
		"make the Corefile selector match the GDP's label (e.g. `selector %s`)", labelString(app), corefileSelector, labelString(app))
}

func labelString(m map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+"="+m[k])
	}
	return strings.Join(kv, ",")
}

// selector checks AMKO's label selector; nil when empty. AMKO honours one
// label; several must all match.
func selector(what string, labels map[string]string) (map[string]string, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	for k, v := range labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("%s: label key %q: %s", what, k, strings.Join(errs, "; "))
		}
		if v == "" {
			return nil, fmt.Errorf("%s: label %q has no value", what, k)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("%s: label %s=%q: %s", what, k, v, strings.Join(errs, "; "))
		}
	}
	return maps.Clone(labels), nil
}

// trafficSplit compiles entries into per-site weight and priority. A host
// rule's entries (hostRule) may also name its third-party sites; when
// inheritPriority is set their priorities are left unset.
func trafficSplit(env *Env, entries []TrafficSplit, thirdParty map[string]bool, hostRule bool, inherit *bool) (map[string]model.Overrides, error) {
	out := map[string]model.Overrides{}
	inheritPriority := inherit != nil && *inherit
	for _, e := range entries {
		site, ok := env.siteOf(e.Cluster)
		if !ok && thirdParty[e.Cluster] {
			site, ok = e.Cluster, true
		}
		if !ok {
			if hostRule {
				return nil, fmt.Errorf("trafficSplit: cluster %q is neither a member context of this gslb (%s) nor a thirdPartyMembers site of this rule", e.Cluster, env.contexts())
			}
			return nil, fmt.Errorf("trafficSplit: cluster context %q is not a member context of this gslb (%s)", e.Cluster, env.contexts())
		}
		if _, dup := out[site]; dup {
			return nil, fmt.Errorf("trafficSplit: cluster %q is listed twice", e.Cluster)
		}
		var o model.Overrides
		if e.Weight != nil {
			if *e.Weight < 1 || *e.Weight > model.MaxWeight {
				return nil, fmt.Errorf("trafficSplit: cluster %q: weight %d is not between 1 and %d", e.Cluster, *e.Weight, model.MaxWeight)
			}
			o.Weight = model.Some(*e.Weight)
		}
		if e.Priority != nil {
			if *e.Priority < 0 || *e.Priority > model.MaxPriority {
				return nil, fmt.Errorf("trafficSplit: cluster %q: priority %d is not between 0 and %d", e.Cluster, *e.Priority, model.MaxPriority)
			}
			if !inheritPriority {
				o.Priority = model.Some(*e.Priority)
			}
		}
		out[site] = o
	}
	return out, nil
}

// common compiles the service-wide settings shared by both kinds.
func common(ttl *int, alg *PoolAlgorithmSettings, down *DownResponse) (model.Overrides, error) {
	var o model.Overrides
	if ttl != nil {
		if *ttl < 0 || *ttl > model.MaxTTL {
			return o, fmt.Errorf("ttl %d is not between 0 and %d", *ttl, model.MaxTTL)
		}
		o.TTL = model.Some(*ttl)
	}
	if alg != nil {
		if err := algorithm(alg, &o); err != nil {
			return o, fmt.Errorf("poolAlgorithmSettings: %v", err)
		}
	}
	if down != nil {
		d, err := downResponse(down)
		if err != nil {
			return o, fmt.Errorf("downResponse: %v", err)
		}
		o.Down = d
	}
	return o, nil
}

// algorithm applies AMKO's validation of the pool algorithm settings.
func algorithm(p *PoolAlgorithmSettings, o *model.Overrides) error {
	mask := func(m *int, what string) (model.Opt, error) {
		if m == nil {
			return model.Opt{}, fmt.Errorf("%s is required for GSLB_ALGORITHM_CONSISTENT_HASH", what)
		}
		if *m < 1 || *m > maxHashMask {
			return model.Opt{}, fmt.Errorf("%s %d is not between 1 and %d", what, *m, maxHashMask)
		}
		return model.Some(*m), nil
	}
	name := strings.ToUpper(p.LBAlgorithm)
	switch name {
	case "GSLB_ALGORITHM_ROUND_ROBIN", "GSLB_ALGORITHM_TOPOLOGY":
		if p.HashMask != nil {
			return fmt.Errorf("hashMask is not allowed with %s", p.LBAlgorithm)
		}
		if p.GeoFallback != nil {
			return fmt.Errorf("geoFallback is not allowed with %s", p.LBAlgorithm)
		}
		o.Algorithm = model.RoundRobin
		if name == "GSLB_ALGORITHM_TOPOLOGY" {
			o.Algorithm = model.Topology
		}
	case "GSLB_ALGORITHM_CONSISTENT_HASH":
		if p.GeoFallback != nil {
			return fmt.Errorf("geoFallback is not allowed with %s", p.LBAlgorithm)
		}
		m, err := mask(p.HashMask, "hashMask")
		if err != nil {
			return err
		}
		o.Algorithm, o.HashMask4 = model.ConsistentHash, m
	case "GSLB_ALGORITHM_GEO":
		if p.HashMask != nil {
			return fmt.Errorf("hashMask is not allowed with GSLB_ALGORITHM_GEO: give it in geoFallback")
		}
		f := p.GeoFallback
		if f == nil {
			return fmt.Errorf("geoFallback is required with GSLB_ALGORITHM_GEO: GSLB_ALGORITHM_ROUND_ROBIN or GSLB_ALGORITHM_CONSISTENT_HASH")
		}
		o.Algorithm = model.Topology
		switch strings.ToUpper(f.LBAlgorithm) {
		case "GSLB_ALGORITHM_ROUND_ROBIN":
			if f.HashMask != nil {
				return fmt.Errorf("geoFallback: hashMask is not allowed with GSLB_ALGORITHM_ROUND_ROBIN")
			}
			o.Fallback = model.RoundRobin
		case "GSLB_ALGORITHM_CONSISTENT_HASH":
			m, err := mask(f.HashMask, "geoFallback hashMask")
			if err != nil {
				return err
			}
			o.Fallback, o.HashMask4 = model.ConsistentHash, m
		default:
			return fmt.Errorf("geoFallback: unsupported lbAlgorithm %q: use GSLB_ALGORITHM_ROUND_ROBIN or GSLB_ALGORITHM_CONSISTENT_HASH", f.LBAlgorithm)
		}
	default:
		return fmt.Errorf("unsupported lbAlgorithm %q: use GSLB_ALGORITHM_ROUND_ROBIN, GSLB_ALGORITHM_CONSISTENT_HASH, GSLB_ALGORITHM_GEO or GSLB_ALGORITHM_TOPOLOGY", p.LBAlgorithm)
	}
	return nil
}

func downResponse(d *DownResponse) (model.Down, error) {
	args := []string{d.Type}
	isFallback := strings.EqualFold(d.Type, "GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP")
	if isFallback {
		if d.FallbackIP == "" {
			return model.Down{}, fmt.Errorf("GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP needs a fallbackIP")
		}
		if _, err := netip.ParseAddr(d.FallbackIP); err != nil {
			return model.Down{}, fmt.Errorf("fallbackIP %q is not an IP address", d.FallbackIP)
		}
		args = append(args, d.FallbackIP)
	} else if d.FallbackIP != "" {
		return model.Down{}, fmt.Errorf("fallbackIP %s is only used with GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP, not %s", d.FallbackIP, d.Type)
	}
	if !strings.HasPrefix(strings.ToUpper(d.Type), "GSLB_SERVICE_DOWN_RESPONSE_") {
		return model.Down{}, fmt.Errorf("unknown type %q: use GSLB_SERVICE_DOWN_RESPONSE_NONE, _ALL_RECORDS, _FALLBACK_IP or _EMPTY", d.Type)
	}
	down, err := model.ParseDown(args)
	if err != nil {
		return model.Down{}, fmt.Errorf("type %q: %v", d.Type, err)
	}
	return down, nil
}

func healthNotes(refs []string, template *string, cpOnly *bool) []string {
	var notes []string
	if len(refs) > 0 || template != nil {
		notes = append(notes, "healthMonitorRefs/healthMonitorTemplate name Avi health monitors, which gslb cannot read: "+
			"they do not carry over; gslb's own probes apply (the Corefile's health_* properties, gslb.io/health-* annotations)")
	}
	if cpOnly != nil && *cpOnly {
		notes = append(notes, "controlPlaneHmOnly: gslb does not probe these members (as health_check none); "+
			"they stay up while their cluster's API server answers, and endpoint_readiness, when on, still applies")
	}
	return notes
}

func compileHostRule(env *Env, gdp *GDPRule, h *GSLBHostRule) (*HostRule, []string, error) {
	s := &h.Spec
	if strings.TrimSpace(s.Fqdn) == "" {
		return nil, nil, fmt.Errorf("fqdn is missing")
	}
	fqdn, ok := model.HostName(s.Fqdn)
	if !ok {
		return nil, nil, fmt.Errorf("fqdn %q is not a host name", s.Fqdn)
	}
	if !env.InZone(fqdn) {
		return nil, nil, fmt.Errorf("fqdn %s is outside the zones this gslb serves (%s)", s.Fqdn, strings.Join(env.Zones, ", "))
	}
	r := &HostRule{Key: "amko/hostrule/" + h.Namespace + "/" + h.Name, FQDN: fqdn, NoProbe: s.ControlPlaneHmOnly, PublicIP: map[string]netip.Addr{}}
	var notes []string

	thirdParty := map[string]bool{}
	seen := map[string]bool{}
	for _, m := range s.ThirdPartyMembers {
		if err := model.CheckSiteName(m.Site); err != nil {
			return nil, nil, fmt.Errorf("thirdPartyMembers: %v", err)
		}
		if env.isClusterSite(m.Site) {
			return nil, nil, fmt.Errorf("thirdPartyMembers: site %q is a Kubernetes member of this gslb; third-party sites need their own names", m.Site)
		}
		vip, err := netip.ParseAddr(m.VIP)
		if err != nil {
			return nil, nil, fmt.Errorf("thirdPartyMembers: site %s: vip %q is not an IP address", m.Site, m.VIP)
		}
		addr := vip.Unmap()
		var public netip.Addr
		if m.PublicIP != "" {
			pub, err := netip.ParseAddr(m.PublicIP)
			if err != nil {
				return nil, nil, fmt.Errorf("thirdPartyMembers: site %s: publicIP %q is not an IP address", m.Site, m.PublicIP)
			}
			if pub.Unmap().Is4() != addr.Is4() {
				return nil, nil, fmt.Errorf("thirdPartyMembers: site %s: publicIP %s and vip %s are not of one address family", m.Site, m.PublicIP, m.VIP)
			}
			// Answered outside the private networks, as for clusters;
			// the VIP is probed and answered inside them.
			public = pub.Unmap()
		}
		thirdParty[m.Site] = true
		if seen[m.Site+"/"+addr.String()] {
			continue
		}
		seen[m.Site+"/"+addr.String()] = true
		r.Members = append(r.Members, model.Record{FQDN: fqdn, Member: model.Member{Site: m.Site, Addr: addr}, Public: public, Check: env.ThirdPartyCheck})
	}

	// AMKO's GSLBHostRule CRD defaults a missing trafficSplit priority to
	// 1 (the GDP's default is 10), and the API server writes that default
	// into the object, so "not given" reads as 1. A rule that sets weights
	// only would put its sites at priority 1 — below every site the GDP or
	// Corefile leaves at 10. When no entry gives a priority other than 1,
	// gslb treats them as not given: the sites keep their GDP/Corefile
	// priorities.
	inherit := len(s.TrafficSplit) > 0
	for _, e := range s.TrafficSplit {
		if e.Priority != nil && *e.Priority != hostRulePriorityDefault {
			inherit = false
		}
	}
	var err error
	if r.PerSite, err = trafficSplit(env, s.TrafficSplit, thirdParty, true, &inherit); err != nil {
		return nil, nil, err
	}
	// AMKO gives a third-party member that no trafficSplit entry ranks
	// priority 1: a standby pool below the clusters' 10.
	for site := range thirdParty {
		if o := r.PerSite[site]; !o.Priority.Set {
			o.Priority = model.Some(thirdPartyPriority)
			r.PerSite[site] = o
		}
	}
	if inherit {
		var kept []string
		for _, site := range slices.Sorted(maps.Keys(r.PerSite)) {
			if thirdParty[site] {
				continue // priority 1 below, as AMKO gives them
			}
			p := "the Corefile's"
			if gdp != nil && gdp.PerSite[site].Priority.Set {
				p = fmt.Sprintf("%d from the GDP", gdp.PerSite[site].Priority.V)
			}
			kept = append(kept, site+" "+p)
		}
		notes = append(notes, "trafficSplit gives no priority (or only 1, the GSLBHostRule default the API server fills in): "+
			"unlike AMKO, which would put these sites at priority 1, gslb keeps their priorities ("+strings.Join(kept, ", ")+
			"); give priorities other than 1 to set them here")
	}

	for _, p := range s.PublicIP {
		site, ok := env.siteOf(p.Cluster)
		if !ok {
			return nil, nil, fmt.Errorf("publicIP: cluster context %q is not a member context of this gslb (%s)", p.Cluster, env.contexts())
		}
		ip, err := netip.ParseAddr(p.IP)
		if err != nil {
			return nil, nil, fmt.Errorf("publicIP: cluster %s: %q is not an IP address", p.Cluster, p.IP)
		}
		if _, dup := r.PublicIP[site]; dup {
			return nil, nil, fmt.Errorf("publicIP: cluster %q is listed twice", p.Cluster)
		}
		r.PublicIP[site] = ip.Unmap()
	}
	if r.Common, err = common(s.TTL, s.PoolAlgorithmSettings, s.DownResponse); err != nil {
		return nil, nil, err
	}
	notes = append(notes, healthNotes(s.HealthMonitorRefs, s.HealthMonitorTemplate, s.ControlPlaneHmOnly)...)
	if s.SitePersistence != nil && s.SitePersistence.Enabled {
		notes = append(notes, "sitePersistence is an Avi profile: gslb has no site persistence, it is ignored")
	}
	return r, notes, nil
}

func (r *HostRule) describe() string {
	var parts []string
	if len(r.Members) > 0 {
		var ms []string
		for _, m := range r.Members {
			ms = append(ms, m.Member.Site+" "+m.Member.Addr.String())
		}
		parts = append(parts, "third-party members "+strings.Join(ms, ", "))
	}
	if len(r.PublicIP) > 0 {
		var ps []string
		for _, s := range slices.Sorted(maps.Keys(r.PublicIP)) {
			ps = append(ps, s+" "+r.PublicIP[s].String())
		}
		parts = append(parts, "public IPs "+strings.Join(ps, ", "))
	}
	d := "applies to " + strings.TrimSuffix(r.FQDN, ".")
	if len(parts) > 0 {
		d += " with " + strings.Join(parts, "; ")
	}
	return d
}
