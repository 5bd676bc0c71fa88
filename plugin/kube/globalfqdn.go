package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/gslb/gslb/plugin/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/coredns/coredns/plugin"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// AKOHostRuleResource is AKO's HostRule. With AMKO's useCustomGlobalFqdn,
// its spec.virtualhost.gslb.fqdn is the global name of the local host
// spec.virtualhost.fqdn in that cluster.
var AKOHostRuleResource = schema.GroupVersionResource{Group: "ako.vmware.com", Version: "v1beta1", Resource: "hostrules"}

// hostRuleAccepted is the status AKO writes on a HostRule it applied;
// AMKO maps only those.
const hostRuleAccepted = "Accepted"

var badHostRulesGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: plugin.Namespace,
	Subsystem: "gslb",
	Name:      "hostrule_invalid_global_fqdns",
	Help:      "AKO HostRules whose gslb.fqdn cannot be served (outside the zones, not a host name, or claimed twice), by site.",
}, []string{"site"})

// globalName is what one AKO HostRule says about one local host.
type globalName struct {
	names []string // the global FQDN, then its aliases when includeAliases
	tls   bool     // the HostRule carries a certificate: probe HTTPS/443
}

// globalNames maps a cluster's local hosts to their global FQDNs, from the
// accepted AKO HostRules (AMKO's custom global FQDN mode). A host without
// one is not published, as AMKO does in that mode.
type globalNames struct {
	site      string
	inZone    InZone
	informers []cache.SharedIndexInformer

	mu      sync.RWMutex
	byLocal map[string]globalName
	logged  map[string]string // HostRule key -> last reported problem
}

// watchGlobalNames starts following AKO HostRules; onChange is called when
// the mapping changed (the watcher re-evaluates its objects then).
func (w *Watcher) watchGlobalNames(dyn dynamic.Interface, namespaces []string, onChange func()) {
	g := &globalNames{site: w.cluster.Site, inZone: w.opts.InZone, byLocal: map[string]globalName{}, logged: map[string]string{}}
	w.global = g
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, nil)
		inf := f.ForResource(AKOHostRuleResource).Informer()
		_ = inf.SetTransform(StripManagedFields)
		_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			log.Warningf("Site %s (context %q): cannot watch AKO HostRules (custom_global_fqdn): %v; grant list and watch on hostrules.ako.vmware.com, and install AKO's HostRule CRD; hosts keep their last global names",
				w.cluster.Site, w.cluster.Context, err)
		})
		g.informers = append(g.informers, inf)
		rebuild := func(any) {
			if g.rebuild() {
				onChange()
			}
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    rebuild,
			UpdateFunc: func(_, obj any) { rebuild(obj) },
			DeleteFunc: rebuild,
		})
		w.synced = append(w.synced, inf.HasSynced)
		w.dynFactories = append(w.dynFactories, f)
	}
}

// rebuild recomputes the mapping from every HostRule (there are few) and
// tells whether it changed.
func (g *globalNames) rebuild() bool {
	type rule struct {
		key     string
		created metav1.Time
		local   string
		name    globalName
	}
	var rules []rule
	problems := map[string]string{}
	for _, inf := range g.informers {
		for _, obj := range inf.GetStore().List() {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			key := u.GetNamespace() + "/" + u.GetName()
			if st, _, _ := unstructured.NestedString(u.Object, "status", "status"); st != hostRuleAccepted {
				continue // AKO has not applied it (yet): AMKO ignores it too
			}
			localRaw, _, _ := unstructured.NestedString(u.Object, "spec", "virtualhost", "fqdn")
			globalRaw, _, _ := unstructured.NestedString(u.Object, "spec", "virtualhost", "gslb", "fqdn")
			if globalRaw == "" {
				continue // no global name: this HostRule is not about GSLB
			}
			local, ok := model.HostName(localRaw)
			if !ok {
				problems[key] = fmt.Sprintf("virtualhost.fqdn %q is not a host name", localRaw)
				continue
			}
			global, ok := model.HostName(globalRaw)
			if !ok || !g.inZone(global) {
				problems[key] = fmt.Sprintf("virtualhost.gslb.fqdn %q is outside the zones gslb serves (or not a host name): use a name inside them", globalRaw)
				continue
			}
			n := globalName{names: []string{global}}
			if inc, _, _ := unstructured.NestedBool(u.Object, "spec", "virtualhost", "gslb", "includeAliases"); inc {
				aliases, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "virtualhost", "aliases")
				for _, a := range aliases {
					if f, ok := model.HostName(a); ok && g.inZone(f) && !slices.Contains(n.names, f) {
						n.names = append(n.names, f)
					}
				}
			}
			cert, _, _ := unstructured.NestedString(u.Object, "spec", "virtualhost", "tls", "sslKeyCertificate", "name")
			n.tls = cert != ""
			rules = append(rules, rule{key: key, created: u.GetCreationTimestamp(), local: local, name: n})
		}
	}
	// Two HostRules for one local host: the oldest wins, as AKO applies one.
	slices.SortFunc(rules, func(a, b rule) int {
		if c := a.created.Compare(b.created.Time); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	byLocal := map[string]globalName{}
	for _, r := range rules {
		if _, dup := byLocal[r.local]; dup {
			problems[r.key] = fmt.Sprintf("another HostRule already gives host %s a global name; the oldest applies", strings.TrimSuffix(r.local, "."))
			continue
		}
		byLocal[r.local] = r.name
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	for key, p := range problems {
		if g.logged[key] != p {
			log.Warningf("Site %s: AKO HostRule %s: %s; that host is not published under a global name", g.site, key, p)
		}
	}
	g.logged = problems
	badHostRulesGauge.WithLabelValues(g.site).Set(float64(len(problems)))
	changed := !maps.EqualFunc(g.byLocal, byLocal, func(a, b globalName) bool { return a.tls == b.tls && slices.Equal(a.names, b.names) })
	g.byLocal = byLocal
	return changed
}

func anyName(string) bool { return true }

// rename publishes an object's records, and claims its names, under the
// global names of their hosts; records of a host without one are dropped
// (counted as ignored).
func (g *globalNames) rename(ex *Extracted) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []model.Record
	dropped := map[string]bool{}
	for _, r := range ex.Records {
		n, ok := g.byLocal[r.FQDN]
		if !ok {
			dropped[r.FQDN] = true
			continue
		}
		if n.tls && r.Check == (model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}) {
			r.Check = model.Check{Proto: model.CheckHTTPS, Port: 443, Path: "/"}
		}
		for _, name := range n.names {
			r.FQDN = name
			out = append(out, r)
		}
	}
	ex.Records = out
	ex.Ignored += len(dropped)
	// The object claims the global names of its hosts, members or not.
	var names []string
	for _, local := range ex.Names {
		names = append(names, g.byLocal[local].names...)
	}
	ex.Names = names
}
