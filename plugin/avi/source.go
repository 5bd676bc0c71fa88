// Package avi publishes the GSLB services of an Avi (NSX Advanced Load
// Balancer) GSLB leader as model records: it polls the controller's REST API
// in its own goroutine and writes into the model.Store, keyed
// "avi/<gslbservice uuid>", exactly like the Kubernetes source does per
// object. DNS never waits for it.
//
// # What is read
//
// Every poll reads, from the first of the configured controllers (the
// leader, then followers) that answers, /api/gslb (site names; a 4xx there
// is not an error: members are then named by cluster uuid), every page of
// /api/gslbservice (configuration) and every page of
// /api/gslbservice-inventory (runtime), 100 objects a page as AMKO and AKO
// ask. The inventory's config part lacks ttl and num_dns_ip, so
// configuration always comes from /api/gslbservice. The inventory's runtime
// is documented as a summary: a service it leaves without member states is
// asked /api/gslbservice/<uuid>/runtime (8 at a time), as is every service
// of a controller without the inventory endpoint (404 before 22.1.1, or 400
// for an older X-Avi-Version); such an inventory is tried again an hour
// later. Every object of a page decodes on its own, so one of an
// unexpected shape is skipped (and keeps its last records), not the poll.
//
// # Mapping (Avi -> records)
//
//   - A GslbService publishes only while enabled (and not of record type
//     SRV). Each of its domain_names inside a served zone becomes a name;
//     other names, wildcards and invalid names are counted in
//     coredns_gslb_avi_ignored_names.
//   - Each enabled group (GslbPool) contributes each enabled member. The
//     answer is ip (A or AAAA), else fqdn as a CNAME target (Avi resolves
//     fqdn members itself; we alias instead of resolving on the hot path).
//     A public_ip makes the member one behind NAT: clients outside the
//     Corefile's private_networks get the public_ip (Record.Public).
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
//   - TTL = ttl when set; Answers = num_dns_ip, 1 when unset as Avi's DNS
//     profile answers (0 = all); Down =
//     down_response: NONE, ALL_RECORDS, EMPTY, FALLBACK_IP
//     (public_fallback_ip[6] before fallback_ip[6]) and CNAME
//     (fallback_cname). Unset settings fall back to the Corefile's.
//   - SourceDown: the member's runtime oper_status.state is not OPER_UP. A
//     member without a runtime entry is up. Records carry no probe, so
//     Avi's own health monitors are the input, unless the Corefile forces
//     a health_check (Config.Check).
//
// # Failure handling
//
// The last good state is kept while the controller is unreachable, refuses
// the login, rejects the request or answers garbage: records are only
// replaced by a poll that read everything, until the grace period
// (Config.Grace) runs out: then Avi's verdicts are too old to trust, so
// unprobed members leave and probed ones keep only their probe. A login the
// controller refused is not tried again until the credentials change (Avi
// locks the account after 3 failures). Failed polls back off
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
	DefaultVersion = "22.1.2"
	DefaultPoll    = 30 * time.Second
	DefaultTimeout = 10 * time.Second
	// DefaultPageSize is what AMKO and AKO ask for.
	DefaultPageSize = 100
	// KeyPrefix starts the store keys of this source.
	KeyPrefix = "avi/"

	maxBackoff         = 5 * time.Minute
	runtimeConcurrency = 8
	inventoryRetry     = time.Hour
)

// Config says which controller to poll and how.
type Config struct {
	// URLs are the controllers' addresses, https://host[:port]: the GSLB
	// leader first, then followers, which hold a read-only copy of the
	// GSLB configuration and runtime. Each poll uses the first that
	// answers.
	URLs []string
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
	// Grace is how long Avi's member verdicts stay in force while no
	// controller answers; then unprobed Avi members leave the answers and
	// probed ones follow their probes alone. 0 keeps them forever.
	Grace time.Duration
	// Check, when set, is probed on every Avi member with an address (the
	// Corefile's forced health_check), next to Avi's own verdict.
	Check model.Check
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

// Source polls one Avi GSLB (its leader, or a follower when the leader
// does not answer).
type Source struct {
	cfg     Config
	store   *model.Store
	clients []*client // one per URL, in the Corefile's order

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	synced atomic.Bool

	// Owned by the poll goroutine.
	origin         string                    // the controller last used
	published      map[string][]model.Record // store key -> records
	runtime        map[string]*models.GslbServiceRuntime
	controllerSite map[string]string
	leader         string
	noInventory    map[string]time.Time // origin -> use per-service runtime until then
	summaryLogged  bool
	skippedLogged  map[string]bool // uuid+message of objects reported as skipped
	lastOK         time.Time
	expired        bool
	state          string

	// last is the outcome of the last poll, for the status page.
	last atomic.Pointer[PollStatus]
}

// New prepares a source; nothing talks to the controller before Start.
func New(cfg Config, store *model.Store) (*Source, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("no Avi controller URL")
	}
	origins := make([]string, len(cfg.URLs))
	for i, u := range cfg.URLs {
		o, err := ParseURL(u)
		if err != nil {
			return nil, err
		}
		origins[i] = o
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
	gate := &loginGate{}
	if f := cfg.CredentialsFile; f != "" {
		creds = func() (Credentials, error) { return ReadCredentials(f) }
		gate.stamp = func() string { return fileStamp(f) }
	}
	s := &Source{
		cfg:            cfg,
		store:          store,
		origin:         origins[0],
		published:      map[string][]model.Record{},
		runtime:        map[string]*models.GslbServiceRuntime{},
		controllerSite: map[string]string{},
		noInventory:    map[string]time.Time{},
		skippedLogged:  map[string]bool{},
	}
	tlsCfg := TLSConfig(cfg.RootCAs, cfg.Insecure)
	for _, o := range origins {
		s.clients = append(s.clients, newClient(o, cfg.Version, cfg.Tenant, cfg.Timeout, tlsCfg, creds, gate))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// URL returns the first controller's origin, for messages.
func (s *Source) URL() string { return s.clients[0].origin }

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
	for _, c := range s.clients {
		c.close()
	}
}

func (s *Source) run() {
	failures := 0
	nextPoll := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		if !s.expired && s.graceOver(time.Now()) {
			// Woken for the grace deadline, not for a poll.
			s.expire()
			timer.Reset(max(time.Until(nextPoll), 0))
			continue
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
		nextPoll = time.Now().Add(delay)
		if !s.expired && s.cfg.Grace > 0 && !s.lastOK.IsZero() {
			// Wake for the grace deadline if it comes before the poll.
			if d := time.Until(s.lastOK.Add(s.cfg.Grace)); d < delay {
				delay = max(d, 0)
			}
		}
		timer.Reset(delay)
	}
}

// graceOver tells whether Avi's verdicts have gone without a successful
// poll for longer than the grace period.
func (s *Source) graceOver(now time.Time) bool {
	return s.cfg.Grace > 0 && !s.lastOK.IsZero() && now.Sub(s.lastOK) > s.cfg.Grace
}

// expire withdraws what only Avi vouched for: after the grace period
// without an answer, its member verdicts are too old to trust either way.
// Members with a probe stay, their Avi verdict dropped, so the probe alone
// decides; unprobed members leave the answers, as a Kubernetes site's do
// when its API server stays away beyond api_grace. The next successful
// poll publishes everything afresh.
func (s *Source) expire() {
	s.expired = true
	expiredGauge.Set(1)
	kept := 0
	for key, recs := range s.published {
		var probed []model.Record
		for _, r := range recs {
			if r.Check.Proto != model.CheckNone {
				r.SourceDown = false
				probed = append(probed, r)
			}
		}
		kept += len(probed)
		s.store.Set(key, probed)
	}
	log.Warningf("Avi controller %s: no successful poll for more than %s: Avi's member verdicts expired; %d probed members follow their probes, unprobed Avi members leave the answers until a controller answers", s.origin, s.cfg.Grace, kept)
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
	// skipped are services and inventory entries that did not decode;
	// their last known state is kept.
	skipped []Skipped
}

// Poll reads a controller once (the first of the URLs that answers) and,
// when everything was read, publishes it. On error nothing is changed.
// Exported for tests; Start calls it.
func (s *Source) Poll(ctx context.Context) error {
	var (
		snap     snapshot
		err      error
		firstErr error
	)
	for _, c := range s.clients {
		snap, err = s.read(ctx, c)
		if err == nil || ctx.Err() != nil || kindOf(err) != KindUnreachable {
			s.use(c.origin, err)
			break
		}
		// No answer: the next controller (a follower) may have one.
		if firstErr == nil {
			firstErr = err
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		if kindOf(err) == KindUnreachable && len(s.clients) > 1 {
			// None answered: report the leader's error.
			s.origin, err = s.clients[0].origin, firstErr
		}
		s.report(err)
		return err
	}
	s.publish(snap)
	s.report(nil)
	return nil
}

// use notes which controller answered, and says so when it changes.
func (s *Source) use(origin string, err error) {
	if origin == s.origin {
		return
	}
	if err == nil {
		leader := s.clients[0].origin
		if origin == leader {
			log.Infof("Avi controller %s answers again: reading from it instead of %s", origin, s.origin)
		} else {
			log.Warningf("Avi controller %s does not answer: reading from %s, the next controller in the Corefile", leader, origin)
		}
	}
	s.origin = origin
}

func (s *Source) read(ctx context.Context, c *client) (snapshot, error) {
	var snap snapshot
	if err := s.readSites(ctx, c); err != nil {
		return snap, err
	}
	gs, skipped, err := collect[*models.GslbService](ctx, c, "/api/gslbservice", s.cfg.PageSize)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Kind == KindRejected && e.Status == 400 && s.state != KindRejected.Label() {
			if v := c.controllerVersion(ctx); v != "" {
				e.Msg += fmt.Sprintf(" (the controller runs %s)", v)
			}
		}
		return snap, err
	}
	snap.services, snap.skipped = gs, skipped
	var invSkipped []Skipped
	snap.runtime, invSkipped, err = s.readRuntime(ctx, c, gs)
	snap.skipped = append(snap.skipped, invSkipped...)
	return snap, err
}

// readSites refreshes the site names from /api/gslb. A controller that
// does not show it (404, or a tenant without access) is not an outage: the
// names known so far, or the cluster uuids, are used.
func (s *Source) readSites(ctx context.Context, c *client) error {
	var resp struct {
		Results []*models.Gslb `json:"results"`
	}
	if err := c.get(ctx, "/api/gslb", &resp); err != nil {
		if k := kindOf(err); k == KindNotFound || k == KindRejected {
			log.Debugf("Avi controller %s: cannot read site names (%v); members are named by cluster uuid", c.origin, err)
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

// readRuntime returns each service's runtime by uuid. The inventory gives
// every service's runtime in a few pages, but a controller may fill it with
// a runtime summary only (the service's oper_status, no members): the
// services it leaves without member runtime are asked
// /api/gslbservice/<uuid>/runtime one by one, as are all services of a
// controller without the inventory.
func (s *Source) readRuntime(ctx context.Context, c *client, gs []*models.GslbService) (map[string]*models.GslbServiceRuntime, []Skipped, error) {
	out := map[string]*models.GslbServiceRuntime{}
	var skipped []Skipped
	need := gs // services whose member runtime is still unknown
	if time.Now().After(s.noInventory[c.origin]) {
		inv, invSkipped, err := collect[*models.GslbServiceInventory](ctx, c, "/api/gslbservice-inventory", s.cfg.PageSize)
		switch k := kindOf(err); {
		case err == nil:
			skipped = invSkipped
			for _, item := range inv {
				if item == nil || item.Runtime == nil {
					continue
				}
				uuid := str(item.UUID)
				if uuid == "" && item.Config != nil {
					uuid = str(item.Config.UUID)
				}
				if uuid != "" && hasMemberRuntime(item.Runtime) {
					out[uuid] = item.Runtime
				}
			}
			need = nil
			for _, g := range gs {
				if g != nil && out[str(g.UUID)] == nil && hasEnabledMember(g) {
					need = append(need, g)
				}
			}
			if len(need) > 0 && len(out) == 0 {
				// A summary-only inventory: asking it again only costs.
				s.noInventory[c.origin] = time.Now().Add(inventoryRetry)
			}
			if len(need) > 0 && !s.summaryLogged {
				s.summaryLogged = true
				log.Infof("Avi controller %s: /api/gslbservice-inventory carries no member runtime for %d of %d GSLB services (a runtime summary): reading /api/gslbservice/<uuid>/runtime for them", c.origin, len(need), len(gs))
			}
		case k == KindNotFound || k == KindRejected:
			// 404 (before 22.1.1) or 400 (an X-Avi-Version older than
			// the endpoint): not an outage, the per-service runtime
			// still works.
			log.Infof("Avi controller %s: no /api/gslbservice-inventory (%v; it came in 22.1.1): reading each service's runtime instead, one request per service", c.origin, err)
			s.noInventory[c.origin] = time.Now().Add(inventoryRetry)
		default:
			return nil, nil, err
		}
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, runtimeConcurrency)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, g := range need {
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
			rt, err := s.serviceRuntime(ctx, c, uuid)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if rt != nil {
					out[uuid] = rt
				}
			case kindOf(err) == KindNotFound:
				// Deleted since the list was read.
			case kindOf(err) == KindMalformed:
				// This service's runtime only: keep its last verdicts.
				skipped = append(skipped, Skipped{UUID: uuid, Name: str(g.Name), Msg: "runtime: " + err.Error()})
				if old := s.runtime[uuid]; old != nil {
					out[uuid] = old
				}
			case firstErr == nil:
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return out, skipped, nil
}

// hasMemberRuntime tells a runtime with member states from a summary.
func hasMemberRuntime(rt *models.GslbServiceRuntime) bool {
	for _, g := range rt.Groups {
		if g == nil {
			continue
		}
		for _, m := range g.Members {
			if m != nil && m.OperStatus != nil && str(m.OperStatus.State) != "" {
				return true
			}
		}
	}
	return false
}

// hasEnabledMember tells whether an enabled service has a member that
// could answer, i.e. one whose runtime matters.
func hasEnabledMember(g *models.GslbService) bool {
	if !isTrue(g.Enabled, true) {
		return false
	}
	for _, p := range g.Groups {
		if p == nil || !isTrue(p.Enabled, true) {
			continue
		}
		for _, m := range p.Members {
			if m != nil && isTrue(m.Enabled, true) {
				return true
			}
		}
	}
	return false
}

// serviceRuntime reads /api/gslbservice/<uuid>/runtime, which answers a
// list (one entry per site's view) or a single object depending on the
// release. The leader's view is preferred, else the first.
func (s *Source) serviceRuntime(ctx context.Context, c *client, uuid string) (*models.GslbServiceRuntime, error) {
	var raw rawJSON
	if err := c.get(ctx, "/api/gslbservice/"+url.PathEscape(uuid)+"/runtime", &raw); err != nil {
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
// cost nothing (Store.Set compares). A service that did not decode keeps
// what was published for it before.
func (s *Source) publish(snap snapshot) {
	now := map[string][]model.Record{}
	ignored := 0
	keep := map[string]bool{}
	keepAll := false // an object without a readable uuid may be any of them
	for _, sk := range snap.skipped {
		if sk.UUID == "" {
			keepAll = true
		}
		keep[KeyPrefix+sk.UUID] = true
	}
	for _, gs := range snap.services {
		if gs == nil || str(gs.UUID) == "" {
			continue
		}
		uuid := *gs.UUID
		key := KeyPrefix + uuid
		ex := FromService(gs, snap.runtime[uuid], s.siteName, s.cfg.InZone, s.cfg.Check)
		ignored += ex.Ignored
		if len(ex.Records) == 0 {
			continue
		}
		now[key] = ex.Records
		s.store.Set(key, ex.Records)
	}
	for key, recs := range s.published {
		switch {
		case now[key] != nil:
		case keep[key] || keepAll:
			now[key] = recs
			s.store.Set(key, recs) // after an expiry, bring them back
		default:
			s.store.Delete(key)
		}
	}
	s.published, s.runtime = now, snap.runtime
	s.reportSkipped(snap.skipped)
	s.lastOK = time.Now()
	if s.expired {
		s.expired = false
		expiredGauge.Set(0)
	}
	servicesGauge.Set(float64(len(snap.services)))
	ignoredGauge.Set(float64(ignored))
	malformedGauge.Set(float64(len(snap.skipped)))
	lastSuccessGauge.SetToCurrentTime()
}

// reportSkipped logs each object that does not decode once, for as long as
// it stays so.
func (s *Source) reportSkipped(skipped []Skipped) {
	now := map[string]bool{}
	for _, sk := range skipped {
		id := sk.String()
		now[id] = true
		if !s.skippedLogged[id] {
			log.Warningf("Avi controller %s: skipping GSLB service %s; its last known state is kept. Fix the object on the controller, or report the field if the controller is right", s.origin, id)
		}
	}
	s.skippedLogged = now
}

// PollStatus is the outcome of a poll.
type PollStatus struct {
	Time       time.Time
	Controller string // the controller that answered, or was asked last
	// Result is "ok" or the error (which never carries credentials: the
	// client's errors name the controller and the call).
	Result   string
	Services int // GSLB services published
}

// LastPoll returns the outcome of the last poll; nil before the first.
func (s *Source) LastPoll() *PollStatus { return s.last.Load() }

// report updates the metrics and logs a change of state.
func (s *Source) report(err error) {
	st := &PollStatus{Time: time.Now(), Controller: s.origin, Result: "ok", Services: len(s.published)}
	if err != nil {
		st.Result = err.Error()
	}
	s.last.Store(st)
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
		msg := "fix the username/password or token"
		if cfg.CredentialsFile != "" {
			msg += " in " + cfg.CredentialsFile
		}
		if e != nil && e.Op == "POST /login" && e.Status != 0 {
			// Avi locks an account after 3 failed logins (30 minutes
			// by default), and it is often AMKO's account too.
			if cfg.CredentialsFile != "" {
				return msg + "; to keep the account from being locked, gslb does not log in again until that file changes (touch it once the account is unlocked)"
			}
			return msg + "; gslb does not log in again with the refused ones"
		}
		return msg
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
