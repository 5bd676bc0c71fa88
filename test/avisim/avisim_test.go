package avisim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// apiClient is a minimal client that does what the protocol says, so that
// each check below can leave one part out.
type apiClient struct {
	t       *testing.T
	s       *Server
	hc      *http.Client
	cookies []*http.Cookie
	csrf    string
	version string
	tenant  string
	noCSRF  bool
	noRef   bool
}

func newAPIClient(t *testing.T, s *Server) *apiClient {
	return &apiClient{
		t: t, s: s, version: s.Version(), tenant: "admin",
		hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}}},
	}
}

func (c *apiClient) login(user, password string) int {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, _ := http.NewRequest(http.MethodPost, c.s.URL()+"/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if string(bytes.TrimSpace(b)) != `{"success": "true"}` {
			c.t.Errorf("login body %s", b)
		}
		c.cookies = resp.Cookies()
		for _, ck := range c.cookies {
			if ck.Name == "csrftoken" {
				c.csrf = ck.Value
			}
		}
	}
	return resp.StatusCode
}

func (c *apiClient) get(pathQuery string, out any) int {
	c.t.Helper()
	u := pathQuery
	if !strings.HasPrefix(u, "https://") {
		u = c.s.URL() + pathQuery
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	if !c.noCSRF {
		req.Header.Set("X-CSRFToken", c.csrf)
	}
	if !c.noRef {
		req.Header.Set("Referer", c.s.URL()+"/")
	}
	if c.version != "" {
		req.Header.Set("X-Avi-Version", c.version)
	}
	if c.tenant != "" {
		req.Header.Set("X-Avi-Tenant", c.tenant)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("GET %s: %v: %s", pathQuery, err, b)
		}
	}
	return resp.StatusCode
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestLoginAndHeaders(t *testing.T) {
	s := start(t, Options{})
	c := newAPIClient(t, s)
	if got := c.get("/api/gslbservice", nil); got != http.StatusUnauthorized {
		t.Errorf("without a session: %d", got)
	}
	if got := c.login("admin", "wrong"); got != http.StatusUnauthorized {
		t.Errorf("bad password: %d", got)
	}
	if got := c.login("admin", "avi-sim-password"); got != http.StatusOK {
		t.Fatalf("login: %d", got)
	}
	names := map[string]bool{}
	for _, ck := range c.cookies {
		names[ck.Name] = true
	}
	if !names["csrftoken"] || !names["avi-sessionid"] || !names["sessionid"] {
		t.Errorf("cookies %v", names)
	}
	if got := c.get("/api/gslbservice", nil); got != http.StatusOK {
		t.Errorf("with everything: %d", got)
	}
	c.noCSRF = true
	if got := c.get("/api/gslbservice", nil); got != http.StatusForbidden {
		t.Errorf("without X-CSRFToken: %d", got)
	}
	c.noCSRF, c.noRef = false, true
	if got := c.get("/api/gslbservice", nil); got != http.StatusForbidden {
		t.Errorf("without Referer: %d", got)
	}
	c.noRef = false
	for v, want := range map[string]int{"": 400, "99.1.1": 400, "junk": 400, "22.1.2": 200, "20.1.1": 200} {
		c.version = v
		if got := c.get("/api/gslbservice", nil); got != want {
			t.Errorf("X-Avi-Version %q: %d, want %d", v, got, want)
		}
	}
	c.version = s.Version()
	s.ExpireSessions()
	if got := c.get("/api/gslbservice", nil); got != http.StatusUnauthorized {
		t.Errorf("after expiry: %d", got)
	}
	if s.Logins() != 1 {
		t.Errorf("logins %d", s.Logins())
	}
}

func TestIdleSessionExpires(t *testing.T) {
	s := start(t, Options{SessionIdle: 100 * time.Millisecond})
	c := newAPIClient(t, s)
	c.login("admin", "avi-sim-password")
	if got := c.get("/api/gslb", nil); got != http.StatusOK {
		t.Fatalf("%d", got)
	}
	time.Sleep(200 * time.Millisecond)
	if got := c.get("/api/gslb", nil); got != http.StatusUnauthorized {
		t.Errorf("idle session: %d", got)
	}
}

func TestTenantsAndPaging(t *testing.T) {
	s := start(t, Options{Empty: true})
	for i := range 450 {
		gs := Service(fmt.Sprintf("gslbservice-%04d", i), fmt.Sprintf("app%04d.gslb.sddc.lab", i), Pool(10, Member("10.1.0.1", ClusterA)))
		if i%3 == 0 {
			gs.TenantRef = Str("https://avi-leader.sddc.lab/api/tenant/tenant-1234#tenant1")
		}
		s.AddService(gs)
	}
	c := newAPIClient(t, s)
	c.login("admin", "avi-sim-password")
	for tenant, want := range map[string]int{"admin": 300, "tenant1": 150, "*": 450, "": 300, "other": 0} {
		c.tenant = tenant
		var got []string
		next := "/api/gslbservice?page_size=200"
		for next != "" {
			var p models.GslbServiceAPIResponse
			if code := c.get(next, &p); code != 200 {
				t.Fatalf("%s: %d", next, code)
			}
			if int(*p.Count) != want {
				t.Errorf("tenant %q: count %d, want %d", tenant, *p.Count, want)
			}
			for _, gs := range p.Results {
				got = append(got, *gs.UUID)
			}
			next = ""
			if p.Next != nil {
				u, err := url.Parse(*p.Next)
				if err != nil || u.Host != "avi-leader.sddc.lab" || u.Scheme != "https" || u.Query().Get("page_size") != "200" {
					t.Fatalf("next %q is not the controller's absolute link", *p.Next)
				}
				next = u.RequestURI()
			}
		}
		if len(got) != want {
			t.Errorf("tenant %q: %d services over the pages, want %d", tenant, len(got), want)
		}
	}
	c.tenant = "*"
	if got := c.get("/api/gslbservice?page=9&page_size=200", nil); got != http.StatusNotFound {
		t.Errorf("page past the end: %d", got)
	}
	var def models.GslbServiceAPIResponse
	c.get("/api/gslbservice", &def)
	if len(def.Results) != 25 {
		t.Errorf("default page size: %d", len(def.Results))
	}
}

func TestRuntimeAndInventory(t *testing.T) {
	s := start(t, Options{})
	c := newAPIClient(t, s)
	c.login("admin", "avi-sim-password")
	c.tenant = "*"

	var list models.GslbServiceAPIResponse
	c.get("/api/gslbservice", &list)
	if *list.Count != 2 {
		t.Fatalf("fixture services: %d", *list.Count)
	}

	s.SetMemberState(OnlineshopUUID, "172.27.17.21", "OPER_DOWN")
	var rts []*models.GslbServiceRuntime
	if code := c.get("/api/gslbservice/"+OnlineshopUUID+"/runtime", &rts); code != 200 || len(rts) != 1 {
		t.Fatalf("runtime: %d %d", code, len(rts))
	}
	states := map[string]string{}
	for _, m := range rts[0].Groups[0].Members {
		states[*m.IP.Addr] = *m.OperStatus.State + "@" + *m.SiteName
	}
	if states["172.26.17.21"] != "OPER_UP@site-a" || states["172.27.17.21"] != "OPER_DOWN@site-b" {
		t.Errorf("member states %v", states)
	}

	s.SetRuntimeAsObject(true)
	var one models.GslbServiceRuntime
	if code := c.get("/api/gslbservice/"+OnlineshopUUID+"/runtime", &one); code != 200 || one.UUID == nil {
		t.Errorf("runtime as object: %d %+v", code, one)
	}
	s.SetRuntimeRaw(OnlineshopUUID, Fixture(FixtureRuntime))
	rts = nil
	c.get("/api/gslbservice/"+OnlineshopUUID+"/runtime", &rts)
	if len(rts) != 1 || rts[0].Groups[0].Members[1].OperStatus.Reason[0] != "Member is down" {
		t.Errorf("raw runtime not served")
	}
	if code := c.get("/api/gslbservice/gslbservice-nope/runtime", nil); code != 404 {
		t.Errorf("unknown runtime: %d", code)
	}
	c.tenant = "admin"
	if code := c.get("/api/gslbservice/"+PaymentsUUID+"/runtime", nil); code != 404 {
		t.Errorf("another tenant's runtime: %d", code)
	}

	var inv models.GslbServiceInventoryAPIResponse
	c.tenant = "*"
	if code := c.get("/api/gslbservice-inventory?page_size=1", &inv); code != 200 || *inv.Count != 2 || len(inv.Results) != 1 || inv.Next == nil {
		t.Fatalf("inventory: %d %+v", code, inv)
	}
	if inv.Results[0].Runtime == nil || inv.Results[0].Config == nil {
		t.Errorf("inventory entry %+v", inv.Results[0])
	}
	s.SetInventory(false)
	if code := c.get("/api/gslbservice-inventory", nil); code != 404 {
		t.Errorf("inventory off: %d", code)
	}

	var gslb struct{ Results []*models.Gslb }
	c.get("/api/gslb", &gslb)
	if len(gslb.Results) != 1 || len(gslb.Results[0].Sites) != 4 {
		t.Errorf("gslb config %+v", gslb)
	}
	var initial struct{ Version struct{ Version string } }
	c.get("/api/initial-data", &initial)
	if initial.Version.Version != "22.1.2" {
		t.Errorf("initial-data %+v", initial)
	}
}

func TestFaults(t *testing.T) {
	s := start(t, Options{})
	c := newAPIClient(t, s)
	c.login("admin", "avi-sim-password")

	s.SetFaults(Faults{Status: 503})
	if code := c.get("/api/gslbservice", nil); code != 503 {
		t.Errorf("5xx: %d", code)
	}
	s.SetFaults(Faults{Unauthorized: 2})
	if a, b := c.get("/api/gslbservice", nil), c.get("/api/gslbservice", nil); a != 401 || b != 401 {
		t.Errorf("401 storm: %d %d", a, b)
	}
	c.login("admin", "avi-sim-password")
	if code := c.get("/api/gslbservice", nil); code != 200 {
		t.Errorf("after the storm: %d", code)
	}
	s.SetFaults(Faults{Malformed: true})
	if code := c.get("/api/gslbservice", nil); code != 200 {
		t.Errorf("malformed status %d", code)
	}
	s.SetFaults(Faults{Body: "<html>proxy</html>"})
	if code := c.get("/api/gslbservice", nil); code != 200 {
		t.Errorf("body status %d", code)
	}
	s.SetFaults(Faults{LoginStatus: 500})
	if code := c.login("admin", "avi-sim-password"); code != 500 {
		t.Errorf("login fault: %d", code)
	}
	s.SetFaults(Faults{Delay: 300 * time.Millisecond})
	t0 := time.Now()
	c.get("/api/gslb", nil)
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Errorf("delay: answered in %s", d)
	}
	s.SetFaults(Faults{})
}

func TestDownUp(t *testing.T) {
	s := start(t, Options{})
	c := newAPIClient(t, s)
	c.login("admin", "avi-sim-password")
	s.Down()
	_, err := c.hc.Get(s.URL() + "/api/initial-data")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("down: %v, want connection refused", err)
	}
	if err := s.Up(); err != nil {
		t.Fatal(err)
	}
	if code := c.get("/api/gslbservice", nil); code != 200 {
		t.Errorf("up again, same session: %d", code)
	}
}

func TestTLSNeedsTheCA(t *testing.T) {
	s := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/initial-data", nil)
	if _, err := (&http.Client{}).Do(req); err == nil {
		t.Error("the system roots trust the simulator")
	}
	if !strings.Contains(string(s.CAPEM()), "BEGIN CERTIFICATE") {
		t.Error("no CA PEM")
	}
	p, err := s.WriteCA(t.TempDir())
	if err != nil || p == "" {
		t.Fatal(err)
	}
}
