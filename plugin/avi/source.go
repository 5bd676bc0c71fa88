// Package avi publishes the GSLB services of an Avi (NSX Advanced Load
// Balancer) GSLB leader as model records: it polls the controller's REST API
// in its own goroutine and writes into the model.Store, keyed
// "avi/<gslbservice uuid>", exactly like the Kubernetes source does per
// object. DNS never waits for it.
//
// # What is read
//
// Every poll reads /api/gslb (site names; a 4xx there is not an error:
// members are then named by cluster uuid), every page of /api/gslbservice
// (configuration) and every page of /api/gslbservice-inventory (runtime).
// The inventory's config part lacks ttl and num_dns_ip, so configuration
// always comes from /api/gslbservice; a controller without the inventory
// endpoint (404 before 22.1.1, or 400 for an older X-Avi-Version) is asked
// /api/gslbservice/<uuid>/runtime for each enabled service instead (8 at a
// time), and the inventory is tried again an hour later.
//
// # Mapping (Avi -> records)
//
//   - A GslbService publishes only while enabled (and not of record type
//     SRV). Each of its domain_names inside a served zone becomes a name;
//     other names, wildcards and invalid names are counted in
//     coredns_gslb_avi_ignored_names.
//   - Each enabled group (GslbPool) contributes each enabled member. The
//     answer is public_ip when set, else ip (A or AAAA), else fqdn as a
//     CNAME target (Avi resolves fqdn members itself; we alias instead of
//     resolving on the hot path).
//   - Site: the Corefile's `site NAME CLUSTER_UUID`, else the name of the
//     site (or third-party site) with the member's cluster_uuid in /api/gslb,
//     else the cluster uuid; a member without cluster_uuid takes the
//     runtime's site_name, else "avi".
//   - Weight = ratio (Avi default 1, clamped to 1-20); Priority = the
//     group's priority (Avi default 10, at most 100; 0 never answers, as
//     everywhere in this plugin). The highest-priority pool with an up
//     member answers, which is GSLB_SERVICE_ALGORITHM_PRIORITY; the GEO
//     pool algorithm is not modelled and behaves the same.
//   - A service that is disabled, deleted or left without records loses
//     its records at the next successful poll.
//   - Algorithm (one per name in our model) comes from the highest-priority
//     enabled group: ROUND_ROBIN is round robin, or weighted when the
//     group's members have different ratios (Avi's round robin honours
//     ratios); CONSISTENT_HASH is consistent hash with consistent_hash_mask
//     and consistent_hash_mask6; GEO and TOPOLOGY are topology (the
//     Corefile's topology rules, else fallback_algorithm); PREFERENCE_ORDER
//     is round robin (preference_order is not modelled).
//   - TTL = ttl when set; Answers = num_dns_ip when set (0 = all); Down =
//     down_response: NONE, ALL_RECORDS, EMPTY, FALLBACK_IP
//     (public_fallback_ip[6] before fallback_ip[6]) and CNAME
//     (fallback_cname). Unset settings fall back to the Corefile's.
//   - SourceDown: the member's runtime oper_status.state is not OPER_UP. A
//     member without a runtime entry is up. Records carry no probe: Avi's
//     own health monitors are the input.
//
// # Failure handling
//
// The last good state is kept while the controller is unreachable, refuses
// the login, rejects the request or answers garbage: records are only
// replaced by a poll that read everything. Failed polls back off
// exponentially (from the poll interval up to 16 times it, at most 5
// minutes, jittered). Each change of state (reachable, unreachable, TLS,
// auth failed, rejected, malformed) is logged once with the controller URL
// and the fix; secrets never are.
//
// # alb-sdk
//
// Only github.com/vmware/alb-sdk/go/models is used, to decode the API's
// objects. The SDK's session (go/session) is not: it calls flag.Parse, logs
// every request through glog (which writes files under $TMPDIR and exits
// the process when it cannot), skips TLS verification unless told
// otherwise, can block for minutes in its controller status check, and its
// GetAll silently returns nothing for absolute next links. The models
// package imports nothing, so glog is not even linked; the session protocol
// (login, cookies, CSRF, Referer, X-Avi-Version, X-Avi-Tenant) is small and
// lives in client.go.
package avi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/gslb/gslb/plugin/model"
	"github.com/vmware/alb-sdk/go/models"
)

var log = clog.NewWithPlugin("gslb")

// Defaults.
const (
	DefaultTenant = "admin"
	// DefaultVersion is alb-sdk's default X-Avi-Version: every field we
	// read exists in it, and a controller refuses versions newer than its
	// own, so an old one works with more controllers.
	DefaultVersion  = "22.1.2"
	DefaultPoll     = 30 * time.Second
	DefaultTimeout  = 10 * time.Second
	DefaultPageSize = 200
	// KeyPrefix starts the store keys of this source.
	KeyPrefix = "avi/"

	maxBackoff         = 5 * time.Minute
	runtimeConcurrency = 8
	inventoryRetry     = time.Hour
)

// Config says which controller to poll and how.
type Config struct {
	// URL is the controller's address, https://host[:port].
	URL string
	// CredentialsFile is re-read at every login, so rotated secrets
	// are picked up; Credentials is used when it is empty.
	CredentialsFile string
	Credentials     Credentials
	Tenant          string // "*" = all tenants
	Version         string // X-Avi-Version
	RootCAs         *x509.CertPool
	Insecure        bool
	Poll            time.Duration
	Timeout         time.Duration // per request
	PageSize        int
	// Sites names cluster uuids, overriding the controller's site names.
	Sites  map[string]string
	InZone func(fqdn string) bool
}

// ParseURL checks a controller URL and returns its origin. The API is HTTPS
// only: credentials never travel in the clear, `insecure` only skips the
// certificate check.
func ParseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a URL like https://avi-controller.example.org", raw)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("%q: the Avi API is HTTPS only, use https:// (add `insecure` for a self-signed certificate, or better `ca FILE`)", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("%q carries credentials: put them in the credentials file", u.Redacted())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: give only the controller's address, https://HOST[:PORT], without a path", raw)
	}
	return "https://" + u.Host, nil
}

// Source polls one controller.
type Source struct {
	cfg    Config
	origin string
	store  *model.Store
	client *client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	synced atomic.Bool

	// Owned by the poll goroutine.
	published      map[string]bool
	controllerSite map[string]string
	leader         string
	noInventory    time.Time // inventory 404'd: use per-service runtime until then
	state          string
}

// New prepares a source; nothing talks to the controller before Start.
func New(cfg Config, store *model.Store) (*Source, error) {
	origin, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Tenant == "" {
		cfg.Tenant = DefaultTenant
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.InZone == nil {
		cfg.InZone = func(string) bool { return true }
	}
	creds := func() (Credentials, error) { return cfg.Credentials, cfg.Credentials.check() }
	if f := cfg.CredentialsFile; f != "" {
		creds = func() (Credentials, error) { return ReadCredentials(f) }
	}
	s := &Source{
		cfg:            cfg,
		origin:         origin,
		store:          store,
		client:         newClient(origin, cfg.Version, cfg.Tenant, cfg.Timeout, TLSConfig(cfg.RootCAs, cfg.Insecure), creds),
		published:      map[string]bool{},
		controllerSite: map[string]string{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// URL returns the controller's origin, for messages.
func (s *Source) URL() string { return s.origin }

// HasSynced tells whether a poll has succeeded.
func (s *Source) HasSynced() bool { return s.synced.Load() }

// Start polls in the background.
func (s *Source) Start() {
	upGauge.Set(0)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run()
	}()
}

// Stop ends the poller, aborting a request in flight, and waits for it.
func (s *Source) Stop() {
	s.cancel()
	s.wg.Wait()
	s.client.close()
}

func (s *Source) run() {
	failures := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		delay := s.cfg.Poll
		if err := s.Poll(s.ctx); err != nil {
			if s.ctx.Err() != nil {
				return
			}
			failures++
			delay = backoff(s.cfg.Poll, failures)
		} else {
			failures = 0
		}
		timer.Reset(delay)
	}
}

// backoff is the wait after n consecutive failures: poll·2^(n-1), at most
// 16·poll and 5 minutes (never below poll), with the upper half jittered
// so that many DNS servers do not hammer a recovering controller together.
func backoff(poll time.Duration, n int) time.Duration {
	limit := max(min(16*poll, maxBackoff), poll)
	d := poll
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	return half + rand.N(half+1)
}

// snapshot is what one poll read.
type snapshot struct {
	services []*models.GslbService
	runtime  map[string]*models.GslbServiceRuntime
}

// Poll reads the controller once and, when everything was read, publishes
// it. On error nothing is changed. Exported for tests; Start calls it.
func (s *Source) Poll(ctx context.Context) error {
	snap, err := s.read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.report(err)
		return err
	}
	s.publish(snap)
	s.report(nil)
	return nil
}

func (s *Source) read(ctx context.Context) (snapshot, error) {
	var snap snapshot
	if err := s.readSites(ctx); err != nil {
		return snap, err
	}
	gs, err := collect[*models.GslbService](ctx, s.client, "/api/gslbservice", s.cfg.PageSize)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Kind == KindRejected && e.Status == 400 && s.state != KindRejected.Label() {
			if v := s.client.controllerVersion(ctx); v != "" {
				e.Msg += fmt.Sprintf(" (the controller runs %s)", v)
			}
		}
		return snap, err
	}
	snap.services = gs
	snap.runtime, err = s.readRuntime(ctx, gs)
	return snap, err
}

// readSites refreshes the site names from /api/gslb. A controller that
// does not show it (404, or a tenant without access) is not an outage: the
// names known so far, or the cluster uuids, are used.
func (s *Source) readSites(ctx context.Context) error {
	var resp struct {
		Results []*models.Gslb `json:"results"`
	}
	if err := s.client.get(ctx, "/api/gslb", &resp); err != nil {
		if k := kindOf(err); k == KindNotFound || k == KindRejected {
			log.Debugf("Avi controller %s: cannot read site names (%v); members are named by cluster uuid", s.origin, err)
			return nil
		}
		return err
	}
	sites := map[string]string{}
	leader := ""
	for _, g := range resp.Results {
		if g == nil {
			continue
		}
		if leader == "" {
			leader = str(g.LeaderClusterUUID)
		}
		for _, site := range g.Sites {
			if site != nil && str(site.ClusterUUID) != "" && str(site.Name) != "" {
				sites[*site.ClusterUUID] = *site.Name
			}
		}
		for _, site := range g.ThirdPartySites {
			if site != nil && str(site.ClusterUUID) != "" && str(site.Name) != "" {
				sites[*site.ClusterUUID] = *site.Name
			}
		}
	}
	s.controllerSite, s.leader = sites, leader
	return nil
}

// readRuntime returns each service's runtime by uuid.
func (s *Source) readRuntime(ctx context.Context, gs []*models.GslbService) (map[string]*models.GslbServiceRuntime, error) {
	out := map[string]*models.GslbServiceRuntime{}
	if time.Now().After(s.noInventory) {
		inv, err := collect[*models.GslbServiceInventory](ctx, s.client, "/api/gslbservice-inventory", s.cfg.PageSize)
		if err == nil {
			for _, item := range inv {
				if item == nil || item.Runtime == nil {
					continue
				}
				uuid := str(item.UUID)
				if uuid == "" && item.Config != nil {
					uuid = str(item.Config.UUID)
				}
				if uuid != "" {
					out[uuid] = item.Runtime
				}
			}
			return out, nil
		}
		// 404 (before 22.1.1) or 400 (an X-Avi-Version older than the
		// endpoint): not an outage, the per-service runtime still works.
		if k := kindOf(err); k != KindNotFound && k != KindRejected {
			return nil, err
		}
		log.Infof("Avi controller %s: no /api/gslbservice-inventory (%v; it came in 22.1.1): reading each service's runtime instead, one request per service", s.origin, err)
		s.noInventory = time.Now().Add(inventoryRetry)
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, runtimeConcurrency)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, g := range gs {
		if g == nil || str(g.UUID) == "" || !isTrue(g.Enabled, true) {
			continue
		}
		uuid := *g.UUID
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rt, err := s.serviceRuntime(ctx, uuid)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if rt != nil {
					out[uuid] = rt
				}
			case kindOf(err) == KindNotFound:
				// Deleted since the list was read.
			case firstErr == nil:
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// serviceRuntime reads /api/gslbservice/<uuid>/runtime, which answers a
// list (one entry per site's view) or a single object depending on the
// release. The leader's view is preferred, else the first.
func (s *Source) serviceRuntime(ctx context.Context, uuid string) (*models.GslbServiceRuntime, error) {
	var raw rawJSON
	if err := s.client.get(ctx, "/api/gslbservice/"+url.PathEscape(uuid)+"/runtime", &raw); err != nil {
		return nil, err
	}
	op := "GET /api/gslbservice/" + uuid + "/runtime"
	var list []*models.GslbServiceRuntime
	switch raw.first() {
	case '[':
		if err := decode(op, raw, &list); err != nil {
			return nil, err
		}
	case '{':
		var one models.GslbServiceRuntime
		if err := decode(op, raw, &one); err != nil {
			return nil, err
		}
		list = append(list, &one)
	case 'n': // null
	default:
		return nil, &Error{Kind: KindMalformed, Op: op, Status: 200, Msg: "the answer is neither a list nor an object"}
	}
	var pick *models.GslbServiceRuntime
	for _, rt := range list {
		if rt == nil {
			continue
		}
		if pick == nil || (s.leader != "" && str(rt.ClusterUUID) == s.leader && str(pick.ClusterUUID) != s.leader) {
			pick = rt
		}
	}
	return pick, nil
}

// rawJSON keeps an answer's bytes for a second decoding step.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

func (r rawJSON) first() byte {
	for _, c := range r {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

func (s *Source) siteName(clusterUUID, runtimeSite string) string {
	if clusterUUID == "" {
		if runtimeSite != "" {
			return runtimeSite
		}
		return UnknownSite
	}
	if n, ok := s.cfg.Sites[clusterUUID]; ok {
		return n
	}
	if n, ok := s.controllerSite[clusterUUID]; ok {
		return n
	}
	return clusterUUID
}

// publish replaces the store's Avi objects with snap; unchanged services
// cost nothing (Store.Set compares).
func (s *Source) publish(snap snapshot) {
	now := map[string]bool{}
	ignored := 0
	for _, gs := range snap.services {
		if gs == nil || str(gs.UUID) == "" {
			continue
		}
		uuid := *gs.UUID
		key := KeyPrefix + uuid
		ex := FromService(gs, snap.runtime[uuid], s.siteName, s.cfg.InZone)
		ignored += ex.Ignored
		if len(ex.Records) == 0 {
			continue
		}
		now[key] = true
		s.store.Set(key, ex.Records)
	}
	for key := range s.published {
		if !now[key] {
			s.store.Delete(key)
		}
	}
	s.published = now
	servicesGauge.Set(float64(len(snap.services)))
	ignoredGauge.Set(float64(ignored))
	lastSuccessGauge.SetToCurrentTime()
}

// report updates the metrics and logs a change of state.
func (s *Source) report(err error) {
	state, label := "ok", "success"
	if err != nil {
		label = kindOf(err).Label()
		state = label
		upGauge.Set(0)
	} else {
		upGauge.Set(1)
		s.synced.Store(true)
	}
	pollsTotal.WithLabelValues(label).Inc()
	if state == s.state {
		return
	}
	first := s.state == ""
	s.state = state
	if err == nil {
		if first {
			log.Infof("Avi controller %s: reachable, %d GSLB services published (tenant %s)", s.origin, len(s.published), s.cfg.Tenant)
		} else {
			log.Infof("Avi controller %s: reachable again, %d GSLB services published", s.origin, len(s.published))
		}
		return
	}
	keep := "serving the last known GSLB services"
	if !s.synced.Load() {
		keep = "no Avi GSLB service is served until it answers"
	}
	switch kindOf(err) {
	case KindAuth, KindTLS, KindRejected, KindNotFound:
		// Configuration to fix, not an outage to wait out.
		log.Errorf("Avi controller %s: %v; %s; %s", s.origin, err, fix(err, s.cfg), keep)
	default:
		log.Warningf("Avi controller %s: %v; %s; %s", s.origin, err, fix(err, s.cfg), keep)
	}
}

// fix says what to do about err.
func fix(err error, cfg Config) string {
	var e *Error
	errors.As(err, &e)
	switch kindOf(err) {
	case KindTLS:
		return "give the CA that signed the controller's certificate with `ca FILE` (or, for a lab, `insecure`)"
	case KindAuth:
		if cfg.CredentialsFile != "" {
			return fmt.Sprintf("fix the username/password or token in %s", cfg.CredentialsFile)
		}
		return "fix the username/password or token"
	case KindRejected, KindNotFound:
		msg := fmt.Sprintf("check `version` (sent X-Avi-Version %s; it must not be newer than the controller) and `tenant` (sent %q)", cfg.Version, cfg.Tenant)
		if e != nil && e.Status == 403 {
			msg = "give the user read access to GSLB services in that tenant, or " + msg
		}
		return msg
	case KindMalformed:
		return "check that the URL is the Avi controller's API and not a proxy or login page"
	}
	return "check the URL, the network path to the controller and that the controller is up; retrying with backoff"
}

// SiteNames returns the site names the Corefile gives (`site NAME UUID`),
// sorted: the ones known before the first poll.
func (c Config) SiteNames() []string {
	names := make([]string, 0, len(c.Sites))
	for _, n := range c.Sites {
		names = append(names, n)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
