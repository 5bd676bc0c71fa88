package gslb

import (
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
	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/table"
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
	maxTTL                = 86400
)

// config is the parsed Corefile stanza.
type config struct {
	zones      []string
	ttl        uint32
	answers    int
	clusters   []kube.Cluster
	selector   string
	namespaces []string
	ingresses  bool
	services   bool
	// customGlobalFQDN: AKO HostRules give hosts their global names
	// (AMKO's useCustomGlobalFqdn).
	customGlobalFQDN bool
	static           []model.Record
	nameServers      []table.NameServer
	hostmaster       string
	startupTimeout   time.Duration
	fall             fall.F
	policy           policyConfig
	avi              *avi.Config // nil without an avi block
	amko             *amkoConfig // nil without an amko line
}

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	g, err := newGSLB(cfg)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	c.OnStartup(g.start)
	c.OnShutdown(g.stop)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		g.Next = next
		return g
	})
	return nil
}

// kubeconfigLine remembers one `kubeconfig` property until sites are known.
type kubeconfigLine struct {
	line     int
	file     string
	contexts []string
}

var siteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// hostName matches a lower-case, fully-qualified host name of at least two
// labels whose last label is not all digits (RFC 3696 2), so that a mistyped
// address such as 10.0.0.300 or 10.0.0.1/24 is an error, not a CNAME target.
var hostName = regexp.MustCompile(`^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9_-]*[a-z_-][a-z0-9_-]*\.$`)

func parse(c *caddy.Controller) (*config, error) {
	cfg := &config{
		ttl:            defaultTTL,
		selector:       defaultSelector,
		ingresses:      true,
		services:       true,
		startupTimeout: defaultStartupTimeout,
		policy:         newPolicyConfig(),
	}
	var (
		kubeconfigs   []kubeconfigLine
		siteOf        = map[string]string{} // context -> site name
		siteLine      = map[string]int{}
		inClusterSite string
		staticLines   []func() error // checked once the zones are known
	)
	i := 0
	for c.Next() {
		if i > 0 {
			return nil, plugin.ErrOnce
		}
		i++
		cfg.zones = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for _, z := range cfg.zones {
			if _, ok := dns.IsDomainName(z); !ok {
				return nil, c.Errf("invalid zone %q", z)
			}
		}
		for c.NextBlock() {
			switch c.Val() {
			case "kubeconfig":
				args := c.RemainingArgs()
				if len(args) < 1 {
					return nil, c.Errf("kubeconfig needs a file and optional contexts: kubeconfig FILE [CONTEXT...]")
				}
				kubeconfigs = append(kubeconfigs, kubeconfigLine{line: c.Line(), file: args[0], contexts: args[1:]})
			case "site":
				args := c.RemainingArgs()
				switch len(args) {
				case 1:
					if !siteName.MatchString(args[0]) {
						return nil, c.Errf("site name %q: use letters, digits, '.', '-' or '_'", args[0])
					}
					inClusterSite = args[0]
				case 2:
					if !siteName.MatchString(args[0]) {
						return nil, c.Errf("site name %q: use letters, digits, '.', '-' or '_'", args[0])
					}
					if _, dup := siteOf[args[1]]; dup {
						return nil, c.Errf("context %q already has a site name", args[1])
					}
					siteOf[args[1]] = args[0]
					siteLine[args[1]] = c.Line()
				default:
					return nil, c.Errf("site needs a name and a kubeconfig context: site NAME CONTEXT (or site NAME for in-cluster)")
				}
			case "resources":
				args := c.RemainingArgs()
				if len(args) == 0 {
					return nil, c.Errf("resources needs one or both of: ingress service")
				}
				cfg.ingresses, cfg.services = false, false
				for _, a := range args {
					switch strings.ToLower(a) {
					case "ingress", "ingresses":
						cfg.ingresses = true
					case "service", "services":
						cfg.services = true
					default:
						return nil, c.Errf("unknown resource %q: use ingress and/or service", a)
					}
				}
			case "selector":
				args := c.RemainingArgs()
				if len(args) == 0 {
					return nil, c.Errf("selector needs a Kubernetes label selector, e.g. selector app=gslb")
				}
				s := strings.Join(args, " ")
				if _, err := labels.Parse(s); err != nil {
					return nil, c.Errf("bad label selector %q: %v", s, err)
				}
				cfg.selector = s
			case "namespaces":
				args := c.RemainingArgs()
				if len(args) == 0 {
					return nil, c.Errf("namespaces needs at least one namespace")
				}
				cfg.namespaces = append(cfg.namespaces, args...)
			case "ttl":
				n, err := intArg(c, "ttl", 0, maxTTL)
				if err != nil {
					return nil, err
				}
				cfg.ttl = uint32(n)
			case "answers":
				n, err := intArg(c, "answers", 0, 1000)
				if err != nil {
					return nil, err
				}
				cfg.answers = n
			case "startup_timeout":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, c.Errf("startup_timeout needs one duration, e.g. startup_timeout 30s")
				}
				d, err := time.ParseDuration(args[0])
				if err != nil || d < 0 {
					return nil, c.Errf("startup_timeout: %q is not a duration like 30s or 2m", args[0])
				}
				cfg.startupTimeout = d
			case "member":
				f, err := parseMember(c)
				if err != nil {
					return nil, err
				}
				staticLines = append(staticLines, func() error { return f(cfg) })
			case "nameserver":
				args := c.RemainingArgs()
				if len(args) < 1 {
					return nil, c.Errf("nameserver needs a name and, inside the zone, its addresses: nameserver NAME [ADDRESS...]")
				}
				ns := table.NameServer{Name: strings.ToLower(dns.Fqdn(args[0]))}
				if _, ok := dns.IsDomainName(ns.Name); !ok {
					return nil, c.Errf("nameserver %q is not a domain name", args[0])
				}
				for _, a := range args[1:] {
					ip, err := netip.ParseAddr(a)
					if err != nil {
						return nil, c.Errf("nameserver %s: %q is not an IP address", args[0], a)
					}
					ns.Addrs = append(ns.Addrs, ip.Unmap())
				}
				inZone := plugin.Zones(cfg.zones).Matches(ns.Name) != ""
				if inZone && len(ns.Addrs) == 0 {
					return nil, c.Errf("nameserver %s lies inside the zone: give its address(es) for glue: nameserver %s ADDRESS...", args[0], args[0])
				}
				if !inZone && len(ns.Addrs) > 0 {
					return nil, c.Errf("nameserver %s lies outside the zone, so its addresses cannot be served as glue: remove them", args[0])
				}
				cfg.nameServers = append(cfg.nameServers, ns)
			case "hostmaster":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, c.Errf("hostmaster needs one mailbox, e.g. hostmaster dns-admin@example.org")
				}
				cfg.hostmaster = mailbox(args[0])
			case "custom_global_fqdn":
				if len(c.RemainingArgs()) != 0 {
					return nil, c.Errf("custom_global_fqdn takes no arguments")
				}
				cfg.customGlobalFQDN = true
			case "fallthrough":
				cfg.fall.SetZonesFromArgs(c.RemainingArgs())
			default:
				handled, err := parsePolicyProperty(c, &cfg.policy)
				if err == nil && !handled {
					handled, err = parseAviProperty(c, cfg)
				}
				if err == nil && !handled {
					handled, err = parseAmkoProperty(c, cfg)
				}
				if err != nil {
					return nil, err
				}
				if !handled {
					return nil, c.Errf("unknown property %q; known: kubeconfig, site, resources, selector, namespaces, custom_global_fqdn, ttl, answers, member, "+
						"nameserver, hostmaster, startup_timeout, fallthrough, policy, hash_mask, weight, priority, topology, down_response, "+
						"health_check, health_interval, health_timeout, health_rise, health_fall, health_expect, health_tls, health_targets, api_grace, endpoint_readiness, avi, amko, amko_status", c.Val())
				}
			}
		}
	}
	for _, f := range staticLines {
		if err := f(); err != nil {
			return nil, err
		}
	}

	clusters, err := loadClusters(c.File(), kubeconfigs, siteOf, siteLine, inClusterSite, len(cfg.static) > 0 || cfg.avi != nil)
	if err != nil {
		return nil, err
	}
	cfg.clusters = clusters
	if err := resolveAmko(c.File(), cfg.amko, clusters); err != nil {
		return nil, err
	}
	if len(clusters) > 0 && !cfg.ingresses && !cfg.services {
		return nil, fmt.Errorf("resources: nothing to watch")
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
	if err := cfg.policy.checkSites(c.File(), sites); err != nil {
		return nil, err
	}
	// A forced health check applies to static members too; auto leaves
	// them unprobed (there is no port to guess).
	if cfg.policy.healthMode == "forced" {
		for i := range cfg.static {
			if !cfg.static[i].Member.IsAlias() {
				cfg.static[i].Check = cfg.policy.healthCheck
			}
		}
	}
	return cfg, nil
}

func intArg(c *caddy.Controller, name string, lo, hi int) (int, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, c.Errf("%s needs one number between %d and %d", name, lo, hi)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < lo || n > hi {
		return 0, c.Errf("%s: %q is not a number between %d and %d", name, args[0], lo, hi)
	}
	return n, nil
}

// mailbox turns dns-admin@example.org into the SOA RNAME dns-admin.example.org.
func mailbox(s string) string {
	if local, domain, ok := strings.Cut(s, "@"); ok {
		s = strings.ReplaceAll(local, ".", `\.`) + "." + domain
	}
	return strings.ToLower(dns.Fqdn(s))
}

// parseMember reads `member FQDN ADDRESS... [site NAME]`. The check that the
// name lies inside a zone is returned as a closure: it needs the zones.
func parseMember(c *caddy.Controller) (func(*config) error, error) {
	line := c.Line()
	args := c.RemainingArgs()
	site := defaultStaticSite
	if n := len(args); n >= 2 && args[n-2] == "site" {
		site = args[n-1]
		args = args[:n-2]
		if !siteName.MatchString(site) {
			return nil, c.Errf("site name %q: use letters, digits, '.', '-' or '_'", site)
		}
	}
	if len(args) < 2 {
		return nil, c.Errf("member needs a name and at least one address: member FQDN ADDRESS... [site NAME]")
	}
	fqdn := strings.ToLower(dns.Fqdn(args[0]))
	if _, ok := dns.IsDomainName(fqdn); !ok || strings.Contains(fqdn, "*") {
		return nil, c.Errf("member %q is not a domain name", args[0])
	}
	var members []model.Member
	for _, a := range args[1:] {
		if ip, err := netip.ParseAddr(a); err == nil {
			members = append(members, model.Member{Site: site, Addr: ip.Unmap()})
			continue
		}
		target := strings.ToLower(dns.Fqdn(a))
		if _, ok := dns.IsDomainName(target); !ok || !hostName.MatchString(target) {
			return nil, c.Errf("member %s: %q is neither an IP address nor a host name (for a CNAME)", args[0], a)
		}
		members = append(members, model.Member{Site: site, Target: target})
	}
	return func(cfg *config) error {
		if plugin.Zones(cfg.zones).Matches(fqdn) == "" {
			return lineErr(c.File(), line, "member %s is outside the zones %s: use a name inside them", args[0], strings.Join(cfg.zones, ", "))
		}
		for _, m := range members {
			cfg.static = append(cfg.static, model.Record{FQDN: fqdn, Member: m})
		}
		return nil
	}, nil
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
