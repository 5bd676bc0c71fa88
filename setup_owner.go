package gslb

import (
	"slices"
	"strings"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/owner"
)

// ownershipConfig holds the Corefile's name ownership: the mode for names
// no rule covers, the rules, and where each was written (for errors found
// once the stanza is read).
type ownershipConfig struct {
	mode     owner.Mode
	modeLine int // 0: not written
	rules    owner.Rules
	// ruleLine is the line of the first owner rule; sites names the sites
	// the rules use -> line.
	ruleLine int
	sites    map[string]int
}

// ownerProperties read who may publish which names.
var ownerProperties = map[string]property{
	"ownership": parseOwnership,
	"owner":     parseOwner,
}

// parseOwnership reads `ownership first_claim|off`.
func parseOwnership(p *parser, c *caddy.Controller) error {
	arg, err := oneArg(c, "first_claim or off")
	if err != nil {
		return err
	}
	o := &p.cfg.ownership
	if o.modeLine != 0 {
		return c.Errf("ownership is set already (line %d): keep one", o.modeLine)
	}
	switch arg {
	case "first_claim":
		o.mode = owner.FirstClaim
	case "off":
		o.mode = owner.Off
	default:
		return c.Errf("ownership %q: use first_claim (the default) or off", arg)
	}
	o.modeLine = c.Line()
	return nil
}

// parseOwner reads `owner NAME|*.DOMAIN [SITE/]NAMESPACE...`.
func parseOwner(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) < 2 {
		return c.Errf("owner needs a name or *.domain and the namespaces that may publish it: owner NAME|*.DOMAIN [SITE/]NAMESPACE...")
	}
	pattern := strings.ToLower(args[0])
	name, wild := strings.CutPrefix(pattern, "*.")
	fqdn, ok := model.HostName(name)
	if !ok {
		return c.Errf("owner %q is neither a domain name nor *. and one (wildcards only as the first label)", args[0])
	}
	// A wildcard may sit above a zone (*.sddc.lab covers gslb.sddc.lab's
	// names); an exact name must be one the zones hold.
	covers := wild && slices.ContainsFunc(p.cfg.zones, func(z string) bool { return model.InZone(fqdn, z) })
	if !model.Zones(p.cfg.zones).Contains(fqdn) && !covers {
		return c.Errf("owner %s is outside the zones %s: use a name inside them", args[0], strings.Join(p.cfg.zones, ", "))
	}
	if wild {
		fqdn = "*." + fqdn
	}
	var owners []owner.Owner
	o := &p.cfg.ownership
	for _, a := range args[1:] {
		ow, err := owner.ParseOwner(a)
		if err != nil {
			return c.Errf("owner %s: %v", args[0], err)
		}
		if ow.Site != "" {
			if err := siteArg(c, ow.Site); err != nil {
				return err
			}
			if _, seen := o.sites[ow.Site]; !seen {
				if o.sites == nil {
					o.sites = map[string]int{}
				}
				o.sites[ow.Site] = c.Line()
			}
		}
		owners = append(owners, ow)
	}
	if err := o.rules.Add(fqdn, owners); err != nil {
		return c.Errf("owner %v", err)
	}
	if o.ruleLine == 0 {
		o.ruleLine = c.Line()
	}
	return nil
}

// checkOwnership runs once the sites are known: rules name clusters that
// exist, and do not contradict `ownership off`.
func (p *parser) checkOwnership(file string, clusterSites []string) error {
	o := &p.cfg.ownership
	if o.mode == owner.Off && o.rules.Len() > 0 {
		return lineErr(file, o.ruleLine, "owner rules have no effect with ownership off (line %d): remove one or the other", o.modeLine)
	}
	names := make([]string, 0, len(o.sites))
	for s := range o.sites {
		names = append(names, s)
	}
	slices.Sort(names)
	for _, s := range names {
		if !slices.Contains(clusterSites, s) {
			return lineErr(file, o.sites[s], "owner: site %q is not a member cluster of this gslb stanza; clusters are: %s", s, strings.Join(clusterSites, ", "))
		}
	}
	return nil
}
