package amko

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/gslb/gslb/plugin/kube"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// namespaces watches the Namespaces of member clusters, for a GDP's
// namespaceSelector. A cluster's informer starts the first time a GDP needs
// it, never before: without a namespaceSelector nothing is watched.
type namespaces struct {
	configs  map[string]*rest.Config // site -> cluster
	stop     <-chan struct{}
	onChange func(site string) // a site's namespace labels changed

	mu      sync.Mutex
	watches map[string]*nsWatch
}

type nsWatch struct {
	factory informers.SharedInformerFactory
	inf     cache.SharedIndexInformer
	synced  atomic.Bool
}

func newNamespaces(configs map[string]*rest.Config, stop <-chan struct{}, onChange func(string)) *namespaces {
	return &namespaces{configs: configs, stop: stop, onChange: onChange, watches: map[string]*nsWatch{}}
}

// ensure starts the informers of sites not watched yet and returns their
// HasSynced functions.
func (n *namespaces) ensure(sites []string) []cache.InformerSynced {
	n.mu.Lock()
	defer n.mu.Unlock()
	var started []cache.InformerSynced
	for _, site := range sites {
		if n.watches[site] != nil || n.configs[site] == nil {
			continue
		}
		client, err := kubernetes.NewForConfig(kube.ClientConfig(n.configs[site]))
		if err != nil {
			log.Errorf("Site %s: cannot watch namespaces for the GDP namespaceSelector: %v", site, err)
			continue
		}
		w := &nsWatch{factory: informers.NewSharedInformerFactory(client, 0)}
		w.inf = w.factory.Core().V1().Namespaces().Informer()
		_ = w.inf.SetTransform(kube.StripManagedFields)
		changed := func() {
			if w.synced.Load() {
				n.onChange(site)
			}
		}
		_, _ = w.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { changed() },
			UpdateFunc: func(old, cur any) {
				o, ok1 := old.(*corev1.Namespace)
				c, ok2 := cur.(*corev1.Namespace)
				if !ok1 || !ok2 || !maps.Equal(o.Labels, c.Labels) {
					changed()
				}
			},
			DeleteFunc: func(any) { changed() },
		})
		n.watches[site] = w
		w.factory.Start(n.stop)
		go func() {
			if cache.WaitForCacheSync(n.stop, w.inf.HasSynced) {
				w.synced.Store(true)
				n.onChange(site) // objects evaluated before now saw no labels
			}
		}()
		started = append(started, w.inf.HasSynced)
	}
	return started
}

// labels returns the labels of namespace ns at site; false when unknown.
func (n *namespaces) labels(site, ns string) (map[string]string, bool) {
	n.mu.Lock()
	w := n.watches[site]
	n.mu.Unlock()
	if w == nil {
		return nil, false
	}
	obj, ok, _ := w.inf.GetIndexer().GetByKey(ns)
	if !ok {
		return nil, false
	}
	nsObj, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, false
	}
	return nsObj.Labels, true
}

// factories are the namespace watches' informer factories, for Stop.
func (n *namespaces) factories() []kube.Shutdowner {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]kube.Shutdowner, 0, len(n.watches)+2)
	for _, w := range n.watches {
		out = append(out, w.factory)
	}
	return out
}
