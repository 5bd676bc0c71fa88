package amko

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

var log = clog.NewWithPlugin("gslb")

// DefaultNamespace holds AMKO's objects.
const DefaultNamespace = "avi-system"

// namespaceWait bounds how long a new namespaceSelector waits for the
// clusters' namespaces to be listed before it applies anyway (a cluster
// that is away catches up when its list arrives).
const namespaceWait = 10 * time.Second

// statusTimeout bounds one status write.
const statusTimeout = 10 * time.Second

// Config says where the objects are and what they are checked against.
type Config struct {
	// Leader is the member cluster holding the objects.
	Leader kube.Cluster
	// Namespace holds the objects (DefaultNamespace).
	Namespace string
	// Status makes gslb write the objects' status as AMKO does (needs
	// update permission on them).
	Status bool
	// Clusters are every member cluster, for namespace labels.
	Clusters []kube.Cluster
	Env      Env
	// StartupTimeout: when the objects cannot be listed for this long,
	// gslb publishes as if no policy object existed until they can.
	StartupTimeout time.Duration
}

// Source watches the policy objects and implements kube.Policy.
type Source struct {
	cfg     Config
	store   *model.Store
	dyn     dynamic.Interface
	factory dynamicinformer.DynamicSharedInformerFactory // GDPs, in Namespace
	// hrFactory watches GSLBHostRules in every namespace, as AMKO does:
	// app teams keep them next to their Ingresses.
	hrFactory dynamicinformer.DynamicSharedInformerFactory
	gdpInf    cache.SharedIndexInformer
	hrInf     cache.SharedIndexInformer
	regs      []cache.ResourceEventHandlerRegistration
	ns        *namespaces

	snap     atomic.Pointer[Snapshot]
	verdicts atomic.Pointer[[]Verdict] // the last read's, for the status page
	synced   atomic.Bool
	onChange atomic.Pointer[func(site string)]
	kick     chan struct{}
	stop     chan struct{}
	ctx      context.Context // cancelled by Stop: ends a status write in flight
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	// owned by the run goroutine
	logged      map[string]string            // object -> last logged verdict
	selection   string                       // last logged selection mode
	memberKeys  map[string]bool              // store keys of third-party members
	statusByKey map[string]bool              // objects whose status write failed and was logged
	gslbConfigs atomic.Pointer[[]GSLBConfig] // nil until listed once
	configErr   string                       // last logged list error
	amkoChecked time.Time                    // when AMKO's StatefulSet was last looked for
	amkoRuns    string                       // why status is not written ("" = AMKO does not run)
	useUpdate   atomic.Bool                  // the CRD has no status subresource
	watchErr    atomic.Bool
}

var _ kube.Policy = (*Source)(nil)

// New prepares the informers; nothing talks to the cluster before Start.
func New(cfg Config, store *model.Store) (*Source, error) {
	dyn, err := dynamic.NewForConfig(kube.ClientConfig(cfg.Leader.Config))
	if err != nil {
		return nil, fmt.Errorf("amko: leader context %q: %w", cfg.Leader.Context, err)
	}
	return newSource(cfg, store, dyn), nil
}

func newSource(cfg Config, store *model.Store, dyn dynamic.Interface) *Source {
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	s := &Source{
		cfg: cfg, store: store, dyn: dyn,
		kick: make(chan struct{}, 1), stop: make(chan struct{}),
		logged: map[string]string{}, memberKeys: map[string]bool{}, statusByKey: map[string]bool{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.factory = dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, cfg.Namespace, nil)
	s.hrFactory = dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, metav1.NamespaceAll, nil)
	s.gdpInf = s.watch(s.factory, GDPResource, KindGDP, "in namespace "+cfg.Namespace)
	s.hrInf = s.watch(s.hrFactory, HostRuleResource, KindHostRule, "in any namespace")
	configs := map[string]*rest.Config{}
	for _, c := range cfg.Clusters {
		configs[c.Site] = c.Config
	}
	s.ns = newNamespaces(configs, s.stop, s.notify)
	return s
}

func (s *Source) watch(factory dynamicinformer.DynamicSharedInformerFactory, gvr schema.GroupVersionResource, kind, where string) cache.SharedIndexInformer {
	inf := factory.ForResource(gvr).Informer()
	_ = inf.SetTransform(kube.StripManagedFields)
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		if s.watchErr.Swap(true) {
			return
		}
		if apierrors.IsForbidden(err) {
			log.Errorf("AMKO: the credentials of leader context %q may not list and watch %ss %s (403 Forbidden): %v; "+
				"grant the verbs `list` and `watch` on the resource %s.%s %s (deploy/rbac-amko.yaml has them); until then the last accepted policy stays, or nothing from the clusters is published",
				s.cfg.Leader.Context, kind, where, err, gvr.Resource, gvr.Group, where)
			return
		}
		if apierrors.IsNotFound(err) {
			log.Errorf("AMKO: cannot list %ss %s of leader context %q: the AMKO CRDs are not installed there (%v); "+
				"install them (gdp_def.yaml, gslbhostrule_def.yaml) or point `amko` at the context that holds them", kind, where, s.cfg.Leader.Context, err)
			return
		}
		log.Warningf("AMKO: lost the watch on %ss %s of leader context %q: %v; keeping the last known policy until it returns",
			kind, where, s.cfg.Leader.Context, err)
	})
	reg, _ := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.poke() },
		UpdateFunc: func(any, any) { s.poke() },
		DeleteFunc: func(any) { s.poke() },
	})
	if reg != nil {
		s.regs = append(s.regs, reg)
	}
	return inf
}

// OnChange sets what to call when the policy's answers change: site names
// one member cluster (its namespace labels changed), "" means all.
func (s *Source) OnChange(f func(site string)) { s.onChange.Store(&f) }

func (s *Source) notify(site string) {
	if f := s.onChange.Load(); f != nil {
		(*f)(site)
	}
}

func (s *Source) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Start runs the informers and the compiler in the background.
func (s *Source) Start() {
	syncedGauge.Set(0)
	s.factory.Start(s.stop)
	s.hrFactory.Start(s.stop)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		synced := []cache.InformerSynced{s.gdpInf.HasSynced, s.hrInf.HasSynced}
		for _, r := range s.regs {
			synced = append(synced, r.HasSynced)
		}
		if cache.WaitForCacheSync(s.stop, synced...) {
			s.poke()
		}
	}()
	go func() {
		defer s.wg.Done()
		s.run()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.pollConfigs()
	}()
}

// configPoll is how often AMKO's GSLBConfig is read. It changes when a
// cluster joins or leaves the federation, rarely enough that a list every
// so often is cheaper than one more watch per replica.
const configPoll = 15 * time.Second

// pollConfigs lists the GSLBConfigs of the namespace now and every
// configPoll. Without the CRD there is no GSLBConfig: every Corefile site
// is a member, as before AMKO's objects are installed.
func (s *Source) pollConfigs() {
	tick := time.NewTicker(configPoll)
	defer tick.Stop()
	for {
		s.listConfigs()
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

func (s *Source) listConfigs() {
	ctx, cancel := context.WithTimeout(s.ctx, statusTimeout)
	defer cancel()
	list, err := s.dyn.Resource(ConfigResource).Namespace(s.cfg.Namespace).List(ctx, metav1.ListOptions{})
	var configs []GSLBConfig
	msg := ""
	switch {
	case apierrors.IsNotFound(err):
		// No GSLBConfig CRD: no memberClusters to honour.
	case apierrors.IsForbidden(err):
		msg = fmt.Sprintf("AMKO: the credentials of leader context %q may not list gslbconfigs in namespace %s (403 Forbidden): grant the verb `list` on gslbconfigs.amko.vmware.com there (deploy/rbac-amko.yaml); until then every Corefile site is a member", s.cfg.Leader.Context, s.cfg.Namespace)
	case err != nil:
		if s.ctx.Err() == nil && s.configErr == "" {
			s.configErr = "unreachable"
			log.Warningf("AMKO: cannot list GSLBConfigs in namespace %s of leader context %q: %v; keeping what was read before", s.cfg.Namespace, s.cfg.Leader.Context, err)
		}
		return
	default:
		for _, u := range list.Items {
			var c GSLBConfig
			if err := fromUnstructured(u.Object, &c); err != nil {
				log.Warningf("AMKO: GSLBConfig %s/%s cannot be read (%v): ignored; fix its spec", u.GetNamespace(), u.GetName(), err)
				continue
			}
			configs = append(configs, c)
		}
	}
	if msg != s.configErr {
		if msg != "" {
			log.Error(msg)
		}
		s.configErr = msg
	}
	if old := s.gslbConfigs.Load(); old == nil || !reflect.DeepEqual(*old, configs) {
		s.gslbConfigs.Store(&configs)
		s.poke()
	}
}

// configs returns the GSLBConfigs last listed.
func (s *Source) configs() []GSLBConfig {
	if c := s.gslbConfigs.Load(); c != nil {
		return slices.Clone(*c)
	}
	return nil
}

// Stop ends the informers and waits for the goroutines.
func (s *Source) Stop() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.cancel()
		s.wg.Wait()
		kube.ShutdownInformers(append(s.ns.factories(), s.factory, s.hrFactory)...)
	})
}

// HasSynced tells whether the objects were listed and compiled once.
func (s *Source) HasSynced() bool { return s.synced.Load() }

// Leader returns the leader's kubeconfig context, for messages.
func (s *Source) Leader() string { return s.cfg.Leader.Context }

func (s *Source) informersSynced() bool {
	if !s.gdpInf.HasSynced() || !s.hrInf.HasSynced() || s.gslbConfigs.Load() == nil {
		return false
	}
	for _, r := range s.regs {
		if !r.HasSynced() {
			return false
		}
	}
	return true
}

func (s *Source) run() {
	timeout := time.NewTimer(s.cfg.StartupTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-timeout.C:
			if !s.synced.Load() {
				// Fail closed, as AMKO: without its policy it publishes
				// nothing. Static and Avi members are not concerned.
				log.Warningf("AMKO: the policy objects in namespace %s of leader context %q are not listed after %s; "+
					"publishing nothing from the clusters until they are (AMKO fails closed the same way)",
					s.cfg.Namespace, s.cfg.Leader.Context, s.cfg.StartupTimeout)
				s.swap(&Snapshot{Ready: true, Rules: map[string]*HostRule{},
					GDP: &GDPRule{Name: "(AMKO objects not listed yet)", Sites: map[string]bool{}, Nothing: true}})
			}
		case <-s.kick:
			if s.informersSynced() {
				s.recompute()
			}
		}
	}
}

// Snapshot returns the policy in force (nil before the first).
func (s *Source) Snapshot() *Snapshot { return s.snap.Load() }

// Verdicts returns the verdicts of the last read of the policy objects
// (accepted, or rejected with the reason); nil before it.
func (s *Source) Verdicts() []Verdict {
	if v := s.verdicts.Load(); v != nil {
		return *v
	}
	return nil
}

// recompute compiles the objects, swaps the snapshot in, republishes the
// third-party members, tells the watchers when anything changed, and
// reports verdicts (log, metrics, status).
func (s *Source) recompute() {
	gdps, rules, unreadable := s.list()
	var last *GDPRule
	if old := s.snap.Load(); old != nil {
		last = old.GDP
	}
	snap, verdicts := Compile(&s.cfg.Env, gdps, rules, last, s.configs()...)
	verdicts = append(verdicts, unreadable...)
	if snap.NeedsNamespaces() {
		if started := s.ns.ensure(slices.Sorted(maps.Keys(snap.GDP.Sites))); len(started) > 0 {
			// Do not apply a namespaceSelector before the namespaces
			// are known: everything would vanish for a moment.
			ctx, cancel := context.WithTimeout(s.ctx, namespaceWait)
			cache.WaitForCacheSync(ctx.Done(), started...)
			cancel()
		}
	}
	s.watchErr.Store(false) // listed: report the next failure again
	first := !s.synced.Load()
	s.swap(snap)
	if first {
		s.synced.Store(true)
		syncedGauge.Set(1)
		log.Infof("AMKO: policy objects of namespace %s in leader context %q listed: %d GlobalDeploymentPolicy, %d GSLBHostRule",
			s.cfg.Namespace, s.cfg.Leader.Context, len(gdps), len(rules))
	}
	s.report(snap, verdicts)
	if s.cfg.Status {
		s.writeStatus(verdicts)
	}
}

// swap publishes snap, the third-party members, and tells the watchers
// when the answers may have changed.
func (s *Source) swap(snap *Snapshot) {
	old := s.snap.Swap(snap)
	keys := map[string]bool{}
	for _, r := range snap.Rules {
		if len(r.Members) > 0 {
			s.store.Set(r.Key, r.Members)
			keys[r.Key] = true
		}
	}
	for k := range s.memberKeys {
		if !keys[k] {
			s.store.Delete(k)
		}
	}
	s.memberKeys = keys
	if old == nil || !reflect.DeepEqual(old, snap) {
		s.notify("")
	}
}

// list reads the objects from the informers; an object that cannot be
// converted is rejected with the reason.
func (s *Source) list() ([]GlobalDeploymentPolicy, []GSLBHostRule, []Verdict) {
	var gdps []GlobalDeploymentPolicy
	var rules []GSLBHostRule
	var bad []Verdict
	for _, obj := range s.gdpInf.GetStore().List() {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		var g GlobalDeploymentPolicy
		if err := fromUnstructured(u.Object, &g); err != nil {
			bad = append(bad, Verdict{Kind: KindGDP, Namespace: u.GetNamespace(), Name: u.GetName(), Reason: "cannot read it: " + err.Error()})
			continue
		}
		gdps = append(gdps, g)
	}
	for _, obj := range s.hrInf.GetStore().List() {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		var r GSLBHostRule
		if err := fromUnstructured(u.Object, &r); err != nil {
			bad = append(bad, Verdict{Kind: KindHostRule, Namespace: u.GetNamespace(), Name: u.GetName(), Reason: "cannot read it: " + err.Error()})
			continue
		}
		rules = append(rules, r)
	}
	return gdps, rules, bad
}

// report logs each verdict once per content, and sets the metrics.
func (s *Source) report(snap *Snapshot, verdicts []Verdict) {
	s.verdicts.Store(&verdicts)
	// Before the log lines: whoever reads one finds the count already set.
	unknownContextsGauge.Set(float64(snap.UnknownContexts))
	counts := map[string][2]int{KindGDP: {}, KindHostRule: {}, KindConfig: {}}
	seen := map[string]bool{}
	for _, v := range verdicts {
		c := counts[v.Kind]
		if v.Accepted {
			c[0]++
		} else {
			c[1]++
		}
		counts[v.Kind] = c
		key := v.Key()
		seen[key] = true
		var msg string
		if v.Accepted {
			msg = v.Summary + "\x00" + strings.Join(v.Notes, "\x00")
		} else {
			msg = "rejected\x00" + v.Reason
		}
		if s.logged[key] == msg {
			continue
		}
		s.logged[key] = msg
		if !v.Accepted {
			consequence := ""
			if v.Kind == KindHostRule {
				consequence = "; its name is served with the GDP and Corefile settings"
			}
			log.Warningf("AMKO: %s rejected: %s%s", key, v.Reason, consequence)
			continue
		}
		log.Infof("AMKO: %s accepted: %s", key, v.Summary)
		for _, n := range v.Notes {
			log.Warningf("AMKO: %s: %s", key, n)
		}
	}
	for k := range s.logged {
		if !seen[k] {
			delete(s.logged, k)
		}
	}
	for kind, c := range counts {
		acceptedGauge.WithLabelValues(kind).Set(float64(c[0]))
		rejectedGauge.WithLabelValues(kind).Set(float64(c[1]))
	}
	selection := "gdp"
	if snap.GDP == nil {
		selection = "corefile"
	}
	if selection != s.selection {
		if selection == "corefile" {
			log.Infof("AMKO: no GlobalDeploymentPolicy applies in namespace %s: publishing every object the Corefile selector watches; GSLBHostRules still apply", s.cfg.Namespace)
		}
		s.selection = selection
	}
}

// AMKOStatefulSet is how AMKO's Helm chart runs it: StatefulSet "amko" in
// the namespace of its objects.
var statefulSetResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}

const (
	amkoStatefulSet = "amko"
	// amkoRecheck bounds how often the StatefulSet is looked for.
	amkoRecheck = 30 * time.Second
)

// amkoRunning tells why status must not be written: AMKO itself runs and
// writes the same fields, so the two would overwrite each other at every
// change. "" means it does not run. A lookup that fails also stops the
// writes: better no status than a fight.
func (s *Source) amkoRunning() string {
	if now := time.Now(); now.Sub(s.amkoChecked) < amkoRecheck {
		return s.amkoRuns
	}
	s.amkoChecked = time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, statusTimeout)
	defer cancel()
	u, err := s.dyn.Resource(statefulSetResource).Namespace(s.cfg.Namespace).Get(ctx, amkoStatefulSet, metav1.GetOptions{})
	why := ""
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		why = fmt.Sprintf("cannot tell whether AMKO runs (get statefulsets/%s in namespace %s: %v); grant `get` on it (deploy/rbac-amko.yaml)", amkoStatefulSet, s.cfg.Namespace, err)
	default:
		replicas, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !found || replicas > 0 {
			why = fmt.Sprintf("AMKO runs (StatefulSet %s/%s has %d replicas) and writes the same status; scale it to 0 when gslb takes over", s.cfg.Namespace, amkoStatefulSet, max(replicas, 1))
		}
	}
	if why != s.amkoRuns {
		if why != "" {
			log.Warningf("AMKO: amko_status writes no status while %s", why)
		} else {
			log.Infof("AMKO: AMKO no longer runs in namespace %s: amko_status writes the objects' status", s.cfg.Namespace)
		}
		s.amkoRuns = why
	}
	return why
}

// writeStatus writes AMKO's status on objects whose status differs.
func (s *Source) writeStatus(verdicts []Verdict) {
	if s.amkoRunning() != "" {
		return
	}
	for _, v := range verdicts {
		if v.Kind == KindConfig {
			continue // AMKO writes its own state there
		}
		inf, gvr := s.hrInf, HostRuleResource
		if v.Kind == KindGDP {
			inf, gvr = s.gdpInf, GDPResource
		}
		obj, ok, _ := inf.GetStore().GetByKey(v.Namespace + "/" + v.Name)
		if !ok {
			continue
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		want := v.Status()
		cur, _, _ := unstructured.NestedMap(u.Object, "status")
		if statusEqual(cur, want) {
			continue
		}
		u = u.DeepCopy()
		status := map[string]any{}
		for k, val := range want {
			if val != "" {
				status[k] = val
			}
		}
		_ = unstructured.SetNestedMap(u.Object, status, "status")
		err := s.putStatus(gvr, u)
		key := v.Key()
		switch {
		case s.ctx.Err() != nil:
			return // stopping
		case err == nil:
			statusWrites.WithLabelValues("success").Inc()
			delete(s.statusByKey, key)
		case apierrors.IsConflict(err):
			// A newer version is on its way to the informer; its event
			// brings us back here.
			statusWrites.WithLabelValues("conflict").Inc()
		default:
			statusWrites.WithLabelValues("error").Inc()
			if !s.statusByKey[key] {
				s.statusByKey[key] = true
				log.Warningf("AMKO: cannot write the status of %s: %v; amko_status needs permission to update %s in namespace %s of context %q",
					key, err, gvr.Resource, v.Namespace, s.cfg.Leader.Context)
			}
		}
	}
}

// putStatus writes the status through the status subresource when the CRD
// has one, else (AMKO's CRDs) with an update of the object.
func (s *Source) putStatus(gvr schema.GroupVersionResource, u *unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(s.ctx, statusTimeout)
	defer cancel()
	api := s.dyn.Resource(gvr).Namespace(u.GetNamespace())
	if s.useUpdate.Load() {
		_, err := api.Update(ctx, u, metav1.UpdateOptions{})
		return err
	}
	_, err := api.UpdateStatus(ctx, u, metav1.UpdateOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	// No status subresource (AMKO's CRDs), or the object is gone: only an
	// update of the object tells which.
	if _, err = api.Update(ctx, u, metav1.UpdateOptions{}); err == nil {
		s.useUpdate.Store(true)
	}
	return err
}

func statusEqual(cur, want map[string]any) bool {
	for k, v := range want {
		got, _ := cur[k].(string)
		if got != v {
			return false
		}
	}
	return true
}

// Publish implements kube.Policy: an object is published when the GDP in
// force selects it (its site is in matchClusters, its labels match the
// appSelector and its namespace's labels the namespaceSelector). Without a
// GDP in force, everything the Corefile selector watches is published;
// before the objects were listed, nothing.
func (s *Source) Publish(site, namespace string, labels map[string]string) bool {
	snap := s.snap.Load()
	if snap == nil || !snap.Ready {
		return false
	}
	g := snap.GDP
	if snap.Members != nil && !snap.Members[site] {
		return false // not a member cluster in AMKO's GSLBConfig
	}
	if g == nil {
		return true
	}
	if g.Nothing || !g.Sites[site] || !matches(g.App, labels) {
		return false
	}
	if g.Namespace != nil {
		nsLabels, ok := s.ns.labels(site, namespace)
		if !ok || !matches(g.Namespace, nsLabels) {
			return false
		}
	}
	return true
}

// Layer implements kube.Policy.
func (s *Source) Layer(site, fqdn string) kube.Layer {
	snap := s.snap.Load()
	if snap == nil || !snap.Ready {
		return kube.Layer{}
	}
	return snap.layer(site, fqdn)
}

// DefaultDomain implements kube.DefaultDomainPolicy: the defaultDomain of
// the GDP in force, for OpenShift Routes that give only a subdomain.
func (s *Source) DefaultDomain() string {
	snap := s.snap.Load()
	if snap == nil || !snap.Ready || snap.GDP == nil {
		return ""
	}
	return snap.GDP.DefaultDomain
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
