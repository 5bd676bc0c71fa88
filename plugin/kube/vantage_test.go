package kube

import (
	"bytes"
	golog "log"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/vantage"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestPublisherCoalesces: a storm of verdict changes makes at most one
// verdict write per coalescing period, the heartbeat is renewed without
// any change, and the objects carry the vantage's name and label.
// (The e2e tests run it against real API servers.)
func TestPublisherCoalesces(t *testing.T) {
	client := fake.NewClientset()
	var mu sync.Mutex
	n := 0
	p := newPublisher(PublisherConfig{
		Cluster: Cluster{Site: "sitea"}, Namespace: "gslb-system", Vantage: "dns-a",
		Heartbeat: 100 * time.Millisecond, Coalesce: 200 * time.Millisecond,
		Verdicts: func() []vantage.Verdict {
			mu.Lock()
			defer mu.Unlock()
			return []vantage.Verdict{{ID: 1, Down: n%2 == 1, Since: time.Unix(int64(n), 0)}}
		},
	}, client)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { p.Run(stop); close(done) }()
	begin := time.Now()
	for time.Since(begin) < 1500*time.Millisecond {
		mu.Lock()
		n++
		mu.Unlock()
		p.Kick()
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	<-done
	took := time.Since(begin)
	writes := map[string]int{}
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" || a.GetVerb() == "update" {
			writes[a.GetResource().Resource]++
		}
		if c, ok := a.(k8stesting.CreateAction); ok {
			m := c.GetObject().(metav1.Object)
			if m.GetName() != "gslb-vantage-dns-a" || m.GetLabels()[VantageLabel] != "dns-a" {
				t.Errorf("created %s %s with labels %v", a.GetResource().Resource, m.GetName(), m.GetLabels())
			}
		}
	}
	maxSheets := int(took/(200*time.Millisecond)) + 2 // the first write, and one per period
	// The upper bound is the point; the lower ones only show that
	// changes and heartbeats are written at all (the machine may be slow).
	if w := writes["configmaps"]; w < 2 || w > maxSheets {
		t.Errorf("%d verdict writes for %d changes in %s, want 2..%d (one per 200ms period)", w, n, took, maxSheets)
	}
	if w := writes["leases"]; w < 2 {
		t.Errorf("%d heartbeats in %s at a 100ms heartbeat", w, took)
	}
	cm, err := client.CoreV1().ConfigMaps("gslb-system").Get(t.Context(), "gslb-vantage-dns-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := vantage.Decode(cm.Data[VantageDataKey])
	if err != nil || s.Vantage != "dns-a" || len(s.Verdicts) != 1 {
		t.Errorf("written sheet %+v, %v", s, err)
	}
	l, err := client.CoordinationV1().Leases("gslb-system").Get(t.Context(), "gslb-vantage-dns-a", metav1.GetOptions{})
	if err != nil || *l.Spec.HolderIdentity != "dns-a" || l.Spec.AcquireTime.UnixMicro() != s.Epoch.UnixMicro() {
		t.Errorf("lease %+v (%v): holder and run must match the sheet", l.Spec, err)
	}
}

// TestPublisherOverflowLogged: verdicts that do not fit are logged once,
// with their own message (not as a failing write), and again after they
// fitted in between.
func TestPublisherOverflowLogged(t *testing.T) {
	var buf bytes.Buffer
	golog.SetOutput(&buf)
	defer golog.SetOutput(os.Stderr)
	n := 0
	p := newPublisher(PublisherConfig{
		Cluster: Cluster{Site: "sitea"}, Namespace: "gslb-system", Vantage: "dns-a", Heartbeat: time.Second,
		Verdicts: func() []vantage.Verdict {
			vs := make([]vantage.Verdict, n)
			for i := range vs {
				vs[i] = vantage.Verdict{ID: uint64(i + 1), Since: time.Unix(1_790_000_000, 0)}
			}
			return vs
		},
	}, fake.NewClientset())
	p.epoch = metav1.NowMicro()
	const tooMany = 80_000 // about 12 bytes each: beyond 900 KiB
	for _, c := range []struct {
		n        int
		overflow bool
		logs     int
	}{{tooMany, true, 1}, {tooMany + 1, true, 1}, {10, false, 1}, {tooMany, true, 2}} {
		n = c.n
		p.writeSheet(t.Context())
		if p.overflow != c.overflow || strings.Count(buf.String(), "do not fit") != c.logs {
			t.Errorf("%d verdicts: overflow %v, logged %d times, want %v, %d:\n%s", c.n, p.overflow, strings.Count(buf.String(), "do not fit"), c.overflow, c.logs, buf.String())
		}
	}
	if strings.Contains(buf.String(), "cannot write") || len(p.failing) != 0 {
		t.Errorf("an overflow is not a failing write: failing %v\n%s", p.failing, buf.String())
	}
	if !strings.Contains(buf.String(), "fit in ConfigMap gslb-system/gslb-vantage-dns-a again") {
		t.Errorf("the overflow's end is not logged:\n%s", buf.String())
	}
}
