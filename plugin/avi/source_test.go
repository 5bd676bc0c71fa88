package avi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/avisim"
	"github.com/gslb/gslb/test/testutil"
	"github.com/vmware/alb-sdk/go/models"
)

// These tests share the package's metrics and the standard logger, so none
// of them runs in parallel.

const simPassword = "avi-sim-password"

func newSim(t *testing.T, opts avisim.Options) *avisim.Server {
	t.Helper()
	s, err := avisim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func simConfig(sim *avisim.Server) Config {
	return Config{
		URLs:        []string{sim.URL()},
		Credentials: Credentials{Username: "admin", Password: simPassword},
		Tenant:      "*",
		RootCAs:     sim.CertPool(),
		Poll:        200 * time.Millisecond,
		Timeout:     2 * time.Second,
		InZone:      labZone,
	}
}

func newSource(t *testing.T, cfg Config) (*Source, *model.Store) {
	t.Helper()
	store := model.NewStore()
	s, err := New(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, store
}

var fixtureRecords = []string{
	"onlineshop.gslb.sddc.lab. site-a 172.26.17.21 w=1 p=10",
	"onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10",
	"pay.gslb.sddc.lab. avi 198.51.100.40 w=1 p=10",
	"pay.gslb.sddc.lab. site-a 203.0.113.30 w=8 p=20",
	"pay.gslb.sddc.lab. site-b 172.27.17.30 w=2 p=10",
	"payments.gslb.sddc.lab. avi 198.51.100.40 w=1 p=10",
	"payments.gslb.sddc.lab. site-a 203.0.113.30 w=8 p=20",
	"payments.gslb.sddc.lab. site-b 172.27.17.30 w=2 p=10",
}

func checkRecords(t *testing.T, store *model.Store, want []string) {
	t.Helper()
	if got := show(store.Records()); !slices.Equal(got, want) {
		t.Errorf("records\n got %q\nwant %q", got, want)
	}
}

func TestPollPublishesFixtures(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	sim.SetInventoryFull(true)
	l := testutil.CaptureLog(t)
	src, store := newSource(t, simConfig(sim))
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, store, fixtureRecords)
	if !src.HasSynced() || testutil.Value(t, upGauge) != 1 || testutil.Value(t, servicesGauge) != 2 {
		t.Errorf("synced %t, up %v, services %v", src.HasSynced(), testutil.Value(t, upGauge), testutil.Value(t, servicesGauge))
	}
	if ts := testutil.Value(t, lastSuccessGauge); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("last success %v", ts)
	}
	if !strings.Contains(l.String(), "Avi controller "+sim.URL()+": reachable, 2 GSLB services") {
		t.Errorf("log: %s", l)
	}
	if sim.Requests("GET /api/gslbservice-inventory") != 1 || sim.Requests("GET /api/gslbservice/*/runtime") != 0 {
		t.Errorf("runtime should come from the inventory")
	}
	if strings.Contains(l.String(), simPassword) {
		t.Error("the password was logged")
	}
}

func TestTenantAdminOnly(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	cfg := simConfig(sim)
	cfg.Tenant = "admin"
	src, store := newSource(t, cfg)
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, store, fixtureRecords[:2])
}

func TestSiteNamesFromTheCorefileWin(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	cfg := simConfig(sim)
	cfg.Sites = map[string]string{avisim.ClusterA: "east"}
	src, store := newSource(t, cfg)
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := show(store.Records())
	if !slices.Contains(got, "onlineshop.gslb.sddc.lab. east 172.26.17.21 w=1 p=10") || !slices.Contains(got, "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10") {
		t.Errorf("records %q", got)
	}
	sim.SetSite(avisim.ClusterB, "west")
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := show(store.Records()); !slices.Contains(got, "onlineshop.gslb.sddc.lab. west 172.27.17.21 w=1 p=10") {
		t.Errorf("renamed site: %q", got)
	}
}

func TestRunFollowsChanges(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	src, store := newSource(t, simConfig(sim))
	src.Start()
	testutil.Eventually(t, "the first poll", src.HasSynced)
	checkRecords(t, store, fixtureRecords)

	sim.SetMemberState(avisim.OnlineshopUUID, "172.27.17.21", "OPER_DOWN")
	testutil.Eventually(t, "the member to be down", func() bool {
		return slices.Contains(show(store.Records()), "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down")
	})

	sim.AddService(avisim.Service("gslbservice-new", "new.gslb.sddc.lab", avisim.Pool(10, avisim.Member("10.9.9.9", avisim.ClusterA))))
	testutil.Eventually(t, "the new service", func() bool {
		return slices.Contains(show(store.Records()), "new.gslb.sddc.lab. site-a 10.9.9.9 w=1 p=10")
	})
	sim.UpdateService("gslbservice-new", func(gs *models.GslbService) { gs.Enabled = avisim.Bool(false) })
	testutil.Eventually(t, "the disabled service to leave", func() bool {
		return !slices.ContainsFunc(show(store.Records()), func(s string) bool { return strings.HasPrefix(s, "new.") })
	})
	sim.DeleteService(avisim.PaymentsUUID)
	testutil.Eventually(t, "the deleted service to leave", func() bool { return len(store.Records()) == 2 })
}

func TestRuntimeWithoutInventory(t *testing.T) {
	for _, object := range []bool{false, true} {
		t.Run(fmt.Sprintf("object=%t", object), func(t *testing.T) {
			sim := newSim(t, avisim.Options{})
			sim.SetInventory(false)
			sim.SetRuntimeAsObject(object)
			sim.SetMemberState(avisim.PaymentsUUID, "172.26.17.30", "OPER_DOWN")
			src, store := newSource(t, simConfig(sim))
			for range 2 {
				if err := src.Poll(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Contains(show(store.Records()), "payments.gslb.sddc.lab. site-a 203.0.113.30 w=8 p=20 down") {
				t.Errorf("records %q", show(store.Records()))
			}
			if n := sim.Requests("GET /api/gslbservice-inventory"); n != 1 {
				t.Errorf("inventory asked %d times; a 404 should be remembered", n)
			}
			if n := sim.Requests("GET /api/gslbservice/*/runtime"); n != 4 {
				t.Errorf("runtime asked %d times, want 2 services × 2 polls", n)
			}
		})
	}
}

func TestRuntimeFixtureList(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	sim.SetInventory(false)
	sim.SetRuntimeRaw(avisim.OnlineshopUUID, avisim.Fixture(avisim.FixtureRuntime))
	src, store := newSource(t, simConfig(sim))
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(show(store.Records()), "onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down") {
		t.Errorf("records %q", show(store.Records()))
	}
}

func TestManyServicesOverPages(t *testing.T) {
	sim := newSim(t, avisim.Options{Empty: true})
	const n = 2000
	for i := range n {
		sim.AddService(avisim.Service(fmt.Sprintf("gslbservice-%05d", i), fmt.Sprintf("app%05d.gslb.sddc.lab", i),
			avisim.Pool(10, avisim.Member(fmt.Sprintf("10.%d.%d.1", i/250, i%250), avisim.ClusterA))))
	}
	cfg := simConfig(sim)
	cfg.PageSize = 200
	src, store := newSource(t, cfg)
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(store.Records()); got != n {
		t.Errorf("%d records, want %d", got, n)
	}
	if p := sim.Requests("GET /api/gslbservice"); p != n/200 {
		t.Errorf("%d list pages, want %d", p, n/200)
	}
	if p := sim.Requests("GET /api/gslbservice-inventory"); p != n/200 {
		t.Errorf("%d inventory pages, want %d", p, n/200)
	}
	if testutil.Value(t, servicesGauge) != n {
		t.Errorf("services gauge %v", testutil.Value(t, servicesGauge))
	}
}

func TestControllerDownKeepsState(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)
	src, store := newSource(t, simConfig(sim))
	src.Start()
	testutil.Eventually(t, "the first poll", src.HasSynced)

	before := testutil.Value(t, pollsTotal.WithLabelValues("unreachable"))
	sim.Down()
	testutil.Eventually(t, "avi_up 0", func() bool { return testutil.Value(t, upGauge) == 0 })
	testutil.Eventually(t, "a failed poll", func() bool { return testutil.Value(t, pollsTotal.WithLabelValues("unreachable")) > before })
	checkRecords(t, store, fixtureRecords)
	if s := l.String(); !strings.Contains(s, "Avi controller "+sim.URL()+": GET /api/gslb: ") || !strings.Contains(s, "serving the last known GSLB services") {
		t.Errorf("log: %s", s)
	}

	if err := sim.Up(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "avi_up 1", func() bool { return testutil.Value(t, upGauge) == 1 })
	if !strings.Contains(l.String(), "reachable again") {
		t.Errorf("log: %s", l)
	}
	checkRecords(t, store, fixtureRecords)
}

func TestReloginOn401(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	src, store := newSource(t, simConfig(sim))
	ctx := context.Background()
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	sim.ExpireSessions()
	if err := src.Poll(ctx); err != nil {
		t.Fatalf("after session expiry: %v", err)
	}
	sim.SetFaults(avisim.Faults{Unauthorized: 1})
	if err := src.Poll(ctx); err != nil {
		t.Fatalf("after one 401: %v", err)
	}
	if n := sim.Logins(); n != 3 {
		t.Errorf("%d logins, want 3", n)
	}
	// A storm: 401 again right after the new login is an auth failure,
	// and the state stays.
	sim.SetFaults(avisim.Faults{Unauthorized: 10})
	err := src.Poll(ctx)
	if kindOf(err) != KindAuth {
		t.Errorf("401 storm: %v", err)
	}
	checkRecords(t, store, fixtureRecords)
	sim.SetFaults(avisim.Faults{})
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBadAnswersKeepState(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)
	src, store := newSource(t, simConfig(sim))
	ctx := context.Background()
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		faults avisim.Faults
		kind   Kind
		msg    string
	}{
		{"truncated JSON", avisim.Faults{Malformed: true}, KindMalformed, "the answer is not valid JSON"},
		{"HTML", avisim.Faults{Body: "<html><body>Please log in</body></html>"}, KindMalformed, "not valid JSON"},
		{"empty object", avisim.Faults{Body: "{}"}, KindMalformed, "no count"},
		{"wrong shape", avisim.Faults{Body: `{"count": 1, "results": "nope"}`}, KindMalformed, "does not have the Avi API's shape"},
		{"503", avisim.Faults{Status: 503}, KindUnreachable, "HTTP 503"},
		{"500", avisim.Faults{Status: 500}, KindUnreachable, "HTTP 500"},
	}
	for _, tc := range tests {
		sim.SetFaults(tc.faults)
		err := src.Poll(ctx)
		var e *Error
		if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(e.Error(), tc.msg) {
			t.Errorf("%s: got %v, want kind %v with %q", tc.name, err, tc.kind, tc.msg)
		}
		checkRecords(t, store, fixtureRecords)
	}
	if s := l.String(); !strings.Contains(s, "not a proxy or login page") {
		t.Errorf("log: %s", s)
	}
	sim.SetFaults(avisim.Faults{})
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSlowControllerTimesOut(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	cfg := simConfig(sim)
	cfg.Timeout = 200 * time.Millisecond
	src, store := newSource(t, cfg)
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(avisim.Faults{Delay: 2 * time.Second})
	t0 := time.Now()
	err := src.Poll(context.Background())
	if kindOf(err) != KindUnreachable || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("got %v", err)
	}
	if d := time.Since(t0); d > 1500*time.Millisecond {
		t.Errorf("poll took %s with a 200ms timeout", d)
	}
	checkRecords(t, store, fixtureRecords)
}

func TestStopAbortsAPoll(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	sim.SetFaults(avisim.Faults{Delay: 5 * time.Second})
	cfg := simConfig(sim)
	cfg.Timeout = 10 * time.Second
	store := model.NewStore()
	src, err := New(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	src.Stop()
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Stop took %s", d)
	}
}

func TestWrongCredentials(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "avi-credentials")
	write := func(s string) {
		if err := os.WriteFile(creds, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("username: admin\npassword: " + simPassword + "\n")
	cfg := simConfig(sim)
	cfg.Credentials = Credentials{}
	cfg.CredentialsFile = creds
	src, store := newSource(t, cfg)
	ctx := context.Background()
	if err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	// The password changes on the controller: the session still works
	// until it expires, then the login fails.
	sim.SetUser("admin", "rotated-Secret-1", "")
	sim.ExpireSessions()
	before := testutil.Value(t, pollsTotal.WithLabelValues("auth_failed"))
	err := src.Poll(ctx)
	if kindOf(err) != KindAuth || !strings.Contains(err.Error(), `login as "admin" refused: Invalid credentials`) {
		t.Errorf("got %v", err)
	}
	if testutil.Value(t, pollsTotal.WithLabelValues("auth_failed")) != before+1 || testutil.Value(t, upGauge) != 0 {
		t.Error("metrics not updated")
	}
	checkRecords(t, store, fixtureRecords)
	s := l.String()
	if !strings.Contains(s, "fix the username/password or token in "+creds) || !strings.Contains(s, "[ERROR]") {
		t.Errorf("log: %s", s)
	}
	if strings.Contains(s, simPassword) || strings.Contains(s, "rotated-Secret-1") {
		t.Error("a password was logged")
	}
	// The file is re-read at each login: fixing it is enough.
	write(`{"username": "admin", "password": "rotated-Secret-1"}`)
	if err := src.Poll(ctx); err != nil {
		t.Fatalf("after fixing the file: %v", err)
	}
	// An unreadable file at login time is an auth failure too.
	os.Remove(creds)
	sim.ExpireSessions()
	if err := src.Poll(ctx); kindOf(err) != KindAuth || !strings.Contains(err.Error(), "cannot read credentials file") {
		t.Errorf("missing file: %v", err)
	}
	checkRecords(t, store, fixtureRecords)
}

func TestTokenLogin(t *testing.T) {
	sim := newSim(t, avisim.Options{Username: "amko", Token: "tok-123"})
	cfg := simConfig(sim)
	cfg.Credentials = Credentials{Username: "amko", Token: "tok-123"}
	src, _ := newSource(t, cfg)
	if err := src.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWrongVersion(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)
	cfg := simConfig(sim)
	cfg.Version = "31.1.1"
	src, store := newSource(t, cfg)
	err := src.Poll(context.Background())
	if kindOf(err) != KindRejected || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "(the controller runs 22.1.2)") {
		t.Errorf("got %v", err)
	}
	if s := l.String(); !strings.Contains(s, "check `version` (sent X-Avi-Version 31.1.1") || !strings.Contains(s, "no Avi GSLB service is served until it answers") {
		t.Errorf("log: %s", s)
	}
	if src.HasSynced() || len(store.Records()) != 0 {
		t.Error("synced on an error")
	}
}

func TestTLS(t *testing.T) {
	sim := newSim(t, avisim.Options{})
	l := testutil.CaptureLog(t)

	cfg := simConfig(sim)
	cfg.RootCAs = nil // the system roots do not know the simulator's CA
	src, _ := newSource(t, cfg)
	err := src.Poll(context.Background())
	if kindOf(err) != KindTLS || !strings.Contains(err.Error(), "certificate is not trusted") {
		t.Errorf("unknown CA: %v", err)
	}
	if !strings.Contains(l.String(), "`ca FILE`") {
		t.Errorf("log: %s", l)
	}
	if sim.Logins() != 0 {
		t.Error("credentials were sent to an untrusted server")
	}

	cfg.Insecure = true
	src, _ = newSource(t, cfg)
	if err := src.Poll(context.Background()); err != nil {
		t.Errorf("insecure: %v", err)
	}

	cfg = simConfig(sim) // the CA pool
	src, _ = newSource(t, cfg)
	if err := src.Poll(context.Background()); err != nil {
		t.Errorf("with the CA: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	good := map[string]string{
		"https://avi.example.org":       "https://avi.example.org",
		"https://avi.example.org/":      "https://avi.example.org",
		"https://127.0.0.1:8443":        "https://127.0.0.1:8443",
		"https://[2001:db8::1]:443/":    "https://[2001:db8::1]:443",
		"https://AVI-Leader.sddc.lab/ ": "",
	}
	for in, want := range good {
		got, err := ParseURL(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %q", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v", in, got, err)
		}
	}
	for in, msg := range map[string]string{
		"http://avi.example.org":           "HTTPS only",
		"avi.example.org":                  "is not a URL",
		"https://admin:pw@avi.example.org": "put them in the credentials file",
		"https://avi.example.org/api":      "without a path",
		"https://avi.example.org/?x=1":     "without a path",
	} {
		_, err := ParseURL(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want %q", in, err, msg)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%q: the error shows the password", in)
		}
	}
}

func TestBackoff(t *testing.T) {
	poll := 200 * time.Millisecond
	for n, hi := range map[int]time.Duration{1: poll, 2: 2 * poll, 3: 4 * poll, 5: 16 * poll, 50: 16 * poll} {
		for range 50 {
			d := backoff(poll, n)
			if d < hi/2 || d > hi {
				t.Fatalf("backoff(%s, %d) = %s, want in [%s, %s]", poll, n, d, hi/2, hi)
			}
		}
	}
	if d := backoff(30*time.Second, 100); d > maxBackoff || d < maxBackoff/2 {
		t.Errorf("cap: %s", d)
	}
	if d := backoff(10*time.Minute, 3); d > 10*time.Minute || d < 5*time.Minute {
		t.Errorf("a poll longer than the cap: %s", d)
	}
}
