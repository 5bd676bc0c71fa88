package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gslb/gslb/test/avisim"
	"github.com/miekg/dns"
)

// TestAviAndKubernetesMerge runs bin/coredns with both sources for one name:
// site A's Ingress in the lab and an Avi GSLB service (on the simulator —
// there is no public Avi controller) with the same VIP plus one more. The
// shared VIP answers once, and Avi's OPER_DOWN takes it out even though
// Kubernetes still publishes it: Avi's verdict is one health input.
func TestAviAndKubernetesMerge(t *testing.T) {
	sim, err := avisim.New(avisim.Options{Empty: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	dir := t.TempDir()
	ca, err := sim.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "avi-credentials")
	if err := os.WriteFile(creds, []byte("username: admin\npassword: avi-sim-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ns := namespace(t, "avimerge")
	host := ns + ".gslb.sddc.lab"
	gslbIngress(t, 0, ns, host, "172.26.17.95", map[string]string{"gslb.io/health-check": "none"})
	const uuid = "gslbservice-e2e-merge"
	gs := avisim.Service(uuid, host, avisim.Pool(10,
		avisim.Member("172.26.17.95", avisim.ClusterA),
		avisim.Member("172.28.17.95", avisim.ClusterB)))
	gs.NumDNSIP = avisim.U32(0) // every member in one answer (unset, Avi answers one)
	sim.AddService(gs)

	s := startServer(t, gslbBlock(
		"avi "+sim.URL()+" {\n            credentials "+creds+"\n            ca "+ca+"\n            poll 200ms\n        }"))
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.95", "172.28.17.95")

	sim.SetMemberState(uuid, "172.26.17.95", "OPER_DOWN")
	took := s.eventually(host, dns.TypeA, updateBound, "172.28.17.95")
	t.Logf("Avi's OPER_DOWN took the merged member out after %.0f ms", took.Seconds()*1000)
	sim.SetMemberState(uuid, "172.26.17.95", "OPER_UP")
	s.eventually(host, dns.TypeA, updateBound, "172.26.17.95", "172.28.17.95")

	// The controller goes away: the last state stays.
	sim.Down()
	deadline := time.Now().Add(updateBound)
	for s.metric("coredns_gslb_avi_up", "") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("coredns_gslb_avi_up still not 0 %s after the controller went down", updateBound)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.eventually(host, dns.TypeA, time.Second, "172.26.17.95", "172.28.17.95")
}
