package gslb

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/test"
	"github.com/gslb/gslb/test/avisim"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
	"github.com/vmware/alb-sdk/go/models"
)

// These tests run the plugin against the Avi simulator on 127.0.0.1: the
// Corefile has an avi block and nothing else to serve.

const aviSimPassword = "avi-sim-password"

type aviLab struct {
	sim   *avisim.Server
	creds string
	ca    string
}

func newAviLab(t *testing.T) *aviLab {
	t.Helper()
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	sim, err := avisim.New(avisim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	// These tests look at whole answer sets: num_dns_ip 0 answers every
	// address (unset, Avi answers one; TestAviAnswersOneAddressByDefault).
	for _, uuid := range []string{avisim.OnlineshopUUID, avisim.PaymentsUUID} {
		sim.UpdateService(uuid, func(gs *models.GslbService) { gs.NumDNSIP = avisim.U32(0) })
	}
	dir := t.TempDir()
	creds := filepath.Join(dir, "avi-credentials.yaml")
	if err := os.WriteFile(creds, []byte("username: admin\npassword: "+aviSimPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, err := sim.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &aviLab{sim: sim, creds: creds, ca: ca}
}

// corefile is a gslb stanza for the lab's zone with an avi block holding
// the given extra properties.
func (l *aviLab) corefile(props ...string) string {
	return fmt.Sprintf(`gslb gslb.sddc.lab {
	avi %s {
		credentials %s
		tenant *
		poll 200ms
		timeout 2s
		%s
	}
	startup_timeout 10s
}`, l.sim.URL(), l.creds, strings.Join(props, "\n\t\t"))
}

// startGSLB parses and starts the plugin, and stops it at the end.
func startGSLB(t *testing.T, corefile string) *GSLB {
	t.Helper()
	g := newTestGSLB(t, corefile)
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.stop() })
	return g
}

// addrs returns the A/AAAA data of an answer, sorted, and the rcode.
func addrs(t *testing.T, g *GSLB, qname string, qtype uint16) ([]string, int) {
	t.Helper()
	resp, _ := query(t, g, &test.ResponseWriter{}, qname, qtype)
	var out []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	slices.Sort(out)
	return out, resp.Rcode
}

func TestAviAnswersFollowTheController(t *testing.T) {
	lab := newAviLab(t)
	g := startGSLB(t, lab.corefile("ca "+lab.ca))
	testutil.Eventually(t, "ready after the first poll", g.Ready)
	testutil.Eventually(t, "the answers", func() bool { a, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); return len(a) == 2 })

	// The fixture's onlineshop: both sites, Avi's ttl 10, authoritative.
	resp, _ := query(t, g, &test.ResponseWriter{}, "onlineshop.gslb.sddc.lab.", dns.TypeA)
	checkAuthoritative(t, resp, test.Case{Qname: "onlineshop.gslb.sddc.lab.", Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("onlineshop.gslb.sddc.lab. 10 IN A 172.26.17.21"),
		test.A("onlineshop.gslb.sddc.lab. 10 IN A 172.27.17.21"),
	}})
	// payments: the priority-20 pool answers while it is up (its
	// public_ip), under both domain names; the priority-10 pool waits.
	for _, name := range []string{"payments.gslb.sddc.lab.", "pay.gslb.sddc.lab."} {
		for range 10 {
			if got, _ := addrs(t, g, name, dns.TypeA); !slices.Equal(got, []string{"203.0.113.30"}) {
				t.Fatalf("%s: %v, want only the priority-20 member", name, got)
			}
		}
	}
	if _, rcode := addrs(t, g, "nothing.gslb.sddc.lab.", dns.TypeA); rcode != dns.RcodeNameError {
		t.Errorf("unknown name: rcode %d", rcode)
	}

	// A member going down in Avi leaves the answers within a poll.
	lab.sim.SetMemberState(avisim.OnlineshopUUID, "172.27.17.21", "OPER_DOWN")
	testutil.Eventually(t, "172.27.17.21 to leave", func() bool {
		got, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA)
		return slices.Equal(got, []string{"172.26.17.21"})
	})
	lab.sim.SetMemberState(avisim.OnlineshopUUID, "172.27.17.21", "OPER_UP")
	testutil.Eventually(t, "172.27.17.21 to return", func() bool {
		got, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA)
		return len(got) == 2
	})

	// The priority-20 member down: the priority-10 pool answers.
	lab.sim.SetMemberState(avisim.PaymentsUUID, "172.26.17.30", "OPER_DOWN")
	testutil.Eventually(t, "failover to the priority-10 pool", func() bool {
		got, _ := addrs(t, g, "payments.gslb.sddc.lab.", dns.TypeA)
		return len(got) == 1 && (got[0] == "172.27.17.30" || got[0] == "198.51.100.40")
	})
	// Everything down: Avi's fallback_ip.
	lab.sim.SetMemberState(avisim.PaymentsUUID, "172.27.17.30", "OPER_DOWN")
	lab.sim.SetMemberState(avisim.PaymentsUUID, "198.51.100.40", "OPER_DOWN")
	testutil.Eventually(t, "the fallback address", func() bool {
		got, _ := addrs(t, g, "payments.gslb.sddc.lab.", dns.TypeA)
		return slices.Equal(got, []string{"192.0.2.10"})
	})

	// A new service appears; a deleted one goes.
	lab.sim.AddService(avisim.Service("gslbservice-new", "new.gslb.sddc.lab", avisim.Pool(10, avisim.Member("2001:db8::7", avisim.ClusterB))))
	lab.sim.DeleteService(avisim.PaymentsUUID)
	testutil.Eventually(t, "the new service and the deleted one", func() bool {
		got, _ := addrs(t, g, "new.gslb.sddc.lab.", dns.TypeAAAA)
		_, rcode := addrs(t, g, "payments.gslb.sddc.lab.", dns.TypeA)
		return slices.Equal(got, []string{"2001:db8::7"}) && rcode == dns.RcodeNameError
	})
	if v := testutil.Metric(t, "coredns_gslb_avi_services"); v != 2 {
		t.Errorf("coredns_gslb_avi_services = %v, want 2", v)
	}
}

func TestAviControllerOutageKeepsAnswers(t *testing.T) {
	lab := newAviLab(t)
	logs := testutil.CaptureLog(t)
	g := startGSLB(t, lab.corefile("ca "+lab.ca))
	testutil.Eventually(t, "ready", g.Ready)
	testutil.Eventually(t, "the answers", func() bool { a, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); return len(a) == 2 })
	want, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA)

	lab.sim.Down()
	testutil.Eventually(t, "avi_up 0", func() bool { return testutil.Metric(t, "coredns_gslb_avi_up") == 0 })
	time.Sleep(600 * time.Millisecond) // a few failed polls
	if got, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); !slices.Equal(got, want) {
		t.Errorf("during the outage: %v, want %v", got, want)
	}
	if testutil.Metric(t, "coredns_gslb_avi_polls_total", "result", "unreachable") < 1 {
		t.Error("no unreachable poll counted")
	}
	if !strings.Contains(logs.String(), "Avi controller "+lab.sim.URL()+": GET /api/gslb") || !strings.Contains(logs.String(), "serving the last known GSLB services") {
		t.Errorf("log: %s", logs)
	}

	// Garbage and 5xx while it is back: still the last good state.
	if err := lab.sim.Up(); err != nil {
		t.Fatal(err)
	}
	lab.sim.SetFaults(avisim.Faults{Malformed: true})
	testutil.Eventually(t, "a malformed poll", func() bool { return testutil.Metric(t, "coredns_gslb_avi_polls_total", "result", "malformed") >= 1 })
	lab.sim.SetFaults(avisim.Faults{Status: 502})
	time.Sleep(500 * time.Millisecond)
	if got, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); !slices.Equal(got, want) {
		t.Errorf("after garbage: %v, want %v", got, want)
	}

	// Sessions expire and 401s come: it logs in again and goes on.
	lab.sim.SetFaults(avisim.Faults{})
	testutil.Eventually(t, "avi_up 1", func() bool { return testutil.Metric(t, "coredns_gslb_avi_up") == 1 })
	logins := lab.sim.Logins()
	lab.sim.ExpireSessions()
	lab.sim.SetMemberState(avisim.OnlineshopUUID, "172.26.17.21", "OPER_DOWN")
	testutil.Eventually(t, "the change after a new login", func() bool {
		got, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA)
		return slices.Equal(got, []string{"172.27.17.21"})
	})
	if lab.sim.Logins() <= logins {
		t.Error("no new login after the session expired")
	}
	if strings.Contains(logs.String(), aviSimPassword) {
		t.Error("the password was logged")
	}
}

func TestAviWrongCredentials(t *testing.T) {
	lab := newAviLab(t)
	logs := testutil.CaptureLog(t)
	if err := os.WriteFile(lab.creds, []byte("username: admin\npassword: wrong-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := testutil.Metric(t, "coredns_gslb_avi_polls_total", "result", "auth_failed")
	g := startGSLB(t, strings.Replace(lab.corefile("ca "+lab.ca), "startup_timeout 10s", "startup_timeout 1s", 1))
	testutil.Eventually(t, "an auth failure", func() bool {
		return testutil.Metric(t, "coredns_gslb_avi_polls_total", "result", "auth_failed") > before
	})
	testutil.Eventually(t, "ready after the startup timeout", g.Ready)
	s := logs.String()
	if !strings.Contains(s, `login as "admin" refused: Invalid credentials`) || !strings.Contains(s, "fix the username/password or token in "+lab.creds) {
		t.Errorf("log: %s", s)
	}
	if strings.Contains(s, "wrong-password") {
		t.Error("the password was logged")
	}
	if testutil.Metric(t, "coredns_gslb_avi_up") != 0 {
		t.Error("avi_up is not 0")
	}
	if _, rcode := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); rcode != dns.RcodeNameError {
		t.Errorf("rcode %d before any successful poll", rcode)
	}
	// Fixing the file is enough: it is read at every login.
	if err := os.WriteFile(lab.creds, []byte("username: admin\npassword: "+aviSimPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the answers after the fix", func() bool { a, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); return len(a) == 2 })
}

func TestAviWrongVersion(t *testing.T) {
	lab := newAviLab(t)
	logs := testutil.CaptureLog(t)
	g := startGSLB(t, strings.Replace(lab.corefile("ca "+lab.ca, "version 31.1.1"), "startup_timeout 10s", "startup_timeout 1s", 1))
	testutil.Eventually(t, "the rejection in the log", func() bool {
		return strings.Contains(logs.String(), "HTTP 400: Unsupported X-Avi-Version 31.1.1")
	})
	s := logs.String()
	if !strings.Contains(s, "(the controller runs 22.1.2)") || !strings.Contains(s, "check `version` (sent X-Avi-Version 31.1.1") {
		t.Errorf("log: %s", s)
	}
	testutil.Eventually(t, "ready after the startup timeout", g.Ready)
}

func TestAviTLS(t *testing.T) {
	t.Run("unknown CA fails by default", func(t *testing.T) {
		lab := newAviLab(t)
		logs := testutil.CaptureLog(t)
		g := startGSLB(t, strings.Replace(lab.corefile(), "startup_timeout 10s", "startup_timeout 1s", 1))
		testutil.Eventually(t, "the TLS error in the log", func() bool { return strings.Contains(logs.String(), "certificate is not trusted") })
		if !strings.Contains(logs.String(), "`ca FILE`") {
			t.Errorf("log: %s", logs)
		}
		testutil.Eventually(t, "ready after the startup timeout", g.Ready)
		if _, rcode := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); rcode != dns.RcodeNameError {
			t.Errorf("rcode %d", rcode)
		}
		if lab.sim.Logins() != 0 {
			t.Error("credentials were sent to an untrusted server")
		}
	})
	for name, prop := range map[string]string{"ca FILE": "ca CA", "insecure": "insecure"} {
		t.Run(name, func(t *testing.T) {
			lab := newAviLab(t)
			g := startGSLB(t, lab.corefile(strings.Replace(prop, "CA", lab.ca, 1)))
			testutil.Eventually(t, "the answers", func() bool { a, _ := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA); return len(a) == 2 })
		})
	}
}

func TestAviManyServices(t *testing.T) {
	lab := newAviLab(t)
	const n = 2000
	for i := range n {
		lab.sim.AddService(avisim.Service(fmt.Sprintf("gslbservice-%05d", i), fmt.Sprintf("app%05d.gslb.sddc.lab", i),
			avisim.Pool(10, avisim.Member(fmt.Sprintf("10.%d.%d.1", i/250, i%250), avisim.ClusterA))))
	}
	g := startGSLB(t, lab.corefile("ca "+lab.ca))
	testutil.Eventually(t, "ready", g.Ready)
	testutil.Eventually(t, "every service", func() bool {
		got, _ := addrs(t, g, "app01999.gslb.sddc.lab.", dns.TypeA)
		return slices.Equal(got, []string{"10.7.249.1"})
	})
	for _, i := range []int{0, 199, 200, 1000, 1999} {
		name := fmt.Sprintf("app%05d.gslb.sddc.lab.", i)
		if got, _ := addrs(t, g, name, dns.TypeA); !slices.Equal(got, []string{fmt.Sprintf("10.%d.%d.1", i/250, i%250)}) {
			t.Errorf("%s: %v", name, got)
		}
	}
	if v := testutil.Metric(t, "coredns_gslb_avi_services"); v != n+2 {
		t.Errorf("coredns_gslb_avi_services = %v, want %d", v, n+2)
	}
}

// Avi's DNS profile answers one address per query unless the service says
// num_dns_ip: AMKO leaves it unset, and the walkthrough's dig alternates
// between the two sites' VIPs.
func TestAviAnswersOneAddressByDefault(t *testing.T) {
	lab := newAviLab(t)
	lab.sim.UpdateService(avisim.OnlineshopUUID, func(gs *models.GslbService) { gs.NumDNSIP = nil })
	g := startGSLB(t, lab.corefile("ca "+lab.ca))
	testutil.Eventually(t, "ready after the first poll", g.Ready)
	seen := map[string]int{}
	testutil.Eventually(t, "both sites, one at a time", func() bool {
		a, rcode := addrs(t, g, "onlineshop.gslb.sddc.lab.", dns.TypeA)
		if rcode != dns.RcodeSuccess || len(a) != 1 {
			t.Fatalf("want one address per answer, got %v (rcode %d)", a, rcode)
		}
		seen[a[0]]++
		return seen["172.26.17.21"] > 0 && seen["172.27.17.21"] > 0
	})
	if len(seen) != 2 {
		t.Errorf("answers %v", seen)
	}
}
