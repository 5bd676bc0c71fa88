package gslb

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
)

// policyConfig holds the Corefile's per-site policy: the service-wide
// defaults (policy, hash_mask, down_response) are in config.defaults.
type policyConfig struct {
	weights, priorities map[string]int
	topology            *policy.Topology
}

func newPolicyConfig() policyConfig {
	return policyConfig{
		weights:    map[string]int{},
		priorities: map[string]int{},
		topology:   policy.NewTopology(),
	}
}

// policyProperties read how members are picked.
var policyProperties = map[string]property{
	"policy":        parsePolicy,
	"hash_mask":     parseHashMask,
	"weight":        parseWeightPriority,
	"priority":      parseWeightPriority,
	"topology":      parseTopology,
	"down_response": parseDownResponse,
}

func parsePolicy(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return c.Errf("policy needs an algorithm: round-robin, weighted, consistent-hash or topology [FALLBACK]")
	}
	a, ok := model.ParseAlgorithm(args[0])
	if !ok {
		return c.Errf("unknown policy %q: use round-robin, weighted, consistent-hash or topology", args[0])
	}
	p.cfg.defaults.Algorithm = a
	if len(args) == 2 {
		if a != model.Topology {
			return c.Errf("only topology takes a fallback algorithm")
		}
		f, ok := model.ParseAlgorithm(args[1])
		if !ok || f == model.Topology {
			return c.Errf("topology fallback %q: use round-robin, weighted or consistent-hash", args[1])
		}
		p.cfg.defaults.Fallback = f
	}
	return nil
}

func parseHashMask(p *parser, c *caddy.Controller) error {
	m4, m6, err := model.ParseHashMask(c.RemainingArgs())
	if err != nil {
		return c.Errf("hash_mask: %v", err)
	}
	d := &p.cfg.defaults
	d.HashMask4, d.HashMask6 = model.Some(m4.Or(policy.DefaultHashMask4)), model.Some(m6.Or(policy.DefaultHashMask6))
	return nil
}

func parseWeightPriority(p *parser, c *caddy.Controller) error {
	prop := c.Val()
	hi, into := model.MaxWeight, p.cfg.policy.weights
	if prop == "priority" {
		hi, into = model.MaxPriority, p.cfg.policy.priorities
	}
	args := c.RemainingArgs()
	if len(args) != 2 {
		return c.Errf("%s needs a site and a number 0-%d: %s SITE N", prop, hi, prop)
	}
	n, err := intIn(c, prop+" "+args[0], args[1], 0, hi)
	if err != nil {
		return err
	}
	into[args[0]] = n
	p.policySites[args[0]] = c.Line()
	return nil
}

func parseTopology(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) >= 1 && (args[0] == "country" || args[0] == "continent") {
		return parseGeoTopology(p, c, args)
	}
	if len(args) < 2 {
		return c.Errf("topology needs a client subnet and preferred sites: topology CIDR SITE... (or topology country|continent CODE SITE...)")
	}
	pfx, err := netip.ParsePrefix(args[0])
	if err != nil {
		return c.Errf("topology: %q is not a CIDR such as 10.26.0.0/16 or 2001:db8::/48", args[0])
	}
	if pfx.Addr().Is4In6() {
		return c.Errf("topology: write IPv4 subnets as IPv4, not %q", args[0])
	}
	if p.topoSeen[pfx.Masked()] {
		return c.Errf("topology %s is given twice", args[0])
	}
	p.topoSeen[pfx.Masked()] = true
	p.cfg.policy.topology.Add(pfx, args[1:])
	for _, s := range args[1:] {
		p.policySites[s] = c.Line()
	}
	return nil
}

// parseGeoTopology reads `topology country|continent CODE SITE...`: rules on
// the geoip plugin's metadata (geoip/country/code, geoip/continent/code).
func parseGeoTopology(p *parser, c *caddy.Controller, args []string) error {
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
		p.cfg.policy.topology.AddCountry(code, args[2:])
	} else {
		p.cfg.policy.topology.AddContinent(code, args[2:])
	}
	for _, s := range args[2:] {
		p.policySites[s] = c.Line()
	}
	return nil
}

func parseDownResponse(p *parser, c *caddy.Controller) error {
	d, err := model.ParseDown(c.RemainingArgs())
	if err != nil {
		return c.Errf("down_response: %v", err)
	}
	p.cfg.defaults.Down = d
	return nil
}

// checkPolicySites makes sure weight, priority and topology only name sites
// that exist in this stanza, so a typo does not silently do nothing.
func (p *parser) checkPolicySites(file string, sites []string) error {
	names := make([]string, 0, len(p.policySites))
	for s := range p.policySites {
		names = append(names, s)
	}
	slices.Sort(names) // report the same unknown site every time
	for _, s := range names {
		if !slices.Contains(sites, s) {
			return lineErr(file, p.policySites[s], "site %q is not a site of this gslb stanza; sites are: %s", s, strings.Join(sites, ", "))
		}
	}
	return nil
}
