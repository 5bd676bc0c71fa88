package amko

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func unstructuredOf(t *testing.T, obj any, gvr schema.GroupVersionResource, kind string) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(gvr.GroupVersion().String())
	u.SetKind(kind)
	return u
}

// listKinds are the resources the source lists.
var listKinds = map[schema.GroupVersionResource]string{
	GDPResource: "GlobalDeploymentPolicyList", HostRuleResource: "GSLBHostRuleList",
	ConfigResource: "GSLBConfigList", statefulSetResource: "StatefulSetList",
}

// TestSourceLifecycle runs the informers against a fake API: the first
// list makes it synced, a host rule's third-party members reach the store,
// a change notifies the watchers, and statuses are written like AMKO's.
func TestSourceLifecycle(t *testing.T) {
	gdp := mustGDP(t)
	rule := mustRule(t)
	bad := GSLBHostRule{ObjectMeta: meta("bad", 1), Spec: GSLBHostRuleSpec{Fqdn: "web.example.org"}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds,
		unstructuredOf(t, &gdp, GDPResource, KindGDP),
		unstructuredOf(t, &rule, HostRuleResource, KindHostRule),
		unstructuredOf(t, &bad, HostRuleResource, KindHostRule),
	)
	store := model.NewStore()
	s := newSource(Config{Leader: kube.Cluster{Site: "sitea", Context: ctxA}, Status: true, Env: *testEnv(), StartupTimeout: time.Minute}, store, dyn)
	var changes atomic.Int32
	s.OnChange(func(string) { changes.Add(1) })
	if s.Publish("sitea", "shop", map[string]string{"app": "gslb"}) {
		t.Fatal("published before the first list")
	}
	s.Start()
	defer s.Stop()
	testutil.Eventually(t, "sync", s.HasSynced)
	if changes.Load() == 0 {
		t.Error("the first policy must notify the watchers")
	}
	if !s.Publish("sitea", "shop", map[string]string{"app": "gslb"}) {
		t.Error("a selected object is not published")
	}
	var tp []model.Record
	for _, r := range store.Records() {
		if r.FQDN == "web.gslb.sddc.lab." {
			tp = append(tp, r)
		}
	}
	if len(tp) != 2 {
		t.Fatalf("third-party members in the store: %+v", store.Records())
	}

	ctx := context.Background()
	status := func(gvr schema.GroupVersionResource, name string) map[string]any {
		u, err := dyn.Resource(gvr).Namespace("avi-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, _, _ := unstructured.NestedMap(u.Object, "status")
		return st
	}
	testutil.Eventually(t, "statuses", func() bool {
		return status(GDPResource, "global-gdp")["errorStatus"] == GDPSuccess &&
			status(HostRuleResource, "gslb-host-rule-1")["status"] == StatusAccepted &&
			status(HostRuleResource, "bad")["status"] == StatusRejected
	})
	if e, _ := status(HostRuleResource, "bad")["error"].(string); !strings.Contains(e, "outside the zones") {
		t.Errorf("rejected rule's error: %q", e)
	}

	// Deleting the host rule withdraws its members; the status writes
	// themselves must not have caused endless recompiles.
	before := changes.Load()
	if err := dyn.Resource(HostRuleResource).Namespace("avi-system").Delete(ctx, "gslb-host-rule-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "members withdrawn", func() bool { return len(store.Records()) == 0 })
	testutil.Eventually(t, "a change notification", func() bool { return changes.Load() > before })
	time.Sleep(200 * time.Millisecond)
	settled := changes.Load()
	time.Sleep(300 * time.Millisecond)
	if changes.Load() != settled {
		t.Errorf("notifications keep coming without changes: %d -> %d", settled, changes.Load())
	}
}

// TestSourceStartupTimeout: without the objects (CRDs missing, leader away)
// gslb fails closed after the startup timeout, as AMKO: nothing from the
// clusters is published (and the snapshot is ready, so the plugin is not
// stuck waiting).
func TestSourceStartupTimeout(t *testing.T) {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	s := newSource(Config{Leader: kube.Cluster{Site: "sitea", Context: ctxA}, Env: *testEnv(), StartupTimeout: 50 * time.Millisecond}, model.NewStore(), dyn)
	// Never let the informers sync: the run loop alone, as when the
	// leader does not answer.
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.run() }()
	defer func() { close(s.stop); s.wg.Wait() }()
	testutil.Eventually(t, "fallback", func() bool { snap := s.Snapshot(); return snap != nil && snap.Ready })
	if s.Publish("siteb", "shop", map[string]string{"app": "gslb"}) {
		t.Error("published without the AMKO objects")
	}
	if s.HasSynced() {
		t.Error("the fallback is not a sync")
	}
}

// TestNoStatusWhileAMKORuns: AMKO writes the same status fields; while its
// StatefulSet runs, amko_status writes nothing and says why once.
func TestNoStatusWhileAMKORuns(t *testing.T) {
	l := testutil.CaptureLog(t)
	bad := GSLBHostRule{ObjectMeta: meta("bad", 1), Spec: GSLBHostRuleSpec{Fqdn: "web.example.org"}}
	amko := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": "amko", "namespace": "avi-system"},
		"spec":     map[string]any{"replicas": int64(1)},
	}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, unstructuredOf(t, &bad, HostRuleResource, KindHostRule), amko)
	s := newSource(Config{Leader: kube.Cluster{Site: "sitea", Context: ctxA}, Status: true, Env: *testEnv(), StartupTimeout: time.Minute}, model.NewStore(), dyn)
	s.Start()
	defer s.Stop()
	testutil.Eventually(t, "sync", s.HasSynced)
	testutil.Eventually(t, "the reason in the log", func() bool {
		return strings.Contains(l.String(), "amko_status writes no status while AMKO runs (StatefulSet avi-system/amko has 1 replicas)")
	})
	s.poke()
	time.Sleep(200 * time.Millisecond)
	u, err := dyn.Resource(HostRuleResource).Namespace("avi-system").Get(context.Background(), "bad", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, _ := unstructured.NestedMap(u.Object, "status"); len(st) > 0 {
		t.Errorf("status written while AMKO runs: %v", st)
	}
	if n := strings.Count(l.String(), "writes no status"); n != 1 {
		t.Errorf("said %d times, want once: %s", n, l)
	}
}
