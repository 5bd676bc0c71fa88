package kube

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Events (opt-in, Options.Events) tell an app team in `kubectl describe`
// what gslb did with their Ingress or Service: ignored or rejected, and
// when a member it publishes goes down or comes back. client-go's event
// recorder does the rest: it aggregates similar events, counts repeats
// into one event (PATCH), and rate-limits per object, so a flapping
// member cannot flood the API server. One recorder per member cluster,
// writing into that cluster.

// Event reasons, for `kubectl get events --field-selector reason=...`.
const (
	ReasonMemberDown         = "GSLBMemberDown"
	ReasonMemberUp           = "GSLBMemberUp"
	ReasonHostsOutsideZones  = "GSLBHostsOutsideZones"
	ReasonInvalidAnnotations = "GSLBInvalidAnnotations"
	ReasonNotSelected        = "GSLBNotSelected"
	// ReasonNameConflict: the object's namespace may not publish the name
	// (name ownership); recorded by the plugin through Event.
	ReasonNameConflict = "GSLBNameConflict"
)

// eventComponent is the source of our events.
const eventComponent = "gslb"

// events is a member cluster's event recorder; nil when events are off.
type events struct {
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	client      kubernetes.Interface
}

func newEvents(w *Watcher, client kubernetes.Interface) *events {
	b := record.NewBroadcaster(record.WithContext(w.ctx))
	return &events{
		broadcaster: b,
		recorder:    b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent}),
		client:      client,
	}
}

func (e *events) start() {
	e.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.client.CoreV1().Events("")})
}

func (e *events) stop() { e.broadcaster.Shutdown() }

// record records an event on obj, if events are on.
func (w *Watcher) record(obj any, eventtype, reason, message string) {
	if w.events == nil {
		return
	}
	if o, ok := obj.(runtime.Object); ok {
		w.events.recorder.Event(o, eventtype, reason, message)
	}
}

// Event records an event on the object of store key
// (kube/SITE/KIND/NAMESPACE/NAME) of this cluster, as it is now in the
// informer's cache. It returns false when events are off, or the key is
// not one of this cluster's objects. Other producers (a member's health,
// name ownership) record through it.
func (w *Watcher) Event(key, eventtype, reason, message string) bool {
	if w.events == nil {
		return false
	}
	rest, ok := strings.CutPrefix(key, "kube/"+w.cluster.Site+"/")
	if !ok {
		return false
	}
	kind, nsName, ok := strings.Cut(rest, "/")
	if !ok {
		return false
	}
	w.infMu.RLock() // CRD kinds register while other goroutines record
	infs := slices.Clone(w.informers[kind])
	w.infMu.RUnlock()
	for _, inf := range infs {
		if obj, exists, err := inf.GetIndexer().GetByKey(nsName); err == nil && exists {
			w.record(obj, eventtype, reason, message)
			return true
		}
	}
	return false
}
