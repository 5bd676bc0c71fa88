package kube

import (
	"context"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// crdRecheck is how often a cluster is asked again for the kinds it did
// not serve (their CRDs may be installed later).
var crdRecheck = 30 * time.Second

// gatewayIndex indexes routes by the Gateways (namespace/name) they name
// as parents: a Gateway's change re-evaluates exactly its routes.
const gatewayIndex = "gateway"

// crdKind is one kind defined by a CRD that a cluster may or may not
// serve. Its resource name (gvr.Resource) is the watcher's name of it
// (keys, logs); Gateways have no records of their own.
type crdKind struct {
	gvr schema.GroupVersionResource
	// selected: the Corefile selector and namespaces apply to it; the
	// other side of a Gateway/route pair is watched whole.
	selected bool
	started  bool
}

func (k crdKind) String() string { return k.gvr.Resource + "." + k.gvr.Group + "/" + k.gvr.Version }

// crdKinds are the CRD-defined kinds the options ask for.
func (o *Options) crdKinds() []*crdKind {
	var out []*crdKind
	if len(o.GatewayRoutes) > 0 {
		out = append(out, &crdKind{gvr: GatewayResource(ResourceGateways), selected: o.SelectGateways})
		for _, r := range o.GatewayRoutes {
			out = append(out, &crdKind{gvr: GatewayResource(r), selected: !o.SelectGateways})
		}
	}
	if o.OpenShiftRoutes {
		out = append(out, &crdKind{gvr: OpenShiftRouteResource, selected: true})
	}
	return out
}

// servedResources lists the resources of one group version the API
// server serves; a group version it does not serve at all is an empty
// list, not an error.
type servedResources func(ctx context.Context, groupVersion string) (map[string]bool, error)

// watchCRDKinds asks the API server which of the CRD kinds it serves, starts
// informers for those, and logs the others once; it asks again every
// crdRecheck for the missing ones, and starts them when they appear. It
// returns after the first answer (then keeps checking in the background)
// or when the watcher stops: false then.
func (w *Watcher) watchCRDKinds() bool {
	backoff := time.Second
	for {
		missing, err := w.startServedKinds()
		if err == nil {
			if len(missing) > 0 {
				log.Infof("Site %s (context %q): the API server does not serve %s (CRD not installed): not watched there; gslb asks again every %s",
					w.cluster.Site, w.cluster.Context, strings.Join(missing, ", "), crdRecheck)
				w.done.Add(1)
				go func() {
					defer w.done.Done()
					w.recheckCRDKinds()
				}()
			}
			w.crdChecked.Store(true)
			return true
		}
		select {
		case <-w.stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, crdRecheck)
	}
}

func (w *Watcher) recheckCRDKinds() {
	t := time.NewTicker(crdRecheck)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		missing, err := w.startServedKinds()
		if err == nil && len(missing) == 0 {
			return
		}
	}
}

// startServedKinds starts the kinds now served that were not started yet
// and names those still missing.
func (w *Watcher) startServedKinds() ([]string, error) {
	served := map[string]map[string]bool{} // group version -> resources
	var missing []string
	for _, k := range w.crds {
		if k.started {
			continue
		}
		gv := k.gvr.GroupVersion().String()
		if _, ok := served[gv]; !ok {
			ctx, cancel := context.WithTimeout(w.ctx, probeInterval)
			res, err := w.served(ctx, gv)
			cancel()
			if err != nil {
				return nil, err
			}
			served[gv] = res
		}
		if !served[gv][k.gvr.Resource] {
			missing = append(missing, k.String())
			continue
		}
		if w.crdChecked.Load() {
			log.Infof("Site %s (context %q): the API server serves %s now: watching it", w.cluster.Site, w.cluster.Context, k)
		}
		w.startCRDKind(k)
	}
	return missing, nil
}

// startCRDKind registers the informers of k (one per watched namespace)
// and starts them.
func (w *Watcher) startCRDKind(k *crdKind) {
	k.started = true
	namespaces := []string{metav1.NamespaceAll}
	var tweak dynamicinformer.TweakListOptionsFunc
	if k.selected {
		if len(w.opts.Namespaces) > 0 {
			namespaces = w.opts.Namespaces
		}
		tweak = func(o *metav1.ListOptions) { o.LabelSelector = w.opts.Selector }
	}
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(w.dyn, 0, ns, tweak)
		inf := f.ForResource(k.gvr).Informer()
		kind := k.gvr.Resource
		_ = inf.SetTransform(w.trimCRD(kind))
		if kind == ResourceGateways {
			w.registerGateways(inf)
		} else {
			if slices.Contains(GatewayRouteResources, kind) {
				_ = inf.AddIndexers(cache.Indexers{gatewayIndex: func(obj any) ([]string, error) {
					if u, ok := obj.(*unstructured.Unstructured); ok {
						return routeParents(u), nil
					}
					return nil, nil
				}})
			}
			w.register(inf, kind)
		}
		w.infMu.Lock()
		w.dynFactories = append(w.dynFactories, f)
		w.infMu.Unlock()
		f.Start(w.stop)
	}
}

// registerGateways follows Gateways: they publish nothing themselves, but
// each change (an address, a listener, a label) re-evaluates the routes
// that name them as parents.
func (w *Watcher) registerGateways(inf cache.SharedIndexInformer) {
	onChange := func(obj any) {
		k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			return
		}
		for kind, infs := range w.informerSnapshot() {
			if !slices.Contains(GatewayRouteResources, kind) {
				continue
			}
			for _, ri := range infs {
				objs, _ := ri.GetIndexer().ByIndex(gatewayIndex, k)
				for _, o := range objs {
					if rk, err := cache.MetaNamespaceKeyFunc(o); err == nil {
						w.reevaluate(kind, ri, rk)
					}
				}
			}
		}
		w.sawEvent()
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onChange,
		UpdateFunc: func(_, obj any) { onChange(obj) },
		DeleteFunc: onChange,
	})
	_ = inf.SetWatchErrorHandler(w.watchErrorHandler(ResourceGateways))
	w.infMu.Lock()
	w.gateways = append(w.gateways, inf)
	w.synced = append(w.synced, inf.HasSynced)
	w.infMu.Unlock()
}

// gatewayByKey finds a Gateway in the cache.
func (w *Watcher) gatewayByKey(namespace, name string) (*unstructured.Unstructured, bool) {
	w.infMu.RLock()
	gws := w.gateways
	w.infMu.RUnlock()
	for _, inf := range gws {
		if obj, ok, _ := inf.GetIndexer().GetByKey(namespace + "/" + name); ok {
			u, ok := obj.(*unstructured.Unstructured)
			return u, ok
		}
	}
	return nil, false
}

// trimCRD is the transform of the CRD informers: the cache keeps the
// metadata gslb reads and the fields of the kind that records are made
// of. Route rules (matches, filters) and TLS material are dropped; route
// backends stay only when endpoint readiness may read them.
func (w *Watcher) trimCRD(kind string) cache.TransformFunc {
	keepBackends := w.opts.EndpointReadiness || w.opts.Policy != nil
	return func(obj any) (any, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return obj, nil
		}
		out := &unstructured.Unstructured{Object: map[string]any{}}
		out.SetAPIVersion(u.GetAPIVersion())
		out.SetKind(u.GetKind())
		out.SetName(u.GetName())
		out.SetNamespace(u.GetNamespace())
		out.SetUID(u.GetUID())
		out.SetResourceVersion(u.GetResourceVersion())
		out.SetGeneration(u.GetGeneration())
		out.SetCreationTimestamp(u.GetCreationTimestamp()) // name ownership: the first claim
		out.SetLabels(u.GetLabels())
		if ann := u.GetAnnotations(); len(ann) > 0 {
			delete(ann, lastApplied)
			out.SetAnnotations(ann)
		}
		keep := func(path ...string) {
			if v, ok, _ := unstructured.NestedFieldNoCopy(u.Object, path...); ok {
				_ = unstructured.SetNestedField(out.Object, v, path...)
			}
		}
		switch {
		case kind == ResourceGateways:
			keep("spec", "listeners")
			keep("status", "addresses")
		case kind == ResourceOpenShiftRoutes:
			for _, f := range []string{"host", "subdomain", "path", "to", "alternateBackends"} {
				keep("spec", f)
			}
			keep("spec", "tls", "termination") // never the certificates and keys
			keep("status", "ingress")
		default: // Gateway API routes
			keep("spec", "parentRefs")
			keep("spec", "hostnames")
			keep("status", "parents")
			if keepBackends {
				rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
				var trimmed []any
				for _, r := range rules {
					if m, ok := r.(map[string]any); ok {
						trimmed = append(trimmed, map[string]any{"backendRefs": m["backendRefs"]})
					}
				}
				if len(trimmed) > 0 {
					_ = unstructured.SetNestedSlice(out.Object, trimmed, "spec", "rules")
				}
			}
		}
		return out, nil
	}
}

// discoveryServed asks the discovery API, which needs no RBAC.
func discoveryServed(list func(groupVersion string) (*metav1.APIResourceList, error)) servedResources {
	return func(_ context.Context, gv string) (map[string]bool, error) {
		res, err := list(gv)
		if apierrors.IsNotFound(err) {
			return map[string]bool{}, nil
		}
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, r := range res.APIResources {
			if !strings.Contains(r.Name, "/") && slices.Contains(r.Verbs, "watch") {
				out[r.Name] = true
			}
		}
		return out, nil
	}
}

// newDynamic is the dynamic client of the CRD kinds (JSON: CRDs have no
// protobuf).
func newDynamic(c Cluster) (dynamic.Interface, error) {
	return dynamic.NewForConfig(ClientConfig(c.Config))
}
