// Package avisim is a simulator of the small part of an Avi (NSX Advanced
// Load Balancer) controller's REST API that gslb reads. It is NOT an Avi
// controller and was not checked against one: it is built from the public
// alb-sdk models and the fixtures in testdata/ (see testdata/SOURCES.md),
// and it exists so that tests can drive the Avi source through logins,
// paging, tenants, runtime changes and failures on 127.0.0.1.
//
// What it models:
//   - HTTPS only, on 127.0.0.1, with its own CA (CAPEM, WriteCA).
//   - POST /login with JSON {"username", "password"} or {"username",
//     "token"}: sets the csrftoken, avi-sessionid and sessionid cookies and
//     answers {"success": "true"}; bad credentials answer 401. After 3
//     refused logins in a row a user is locked for 30 minutes (Avi's
//     default user-account profile): even the right password is refused.
//   - Every other /api/ request (except /api/initial-data) needs the session
//     cookie (401 without, or once the session expired after SessionIdle),
//     X-CSRFToken equal to the session's token and a Referer on the
//     controller's origin (403 otherwise, for every method), and
//     X-Avi-Version (400 when missing, malformed or newer than the
//     controller's version).
//   - X-Avi-Tenant (default admin, "*" = all) filters GslbServices by the
//     tenant name in their tenant_ref.
//   - GET /api/gslbservice and /api/gslbservice-inventory page with
//     page_size (default 25) and page; `next` is an absolute URL naming the
//     controller as it names itself (Hostname, by default
//     avi-leader.sddc.lab), not the address it was reached by, like a real
//     controller behind NAT.
//   - GET /api/gslbservice/<uuid>, /api/gslbservice/<uuid>/runtime (a list
//     with one entry, or an object with SetRuntimeAsObject), /api/gslb (the
//     AMKO mock's GSLB config plus site-a and site-b for the synth
//     fixtures' clusters), /api/cluster and /api/initial-data.
//   - Runtime is derived from the configuration: every member OPER_UP unless
//     SetMemberState says otherwise (or SetRuntimeRaw serves a fixed body).
//     The inventory carries a runtime summary (oper_status, no members) by
//     default, as the model documents it, and the full runtime with
//     SetInventoryFull.
//   - SetServiceRaw serves one GslbService's JSON verbatim, for objects of
//     an unexpected shape among good ones.
//   - Faults: slow answers, a fixed status (5xx), N answers of 401, a
//     refused login, truncated JSON or any fixed body, and Down/Up, which
//     close the listener (connection refused) and reopen it on the same
//     port.
//
// What it does not model: writes (POST/PUT/DELETE of objects), object
// references other than tenant_ref, role-based access, the GSLB
// replication between sites, health monitoring itself, rate limits, the
// exact error texts of a real controller, HTTP/2, and anything not listed
// above (404).
package avisim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

//go:embed testdata/*.json
var fixtures embed.FS

// Fixture returns a file from testdata/ (copies of the project's reference
// fixtures), for tests that decode them directly.
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic(fmt.Sprintf("avisim: no fixture %q", name))
	}
	return b
}

// Fixture names.
const (
	FixtureServices     = "synth__gslbservice_list_amko_style.json"
	FixtureRuntime      = "synth__gslbservice_runtime.json"
	FixtureInventory    = "synth__gslbservice_inventory_list.json"
	FixtureLegacyList   = "amko_mock__gslbservice_list.json"
	FixtureGslb         = "amko_mock__gslb_config_list.json"
	FixtureCluster      = "amko_mock__cluster.json"
	FixtureInitialData  = "ako_mock__initial_data.json"
	FixtureLoginBody    = "mock__login_response_body.json"
	FixtureLoginExchage = "synth__login_exchange.json"
)

// UUIDs and names of the synth fixtures' objects.
const (
	OnlineshopUUID = "gslbservice-5f0d7c55-2a1e-4a9b-9d4e-1c2b3a4d5e6f"
	PaymentsUUID   = "gslbservice-7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
	ClusterA       = "cluster-0c1d2e3f-aaaa-4bbb-8ccc-000000000001"
	ClusterB       = "cluster-0c1d2e3f-aaaa-4bbb-8ccc-000000000002"
)

// Options configure a simulator.
type Options struct {
	// Version is the controller's version (X-Avi-Version may not be
	// newer); default: the initial-data fixture's, 22.1.2.
	Version string
	// Username and Password (or Token) are the accepted credentials;
	// default admin / avi-sim-password.
	Username, Password, Token string
	// Hostname is how the controller names itself in url fields and
	// next links; default avi-leader.sddc.lab.
	Hostname string
	// SessionIdle expires idle sessions; default 15 minutes.
	SessionIdle time.Duration
	// Empty starts without the fixture GslbServices.
	Empty bool
	// LockoutAfter locks a user after that many failed logins in a row,
	// like Avi's default user-account profile (3); a locked user's login
	// is refused even with the right password for LockoutFor (default
	// 30 minutes). 0 means 3; a negative number never locks.
	LockoutAfter int
	LockoutFor   time.Duration
}

// Faults are injected failures; the zero value injects none. They apply to
// /login and /api/ requests alike unless said otherwise.
type Faults struct {
	// Delay holds every answer back (a slow controller).
	Delay time.Duration
	// Status, when set, answers every request with it (e.g. 500, 503).
	Status int
	// Unauthorized answers the next N /api/ requests 401 and drops every
	// session (a 401 storm); each such answer decrements it.
	Unauthorized int
	// LoginStatus, when set, answers /login with it.
	LoginStatus int
	// Malformed answers /api/ requests with truncated JSON (status 200).
	Malformed bool
	// Body, when set, answers /api/ requests with it (status 200).
	Body string
}

type user struct{ password, token string }

type session struct {
	csrf     string
	lastUsed time.Time
}

// Server is a running simulator.
type Server struct {
	opts    Options
	handler http.Handler
	cert    tls.Certificate
	caPEM   []byte
	addr    string

	mu            sync.Mutex
	srv           *httptest.Server
	users         map[string]user
	sessions      map[string]*session
	services      []*models.GslbService
	state         map[string]map[string]string // gs uuid -> member ip/fqdn -> oper state
	runtimeRaw    map[string][]byte
	gslb          *models.Gslb
	inventory     bool
	inventoryFull bool
	runtimeObject bool
	serviceRaw    map[string][]byte
	failedLogins  map[string]int
	lockedUntil   map[string]time.Time
	faults        Faults
	requests      map[string]int
	logins        int
}

// New starts a simulator on 127.0.0.1 with the fixture GslbServices
// (unless opts.Empty). Close it when done.
func New(opts Options) (*Server, error) {
	if opts.Version == "" {
		var v struct {
			Version struct{ Version string } `json:"version"`
		}
		if err := json.Unmarshal(Fixture(FixtureInitialData), &v); err != nil {
			return nil, err
		}
		opts.Version = v.Version.Version
	}
	if opts.Username == "" {
		opts.Username = "admin"
	}
	if opts.Password == "" && opts.Token == "" {
		opts.Password = "avi-sim-password"
	}
	if opts.Hostname == "" {
		opts.Hostname = "avi-leader.sddc.lab"
	}
	if opts.SessionIdle == 0 {
		opts.SessionIdle = 15 * time.Minute
	}
	if opts.LockoutAfter == 0 {
		opts.LockoutAfter = 3
	}
	if opts.LockoutFor == 0 {
		opts.LockoutFor = 30 * time.Minute
	}
	s := &Server{
		opts:         opts,
		users:        map[string]user{opts.Username: {password: opts.Password, token: opts.Token}},
		sessions:     map[string]*session{},
		state:        map[string]map[string]string{},
		runtimeRaw:   map[string][]byte{},
		inventory:    true,
		serviceRaw:   map[string][]byte{},
		failedLogins: map[string]int{},
		lockedUntil:  map[string]time.Time{},
		requests:     map[string]int{},
	}
	var err error
	if s.cert, s.caPEM, err = newCert(); err != nil {
		return nil, err
	}
	var list struct{ Results []*models.Gslb }
	if err := json.Unmarshal(Fixture(FixtureGslb), &list); err != nil || len(list.Results) != 1 {
		return nil, fmt.Errorf("avisim: GSLB config fixture: %v", err)
	}
	s.gslb = list.Results[0]
	for _, site := range []struct{ uuid, name string }{{ClusterA, "site-a"}, {ClusterB, "site-b"}} {
		s.gslb.Sites = append(s.gslb.Sites, &models.GslbSite{ClusterUUID: Str(site.uuid), Name: Str(site.name), Enabled: Bool(true), MemberType: Str("GSLB_ACTIVE_MEMBER")})
	}
	if !opts.Empty {
		if err := s.LoadServices(Fixture(FixtureServices)); err != nil {
			return nil, err
		}
	}
	s.handler = http.HandlerFunc(s.serve)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.start(ln)
	return s, nil
}

func (s *Server) start(ln net.Listener) {
	srv := httptest.NewUnstartedServer(s.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	// TLS handshake failures are what the CA tests provoke: keep them quiet.
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

// URL is the controller's address, https://127.0.0.1:PORT.
func (s *Server) URL() string { return "https://" + s.addr }

// Addr is 127.0.0.1:PORT.
func (s *Server) Addr() string { return s.addr }

// Version is the controller's version.
func (s *Server) Version() string { return s.opts.Version }

// Hostname is the name the controller gives itself in links.
func (s *Server) Hostname() string { return s.opts.Hostname }

// CAPEM is the PEM of the CA that signed the server certificate.
func (s *Server) CAPEM() []byte { return slices.Clone(s.caPEM) }

// WriteCA writes the CA to dir/avisim-ca.pem and returns the path.
func (s *Server) WriteCA(dir string) (string, error) {
	p := filepath.Join(dir, "avisim-ca.pem")
	return p, os.WriteFile(p, s.caPEM, 0o600)
}

// CertPool holds the simulator's CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.caPEM)
	return p
}

// Close stops the simulator.
func (s *Server) Close() { s.Down() }

// Down closes the listener and every connection: clients get "connection
// refused" until Up.
func (s *Server) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Up listens again on the same address.
func (s *Server) Up() error {
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return nil
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		ln, err = net.Listen("tcp4", s.addr)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return fmt.Errorf("avisim: cannot listen on %s again: %w", s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.start(ln)
	return nil
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// SetInventory turns /api/gslbservice-inventory on (default) or off (404,
// like a controller before 22.1.1).
func (s *Server) SetInventory(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inventory = on
}

// SetInventoryFull makes the inventory carry each service's full runtime,
// members included. By default it carries a runtime summary (the service's
// oper_status, no groups): the alb-sdk model documents the inventory's
// runtime as a "runtime summary", so a client may not count on members.
func (s *Server) SetInventoryFull(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inventoryFull = on
}

// SetServiceRaw serves body verbatim in place of service uuid's object in
// /api/gslbservice pages and /api/gslbservice/<uuid> (an object with a
// field of an unexpected type, say); nil goes back to the stored object.
func (s *Server) SetServiceRaw(uuid string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body == nil {
		delete(s.serviceRaw, uuid)
	} else {
		s.serviceRaw[uuid] = slices.Clone(body)
	}
}

// FailedLogins counts refused logins of a user (locked ones included).
func (s *Server) FailedLogins(username string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failedLogins[username]
}

// Locked tells whether a user is locked out now.
func (s *Server) Locked(username string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.lockedUntil[username])
}

// SetRuntimeAsObject makes /runtime answer one object instead of a list.
func (s *Server) SetRuntimeAsObject(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runtimeObject = on
}

// SetRuntimeRaw serves body verbatim as the runtime of service uuid (in
// /runtime and the inventory); nil goes back to the derived runtime.
func (s *Server) SetRuntimeRaw(uuid string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body == nil {
		delete(s.runtimeRaw, uuid)
	} else {
		s.runtimeRaw[uuid] = slices.Clone(body)
	}
}

// SetUser accepts another user (or changes a password).
func (s *Server) SetUser(username, password, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[username] = user{password: password, token: token}
}

// SetSite names a cluster uuid in /api/gslb (adds or renames a site).
func (s *Server) SetSite(clusterUUID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, site := range s.gslb.Sites {
		if site != nil && site.ClusterUUID != nil && *site.ClusterUUID == clusterUUID {
			site.Name = Str(name)
			return
		}
	}
	s.gslb.Sites = append(s.gslb.Sites, &models.GslbSite{ClusterUUID: Str(clusterUUID), Name: Str(name), Enabled: Bool(true)})
}

// ExpireSessions ends every session: the next request answers 401.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// Logins counts successful logins.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Requests counts requests by "METHOD /path" (query left out; service
// uuids in paths written as *, e.g. "GET /api/gslbservice/*/runtime").
func (s *Server) Requests(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

// LoadServices adds the GslbServices of a list answer ({"count",
// "results"}), replacing those with the same uuid.
func (s *Server) LoadServices(listJSON []byte) error {
	var list models.GslbServiceAPIResponse
	if err := json.Unmarshal(listJSON, &list); err != nil {
		return fmt.Errorf("avisim: %w", err)
	}
	for _, gs := range list.Results {
		s.AddService(gs)
	}
	return nil
}

// AddService adds (or replaces, by uuid) a copy of gs. A service without
// tenant_ref is put in the admin tenant; url is filled in.
func (s *Server) AddService(gs *models.GslbService) {
	c := clone(gs)
	if c.UUID == nil {
		panic("avisim: a GslbService needs a uuid")
	}
	if c.TenantRef == nil {
		c.TenantRef = Str("https://" + s.opts.Hostname + "/api/tenant/admin#admin")
	}
	if c.URL == nil {
		c.URL = Str("https://" + s.opts.Hostname + "/api/gslbservice/" + *c.UUID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.services {
		if *old.UUID == *c.UUID {
			s.services[i] = c
			return
		}
	}
	s.services = append(s.services, c)
}

// UpdateService changes a service in place; false when there is none.
func (s *Server) UpdateService(uuid string, f func(*models.GslbService)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, gs := range s.services {
		if *gs.UUID == uuid {
			f(gs)
			return true
		}
	}
	return false
}

// DeleteService removes a service.
func (s *Server) DeleteService(uuid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services = slices.DeleteFunc(s.services, func(gs *models.GslbService) bool { return *gs.UUID == uuid })
	delete(s.state, uuid)
}

// Service returns a copy of a service, or nil.
func (s *Server) Service(uuid string) *models.GslbService {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, gs := range s.services {
		if *gs.UUID == uuid {
			return clone(gs)
		}
	}
	return nil
}

// ServiceCount is the number of services, all tenants.
func (s *Server) ServiceCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.services)
}

// SetMemberState sets the runtime oper_status.state (OPER_UP, OPER_DOWN,
// ...) of the member with ip address or fqdn member of service uuid.
func (s *Server) SetMemberState(uuid, member, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state[uuid] == nil {
		s.state[uuid] = map[string]string{}
	}
	s.state[uuid][strings.ToLower(member)] = state
}

// ---- HTTP ----

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + countKey(r.URL.Path)
	s.mu.Lock()
	s.requests[key]++
	f := s.faults
	s.mu.Unlock()

	if f.Delay > 0 {
		// Read the body first: only then does the server notice a client
		// that gives up, and cancel the request's context.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path == "/login" && r.Method == http.MethodPost {
		if f.LoginStatus != 0 {
			writeError(w, f.LoginStatus, http.StatusText(f.LoginStatus))
			return
		}
		if f.Status != 0 {
			writeError(w, f.Status, http.StatusText(f.Status))
			return
		}
		s.login(w, r)
		return
	}
	if f.Status != 0 {
		writeError(w, f.Status, http.StatusText(f.Status))
		return
	}
	if r.URL.Path == "/api/initial-data" {
		writeJSON(w, json.RawMessage(fmt.Sprintf(`{"version": {"Version": %q}}`, s.opts.Version)))
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	if !s.authorize(w, r) {
		return
	}
	if f.Malformed {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"count": 3, "results": [{"uuid": "gslbservice-trunc`))
		return
	}
	if f.Body != "" {
		_, _ = w.Write([]byte(f.Body))
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "the simulator is read-only")
		return
	}
	s.route(w, r)
}

func countKey(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) >= 4 && parts[1] == "api" && parts[2] == "gslbservice" {
		parts[3] = "*"
	}
	return strings.Join(parts, "/")
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var cred struct{ Username, Password, Token string }
	if err := json.NewDecoder(r.Body).Decode(&cred); err != nil {
		writeError(w, http.StatusBadRequest, "login wants a JSON body")
		return
	}
	s.mu.Lock()
	u, ok := s.users[cred.Username]
	good := ok && ((cred.Password != "" && cred.Password == u.password) || (cred.Token != "" && cred.Token == u.token))
	locked := time.Now().Before(s.lockedUntil[cred.Username])
	if !good || locked {
		s.failedLogins[cred.Username]++
		if s.opts.LockoutAfter > 0 && s.failedLogins[cred.Username] >= s.opts.LockoutAfter && !locked {
			s.lockedUntil[cred.Username] = time.Now().Add(s.opts.LockoutFor)
		}
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "Invalid credentials")
		return
	}
	s.failedLogins[cred.Username] = 0
	id, csrf := randomHex(16), randomHex(16)
	s.sessions[id] = &session{csrf: csrf, lastUsed: time.Now()}
	s.logins++
	s.mu.Unlock()
	for _, c := range []*http.Cookie{
		{Name: "csrftoken", Value: csrf, Path: "/", Secure: true, SameSite: http.SameSiteStrictMode},
		{Name: "avi-sessionid", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode},
		{Name: "sessionid", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode},
	} {
		http.SetCookie(w, c)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(Fixture(FixtureLoginBody)) // verbatim, as the mock controllers answer
}

// authorize checks the session, CSRF token, Referer and API version, in
// that order, and answers the error itself.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	if s.faults.Unauthorized > 0 {
		s.faults.Unauthorized--
		clear(s.sessions)
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
		return false
	}
	var sess *session
	for _, name := range []string{"avi-sessionid", "sessionid"} {
		if c, err := r.Cookie(name); err == nil {
			if sess = s.sessions[c.Value]; sess != nil {
				if time.Since(sess.lastUsed) > s.opts.SessionIdle {
					delete(s.sessions, c.Value)
					sess = nil
					continue
				}
				sess.lastUsed = time.Now()
				break
			}
		}
	}
	var csrf string
	if sess != nil {
		csrf = sess.csrf
	}
	s.mu.Unlock()
	if sess == nil {
		writeError(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
		return false
	}
	if r.Header.Get("X-CSRFToken") != csrf {
		writeError(w, http.StatusForbidden, "CSRF Failed: CSRF token missing or incorrect.")
		return false
	}
	if ref := r.Header.Get("Referer"); ref == "" || !strings.HasPrefix(ref, "https://"+r.Host) {
		writeError(w, http.StatusForbidden, "CSRF Failed: Referer checking failed - no Referer or wrong origin.")
		return false
	}
	v := r.Header.Get("X-Avi-Version")
	if v == "" {
		writeError(w, http.StatusBadRequest, "X-Avi-Version header is required")
		return false
	}
	if c, ok := compareVersions(v, s.opts.Version); !ok || c > 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Unsupported X-Avi-Version %s (the controller runs %s)", v, s.opts.Version))
		return false
	}
	return true
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	tenant := r.Header.Get("X-Avi-Tenant")
	if tenant == "" {
		tenant = "admin"
	}
	switch {
	case p == "/api/gslbservice":
		s.mu.Lock()
		var out []any
		for _, gs := range s.services {
			if !inTenant(gs, tenant) {
				continue
			}
			if raw, ok := s.serviceRaw[*gs.UUID]; ok {
				out = append(out, json.RawMessage(raw))
			} else {
				out = append(out, gs)
			}
		}
		s.mu.Unlock()
		s.writePage(w, r, out)
	case p == "/api/gslbservice-inventory":
		s.mu.Lock()
		if !s.inventory {
			s.mu.Unlock()
			writeError(w, http.StatusNotFound, "Not found")
			return
		}
		var out []any
		for _, gs := range s.services {
			if inTenant(gs, tenant) {
				out = append(out, s.inventoryOf(gs))
			}
		}
		s.mu.Unlock()
		s.writePage(w, r, out)
	case strings.HasPrefix(p, "/api/gslbservice/"):
		rest := strings.TrimPrefix(p, "/api/gslbservice/")
		uuid, sub, _ := strings.Cut(rest, "/")
		s.mu.Lock()
		defer s.mu.Unlock()
		var gs *models.GslbService
		for _, c := range s.services {
			if *c.UUID == uuid && inTenant(c, tenant) {
				gs = c
			}
		}
		switch {
		case gs == nil:
			writeError(w, http.StatusNotFound, "Not found")
		case sub == "" && s.serviceRaw[uuid] != nil:
			writeJSON(w, json.RawMessage(s.serviceRaw[uuid]))
		case sub == "":
			writeJSON(w, gs)
		case sub == "runtime":
			if raw, ok := s.runtimeRaw[uuid]; ok {
				writeJSON(w, json.RawMessage(raw))
			} else if s.runtimeObject {
				writeJSON(w, s.runtimeOf(gs))
			} else {
				writeJSON(w, []*models.GslbServiceRuntime{s.runtimeOf(gs)})
			}
		default:
			writeError(w, http.StatusNotFound, "Not found")
		}
	case p == "/api/gslb":
		s.mu.Lock()
		body, _ := json.Marshal(map[string]any{"count": 1, "results": []*models.Gslb{s.gslb}})
		s.mu.Unlock()
		writeJSON(w, json.RawMessage(body))
	case p == "/api/cluster":
		writeJSON(w, json.RawMessage(Fixture(FixtureCluster)))
	default:
		writeError(w, http.StatusNotFound, "Not found")
	}
}

// writePage answers one page of a collection, with an absolute next link.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, all []any) {
	q := r.URL.Query()
	size, page := 25, 1
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "page_size must be a positive number")
			return
		}
		size = n
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "Invalid page.")
			return
		}
		page = n
	}
	start := (page - 1) * size
	if start > len(all) || (start == len(all) && page > 1) {
		writeError(w, http.StatusNotFound, "Invalid page.")
		return
	}
	end := min(start+size, len(all))
	resp := map[string]any{"count": len(all), "results": all[start:end]}
	if end < len(all) {
		q.Set("page", strconv.Itoa(page+1))
		resp["next"] = (&url.URL{Scheme: "https", Host: s.opts.Hostname, Path: r.URL.Path, RawQuery: q.Encode()}).String()
	}
	s.mu.Lock()
	body, err := json.Marshal(resp)
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, json.RawMessage(body))
}

func inTenant(gs *models.GslbService, tenant string) bool {
	if tenant == "*" {
		return true
	}
	return tenantName(gs.TenantRef) == tenant
}

// tenantName reads "https://host/api/tenant/<uuid>#<name>".
func tenantName(ref *string) string {
	if ref == nil {
		return "admin"
	}
	s := *ref
	if _, name, ok := strings.Cut(s, "#"); ok {
		return name
	}
	return s[strings.LastIndex(s, "/")+1:]
}

func (s *Server) siteOf(clusterUUID string) string {
	for _, site := range s.gslb.Sites {
		if site != nil && site.ClusterUUID != nil && *site.ClusterUUID == clusterUUID && site.Name != nil {
			return *site.Name
		}
	}
	return ""
}

// runtimeOf derives a service's runtime from its configuration and the
// member states. Called with s.mu held.
func (s *Server) runtimeOf(gs *models.GslbService) *models.GslbServiceRuntime {
	if raw, ok := s.runtimeRaw[*gs.UUID]; ok {
		var list []*models.GslbServiceRuntime
		if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			return list[0]
		}
		var one models.GslbServiceRuntime
		if json.Unmarshal(raw, &one) == nil {
			return &one
		}
	}
	rt := &models.GslbServiceRuntime{
		Name:        gs.Name,
		UUID:        gs.UUID,
		ObjUUID:     gs.UUID,
		ClusterUUID: s.gslb.LeaderClusterUUID,
		TenantName:  Str(tenantName(gs.TenantRef)),
		DomainNames: gs.DomainNames,
	}
	anyUp := false
	for _, g := range gs.Groups {
		if g == nil {
			continue
		}
		pr := &models.GslbPoolRuntime{Name: g.Name}
		poolUp := false
		for _, m := range g.Members {
			if m == nil {
				continue
			}
			key := ""
			if m.IP != nil && m.IP.Addr != nil {
				key = *m.IP.Addr
			} else if m.Fqdn != nil {
				key = strings.ToLower(*m.Fqdn)
			}
			state := "OPER_UP"
			if m.Enabled != nil && !*m.Enabled {
				state = "OPER_DISABLED"
			}
			if st, ok := s.state[*gs.UUID][strings.ToLower(key)]; ok {
				state = st
			}
			poolUp = poolUp || state == "OPER_UP"
			mr := &models.GslbPoolMemberRuntimeInfo{
				GsName:      gs.Name,
				GsUUID:      gs.UUID,
				IP:          m.IP,
				Fqdn:        m.Fqdn,
				ClusterUUID: m.ClusterUUID,
				VsUUID:      m.VsUUID,
				OperStatus:  &models.OperationalStatus{State: Str(state)},
			}
			if m.ClusterUUID != nil {
				if n := s.siteOf(*m.ClusterUUID); n != "" {
					mr.SiteName = Str(n)
				}
			}
			if m.IP != nil {
				mr.OperIps = []*models.IPAddr{m.IP}
			}
			pr.Members = append(pr.Members, mr)
		}
		pr.OperStatus = &models.OperationalStatus{State: Str(upDown(poolUp))}
		anyUp = anyUp || poolUp
		rt.Groups = append(rt.Groups, pr)
	}
	rt.OperStatus = &models.OperationalStatus{State: Str(upDown(anyUp))}
	return rt
}

func upDown(up bool) string {
	if up {
		return "OPER_UP"
	}
	return "OPER_DOWN"
}

// inventoryOf is a /api/gslbservice-inventory entry: the config subset the
// model has (no ttl, no num_dns_ip) and the runtime, a summary without
// members unless SetInventoryFull. Called with s.mu held.
func (s *Server) inventoryOf(gs *models.GslbService) *models.GslbServiceInventory {
	rt := s.runtimeOf(gs)
	if !s.inventoryFull {
		rt = &models.GslbServiceRuntime{
			Name:        rt.Name,
			UUID:        rt.UUID,
			ObjUUID:     rt.ObjUUID,
			ClusterUUID: rt.ClusterUUID,
			TenantName:  rt.TenantName,
			DomainNames: rt.DomainNames,
			OperStatus:  rt.OperStatus,
		}
	}
	return &models.GslbServiceInventory{
		UUID: gs.UUID,
		URL:  Str("https://" + s.opts.Hostname + "/api/gslbservice-inventory/" + *gs.UUID),
		Config: &models.GslbServiceConfig{
			Name:                          gs.Name,
			UUID:                          gs.UUID,
			URL:                           gs.URL,
			TenantRef:                     gs.TenantRef,
			DomainNames:                   gs.DomainNames,
			DownResponse:                  gs.DownResponse,
			Enabled:                       gs.Enabled,
			Groups:                        gs.Groups,
			ControllerHealthStatusEnabled: gs.ControllerHealthStatusEnabled,
			HealthMonitorScope:            gs.HealthMonitorScope,
			IsFederated:                   gs.IsFederated,
			MinMembers:                    gs.MinMembers,
			PoolAlgorithm:                 gs.PoolAlgorithm,
			ResolveCname:                  gs.ResolveCname,
			SitePersistenceEnabled:        gs.SitePersistenceEnabled,
			UseEdnsClientSubnet:           gs.UseEdnsClientSubnet,
			WildcardMatch:                 gs.WildcardMatch,
		},
		Runtime: rt,
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(body)
}

// compareVersions compares dotted numeric versions ("22.1.3").
func compareVersions(a, b string) (int, bool) {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	if !oka || !okb {
		return 0, false
	}
	return slices.Compare(pa, pb), true
}

func parseVersion(v string) ([]int, bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return nil, false
	}
	out := make([]int, 0, 4)
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	for len(out) < 4 {
		out = append(out, 0)
	}
	return out, true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func clone(gs *models.GslbService) *models.GslbService {
	b, err := json.Marshal(gs)
	if err != nil {
		panic(err)
	}
	var c models.GslbService
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
		panic(err)
	}
	return &c
}

// newCert makes a CA and a server certificate for 127.0.0.1, ::1 and
// localhost, signed by it.
func newCert() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "avisim test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "avi-leader.sddc.lab"},
		DNSNames:     []string{"localhost", "avi-leader.sddc.lab"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, caPEM, nil
}

// Str, Bool and U32 make the pointers the alb-sdk models use.
func Str(s string) *string { return &s }
func Bool(b bool) *bool    { return &b }
func U32(n uint32) *uint32 { return &n }
