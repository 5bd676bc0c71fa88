package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestEventsNotSelected: with events on, an object the Policy (AMKO's GDP)
// does not select gets one GSLBNotSelected event, not one per resync; and
// Event records on an object named by its store key. (The lab's e2e test
// covers the other reasons on a real API server.)
func TestEventsNotSelected(t *testing.T) {
	ing := ingress([]string{"web.example.org"}, nil, lbIP("10.0.0.1"))
	ing.Labels = map[string]string{"app": "gslb"} // no gslb=yes: the policy rejects it
	client := fake.NewClientset(ing)
	w := newWatcher(Cluster{Site: "sitea", Context: "ctx-a"}, Options{
		Selector: "app=gslb", Ingresses: true, InZone: inExampleOrg, Policy: &fakePolicy{}, Events: true,
	}, model.NewStore(), client, func(context.Context) error { return errors.New("no readyz in a fake") })
	w.Start()
	t.Cleanup(w.Stop)
	events := func(reason string) []corev1.Event {
		list, err := client.CoreV1().Events("shop").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []corev1.Event
		for _, e := range list.Items {
			if e.Reason == reason && e.InvolvedObject.Kind == "Ingress" && e.InvolvedObject.Name == "web" {
				out = append(out, e)
			}
		}
		return out
	}
	testutil.Eventually(t, "a GSLBNotSelected event", func() bool { return len(events(ReasonNotSelected)) == 1 })
	w.Resync()
	w.Resync()
	if !w.Event("kube/sitea/ingress/shop/web", corev1.EventTypeNormal, ReasonMemberUp, "test") {
		t.Fatal("Event found no object for its key")
	}
	if w.Event("kube/siteb/ingress/shop/web", corev1.EventTypeNormal, ReasonMemberUp, "test") || w.Event("kube/sitea/ingress/shop/nope", corev1.EventTypeNormal, ReasonMemberUp, "test") {
		t.Error("Event recorded on another site's or a missing object")
	}
	testutil.Eventually(t, "the GSLBMemberUp event", func() bool { return len(events(ReasonMemberUp)) == 1 })
	ev := events(ReasonNotSelected)
	if len(ev) != 1 || ev[0].Count > 1 || ev[0].Type != corev1.EventTypeWarning || !strings.Contains(ev[0].Message, "GlobalDeploymentPolicy") {
		t.Errorf("after two resyncs: %+v, want the one warning", ev)
	}
}
