package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/status"
	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// acceptAll closes every connection ln accepts (a VIP that answers TCP).
func acceptAll(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// waitEvent waits for an event with reason on the Ingress ns/name of
// site i, as `kubectl describe ingress` finds it (involvedObject kind,
// name, namespace and UID), and returns it.
func waitEvent(t *testing.T, i int, ns, name, reason string) corev1.Event {
	t.Helper()
	ctx := context.Background()
	ing, err := site(i).NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel := fmt.Sprintf("involvedObject.kind=Ingress,involvedObject.name=%s,involvedObject.namespace=%s,involvedObject.uid=%s,reason=%s", name, ns, ing.UID, reason)
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := site(i).CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs.Items) > 0 {
			return evs.Items[0]
		}
		if time.Now().After(deadline) {
			all, _ := site(i).CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
			t.Fatalf("no %s event on ingress %s/%s in site %d within 30 s; events there: %+v", reason, ns, name, i, all.Items)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestEventsOnUserObjects: with `events`, gslb records Kubernetes Events
// on the app team's own Ingresses: a host outside the zones, a bad
// annotation, and its member going down (with the reason) and up again.
func TestEventsOnUserObjects(t *testing.T) {
	vipA, vipB := "127.0.0.41", "127.0.0.42"
	lnA, err := net.Listen("tcp", vipA+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer lnA.Close()
	acceptAll(lnA)
	port := lnA.Addr().(*net.TCPAddr).Port
	addrB := fmt.Sprintf("%s:%d", vipB, port)
	lnB, err := net.Listen("tcp", addrB)
	if err != nil {
		t.Fatal(err)
	}
	acceptAll(lnB)

	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, gslbBlock("events", "status "+statusAddr,
		fmt.Sprintf("health_check tcp %d", port),
		"health_interval 200ms", "health_timeout 1s", "health_fall 2", "health_rise 2",
	))
	ns := namespace(t, "events")
	host := ns + ".gslb.sddc.lab"
	ingress(t, 0, ns, "web", lab.GSLBLabels(), []string{host}, []string{vipA}, nil)
	ingress(t, 1, ns, "web", lab.GSLBLabels(), []string{host}, []string{vipB}, nil)
	// Ignored: a host outside the zone; rejected settings: a bad annotation.
	ingress(t, 0, ns, "outside", lab.GSLBLabels(), []string{"www.example.com"}, []string{"172.26.17.99"}, nil)
	ctx := context.Background()
	deleteAtEnd(t, 0, "ingress", ns, "annotated")
	if _, err := lab.CreateIngress(ctx, site(0), lab.IngressSpec{
		Namespace: ns, Name: "annotated", Labels: lab.GSLBLabels(), ClassName: "avi-lb", Hosts: []string{"annotated-" + host}, Service: "web", Port: 80,
		Annotations: map[string]string{"gslb.io/ttl": "forever"},
	}); err != nil {
		t.Fatal(err)
	}
	s.eventually(host, dns.TypeA, updateBound, vipA, vipB)

	if ev := waitEvent(t, 0, ns, "outside", "GSLBHostsOutsideZones"); ev.Type != corev1.EventTypeWarning || ev.Source.Component != "gslb" {
		t.Errorf("outside-zone event: %+v", ev)
	}
	if ev := waitEvent(t, 0, ns, "annotated", "GSLBInvalidAnnotations"); !strings.Contains(ev.Message, "gslb.io/ttl") {
		t.Errorf("bad-annotation event %q: want it to name gslb.io/ttl", ev.Message)
	}

	// Site B's VIP stops answering: its Ingress gets a MemberDown event
	// saying why; when it answers again, MemberUp.
	lnB.Close()
	s.eventually(host, dns.TypeA, updateBound, vipA)
	down := waitEvent(t, 1, ns, "web", "GSLBMemberDown")
	if down.Type != corev1.EventTypeWarning || !strings.Contains(down.Message, vipB) || !strings.Contains(down.Message, "connection refused") {
		t.Errorf("MemberDown event: %s %q, want a warning naming %s and the probe's reason", down.Type, down.Message, vipB)
	}
	t.Logf("site B's Ingress got: %s %s %q", down.Type, down.Reason, down.Message)
	lnB, err = net.Listen("tcp", addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer lnB.Close()
	acceptAll(lnB)
	s.eventually(host, dns.TypeA, updateBound, vipA, vipB)
	if up := waitEvent(t, 1, ns, "web", "GSLBMemberUp"); up.Type != corev1.EventTypeNormal {
		t.Errorf("MemberUp event: %+v", up)
	}
	// Name ownership: another namespace publishing the same name later is
	// not answered; its Ingress says why, and so does the status page.
	rival := namespace(t, "events-rival")
	time.Sleep(creationGap) // a later creationTimestamp than web's
	ingress(t, 0, rival, "web", lab.GSLBLabels(), []string{host}, []string{"172.26.17.98"}, nil)
	if ev := waitEvent(t, 0, rival, "web", "GSLBNameConflict"); !strings.Contains(ev.Message, host) || !strings.Contains(ev.Message, ns) {
		t.Errorf("name conflict event %q: want it to name %s and the owning namespace %s", ev.Message, host, ns)
	}
	var p status.Page
	getJSON(t, "http://"+statusAddr+"/status.json?name="+ns, &p)
	if len(p.Services) != 1 || len(p.Services[0].Problems) != 1 || !strings.Contains(p.Services[0].Problems[0].Object, rival+"/web") {
		t.Errorf("status of %s: %+v, want the rival's conflict among its problems", host, p.Services)
	}
	// Site A's member never flipped: no event on its Ingress.
	evs, err := site(0).CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 0 {
		t.Errorf("site A's web got events although its member never changed: %+v", evs.Items)
	}
}
