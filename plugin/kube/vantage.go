package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/gslb/gslb/plugin/vantage"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// The objects of a vantage (plugin/vantage): a Lease as its heartbeat and a
// ConfigMap with its verdicts, both named VantageObjectName and labelled
// VantageLabel=NAME in the namespace the Corefile gives.
const (
	VantageLabel = "gslb.io/vantage"
	// VantageDataKey is the ConfigMap key holding the encoded sheet.
	VantageDataKey = "verdicts"
)

// VantageObjectName is the name of a vantage's Lease and ConfigMap.
func VantageObjectName(vantage string) string { return "gslb-vantage-" + vantage }

// VantageSink receives the vantage objects a watcher reads (*vantage.Board).
type VantageSink interface {
	Heartbeat(object, vantage, holder string, epoch, renew time.Time)
	Sheet(object, vantage, data string)
	Forget(object, vantage string, lease bool)
}

// Vantages says where a Watcher reads the vantages' objects.
type Vantages struct {
	Namespace string
	Sink      VantageSink
}

// watchVantages adds the informers of the vantage objects: label-selected
// Leases and ConfigMaps of one namespace (protobuf, like the rest). They are
// not part of HasSynced: a cluster whose vantage objects cannot be read
// (RBAC, namespace missing) must not hold up serving; its vantages are
// simply not fresh.
func (w *Watcher) watchVantages(client kubernetes.Interface, v Vantages) {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(v.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = VantageLabel }))
	site := w.cluster.Site
	object := func(kind string, m metav1.Object) string {
		return fmt.Sprintf("Site %s: %s %s/%s", site, kind, m.GetNamespace(), m.GetName())
	}
	leases := f.Coordination().V1().Leases().Informer()
	_ = leases.SetTransform(StripManagedFields)
	_, _ = leases.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.lease(v.Sink, object, obj) },
		UpdateFunc: func(_, obj any) { w.lease(v.Sink, object, obj) },
		DeleteFunc: func(obj any) {
			if l, ok := tombstone(obj).(*coordinationv1.Lease); ok {
				v.Sink.Forget(object("Lease", l), l.Labels[VantageLabel], true)
			}
		},
	})
	cms := f.Core().V1().ConfigMaps().Informer()
	_ = cms.SetTransform(StripManagedFields)
	_, _ = cms.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.sheet(v.Sink, object, obj) },
		UpdateFunc: func(_, obj any) { w.sheet(v.Sink, object, obj) },
		DeleteFunc: func(obj any) {
			if cm, ok := tombstone(obj).(*corev1.ConfigMap); ok {
				v.Sink.Forget(object("ConfigMap", cm), cm.Labels[VantageLabel], false)
			}
		},
	})
	w.factories = append(w.factories, f)
}

func tombstone(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (w *Watcher) lease(sink VantageSink, object func(string, metav1.Object) string, obj any) {
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return
	}
	var holder string
	var epoch, renew time.Time
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if l.Spec.AcquireTime != nil {
		epoch = l.Spec.AcquireTime.Time
	}
	if l.Spec.RenewTime != nil {
		renew = l.Spec.RenewTime.Time
	}
	sink.Heartbeat(object("Lease", l), l.Labels[VantageLabel], holder, epoch, renew)
}

func (w *Watcher) sheet(sink VantageSink, object func(string, metav1.Object) string, obj any) {
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		sink.Sheet(object("ConfigMap", cm), cm.Labels[VantageLabel], cm.Data[VantageDataKey])
	}
}

// Publisher writes one vantage's objects into its own cluster: the verdicts
// when they change, at most once per Coalesce, and the heartbeat every
// Heartbeat even when nothing changes, so that staleness is judged from
// renewTime alone.
type Publisher struct {
	client    kubernetes.Interface
	site      string // of the cluster written to, for messages
	ns, name  string
	vantage   string
	epoch     metav1.MicroTime
	heartbeat time.Duration
	stale     time.Duration
	coalesce  time.Duration
	verdicts  func() []vantage.Verdict
	onEpoch   func(time.Time)
	kick      chan struct{}

	lease   *coordinationv1.Lease
	cm      *corev1.ConfigMap
	written string // the last sheet written
	failing map[string]bool
	// overflow: the last sheet left verdicts out, logged once until all
	// fit again.
	overflow bool
}

// PublisherConfig configures NewPublisher.
type PublisherConfig struct {
	Cluster   Cluster // the vantage's own cluster
	Namespace string
	Vantage   string
	Heartbeat time.Duration
	// StaleAfter is the heartbeat age at which the readers leave the
	// vantage out; written as the Lease's leaseDurationSeconds (for
	// people reading it: readers judge by their own setting). Zero:
	// not written.
	StaleAfter time.Duration
	// Coalesce is the shortest time between two verdict writes (default 1 s).
	Coalesce time.Duration
	// Verdicts returns the vantage's current verdicts.
	Verdicts func() []vantage.Verdict
	// OnEpoch, when set, learns when the run starts (the heartbeat's
	// acquireTime), before anything is written.
	OnEpoch func(time.Time)
}

// NewPublisher prepares the client; nothing is written before Run.
func NewPublisher(c PublisherConfig) (*Publisher, error) {
	cfg := ClientConfig(c.Cluster.Config)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("vantage %s, site %s (context %q): %w", c.Vantage, c.Cluster.Site, c.Cluster.Context, err)
	}
	return newPublisher(c, client), nil
}

func newPublisher(c PublisherConfig, client kubernetes.Interface) *Publisher {
	if c.Coalesce <= 0 {
		c.Coalesce = time.Second
	}
	return &Publisher{
		client: client, site: c.Cluster.Site, ns: c.Namespace, name: VantageObjectName(c.Vantage), vantage: c.Vantage,
		heartbeat: c.Heartbeat, stale: c.StaleAfter, coalesce: c.Coalesce, verdicts: c.Verdicts, onEpoch: c.OnEpoch,
		kick: make(chan struct{}, 1), failing: map[string]bool{},
	}
}

// Kick asks for the verdicts to be written soon (a probe flipped); kicks
// within one Coalesce period make one write.
func (p *Publisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run publishes until stop is closed. The first sheet is written before the
// first heartbeat of the run: readers trust a sheet only with a heartbeat of
// the same epoch, so this order never shows a new heartbeat beside an old
// run's verdicts.
func (p *Publisher) Run(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-stop; cancel() }()
	defer cancel()
	p.epoch = metav1.NowMicro()
	if p.onEpoch != nil {
		p.onEpoch(p.epoch.Time)
	}
	p.writeSheet(ctx)
	p.renew(ctx)
	beat := time.NewTicker(p.heartbeat)
	defer beat.Stop()
	tick := time.NewTicker(p.coalesce)
	defer tick.Stop()
	last := time.Now()
	var pending <-chan time.Time // a write coalesced to the end of the period
	write := func() {
		if p.writeSheet(ctx) {
			last = time.Now()
		}
		pending = nil
	}
	for {
		select {
		case <-stop:
			return
		case <-beat.C:
			p.renew(ctx)
		case <-p.kick:
			if wait := p.coalesce - time.Since(last); wait <= 0 {
				write()
			} else if pending == nil {
				pending = time.After(wait)
			}
		case <-pending:
			write()
		case <-tick.C:
			// Also catches verdicts that changed without a flip (a
			// first probe confirming a target up, a target removed);
			// an unchanged sheet is not written.
			if pending == nil && time.Since(last) >= p.coalesce {
				write()
			}
		}
	}
}

// writeSheet writes the verdicts if they changed, and tells whether it
// wrote (or tried to).
func (p *Publisher) writeSheet(ctx context.Context) bool {
	data, dropped := vantage.Encode(vantage.Sheet{Vantage: p.vantage, Epoch: p.epoch.Time, Verdicts: p.verdicts()})
	if data == p.written {
		return false
	}
	switch {
	case dropped > 0 && !p.overflow:
		p.overflow = true
		log.Warningf("Vantage %s: %d up verdicts do not fit in %d bytes and are left out of ConfigMap %s/%s: the other servers have no opinion of this vantage on those targets",
			p.vantage, dropped, vantage.MaxBytes, p.ns, p.name)
	case dropped == 0 && p.overflow:
		p.overflow = false
		log.Infof("Vantage %s: all its verdicts fit in ConfigMap %s/%s again", p.vantage, p.ns, p.name)
	}
	var err error
	if p.cm == nil {
		p.cm, err = p.client.CoreV1().ConfigMaps(p.ns).Get(ctx, p.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			p.cm, err = p.client.CoreV1().ConfigMaps(p.ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: p.meta(), Data: map[string]string{VantageDataKey: data},
			}, metav1.CreateOptions{})
			if err == nil {
				p.wrote("verdicts", data)
				return true
			}
		}
	}
	if err == nil {
		cm := p.cm.DeepCopy()
		cm.Labels = p.meta().Labels
		cm.Data = map[string]string{VantageDataKey: data}
		p.cm, err = p.client.CoreV1().ConfigMaps(p.ns).Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		p.cm = nil // read it again next time (conflict, deleted)
		if ctx.Err() == nil {
			vantage.WritesTotal.WithLabelValues("verdicts", "error").Inc()
			p.report("verdicts", err)
		}
		return true
	}
	p.wrote("verdicts", data)
	return true
}

func (p *Publisher) wrote(object, data string) {
	vantage.WritesTotal.WithLabelValues(object, "ok").Inc()
	if object == "verdicts" {
		p.written = data
		vantage.SheetBytes.Set(float64(len(data)))
	}
	if p.failing[object] {
		delete(p.failing, object)
		log.Infof("Vantage %s: writing its %s into site %s works again", p.vantage, object, p.site)
	}
}

// report logs a failing write once until it works again.
func (p *Publisher) report(object string, err error) {
	if p.failing[object] {
		return
	}
	p.failing[object] = true
	what := "ConfigMap"
	if object == "lease" {
		what = "Lease"
	}
	log.Warningf("Vantage %s: cannot write %s %s/%s in site %s: %v; the other servers leave this vantage out once its heartbeat is stale (check the namespace exists and the RBAC of deploy/rbac-vantage.yaml)",
		p.vantage, what, p.ns, p.name, p.site, err)
}

func (p *Publisher) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: p.name, Namespace: p.ns, Labels: map[string]string{VantageLabel: p.vantage}}
}

func (p *Publisher) renew(ctx context.Context) {
	now := metav1.NowMicro()
	spec := coordinationv1.LeaseSpec{HolderIdentity: &p.vantage, AcquireTime: &p.epoch, RenewTime: &now}
	if p.stale > 0 {
		secs := int32(max(1, p.stale.Round(time.Second)/time.Second))
		spec.LeaseDurationSeconds = &secs
	}
	var err error
	if p.lease == nil {
		p.lease, err = p.client.CoordinationV1().Leases(p.ns).Get(ctx, p.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			p.lease, err = p.client.CoordinationV1().Leases(p.ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: p.meta(), Spec: spec}, metav1.CreateOptions{})
			if err == nil {
				p.wrote("lease", "")
				return
			}
		}
	}
	if err == nil {
		l := p.lease.DeepCopy()
		l.Labels = p.meta().Labels
		l.Spec = spec
		p.lease, err = p.client.CoordinationV1().Leases(p.ns).Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		p.lease = nil
		if ctx.Err() == nil {
			vantage.WritesTotal.WithLabelValues("lease", "error").Inc()
			p.report("lease", err)
		}
		return
	}
	p.wrote("lease", "")
}
