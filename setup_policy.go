package gslb

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
)

// defaultAPIGrace is how long an unprobed member outlives its cluster's API
// server. The probe defaults are health's.
const defaultAPIGrace = 5 * time.Minute

// policyConfig holds the Corefile's policy and health properties.
type policyConfig struct {
	algorithm, fallback  model.Algorithm
	hashMask4, hashMask6 int
	down                 model.Down
	weights, priorities  map[string]int
	siteLines            map[string]int // site named by weight/priority/topology -> line, checked later
	topology             *policy.Topology
	topoSeen             map[netip.Prefix]bool
	geoSeen              map[string]bool

	healthMode  string // auto, none, or a protocol forced on every member
	healthCheck model.Check
	health      health.Settings
	apiGrace    time.Duration
	// endpointReadiness: a member is down while the Services behind its
	// object have no ready endpoint.
	endpointReadiness bool
}

func newPolicyConfig() policyConfig {
	return policyConfig{
		algorithm:  model.RoundRobin,
		fallback:   model.RoundRobin,
		down:       model.Down{Kind: model.DownNone},
		weights:    map[string]int{},
		priorities: map[string]int{},
		siteLines:  map[string]int{},
		topology:   policy.NewTopology(),
		topoSeen:   map[netip.Prefix]bool{},
		geoSeen:    map[string]bool{},
		healthMode: "auto",
		health: health.Settings{
			Interval: health.DefaultInterval,
			Timeout:  health.DefaultTimeout,
			Rise:     health.DefaultRise,
			Fall:     health.DefaultFall,
		},
		apiGrace: defaultAPIGrace,
	}
}

var policyProperties = map[string]bool{
	"policy": true, "hash_mask": true, "weight": true, "priority": true, "topology": true, "down_response": true,
	"health_check": true, "health_interval": true, "health_timeout": true, "health_rise": true, "health_fall": true,
	"health_expect": true, "health_tls": true, "health_targets": true, "api_grace": true,
	"endpoint_readiness": true,
}

// parsePolicyProperty handles the policy and health properties; handled is
// false for a property it does not know.
func parsePolicyProperty(c *caddy.Controller, p *policyConfig) (handled bool, err error) {
	prop := c.Val()
	if !policyProperties[prop] {
		return false, nil
	}
	args := c.RemainingArgs()
	argErr := func(want string) error { return c.Errf("%s needs %s", prop, want) }
	switch prop {
	case "policy":
		if len(args) < 1 || len(args) > 2 {
			return true, argErr("an algorithm: round-robin, weighted, consistent-hash or topology [FALLBACK]")
		}
		a, ok := model.ParseAlgorithm(args[0])
		if !ok {
			return true, c.Errf("unknown policy %q: use round-robin, weighted, consistent-hash or topology", args[0])
		}
		p.algorithm = a
		if len(args) == 2 {
			if a != model.Topology {
				return true, c.Errf("only topology takes a fallback algorithm")
			}
			f, ok := model.ParseAlgorithm(args[1])
			if !ok || f == model.Topology {
				return true, c.Errf("topology fallback %q: use round-robin, weighted or consistent-hash", args[1])
			}
			p.fallback = f
		}
	case "hash_mask":
		m4, m6, err := model.ParseHashMask(args)
		if err != nil {
			return true, c.Errf("hash_mask: %v", err)
		}
		p.hashMask4, p.hashMask6 = m4.Or(0), m6.Or(0)
	case "weight", "priority":
		hi := model.MaxWeight
		if prop == "priority" {
			hi = model.MaxPriority
		}
		if len(args) != 2 {
			return true, argErr(fmt.Sprintf("a site and a number 0-%d: %s SITE N", hi, prop))
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 || n > hi {
			return true, c.Errf("%s %s: %q is not a number between 0 and %d", prop, args[0], args[1], hi)
		}
		if prop == "weight" {
			p.weights[args[0]] = n
		} else {
			p.priorities[args[0]] = n
		}
		p.siteLines[args[0]] = c.Line()
	case "topology":
		if len(args) >= 1 && (args[0] == "country" || args[0] == "continent") {
			return true, parseGeoTopology(c, p, args)
		}
		if len(args) < 2 {
			return true, argErr("a client subnet and preferred sites: topology CIDR SITE... (or topology country|continent CODE SITE...)")
		}
		pfx, err := netip.ParsePrefix(args[0])
		if err != nil {
			return true, c.Errf("topology: %q is not a CIDR such as 10.26.0.0/16 or 2001:db8::/48", args[0])
		}
		if pfx.Addr().Is4In6() {
			return true, c.Errf("topology: write IPv4 subnets as IPv4, not %q", args[0])
		}
		if p.topoSeen[pfx.Masked()] {
			return true, c.Errf("topology %s is given twice", args[0])
		}
		p.topoSeen[pfx.Masked()] = true
		p.topology.Add(pfx, args[1:])
		for _, s := range args[1:] {
			p.siteLines[s] = c.Line()
		}
	case "down_response":
		d, err := model.ParseDown(args)
		if err != nil {
			return true, c.Errf("down_response: %v", err)
		}
		p.down = d
	case "health_check":
		if len(args) < 1 || len(args) > 3 {
			return true, argErr("auto, none, or a protocol with optional port and path: health_check http|https|tcp [PORT] [PATH]")
		}
		switch mode := strings.ToLower(args[0]); mode {
		case "auto", "none":
			if len(args) > 1 {
				return true, c.Errf("health_check %s takes no port or path", mode)
			}
			p.healthMode = mode
		default:
			proto, ok := model.ParseCheckProto(mode)
			if !ok || proto == model.CheckNone {
				return true, c.Errf("health_check %q: use auto, none, http, https or tcp", args[0])
			}
			chk := model.CheckSpec{Proto: proto, ProtoSet: true}
			if len(args) > 1 {
				port, err := strconv.Atoi(args[1])
				if err != nil || port < 1 || port > 65535 {
					return true, c.Errf("health_check port %q: want 1-65535", args[1])
				}
				chk.Port = uint16(port)
			} else if proto == model.CheckTCP {
				return true, c.Errf("health_check tcp needs a port")
			}
			if len(args) > 2 {
				if proto == model.CheckTCP || !strings.HasPrefix(args[2], "/") {
					return true, c.Errf("health_check path %q: want an absolute path, for http or https", args[2])
				}
				chk.Path = args[2]
			}
			p.healthMode = "forced"
			base := model.Check{Proto: proto}
			if proto != model.CheckTCP {
				base.Path = "/"
			}
			p.healthCheck = chk.Apply(base)
		}
	case "health_interval", "health_timeout", "api_grace":
		if len(args) != 1 {
			return true, argErr("one duration, e.g. 1s")
		}
		d, err := time.ParseDuration(args[0])
		if err != nil || d <= 0 {
			return true, c.Errf("%s: %q is not a positive duration like 1s or 500ms", prop, args[0])
		}
		switch prop {
		case "health_interval":
			p.health.Interval = d
		case "health_timeout":
			p.health.Timeout = d
		default:
			p.apiGrace = d
		}
	case "endpoint_readiness":
		if len(args) != 0 {
			return true, c.Errf("endpoint_readiness takes no arguments")
		}
		p.endpointReadiness = true
	case "health_rise", "health_fall":
		if len(args) != 1 {
			return true, argErr("a count 1-10")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > 10 {
			return true, c.Errf("%s: %q is not a count between 1 and 10", prop, args[0])
		}
		if prop == "health_rise" {
			p.health.Rise = n
		} else {
			p.health.Fall = n
		}
	case "health_expect":
		r, err := health.ParseExpect(strings.Join(args, ","))
		if err != nil || len(args) == 0 {
			return true, c.Errf("health_expect: want status codes or ranges such as 200-399 or 200,204: %v", err)
		}
		p.health.Expect = r
	case "health_tls":
		if len(args) < 1 || len(args) > 2 {
			return true, argErr("insecure, or verify [CA_FILE]")
		}
		switch args[0] {
		case "insecure":
			if len(args) > 1 {
				return true, c.Errf("health_tls insecure takes no CA file")
			}
			p.health.TLSVerify = false
		case "verify":
			p.health.TLSVerify = true
			if len(args) == 2 {
				pem, err := os.ReadFile(args[1])
				if err != nil {
					return true, c.Errf("health_tls: cannot read CA file %q: %v", args[1], err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return true, c.Errf("health_tls: %q holds no PEM certificate", args[1])
				}
				p.health.RootCAs = pool
			}
		default:
			return true, c.Errf("health_tls %q: use insecure, or verify [CA_FILE]", args[0])
		}
	case "health_targets":
		if len(args) == 0 {
			return true, argErr("one or more CIDRs that probes may reach")
		}
		for _, a := range args {
			pfx, err := netip.ParsePrefix(a)
			if err != nil {
				return true, c.Errf("health_targets: %q is not a CIDR", a)
			}
			p.health.Allowed = append(p.health.Allowed, pfx.Masked())
		}
	}
	return true, nil
}

// parseGeoTopology reads `topology country|continent CODE SITE...`: rules on
// the geoip plugin's metadata (geoip/country/code, geoip/continent/code).
func parseGeoTopology(c *caddy.Controller, p *policyConfig, args []string) error {
	kind := args[0]
	if len(args) < 3 {
		return c.Errf("topology %s needs a code and preferred sites: topology %s CODE SITE...", kind, kind)
	}
	code := strings.ToUpper(args[1])
	valid := len(code) == 2 && strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
	if !valid {
		return c.Errf("topology %s: %q is not a two-letter code such as GB (country) or EU (continent)", kind, args[1])
	}
	seen := kind + "/" + code
	if p.geoSeen[seen] {
		return c.Errf("topology %s %s is given twice", kind, code)
	}
	p.geoSeen[seen] = true
	if kind == "country" {
		p.topology.AddCountry(code, args[2:])
	} else {
		p.topology.AddContinent(code, args[2:])
	}
	for _, s := range args[2:] {
		p.siteLines[s] = c.Line()
	}
	return nil
}

// checkSites makes sure weight, priority and topology only name sites that
// exist in this stanza, so a typo does not silently do nothing.
func (p *policyConfig) checkSites(file string, sites []string) error {
	names := make([]string, 0, len(p.siteLines))
	for s := range p.siteLines {
		names = append(names, s)
	}
	slices.Sort(names) // report the same unknown site every time
	for _, s := range names {
		line := p.siteLines[s]
		if !slices.Contains(sites, s) {
			return lineErr(file, line, "site %q is not a site of this gslb stanza; sites are: %s", s, strings.Join(sites, ", "))
		}
	}
	return nil
}
