package gslb

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/gslb/gslb/plugin/table"
	"github.com/gslb/gslb/plugin/vantage"
	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const pluginName = "gslb"

func init() { plugin.Register(pluginName, setup) }

// Defaults, chosen to match what AMKO/Avi users have today.
const (
	defaultTTL            = 30 // Avi's DNS profile default
	defaultSelector       = "app=gslb"
	defaultStaticSite     = "static"
	defaultInClusterSite  = "local"
	defaultStartupTimeout = 30 * time.Second
)

// config is the parsed Corefile stanza.
type config struct {
	zones []string
	// defaults are the per-service settings every GSLB service starts
	// from (ttl, answers, policy, hash_mask, down_response, and the weight
	// and priority of sites the Corefile does not list): every field set.
	defaults   model.Overrides
	clusters   []kube.Cluster
	selector   string
	namespaces []string
	ingresses  bool
	services   bool
	// gatewayRoutes are the Gateway API route kinds (resource names),
	// openShiftRoutes route.openshift.io Routes; selectGateways moves the
	// selector from the routes to their Gateways.
	gatewayRoutes   []string
	openShiftRoutes bool
	selectGateways  bool
	// customGlobalFQDN: AKO HostRules give hosts their global names
	// (AMKO's useCustomGlobalFqdn).
	customGlobalFQDN bool
	// privateNetworks get members' own addresses, everybody else their
	// public ones (AMKO's publicIP).
	privateNetworks []netip.Prefix
	static          []model.Record
	nameServers     []table.NameServer
	hostmaster      string
	startupTimeout  time.Duration
	fall            fall.F
	policy          policyConfig
	health          healthConfig
	avi             *avi.Config    // nil without an avi block
	amko            *amkoConfig    // nil without an amko line
	vantage         *vantageConfig // nil without a vantage block: verdicts stay local
	ownership       ownershipConfig
	// statusAddr is where the status page listens; "" when off.
	statusAddr string
	// events records Kubernetes Events on the published objects.
	events bool
}

// newConfig is the configuration of a stanza without properties.
func newConfig() *config {
	return &config{
		defaults: model.Overrides{
			Weight:    model.Some(model.DefaultWeight),
			Priority:  model.Some(model.DefaultPriority),
			Algorithm: model.RoundRobin,
			Fallback:  model.RoundRobin,
			HashMask4: model.Some(policy.DefaultHashMask4),
			HashMask6: model.Some(policy.DefaultHashMask6),
			TTL:       model.Some(defaultTTL),
			Answers:   model.Some(0),
			Down:      model.Down{Kind: model.DownNone},
		},
		selector:       defaultSelector,
		ingresses:      true,
		services:       true,
		startupTimeout: defaultStartupTimeout,
		policy:         newPolicyConfig(),
		health:         newHealthConfig(),
	}
}

func setup(c *caddy.Controller) error {
	routeKlog()
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	g, err := newGSLB(cfg)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	// The transfer plugin, if the server block has one, sends our NOTIFYs;
	// it exists only once every plugin is set up.
	c.OnStartup(func() error {
		g.xfer, _ = dnsserver.GetConfig(c).Handler("transfer").(*transfer.Transfer)
		return nil
	})
	c.OnStartup(g.start)
	c.OnShutdown(g.stop)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		g.Next = next
		return g
	})
	return nil
}

// parser is one stanza being read: the config, and what properties leave
// for the checks that need the whole stanza (sites are known only at the
// end, since kubeconfig files name them).
type parser struct {
	cfg           *config
	kubeconfigs   []kubeconfigLine
	siteOf        map[string]string // context -> site name
	siteLine      map[string]int
	inClusterSite string
	// sites named by weight, priority and topology -> line, checked once
	// the sites are known; topology rules seen, to refuse duplicates.
	policySites map[string]int
	topoSeen    map[netip.Prefix]bool
	geoSeen     map[string]bool
	// health_quorum, kept until finishVantage puts it into the vantage
	// block (given before or after it).
	quorum     *vantage.Quorum
	quorumLine int
}

// kubeconfigLine remembers one `kubeconfig` property until sites are known.
type kubeconfigLine struct {
	line     int
	file     string
	contexts []string
}

// property reads one property of the stanza; c.Val() is its name and its
// arguments are still to be read.
type property func(p *parser, c *caddy.Controller) error

// properties is every property of a gslb stanza: the parser and the list of
// known properties in its error message both come from here.
var properties map[string]property

func init() {
	properties = map[string]property{
		"kubeconfig":         parseKubeconfig,
		"site":               parseSite,
		"resources":          parseResources,
		"selector":           parseSelector,
		"gateway_selection":  parseGatewaySelection,
		"namespaces":         parseNamespaces,
		"custom_global_fqdn": parseCustomGlobalFQDN,
		"private_networks":   parsePrivateNetworks,
		"ttl":                parseTTL,
		"answers":            parseAnswers,
		"startup_timeout":    parseStartupTimeout,
		"member":             parseMember,
		"nameserver":         parseNameServer,
		"hostmaster":         parseHostmaster,
		"fallthrough":        parseFallthrough,
		"avi":                parseAvi,
		"amko":               parseAmko,
		"amko_status":        parseAmkoStatus,
		"status":             parseStatus,
		"events":             parseEvents,
	}
	for name, f := range policyProperties {
		properties[name] = f
	}
	for name, f := range healthProperties {
		properties[name] = f
	}
	for name, f := range ownerProperties {
		properties[name] = f
	}
}

// known lists a registry's property names for an error message, sorted.
func known[V any](registry map[string]V) string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// hostName matches a lower-case, fully-qualified host name of at least two
// labels whose last label is not all digits (RFC 3696 2), so that a mistyped
// address such as 10.0.0.300 or 10.0.0.1/24 is an error, not a CNAME target.
var hostName = regexp.MustCompile(`^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9_-]*[a-z_-][a-z0-9_-]*\.$`)

func parse(c *caddy.Controller) (*config, error) {
	cfg := newConfig()
	p := &parser{
		cfg:         cfg,
		siteOf:      map[string]string{},
		siteLine:    map[string]int{},
		policySites: map[string]int{},
		topoSeen:    map[netip.Prefix]bool{},
		geoSeen:     map[string]bool{},
	}
	i := 0
	for c.Next() {
		if i > 0 {
			return nil, plugin.ErrOnce
		}
		i++
		// The zones come first, so every property can check names against them.
		cfg.zones = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for _, z := range cfg.zones {
			if _, ok := dns.IsDomainName(z); !ok {
				return nil, c.Errf("invalid zone %q", z)
			}
		}
		for c.NextBlock() {
			prop, ok := properties[c.Val()]
			if !ok {
				return nil, c.Errf("unknown property %q; known: %s", c.Val(), known(properties))
			}
			if err := prop(p, c); err != nil {
				return nil, err
			}
		}
	}
	return cfg, p.finish(c.File())
}

// finish runs the checks that need the whole stanza.
func (p *parser) finish(file string) error {
	cfg := p.cfg
	clusters, err := loadClusters(file, p.kubeconfigs, p.siteOf, p.siteLine, p.inClusterSite, len(cfg.static) > 0 || cfg.avi != nil)
	if err != nil {
		return err
	}
	cfg.clusters = clusters
	if err := resolveAmko(file, cfg.amko, clusters); err != nil {
		return err
	}
	if len(clusters) > 0 && !cfg.ingresses && !cfg.services && len(cfg.gatewayRoutes) == 0 && !cfg.openShiftRoutes {
		return fmt.Errorf("resources: nothing to watch")
	}
	var sites []string
	for _, cl := range clusters {
		sites = append(sites, cl.Site)
	}
	sites = append(sites, aviSiteNames(cfg.avi)...)
	for _, r := range cfg.static {
		if !slices.Contains(sites, r.Member.Site) {
			sites = append(sites, r.Member.Site)
		}
	}
	if err := p.checkPolicySites(file, sites); err != nil {
		return err
	}
	if err := p.checkOwnership(file, sites[:len(clusters)]); err != nil {
		return err
	}
	if err := p.finishVantage(file); err != nil {
		return err
	}
	// A forced health check applies to static members too; auto leaves
	// them unprobed (there is no port to guess).
	if cfg.health.mode == healthForced {
		for i := range cfg.static {
			if !cfg.static[i].Member.IsAlias() {
				cfg.static[i].Check = cfg.health.check
			}
		}
	}
	return nil
}

// Argument helpers: each reads the property's arguments and reports, at the
// property's line, what it wants.

// oneArg reads exactly one argument; want says what it is.
func oneArg(c *caddy.Controller, want string) (string, error) {
	prop := c.Val()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return "", c.Errf("%s needs %s", prop, want)
	}
	return args[0], nil
}

// intArg reads one number between lo and hi.
func intArg(c *caddy.Controller, name string, lo, hi int) (int, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, c.Errf("%s needs one number between %d and %d", name, lo, hi)
	}
	return intIn(c, name, args[0], lo, hi)
}

// intIn checks one number argument of prop.
func intIn(c *caddy.Controller, prop, arg string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < lo || n > hi {
		return 0, c.Errf("%s: %q is not a number between %d and %d", prop, arg, lo, hi)
	}
	return n, nil
}

// durationIn checks one duration argument of prop: positive, or at least
// zero when zero is allowed.
func durationIn(c *caddy.Controller, prop, arg string, zeroOK bool, example string) (time.Duration, error) {
	d, err := time.ParseDuration(arg)
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		kind := "a positive duration"
		if zeroOK {
			kind = "a duration"
		}
		return 0, c.Errf("%s: %q is not %s like %s", prop, arg, kind, example)
	}
	return d, nil
}

// caFile reads a PEM file of CA certificates for prop.
func caFile(c *caddy.Controller, prop, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, c.Errf("%s: cannot read CA file %q: %v", prop, file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, c.Errf("%s: %q holds no PEM certificate", prop, file)
	}
	return pool, nil
}

// siteArg checks a site name given on the current line.
func siteArg(c *caddy.Controller, name string) error {
	if err := model.CheckSiteName(name); err != nil {
		return c.Err(err.Error())
	}
	return nil
}

func parseKubeconfig(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) < 1 {
		return c.Errf("kubeconfig needs a file and optional contexts: kubeconfig FILE [CONTEXT...]")
	}
	p.kubeconfigs = append(p.kubeconfigs, kubeconfigLine{line: c.Line(), file: args[0], contexts: args[1:]})
	return nil
}

func parseSite(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	switch len(args) {
	case 1:
		if err := siteArg(c, args[0]); err != nil {
			return err
		}
		p.inClusterSite = args[0]
	case 2:
		if err := siteArg(c, args[0]); err != nil {
			return err
		}
		if _, dup := p.siteOf[args[1]]; dup {
			return c.Errf("context %q already has a site name", args[1])
		}
		p.siteOf[args[1]] = args[0]
		p.siteLine[args[1]] = c.Line()
	default:
		return c.Errf("site needs a name and a kubeconfig context: site NAME CONTEXT (or site NAME for in-cluster)")
	}
	return nil
}

// resourceWords are the `resources` property's words for the Gateway API
// route kinds, singular and plural, and "gatewayapi" for all of them.
var resourceWords = map[string][]string{
	"httproute": {kube.ResourceHTTPRoutes}, "grpcroute": {kube.ResourceGRPCRoutes},
	"tlsroute": {kube.ResourceTLSRoutes}, "tcproute": {kube.ResourceTCPRoutes}, "udproute": {kube.ResourceUDPRoutes},
	"gatewayapi": kube.GatewayRouteResources,
}

const resourcesHelp = "ingress, service, httproute, grpcroute, tlsroute, tcproute, udproute, gatewayapi (every route kind of the Gateway API), route (OpenShift)"

func parseResources(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return c.Errf("resources needs one or more of: %s", resourcesHelp)
	}
	cfg := p.cfg
	cfg.ingresses, cfg.services, cfg.gatewayRoutes, cfg.openShiftRoutes = false, false, nil, false
	for _, a := range args {
		word := strings.ToLower(a)
		switch word {
		case "ingress", "ingresses":
			cfg.ingresses = true
		case "service", "services":
			cfg.services = true
		case "route", "routes", "openshiftroute", "openshiftroutes":
			cfg.openShiftRoutes = true
		default:
			kinds, ok := resourceWords[word]
			if !ok {
				kinds, ok = resourceWords[strings.TrimSuffix(word, "s")]
			}
			if !ok {
				return c.Errf("unknown resource %q: use %s", a, resourcesHelp)
			}
			for _, k := range kinds {
				if !slices.Contains(cfg.gatewayRoutes, k) {
					cfg.gatewayRoutes = append(cfg.gatewayRoutes, k)
				}
			}
		}
	}
	return nil
}

// parseGatewaySelection says which side of a Gateway API route carries the
// selector (and the namespaces and AMKO GDP selection): the routes
// (default), or their Gateways.
func parseGatewaySelection(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.Errf("gateway_selection needs one of: route gateway")
	}
	switch strings.ToLower(args[0]) {
	case "route", "routes":
		p.cfg.selectGateways = false
	case "gateway", "gateways":
		p.cfg.selectGateways = true
	default:
		return c.Errf("gateway_selection %q: use route (the selector applies to HTTPRoutes and the other routes) or gateway (to their Gateways)", args[0])
	}
	return nil
}

func parseSelector(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return c.Errf("selector needs a Kubernetes label selector, e.g. selector app=gslb")
	}
	s := strings.Join(args, " ")
	if _, err := labels.Parse(s); err != nil {
		return c.Errf("bad label selector %q: %v", s, err)
	}
	p.cfg.selector = s
	return nil
}

func parseNamespaces(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return c.Errf("namespaces needs at least one namespace")
	}
	p.cfg.namespaces = append(p.cfg.namespaces, args...)
	return nil
}

func parseTTL(p *parser, c *caddy.Controller) error {
	n, err := intArg(c, "ttl", 0, model.MaxTTL)
	if err != nil {
		return err
	}
	p.cfg.defaults.TTL = model.Some(n)
	return nil
}

func parseAnswers(p *parser, c *caddy.Controller) error {
	n, err := intArg(c, "answers", 0, model.MaxAnswers)
	if err != nil {
		return err
	}
	p.cfg.defaults.Answers = model.Some(n)
	return nil
}

func parseStartupTimeout(p *parser, c *caddy.Controller) error {
	arg, err := oneArg(c, "one duration, e.g. startup_timeout 30s")
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(arg)
	if err != nil || d < 0 {
		return c.Errf("startup_timeout: %q is not a duration like 30s or 2m", arg)
	}
	p.cfg.startupTimeout = d
	return nil
}

func parseNameServer(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) < 1 {
		return c.Errf("nameserver needs a name and, inside the zone, its addresses: nameserver NAME [ADDRESS...]")
	}
	name, ok := model.HostName(args[0])
	if !ok {
		return c.Errf("nameserver %q is not a domain name", args[0])
	}
	ns := table.NameServer{Name: name}
	for _, a := range args[1:] {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return c.Errf("nameserver %s: %q is not an IP address", args[0], a)
		}
		ns.Addrs = append(ns.Addrs, ip.Unmap())
	}
	inZone := model.Zones(p.cfg.zones).Contains(ns.Name)
	if inZone && len(ns.Addrs) == 0 {
		return c.Errf("nameserver %s lies inside the zone: give its address(es) for glue: nameserver %s ADDRESS...", args[0], args[0])
	}
	if !inZone && len(ns.Addrs) > 0 {
		return c.Errf("nameserver %s lies outside the zone, so its addresses cannot be served as glue: remove them", args[0])
	}
	p.cfg.nameServers = append(p.cfg.nameServers, ns)
	return nil
}

func parseHostmaster(p *parser, c *caddy.Controller) error {
	arg, err := oneArg(c, "one mailbox, e.g. hostmaster dns-admin@example.org")
	if err != nil {
		return err
	}
	p.cfg.hostmaster = mailbox(arg)
	return nil
}

func parseCustomGlobalFQDN(p *parser, c *caddy.Controller) error {
	if len(c.RemainingArgs()) != 0 {
		return c.Errf("custom_global_fqdn takes no arguments")
	}
	p.cfg.customGlobalFQDN = true
	return nil
}

// parsePrivateNetworks reads `private_networks CIDR...`.
func parsePrivateNetworks(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return c.Errf("private_networks needs at least one network, e.g. private_networks 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16")
	}
	for _, a := range args {
		pfx, err := netip.ParsePrefix(a)
		if err != nil {
			return c.Errf("private_networks: %q is not a network like 10.0.0.0/8", a)
		}
		p.cfg.privateNetworks = append(p.cfg.privateNetworks, pfx.Masked())
	}
	return nil
}

func parseFallthrough(p *parser, c *caddy.Controller) error {
	p.cfg.fall.SetZonesFromArgs(c.RemainingArgs())
	return nil
}

// mailbox turns dns-admin@example.org into the SOA RNAME dns-admin.example.org.
func mailbox(s string) string {
	if local, domain, ok := strings.Cut(s, "@"); ok {
		s = strings.ReplaceAll(local, ".", `\.`) + "." + domain
	}
	return strings.ToLower(dns.Fqdn(s))
}

// parseMember reads `member FQDN ADDRESS... [site NAME]`.
func parseMember(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	site := defaultStaticSite
	if n := len(args); n >= 2 && args[n-2] == "site" {
		site = args[n-1]
		args = args[:n-2]
		if err := siteArg(c, site); err != nil {
			return err
		}
	}
	if len(args) < 2 {
		return c.Errf("member needs a name and at least one address: member FQDN ADDRESS... [site NAME]")
	}
	fqdn, ok := model.HostName(args[0])
	if !ok {
		return c.Errf("member %q is not a domain name", args[0])
	}
	var members []model.Member
	for _, a := range args[1:] {
		if ip, err := netip.ParseAddr(a); err == nil {
			members = append(members, model.Member{Site: site, Addr: ip.Unmap()})
			continue
		}
		target := strings.ToLower(dns.Fqdn(a))
		if _, ok := dns.IsDomainName(target); !ok || !hostName.MatchString(target) {
			return c.Errf("member %s: %q is neither an IP address nor a host name (for a CNAME)", args[0], a)
		}
		members = append(members, model.Member{Site: site, Target: target})
	}
	if !model.Zones(p.cfg.zones).Contains(fqdn) {
		return c.Errf("member %s is outside the zones %s: use a name inside them", args[0], strings.Join(p.cfg.zones, ", "))
	}
	for _, m := range members {
		p.cfg.static = append(p.cfg.static, model.Record{FQDN: fqdn, Member: m})
	}
	return nil
}

// loadClusters resolves kubeconfig lines into one cluster per context. All
// files are read now, so a wrong path or context is a Corefile error at load
// time, not a silent empty site later.
func loadClusters(corefile string, lines []kubeconfigLine, siteOf map[string]string, siteLine map[string]int, inClusterSite string, haveStatic bool) ([]kube.Cluster, error) {
	var clusters []kube.Cluster
	bySite := map[string]string{}
	used := map[string]bool{}
	add := func(site, context string, rc *rest.Config) error {
		if other, dup := bySite[site]; dup {
			return fmt.Errorf("site %q is used by both context %q and context %q: give them different names with `site NAME CONTEXT`", site, other, context)
		}
		bySite[site] = context
		clusters = append(clusters, kube.Cluster{Site: site, Context: context, Config: rc})
		return nil
	}
	for _, l := range lines {
		raw, err := clientcmd.LoadFromFile(l.file)
		if err != nil {
			return nil, lineErr(corefile, l.line, "cannot read kubeconfig %q: %v; fix the path (relative paths start at CoreDNS's working directory) or the file", l.file, err)
		}
		contexts := l.contexts
		if len(contexts) == 0 {
			for name := range raw.Contexts {
				contexts = append(contexts, name)
			}
			slices.Sort(contexts)
			if len(contexts) == 0 {
				return nil, lineErr(corefile, l.line, "kubeconfig %q has no contexts: merge your clusters' kubeconfigs into it (kubectl config view --flatten)", l.file)
			}
		}
		for _, ctx := range contexts {
			if _, ok := raw.Contexts[ctx]; !ok {
				known := make([]string, 0, len(raw.Contexts))
				for name := range raw.Contexts {
					known = append(known, name)
				}
				slices.Sort(known)
				return nil, lineErr(corefile, l.line, "kubeconfig %q has no context %q; it has: %s", l.file, ctx, strings.Join(known, ", "))
			}
			rc, err := clientcmd.NewNonInteractiveClientConfig(*raw, ctx, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
			if err != nil {
				return nil, lineErr(corefile, l.line, "kubeconfig %q context %q: %v", l.file, ctx, err)
			}
			site := ctx
			if s, ok := siteOf[ctx]; ok {
				site = s
			}
			used[ctx] = true
			if err := add(site, ctx, rc); err != nil {
				return nil, lineErr(corefile, l.line, "%v", err)
			}
		}
	}
	for ctx, line := range siteLine {
		if !used[ctx] {
			return nil, lineErr(corefile, line, "site names context %q, which no kubeconfig line watches", ctx)
		}
	}
	if len(lines) > 0 {
		if inClusterSite != "" {
			return nil, fmt.Errorf("`site %s` without a context names the in-cluster site, but a kubeconfig is given: use `site %s CONTEXT`", inClusterSite, inClusterSite)
		}
		return clusters, nil
	}
	// No kubeconfig: watch the cluster we run in, if we run in one.
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		if haveStatic {
			return nil, nil // static members only
		}
		return nil, fmt.Errorf("no kubeconfig given and not running inside a cluster: add `kubeconfig FILE` (the merged kubeconfig of your member clusters), `member` lines or an `avi` controller")
	}
	rc, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %v; or give a `kubeconfig FILE`", err)
	}
	if inClusterSite == "" {
		inClusterSite = defaultInClusterSite
	}
	return clusters, add(inClusterSite, "in-cluster", rc)
}

// lineErr formats an error like caddy's Controller.Errf, for checks that can
// only run after the whole block was read.
func lineErr(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d - Error during parsing: %s", file, line, fmt.Sprintf(format, args...))
}
