package kube

import (
	"strings"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// endpoints counts the ready endpoints of each Service from its
// EndpointSlices, for the optional endpoint-readiness health input: a member
// whose Services have no ready endpoint in its cluster is down.
type endpoints struct {
	mu     sync.Mutex
	synced bool
	slices map[string]sliceInfo // slice key -> its Service and ready count
	ready  map[string]int       // "namespace/service" -> ready endpoints
}

type sliceInfo struct {
	service string
	ready   int
}

func newEndpoints() *endpoints {
	return &endpoints{slices: map[string]sliceInfo{}, ready: map[string]int{}}
}

// set records a slice; it reports the Service and whether its readiness
// (any ready endpoint or none) flipped.
func (e *endpoints) set(key string, s *discoveryv1.EndpointSlice) (string, bool) {
	svc := s.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return "", false
	}
	svc = s.Namespace + "/" + svc
	n := 0
	for _, ep := range s.Endpoints {
		// Ready nil means unknown, which consumers treat as ready.
		if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
			n += max(len(ep.Addresses), 1)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	before := e.ready[svc] > 0
	old := e.slices[key]
	if old.service != "" {
		e.ready[old.service] -= old.ready
	}
	e.slices[key] = sliceInfo{service: svc, ready: n}
	e.ready[svc] += n
	return svc, before != (e.ready[svc] > 0)
}

func (e *endpoints) remove(key string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old, ok := e.slices[key]
	if !ok {
		return "", false
	}
	delete(e.slices, key)
	before := e.ready[old.service] > 0
	e.ready[old.service] -= old.ready
	if e.ready[old.service] <= 0 {
		delete(e.ready, old.service)
	}
	return old.service, before
}

func (e *endpoints) markSynced() {
	e.mu.Lock()
	e.synced = true
	e.mu.Unlock()
}

// anyReady tells whether one of the Services (in namespace ns) has a ready
// endpoint. Until the slices are listed nothing is known, and nothing is
// taken down for lack of knowledge.
func (e *endpoints) anyReady(ns string, services []string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.synced || len(services) == 0 {
		return true
	}
	for _, s := range services {
		if e.ready[ns+"/"+s] > 0 {
			return true
		}
	}
	return false
}

// BackendServices lists the Services an Ingress routes to.
func BackendServices(ing *networkingv1.Ingress) []string {
	var out []string
	add := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil && b.Service.Name != "" {
			out = append(out, b.Service.Name)
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for i := range r.HTTP.Paths {
			add(&r.HTTP.Paths[i].Backend)
		}
	}
	return out
}

// watchEndpoints registers the EndpointSlice handlers on inf: a Service's
// readiness flip re-evaluates the selected objects of its namespace.
func (w *Watcher) watchEndpoints(inf cache.SharedIndexInformer) {
	_ = inf.SetTransform(StripManagedFields)
	resync := func(svc string, flipped bool) {
		if flipped {
			ns, _, _ := strings.Cut(svc, "/")
			w.resyncNamespace(ns)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
				k, _ := cache.MetaNamespaceKeyFunc(s)
				resync(w.endpoints.set(k, s))
			}
		},
		UpdateFunc: func(_, obj any) {
			if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
				k, _ := cache.MetaNamespaceKeyFunc(s)
				resync(w.endpoints.set(k, s))
			}
		},
		DeleteFunc: func(obj any) {
			k, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
			resync(w.endpoints.remove(k))
		},
	})
	w.endpointSynced = inf.HasSynced
	w.synced = append(w.synced, inf.HasSynced)
}
