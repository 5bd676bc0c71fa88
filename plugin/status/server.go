package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"
)

var log = clog.NewWithPlugin("gslb")

// Provider is one gslb stanza's view of its answers.
type Provider interface {
	// Services returns every service, sorted by Compare. The caller must not
	// modify them: a provider may hand the same slice to every request.
	Services() []Service
	// Detail returns copies of svcs with each member's health inputs and
	// objects filled in: they change by the second, so only the services
	// on a page are detailed, never all of them.
	Detail(svcs []Service) []Service
	Zones() []Zone
	Sources() []Source
	// Explain returns the decision for one query, or ErrNotServed when
	// name is outside the provider's zones.
	Explain(name string, qtype uint16, client netip.Prefix) (*Explanation, error)
}

// ErrNotServed is Explain's answer for a name outside the provider's zones.
var ErrNotServed = errors.New("not in a zone served here")

// Compare orders services worst first (down, degraded, up), then by name.
func Compare(a, b Service) int {
	return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), strings.Compare(a.Name, b.Name))
}

func rank(state string) int {
	switch state {
	case StateDown:
		return 0
	case StateDegraded:
		return 1
	}
	return 2
}

// Paging bounds: a page of a 10 000-name table stays a few hundred KB.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// DefaultAddr is where `status` without an address listens: loopback, as
// the page shows the whole GSLB configuration.
const DefaultAddr = "127.0.0.1:8282"

const shutdownTimeout = 5 * time.Second

// server is one listener and the providers that share it.
type server struct {
	addr string
	ln   net.Listener
	srv  *http.Server

	mu        sync.RWMutex
	providers []Provider
}

var (
	serversMu sync.Mutex
	servers   = map[string]*server{}
)

// Attach adds p to the listener on addr, opening it if p is the first.
// Stanzas (server blocks) with the same address share one listener; across
// a Corefile reload the new instance attaches before the old one detaches,
// so the page stays up and shows the new configuration, and an address
// that the reload changed moves.
func Attach(addr string, p Provider) error {
	serversMu.Lock()
	defer serversMu.Unlock()
	if s := servers[addr]; s != nil {
		s.mu.Lock()
		s.providers = append(s.providers, p)
		s.mu.Unlock()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status %s: %v; use a free address (status HOST:PORT)", addr, err)
	}
	s := &server{addr: addr, ln: ln, providers: []Provider{p}}
	s.srv = &http.Server{
		Handler:           s.mux(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
	}
	servers[addr] = s
	go s.srv.Serve(ln)
	log.Infof("Status page on http://%s/", ln.Addr())
	return nil
}

// Detach removes p from the listener on addr and closes the listener when
// no provider is left.
func Detach(addr string, p Provider) {
	serversMu.Lock()
	defer serversMu.Unlock()
	s := servers[addr]
	if s == nil {
		return
	}
	s.mu.Lock()
	if i := slices.Index(s.providers, p); i >= 0 {
		s.providers = slices.Delete(s.providers, i, i+1)
	}
	left := len(s.providers)
	s.mu.Unlock()
	if left > 0 {
		return
	}
	delete(servers, addr)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		log.Infof("Failed to stop the status listener %s: %v", addr, err)
	}
}

// Handler serves the status API of providers, for tests and embedding.
func Handler(providers ...Provider) http.Handler {
	s := &server{providers: providers}
	return s.mux()
}

func (s *server) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.page)
	m.HandleFunc("GET /status.json", s.json)
	m.HandleFunc("GET /explain", s.explain)
	return m
}

func (s *server) snapshot() []Provider {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.providers)
}

// build assembles the page the request asks for.
func (s *server) build(r *http.Request) (*Page, error) {
	q := r.URL.Query()
	f := Filter{Name: strings.ToLower(strings.TrimSpace(q.Get("name"))), Site: strings.TrimSpace(q.Get("site")), State: q.Get("state")}
	switch f.State {
	case "", StateUp, StateDown, StateDegraded:
	default:
		return nil, fmt.Errorf("state %q: use up, degraded or down", f.State)
	}
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<31)
	if err != nil {
		return nil, fmt.Errorf("offset: %v", err)
	}
	limit, err := intParam(q.Get("limit"), DefaultLimit, 1, MaxLimit)
	if err != nil {
		return nil, fmt.Errorf("limit: %v", err)
	}
	providers := s.snapshot()
	p := &Page{Generated: time.Now().UTC(), Filter: f, Offset: offset, Limit: limit}
	var all []Service
	lists := make([][]Service, len(providers))
	// zoneOf finds a service's zone in p.Zones and the provider serving
	// it: zones are disjoint across stanzas.
	type zoneOf struct{ zone, provider int }
	zones := map[string]zoneOf{}
	for i, pr := range providers {
		lists[i] = pr.Services()
		for _, z := range pr.Zones() {
			zones[z.Name] = zoneOf{zone: len(p.Zones), provider: i}
			p.Zones = append(p.Zones, z)
		}
		p.Sources = append(p.Sources, pr.Sources()...)
	}
	if len(lists) == 1 {
		all = lists[0]
	} else {
		for _, l := range lists {
			all = append(all, l...)
		}
		slices.SortStableFunc(all, Compare)
	}
	// The counts, the zones' included, come from the same list as the
	// page, so that the page agrees with itself while tables change.
	for zi := range p.Zones {
		p.Zones[zi].Services, p.Zones[zi].Down = 0, 0
	}
	var page []int
	for i := range all {
		sv := &all[i]
		zi, known := zones[sv.Zone]
		if known {
			p.Zones[zi.zone].Services++
		}
		switch sv.State {
		case StateDown:
			p.Counts.Down++
			if known {
				p.Zones[zi.zone].Down++
			}
		case StateDegraded:
			p.Counts.Degraded++
		}
		if !f.match(sv) {
			continue
		}
		if p.Matching >= offset && len(page) < limit {
			page = append(page, i)
		}
		p.Matching++
	}
	p.Counts.Services = len(all)
	// Detail the page, provider by provider, keeping its order.
	p.Services = make([]Service, len(page))
	for pi, pr := range providers {
		var idx []int
		var svcs []Service
		for k, i := range page {
			if zones[all[i].Zone].provider == pi {
				idx = append(idx, k)
				svcs = append(svcs, all[i])
			}
		}
		if len(svcs) == 0 {
			continue
		}
		for j, d := range pr.Detail(svcs) {
			p.Services[idx[j]] = d
		}
	}
	return p, nil
}

func (f Filter) match(sv *Service) bool {
	if f.State != "" && sv.State != f.State {
		return false
	}
	if f.Name != "" && !strings.Contains(sv.Name, f.Name) {
		return false
	}
	if f.Site != "" {
		for i := range sv.Members {
			if sv.Members[i].Site == f.Site {
				return true
			}
		}
		return false
	}
	return true
}

func intParam(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a number between %d and %d", v, lo, hi)
	}
	return n, nil
}

func (s *server) json(w http.ResponseWriter, r *http.Request) {
	p, err := s.build(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

// explain answers GET /explain?name=NAME&type=A&client=SUBNET.
func (s *server) explain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, qtype, client, err := ParseQuery(q.Get("name"), q.Get("type"), q.Get("client"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, p := range s.snapshot() {
		e, err := p.Explain(name, qtype, client)
		if errors.Is(err, ErrNotServed) {
			continue
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, e)
		return
	}
	http.Error(w, fmt.Sprintf("name %q is not in a zone served here: gslb would pass it to the next plugin or refuse it", name), http.StatusNotFound)
}

// ParseQuery checks /explain's parameters: a domain name, a record type
// (A, AAAA, ...; default A), and the client as an address or a subnet
// (default 127.0.0.1/32).
func ParseQuery(name, typ, client string) (string, uint16, netip.Prefix, error) {
	if name == "" {
		return "", 0, netip.Prefix{}, errors.New("name is missing: /explain?name=www.gslb.example.org&type=A&client=192.0.2.0/24")
	}
	fqdn := strings.ToLower(dns.Fqdn(name))
	if _, ok := dns.IsDomainName(fqdn); !ok || strings.ContainsAny(name, " /") {
		return "", 0, netip.Prefix{}, fmt.Errorf("name %q is not a domain name", name)
	}
	if typ == "" {
		typ = "A"
	}
	qtype, ok := dns.StringToType[strings.ToUpper(typ)]
	if !ok || qtype == dns.TypeNone || qtype == dns.TypeOPT {
		return "", 0, netip.Prefix{}, fmt.Errorf("type %q is not a DNS record type like A, AAAA, CNAME, SOA, NS or ANY", typ)
	}
	if client == "" {
		client = "127.0.0.1"
	}
	var pfx netip.Prefix
	if a, err := netip.ParseAddr(client); err == nil {
		a = a.Unmap()
		pfx = netip.PrefixFrom(a, a.BitLen())
	} else if p, err := netip.ParsePrefix(client); err == nil {
		pfx = p.Masked()
	} else {
		return "", 0, netip.Prefix{}, fmt.Errorf("client %q is neither an address nor a subnet like 192.0.2.0/24 or 2001:db8::/56", client)
	}
	if pfx.Addr().Is4In6() {
		return "", 0, netip.Prefix{}, fmt.Errorf("client %q: write an IPv4 client in IPv4 form", client)
	}
	if pfx.Bits() == 0 {
		return "", 0, netip.Prefix{}, fmt.Errorf("client %q: a /0 subnet says nothing of the client; give an address or a longer subnet", client)
	}
	return fqdn, qtype, pfx, nil
}
