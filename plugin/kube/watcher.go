package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/gslb/gslb/plugin/model"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

var log = clog.NewWithPlugin("gslb")

// Cluster is one member cluster.
type Cluster struct {
	// Site names the cluster in answers, logs and metrics.
	Site string
	// Context is the kubeconfig context it came from ("in-cluster" for the
	// service account), for messages.
	Context string
	Config  *rest.Config
}

// Options says what to watch; they are the same for every cluster.
type Options struct {
	// Selector is a Kubernetes label selector, applied by the API server.
	Selector   string
	Namespaces []string // empty: all namespaces
	Ingresses  bool
	Services   bool
	InZone     InZone
	// DefaultCheck, when set, replaces the per-kind default probe (HTTP
	// 80/HTTPS 443 for Ingresses, lowest TCP port for Services); the
	// objects' gslb.io/health-* annotations still win. A zero Check turns
	// probing off by default.
	DefaultCheck *model.Check
	// EndpointReadiness makes a member down while none of the Services
	// behind its object has a ready endpoint (EndpointSlices).
	EndpointReadiness bool
	// Policy, when set, further filters the selected objects and layers
	// its settings under their annotations (AMKO policy objects). Its
	// owner calls Resync when its answers change.
	Policy Policy
	// Events records Kubernetes Events on the objects: ignored or
	// rejected, and their members going down or up (events.go).
	Events bool
	// CustomGlobalFQDN publishes hosts under the global names that AKO
	// HostRules give them (spec.virtualhost.gslb.fqdn), as AMKO's
	// useCustomGlobalFqdn; hosts without one are not published.
	CustomGlobalFQDN bool
	// Vantages, when set, also reads the vantages' heartbeats and
	// verdicts (plugin/vantage) from this cluster.
	Vantages *Vantages
	// GatewayRoutes are the Gateway API route kinds watched, by resource
	// name (GatewayRouteResources); Gateways are watched with them.
	GatewayRoutes []string
	// SelectGateways applies Selector and Namespaces to Gateways instead
	// of routes: every route attached to a selected Gateway is published.
	SelectGateways bool
	// OpenShiftRoutes watches route.openshift.io/v1 Routes.
	OpenShiftRoutes bool
}

// probeInterval is how often an API server's /readyz is asked, to tell
// "connected" apart from "quiet". Watches themselves never wait for it.
const probeInterval = 5 * time.Second

// Watcher runs the informers of one member cluster and mirrors the selected
// objects into the store. When the API server goes away the informer cache,
// and therefore the store, keeps the last known objects; the reflector
// relists and resumes when it comes back.
type Watcher struct {
	cluster Cluster
	opts    Options
	store   *model.Store
	readyz  func(context.Context) error // nil error while the API server is ready

	stop      chan struct{}
	ctx       context.Context // cancelled by Stop, so a probe in flight ends at once
	cancel    context.CancelFunc
	done      sync.WaitGroup
	factories []informers.SharedInformerFactory
	// dynFactories watch CRDs (AKO HostRules).
	dynFactories []dynamicinformer.DynamicSharedInformerFactory
	// global maps hosts to global names (CustomGlobalFQDN); nil otherwise.
	global    *globalNames
	synced    []cache.InformerSynced
	connected atomic.Bool
	// downSince is when the API server became unreachable (unix nanos);
	// 0 while it answers.
	downSince atomic.Int64
	// lastEvent is when an object event was last applied (unix nanos).
	lastEvent atomic.Int64

	// infMu guards informers, synced, gateways and dynFactories: the
	// kinds defined by CRDs are registered once the API server said it
	// serves them, while resyncs read them.
	infMu sync.RWMutex
	// informers of the selected objects by kind, to re-evaluate a
	// namespace's objects when a Service's readiness flips.
	informers      map[string][]cache.SharedIndexInformer
	endpoints      *endpoints
	endpointSynced cache.InformerSynced

	// evalMu orders evaluations of objects: informer events and resyncs
	// (endpoint readiness, policy changes) come from different goroutines,
	// and a resync must never store an older version of an object after
	// an event stored a newer one.
	evalMu sync.Mutex

	// crds are the CRD-defined kinds asked for (Gateway API, OpenShift
	// Routes); dyn and served watch them and ask whether they are served.
	crds       []*crdKind
	dyn        dynamic.Interface
	served     servedResources
	crdChecked atomic.Bool // the API server said which it serves
	forbidden  sync.Map    // kinds whose missing RBAC rule was logged
	gateways   []cache.SharedIndexInformer

	// events records Kubernetes Events; nil unless Options.Events.
	events *events

	mu         sync.Mutex
	unattached map[string]bool   // route keys without an accepting, addressed parent
	ignored    map[string]int    // object key -> hosts ignored
	invalid    map[string]string // object key -> last reported annotation errors
	unselected map[string]bool   // object keys the Policy does not publish
}

// NewWatcher prepares the informers; nothing talks to the cluster before Start.
func NewWatcher(c Cluster, opts Options, store *model.Store) (*Watcher, error) {
	cfg := ClientConfig(c.Config)
	// Protobuf, not JSON, for the built-in types we watch: decoding a
	// watch event or a list of thousands of objects costs a fraction of
	// the CPU and garbage. JSON stays acceptable for the rest.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("site %s (context %q): %w", c.Site, c.Context, err)
	}
	readyz := func(ctx context.Context) error {
		return client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
	}
	w := newWatcher(c, opts, store, client, readyz)
	if len(w.crds) > 0 {
		if w.dyn, err = newDynamic(c); err != nil {
			return nil, fmt.Errorf("site %s (context %q): %w", c.Site, c.Context, err)
		}
		w.served = discoveryServed(client.Discovery().ServerResourcesForGroupVersion)
	}
	if opts.CustomGlobalFQDN {
		dyn, err := dynamic.NewForConfig(ClientConfig(c.Config))
		if err != nil {
			return nil, fmt.Errorf("site %s (context %q): %w", c.Site, c.Context, err)
		}
		// HostRules carry no gslb label: no selector.
		namespaces := opts.Namespaces
		if len(namespaces) == 0 {
			namespaces = []string{metav1.NamespaceAll}
		}
		w.watchGlobalNames(dyn, namespaces, w.resyncAll)
	}
	return w, nil
}

// newWatcher is NewWatcher on any client, so that unit tests can run it on
// client-go's fake clientset (whose discovery has no REST client for readyz).
func newWatcher(c Cluster, opts Options, store *model.Store, client kubernetes.Interface, readyz func(context.Context) error) *Watcher {
	w := &Watcher{cluster: c, opts: opts, store: store, readyz: readyz, stop: make(chan struct{}),
		ignored: map[string]int{}, unattached: map[string]bool{}, invalid: map[string]string{}, unselected: map[string]bool{}, informers: map[string][]cache.SharedIndexInformer{}, endpoints: newEndpoints()}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.crds = opts.crdKinds()
	if opts.Events {
		w.events = newEvents(w, client)
	}
	namespaces := opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = opts.Selector }))
		if opts.Ingresses {
			w.register(f.Networking().V1().Ingresses().Informer(), "ingress")
		}
		if opts.Services {
			w.register(f.Core().V1().Services().Informer(), "service")
		}
		w.factories = append(w.factories, f)
		if opts.EndpointReadiness || opts.Policy != nil {
			// EndpointSlices do not carry the gslb label: their own
			// factory, without the selector. A Policy needs them too: a
			// name it leaves unprobed (AMKO's controlPlaneHmOnly) keeps
			// endpoint readiness as its health input.
			ef := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
			w.watchEndpoints(ef.Discovery().V1().EndpointSlices().Informer())
			w.factories = append(w.factories, ef)
		}
	}
	if opts.Vantages != nil {
		w.watchVantages(client, *opts.Vantages)
	}
	return w
}

// lastApplied is kubectl apply's copy of the whole object in an annotation:
// as big as the object again, and never read by gslb.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trim is the transform of the Ingress and Service informers: the cache
// keeps only what gslb reads. On top of StripManagedFields, kubectl's
// last-applied copy (often the bulk of an object), a Service's selector,
// cluster IPs and the like (records.go reads type, ports, annotations and
// status), and an Ingress's backends unless endpoint readiness may read
// them (endpoint_readiness, or a policy's unprobed names). An Ingress's
// paths stay: each is probed.
func (w *Watcher) trim(obj any) (any, error) {
	obj, err := StripManagedFields(obj)
	if m, ok := obj.(metav1.Object); ok {
		if ann := m.GetAnnotations(); ann[lastApplied] != "" {
			delete(ann, lastApplied)
			m.SetAnnotations(ann)
		}
	}
	switch o := obj.(type) {
	case *corev1.Service:
		o.Spec = corev1.ServiceSpec{Type: o.Spec.Type, Ports: o.Spec.Ports}
	case *networkingv1.Ingress:
		if !w.opts.EndpointReadiness && w.opts.Policy == nil {
			o.Spec.DefaultBackend = nil
			for i := range o.Spec.Rules {
				if h := o.Spec.Rules[i].HTTP; h != nil {
					for j := range h.Paths {
						h.Paths[j].Backend = networkingv1.IngressBackend{}
					}
				}
			}
		}
	}
	return obj, err
}

// informerSnapshot is a copy of the informers by kind, to iterate without
// holding infMu.
func (w *Watcher) informerSnapshot() map[string][]cache.SharedIndexInformer {
	w.infMu.RLock()
	defer w.infMu.RUnlock()
	out := make(map[string][]cache.SharedIndexInformer, len(w.informers))
	for k, v := range w.informers {
		out[k] = slices.Clone(v)
	}
	return out
}

// resyncNamespace re-evaluates every selected object of namespace ns.
func (w *Watcher) resyncNamespace(ns string) {
	for kind, infs := range w.informerSnapshot() {
		for _, inf := range infs {
			keys, _ := inf.GetIndexer().IndexKeys(cache.NamespaceIndex, ns)
			for _, k := range keys {
				w.reevaluate(kind, inf, k)
			}
		}
	}
}

// register makes inf's objects records under kind. Built-in kinds get the
// typed transform here; CRD kinds come with theirs (trimCRD).
func (w *Watcher) register(inf cache.SharedIndexInformer, kind string) {
	// Objects are cached whole by the informer: keep only what is read.
	if kind == "ingress" || kind == "service" {
		_ = inf.SetTransform(w.trim)
	}
	_ = inf.SetWatchErrorHandler(w.watchErrorHandler(kind))
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.update(kind, obj) },
		UpdateFunc: func(_, obj any) { w.update(kind, obj) },
		DeleteFunc: func(obj any) { w.remove(kind, obj) },
	})
	w.infMu.Lock()
	w.informers[kind] = append(w.informers[kind], inf)
	w.synced = append(w.synced, inf.HasSynced)
	w.infMu.Unlock()
}

func (w *Watcher) watchErrorHandler(kind string) cache.WatchErrorHandler {
	return func(_ *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			// A missing RBAC rule, maybe from the first list on (when
			// the message below is not logged): say which, once.
			if _, seen := w.forbidden.LoadOrStore(kind, true); !seen {
				log.Errorf("Site %s (context %q): not allowed to list and watch %s: %v; grant list and watch on them (deploy/rbac.yaml)",
					w.cluster.Site, w.cluster.Context, plural(kind), err)
			}
		}
		w.markDown()
		if w.connected.Swap(false) {
			log.Warningf("Site %s (context %q): lost the watch on %s: %v; serving its last known members until it returns",
				w.cluster.Site, w.cluster.Context, plural(kind), err)
		}
		connectedGauge.WithLabelValues(w.cluster.Site).Set(0)
	}
}

// plural names a kind's objects in messages: "ingresses", "httproutes".
func plural(kind string) string {
	switch {
	case strings.HasSuffix(kind, "ss"):
		return kind + "es"
	case strings.HasSuffix(kind, "s"):
		return kind
	}
	return kind + "s"
}

func (w *Watcher) key(kind string, obj any) string {
	k, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return "kube/" + w.cluster.Site + "/" + kind + "/" + k
}

// reevaluate evaluates the current version of the object with cache key k,
// if it still exists (its deletion event does the rest otherwise).
func (w *Watcher) reevaluate(kind string, inf cache.SharedIndexInformer, k string) {
	w.evalMu.Lock()
	defer w.evalMu.Unlock()
	if obj, ok, _ := inf.GetIndexer().GetByKey(k); ok {
		w.evaluate(kind, obj)
	}
}

func (w *Watcher) update(kind string, obj any) {
	w.evalMu.Lock()
	defer w.evalMu.Unlock()
	w.evaluate(kind, obj)
}

func (w *Watcher) evaluate(kind string, obj any) {
	var ex Extracted
	var ns string
	var meta metav1.Object
	var backends []string
	publish := true
	// selectsItself: the Policy's verdict on publish is about the object
	// itself (not about a route's Gateways), so not publishing it is worth
	// an Event and a count.
	selectsItself := true
	inZone := w.opts.InZone
	if w.global != nil {
		// Local hosts need not be in the zones: their global names,
		// checked when the HostRules are read, are what is published.
		inZone = anyName
	}
	switch o := obj.(type) {
	case *networkingv1.Ingress:
		ns, meta, backends = o.Namespace, o, BackendServices(o)
		if publish = w.publishes(ns, o.Labels); publish {
			ex = FromIngress(o, w.cluster.Site, inZone, w.opts.DefaultCheck)
		}
	case *corev1.Service:
		ns, meta, backends = o.Namespace, o, []string{o.Name}
		if publish = w.publishes(ns, o.Labels); publish {
			ex = FromService(o, w.cluster.Site, inZone, w.opts.DefaultCheck)
		}
	case *unstructured.Unstructured:
		ns, meta = o.GetNamespace(), o
		var attached bool
		switch {
		case kind == ResourceOpenShiftRoutes:
			backends = routeServices(o)
			if publish = w.publishes(ns, o.GetLabels()); publish {
				ex, attached = FromOpenShiftRoute(o, w.defaultDomain(), w.cluster.Site, inZone, w.opts.DefaultCheck)
			}
		case slices.Contains(GatewayRouteResources, kind):
			backends = routeBackends(o)
			var allow ParentFilter
			if w.opts.SelectGateways {
				// The Gateway carries the selection: its labels and
				// namespace are what the policy selects. Routes are
				// watched in every namespace, so a route is gslb's only
				// through a selected parent Gateway (the cache holds only
				// the Gateways the Corefile selects): without one it
				// claims no names, counts in no metric and gets no Event.
				// A Gateway that becomes selected re-evaluates its routes
				// (registerGateways).
				allow = func(gw *unstructured.Unstructured) bool { return w.publishes(gw.GetNamespace(), gw.GetLabels()) }
				publish = slices.ContainsFunc(routeParents(o), func(p string) bool {
					gwNS, gwName, _ := strings.Cut(p, "/")
					gw, ok := w.gatewayByKey(gwNS, gwName)
					return ok && allow(gw)
				})
				selectsItself = false
			} else {
				publish = w.publishes(ns, o.GetLabels())
			}
			if publish {
				ex, attached = FromGatewayRoute(kind, o, w.gatewayByKey, allow, w.cluster.Site, inZone, w.opts.DefaultCheck)
			}
		default:
			return
		}
		w.setUnattached(w.key(kind, obj), publish && !attached)
	default:
		return
	}
	key := w.key(kind, obj)
	var noProbe map[string]bool
	if w.global != nil {
		w.global.rename(&ex) // before the policy: it speaks of global names
	}
	if w.opts.Policy != nil {
		unselected := !publish && selectsItself
		if w.setUnselected(key, unselected) && unselected {
			w.record(obj, corev1.EventTypeWarning, ReasonNotSelected,
				"Not published by gslb: the GlobalDeploymentPolicy in force does not select it (its matchRules labels, or matchClusters for this cluster)")
		}
		noProbe = applyLayer(&ex, w.opts.Policy, w.cluster.Site)
	}
	if (w.opts.EndpointReadiness || len(noProbe) > 0) && !w.endpoints.anyReady(ns, backends) {
		for i := range ex.Records {
			if w.opts.EndpointReadiness || noProbe[ex.Records[i].FQDN] {
				ex.Records[i].SourceDown = true
			}
		}
	}
	if msg, changed := w.reportErrors(key, ex.Errors); changed && msg != "" {
		w.record(obj, corev1.EventTypeWarning, ReasonInvalidAnnotations, "gslb: "+msg+"; those settings fall back to the defaults")
	}
	// The object claims its names for its namespace (name ownership), the
	// names it has members for and those still waiting for a VIP alike.
	w.store.SetClaimed(key, model.Claim{Site: w.cluster.Site, Kind: kind, Namespace: ns, Name: meta.GetName(),
		Created: meta.GetCreationTimestamp().Time, Names: ex.Names}, ex.Records)
	if w.setIgnored(key, ex.Ignored) && ex.Ignored > 0 {
		w.record(obj, corev1.EventTypeWarning, ReasonHostsOutsideZones,
			fmt.Sprintf("gslb ignores %d host(s) of this object: outside every zone it serves (or not a valid host name); rename them into a served zone to publish them", ex.Ignored))
	}
	w.sawEvent()
}

// publishes asks the Policy, if any, whether an object is published.
func (w *Watcher) publishes(ns string, labels map[string]string) bool {
	return w.opts.Policy == nil || w.opts.Policy.Publish(w.cluster.Site, ns, labels)
}

func (w *Watcher) remove(kind string, obj any) {
	w.evalMu.Lock()
	defer w.evalMu.Unlock()
	key := w.key(kind, obj)
	w.reportErrors(key, nil)
	w.store.Delete(key)
	w.setIgnored(key, 0)
	w.setUnattached(key, false)
	if w.opts.Policy != nil {
		w.setUnselected(key, false)
	}
	w.sawEvent()
}

// setUnselected notes whether the Policy publishes key; true when that
// changed.
func (w *Watcher) setUnselected(key string, unselected bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := w.unselected[key] != unselected
	if unselected {
		w.unselected[key] = true
	} else {
		delete(w.unselected, key)
	}
	unselectedGauge.WithLabelValues(w.cluster.Site).Set(float64(len(w.unselected)))
	return changed
}

// defaultDomain is the policy's domain for Routes that name only a
// subdomain (AMKO's GDP defaultDomain); empty without one.
func (w *Watcher) defaultDomain() string {
	if d, ok := w.opts.Policy.(DefaultDomainPolicy); ok {
		return d.DefaultDomain()
	}
	return ""
}

// DefaultDomainPolicy is a Policy that also gives the domain of OpenShift
// Routes with only a spec.subdomain (AMKO's GDP defaultDomain).
type DefaultDomainPolicy interface {
	DefaultDomain() string
}

func (w *Watcher) setUnattached(key string, unattached bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if unattached == w.unattached[key] {
		return
	}
	if unattached {
		w.unattached[key] = true
	} else {
		delete(w.unattached, key)
	}
	unattachedGauge.WithLabelValues(w.cluster.Site).Set(float64(len(w.unattached)))
}

func (w *Watcher) sawEvent() {
	w.lastEvent.Store(time.Now().UnixNano())
	lastEventGauge.WithLabelValues(w.cluster.Site).SetToCurrentTime()
}

// setIgnored notes how many hosts of key are ignored; true when that
// changed.
func (w *Watcher) setIgnored(key string, n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := w.ignored[key] != n
	if n == 0 {
		delete(w.ignored, key)
	} else {
		w.ignored[key] = n
	}
	total := 0
	for _, v := range w.ignored {
		total += v
	}
	ignoredGauge.WithLabelValues(w.cluster.Site).Set(float64(total))
	return changed
}

// Start runs the informers and the reachability probe in the background.
func (w *Watcher) Start() {
	syncedGauge.WithLabelValues(w.cluster.Site).Set(0)
	if w.events != nil {
		w.events.start()
	}
	for _, f := range w.factories {
		f.Start(w.stop)
	}
	for _, f := range w.dynFactoriesSnapshot() {
		f.Start(w.stop)
	}
	w.done.Add(2)
	go func() {
		defer w.done.Done()
		// The CRD kinds' informers exist once the API server said which
		// kinds it serves: only then is the list of informers complete.
		if len(w.crds) > 0 && !w.watchCRDKinds() {
			return
		}
		w.infMu.RLock()
		synced := slices.Clone(w.synced)
		w.infMu.RUnlock()
		if cache.WaitForCacheSync(w.stop, synced...) {
			if w.endpointSynced != nil {
				// Readiness is known only now: apply it everywhere.
				w.endpoints.markSynced()
				w.resyncAll()
			}
			syncedGauge.WithLabelValues(w.cluster.Site).Set(1)
			log.Infof("Site %s (context %q): synced", w.cluster.Site, w.cluster.Context)
		}
	}()
	go func() {
		defer w.done.Done()
		w.probe()
	}()
}

// probe marks the cluster connected while its API server answers /readyz.
func (w *Watcher) probe() {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(w.ctx, probeInterval)
		err := w.readyz(ctx)
		cancel()
		if w.ctx.Err() != nil {
			return // stopping: not an outage
		}
		if err == nil {
			w.downSince.Store(0)
			if !w.connected.Swap(true) {
				log.Infof("Site %s (context %q): API server reachable", w.cluster.Site, w.cluster.Context)
			}
			connectedGauge.WithLabelValues(w.cluster.Site).Set(1)
		} else {
			w.markDown()
			if w.connected.Swap(false) {
				log.Warningf("Site %s (context %q): API server unreachable: %v; serving its last known members", w.cluster.Site, w.cluster.Context, err)
			}
			connectedGauge.WithLabelValues(w.cluster.Site).Set(0)
		}
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

// HasSynced tells whether the initial list of every informer completed.
func (w *Watcher) HasSynced() bool {
	if len(w.crds) > 0 && !w.crdChecked.Load() {
		return false
	}
	w.infMu.RLock()
	synced := slices.Clone(w.synced)
	w.infMu.RUnlock()
	for _, s := range synced {
		if !s() {
			return false
		}
	}
	return true
}

// Site returns the site name.
func (w *Watcher) Site() string { return w.cluster.Site }

// Context returns the kubeconfig context name.
func (w *Watcher) Context() string { return w.cluster.Context }

// Stop ends the informers and the probe and waits for their goroutines, so a
// Corefile reload leaks no watch; a reflector sleeping out a backoff while
// the API server is away is not waited for (ShutdownInformers).
func (w *Watcher) Stop() {
	close(w.stop)
	w.cancel()
	w.done.Wait() // no CRD kind is registered after this
	var factories []Shutdowner
	for _, f := range w.factories {
		factories = append(factories, f)
	}
	for _, f := range w.dynFactoriesSnapshot() {
		factories = append(factories, f)
	}
	ShutdownInformers(factories...)
	if w.events != nil {
		w.events.stop()
	}
}

// reportErrors logs bad annotations once per object and content, naming the
// object: updates that do not change them stay quiet. It returns the
// message and whether it changed.
func (w *Watcher) reportErrors(key string, errs []error) (string, bool) {
	msg := ""
	if len(errs) > 0 {
		parts := make([]string, len(errs))
		for i, e := range errs {
			parts[i] = e.Error()
		}
		msg = strings.Join(parts, "; ")
	}
	w.mu.Lock()
	last := w.invalid[key]
	if msg == "" {
		delete(w.invalid, key)
	} else {
		w.invalid[key] = msg
	}
	w.mu.Unlock()
	if msg != "" && msg != last {
		_, obj, _ := strings.Cut(strings.TrimPrefix(key, "kube/"+w.cluster.Site+"/"), "/")
		kind, _, _ := strings.Cut(strings.TrimPrefix(key, "kube/"+w.cluster.Site+"/"), "/")
		log.Warningf("Site %s: %s %s: %s; those settings fall back to the defaults", w.cluster.Site, kind, obj, msg)
		invalidAnnotations.WithLabelValues(w.cluster.Site).Inc()
	}
	return msg, msg != last
}

func (w *Watcher) markDown() {
	w.downSince.CompareAndSwap(0, time.Now().UnixNano())
}

// DisconnectedSince returns when the cluster's API server stopped answering,
// or the zero time while it answers.
func (w *Watcher) DisconnectedSince() time.Time {
	if n := w.downSince.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Resync evaluates every selected object again, e.g. after the Policy's
// answers changed. Safe to call at any time, from any goroutine.
func (w *Watcher) Resync() { w.resyncAll() }

func (w *Watcher) dynFactoriesSnapshot() []dynamicinformer.DynamicSharedInformerFactory {
	w.infMu.RLock()
	defer w.infMu.RUnlock()
	return slices.Clone(w.dynFactories)
}

func (w *Watcher) resyncAll() {
	for kind, infs := range w.informerSnapshot() {
		for _, inf := range infs {
			for _, k := range inf.GetIndexer().ListKeys() {
				w.reevaluate(kind, inf, k)
			}
		}
	}
}

// Connected tells whether the API server answered the last readiness probe.
func (w *Watcher) Connected() bool { return w.connected.Load() }

// LastEvent is when an object event was last applied; zero before any.
func (w *Watcher) LastEvent() time.Time {
	if n := w.lastEvent.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Problem is an object of a cluster that is not (fully) used, and why.
type Problem struct {
	Key    string // the store key: kube/SITE/KIND/NAMESPACE/NAME
	Reason string
}

// Problems lists the objects with bad annotations and those with hosts
// outside the zones, sorted by key.
func (w *Watcher) Problems() []Problem {
	w.mu.Lock()
	var out []Problem
	for k, msg := range w.invalid {
		out = append(out, Problem{Key: k, Reason: "bad annotations: " + msg + "; those settings fall back to the defaults"})
	}
	for k, n := range w.ignored {
		out = append(out, Problem{Key: k, Reason: fmt.Sprintf("%d host(s) outside the zones: not published", n)})
	}
	w.mu.Unlock()
	slices.SortFunc(out, func(a, b Problem) int { return strings.Compare(a.Key+a.Reason, b.Key+b.Reason) })
	return out
}
