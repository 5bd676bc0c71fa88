package avi

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/avisim"
	"github.com/gslb/gslb/test/testutil"
)

// These tests give the Avi source the shapes and failures a real estate
// has: a runtime summary in the inventory, one object of an unexpected
// shape, a locked account, a leader that is down, and a controller that
// stays away for longer than the grace period.

// The inventory's runtime is documented as a summary: without member
// states in it, each service's runtime is read, and a member Avi sees down
// is down. Once the inventory proved summary-only, it is not asked again
// for an hour.
func TestSummaryInventoryFallsBackToServiceRuntime(t *testing.T) {
	sim := newSim(t, avisim.Options{}) // summary-only inventory by default
	l := testutil.CaptureLog(t)
	sim.SetMemberState(avisim.OnlineshopUUID, "172.27.17.21", "OPER_DOWN")
	src, store := newSource(t, simConfig(sim))
	for range 2 {
		if err := src.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := show(store.Records()); !slices.Contains(got, "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down") {
		t.Errorf("the member Avi sees down is not down: %q", got)
	}
	if n := sim.Requests("GET /api/gslbservice-inventory"); n != 1 {
		t.Errorf("inventory asked %d times; a summary-only one should be skipped for a while", n)
	}
	if n := sim.Requests("GET /api/gslbservice/*/runtime"); n != 4 {
		t.Errorf("runtime asked %d times, want 2 services × 2 polls", n)
	}
	if n := strings.Count(l.String(), "carries no member runtime"); n != 1 {
		t.Errorf("the summary should be logged once, got %d times: %s", n, l)
	}
}

// With the full runtime in the inventory, no service is asked on its own.
func TestFullInventoryNeedsNoServiceRuntime(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	sim.SetInventoryFull(true)
	sim.SetMemberState(avisim.OnlineshopUUID, "172.27.17.21", "OPER_DOWN")
	src, store := newSource(t, simConfig(sim))
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := show(store.Records()); !slices.Contains(got, "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down") {
		t.Errorf("records %q", got)
	}
	if n := sim.Requests("GET /api/gslbservice/*/runtime"); n != 0 {
		t.Errorf("runtime asked %d times with a full inventory", n)
	}
}

// One GslbService with a field of an unexpected type is skipped and
// reported; its last known records stay, and the others follow the
// controller as usual.
func TestMalformedServiceIsSkippedNotFatal(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)
	src, store := newSource(t, simConfig(sim))
	ctx := context.Background()
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, store, fixtureRecords)

	// ttl as a string: alb-sdk's *uint32 cannot take it.
	sim.SetServiceRaw(avisim.PaymentsUUID, []byte(`{"uuid": "`+avisim.PaymentsUUID+`", "name": "payments", "ttl": "ten", "domain_names": ["payments.gslb.sddc.lab"]}`))
	sim.SetMemberState(avisim.OnlineshopUUID, "172.27.17.21", "OPER_DOWN")
	for range 2 {
		if err := src.Poll(ctx); err != nil {
			t.Fatalf("one bad object failed the poll: %v", err)
		}
	}
	got := show(store.Records())
	if !slices.Contains(got, "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down") {
		t.Errorf("the good service did not follow the controller: %q", got)
	}
	if !slices.Contains(got, "payments.gslb.sddc.lab. site-a 203.0.113.30 w=8 p=20") {
		t.Errorf("the bad service's last records were dropped: %q", got)
	}
	if v := testutil.Value(t, malformedGauge); v != 1 {
		t.Errorf("avi_malformed_objects = %v", v)
	}
	if n := strings.Count(l.String(), "skipping GSLB service payments ("+avisim.PaymentsUUID+")"); n != 1 {
		t.Errorf("want one log line naming the object, got %d: %s", n, l)
	}
	if !strings.Contains(l.String(), "ttl") {
		t.Errorf("the log does not say which field: %s", l)
	}

	// Fixed on the controller: it is read again, nothing is reported.
	sim.SetServiceRaw(avisim.PaymentsUUID, nil)
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if v := testutil.Value(t, malformedGauge); v != 0 {
		t.Errorf("avi_malformed_objects = %v after the fix", v)
	}
	// An object whose uuid cannot be read could be any service missing
	// from the list: none of them is taken down.
	sim.SetServiceRaw(avisim.OnlineshopUUID, []byte(`{"uuid": 42}`))
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := show(store.Records()); !slices.Contains(got, "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down") || len(got) != len(fixtureRecords) {
		t.Errorf("an object without a readable uuid changed the records: %q", got)
	}
}

// Avi locks an account after 3 failed logins, and it is often AMKO's. A
// refused login is not retried until the credentials file changes, so the
// account is never locked by us, and the refusal is logged once.
func TestRefusedLoginIsNotRetriedUntilTheFileChanges(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)
	creds := filepath.Join(t.TempDir(), "avi-credentials")
	write := func(s string) {
		if err := os.WriteFile(creds, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("username: admin\npassword: wrong-password\n")
	cfg := simConfig(sim)
	cfg.Credentials, cfg.CredentialsFile = Credentials{}, creds
	cfg.Poll = 50 * time.Millisecond
	src, store := newSource(t, cfg)
	src.Start()
	time.Sleep(time.Second) // many poll intervals, even with backoff
	if n := sim.FailedLogins("admin"); n != 1 {
		t.Fatalf("%d failed logins; want exactly 1", n)
	}
	if sim.Locked("admin") {
		t.Fatal("the account got locked")
	}
	if n := strings.Count(l.String(), "login as \"admin\" refused"); n != 1 {
		t.Errorf("the refusal should be logged once, got %d: %s", n, l)
	}
	if !strings.Contains(l.String(), "does not log in again until that file changes") {
		t.Errorf("the log does not say what gslb does: %s", l)
	}
	if len(store.Records()) != 0 {
		t.Error("records without a login")
	}
	write("username: admin\npassword: " + simPassword + "\n")
	testutil.Eventually(t, "the login with the fixed file", src.HasSynced)
	checkRecords(t, store, fixtureRecords)
	if n := sim.FailedLogins("admin"); n != 0 {
		t.Errorf("failed logins %d after success", n)
	}
}

// The simulator itself locks like Avi does, so the test above proves
// something: three wrong logins lock even the right password out.
func TestSimulatorLocksAfterThreeFailures(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	for i := range 3 {
		cfg := simConfig(sim)
		cfg.Credentials = Credentials{Username: "admin", Password: "wrong"}
		src, _ := newSource(t, cfg)
		if err := src.Poll(context.Background()); kindOf(err) != KindAuth {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	src, _ := newSource(t, simConfig(sim))
	if err := src.Poll(context.Background()); kindOf(err) != KindAuth || !sim.Locked("admin") {
		t.Fatalf("the right password after 3 failures: %v (locked %t)", err, sim.Locked("admin"))
	}
}

// The leader first, then followers: a poll uses the first controller that
// answers, and goes back to the leader when it answers again.
func TestFollowerAnswersWhileTheLeaderIsDown(t *testing.T) {
	leader := newSim(t, avisim.Options{})
	follower := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)
	leader.Down()
	cfg := simConfig(leader)
	cfg.URLs = []string{leader.URL(), follower.URL()}
	cfg.RootCAs.AppendCertsFromPEM(follower.CAPEM())
	cfg.Timeout = time.Second
	src, store := newSource(t, cfg)
	ctx := context.Background()
	if err := src.Poll(ctx); err != nil {
		t.Fatalf("the follower should answer: %v", err)
	}
	checkRecords(t, store, fixtureRecords)
	if !strings.Contains(l.String(), "reading from "+follower.URL()) {
		t.Errorf("log: %s", l)
	}
	if err := leader.Up(); err != nil {
		t.Fatal(err)
	}
	before := leader.Requests("GET /api/gslbservice")
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if leader.Requests("GET /api/gslbservice") != before+1 {
		t.Error("the leader is back but was not read")
	}
	if !strings.Contains(l.String(), leader.URL()+" answers again") {
		t.Errorf("log: %s", l)
	}
	// Neither answers: the last state stays, the leader's error is said.
	leader.Down()
	follower.Down()
	err := src.Poll(ctx)
	if kindOf(err) != KindUnreachable {
		t.Fatalf("got %v", err)
	}
	checkRecords(t, store, fixtureRecords)
}

// After the grace period without an answer, Avi's verdicts expire:
// unprobed members leave, probed ones stay with their probe as the only
// verdict. The next answer brings everything back.
func TestVerdictsExpireAfterTheGrace(t *testing.T) {
	for _, probed := range []bool{false, true} {
		name := "unprobed"
		if probed {
			name = "probed"
		}
		t.Run(name, func(t *testing.T) {
			sim := newSim(t, avisim.Options{})
			l := testutil.CaptureLog(t)
			sim.SetMemberState(avisim.OnlineshopUUID, "172.27.17.21", "OPER_DOWN")
			cfg := simConfig(sim)
			cfg.Grace = 600 * time.Millisecond
			cfg.Poll = 100 * time.Millisecond
			cfg.Timeout = 200 * time.Millisecond
			if probed {
				cfg.Check = model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}
			}
			suffix := ""
			if probed {
				suffix = " probed"
			}
			down := "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down" + suffix
			src, store := newSource(t, cfg)
			src.Start()
			testutil.Eventually(t, "the first poll", src.HasSynced)
			if got := show(store.Records()); !slices.Contains(got, down) {
				t.Fatalf("records %q", got)
			}
			sim.Down()
			if probed {
				testutil.Eventually(t, "Avi's verdict to be dropped", func() bool {
					return slices.Contains(show(store.Records()), "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 probed")
				})
				for _, r := range store.Records() {
					if r.Check.Proto != model.CheckHTTP && !r.Member.IsAlias() {
						t.Errorf("a probed record lost its check: %+v", r)
					}
				}
				if n := len(store.Records()); n != len(fixtureRecords) {
					t.Errorf("%d records, want all %d", n, len(fixtureRecords))
				}
			} else {
				testutil.Eventually(t, "the unprobed members to leave", func() bool { return len(store.Records()) == 0 })
			}
			if testutil.Value(t, expiredGauge) != 1 || !strings.Contains(l.String(), "Avi's member verdicts expired") {
				t.Errorf("expired gauge %v, log: %s", testutil.Value(t, expiredGauge), l)
			}
			if err := sim.Up(); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "the records to come back", func() bool {
				return slices.Contains(show(store.Records()), down) && len(store.Records()) == len(fixtureRecords)
			})
			if testutil.Value(t, expiredGauge) != 0 {
				t.Error("expired gauge stays 1")
			}
		})
	}
}
