package gslb

import (
	"regexp"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/plugin/model"
)

// minAviPoll keeps a typo (poll 10ms) from hammering the controller.
const minAviPoll = 100 * time.Millisecond

var aviVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+){0,2}$`)

const aviProperties = "credentials, tenant, version, ca, insecure, poll, timeout, site"

// parseAviProperty reads an `avi` block:
//
//	avi https://CONTROLLER[:PORT] {
//	    credentials FILE
//	    tenant NAME
//	    version X.Y.Z
//	    ca FILE
//	    insecure
//	    poll DURATION
//	    timeout DURATION
//	    site NAME CLUSTER_UUID
//	}
//
// The block is read token by token here: caddy's Dispenser does not nest
// blocks by itself.
func parseAvi(p *parser, c *caddy.Controller) error {
	cfg := p.cfg
	line := c.Line()
	if cfg.avi != nil {
		return c.Errf("only one avi controller per gslb stanza: give the GSLB leader, which holds every site's GSLB services")
	}
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.Errf("avi needs the controller's URL and a block: avi https://CONTROLLER { credentials FILE }")
	}
	origin, err := avi.ParseURL(args[0])
	if err != nil {
		return c.Errf("avi: %v", err)
	}
	a := &avi.Config{
		URL:     origin,
		Tenant:  avi.DefaultTenant,
		Version: avi.DefaultVersion,
		Poll:    avi.DefaultPoll,
		Timeout: avi.DefaultTimeout,
		Sites:   map[string]string{},
	}
	if !c.NextArg() || c.Val() != "{" {
		return c.Errf("avi %s needs a block with at least its credentials: avi %s { credentials FILE }", args[0], args[0])
	}
	var caPath string
	siteOfName := map[string]string{}
	for closed := false; !closed; {
		if !c.Next() {
			return lineErr(c.File(), line, "the avi block is not closed: add } after its last property")
		}
		prop := c.Val()
		if prop == "}" {
			break
		}
		if prop == "{" {
			return c.Errf("unexpected { inside the avi block")
		}
		// A } on the property's own line closes the block too.
		args := c.RemainingArgs()
		if n := len(args); n > 0 && args[n-1] == "}" {
			args, closed = args[:n-1], true
		}
		one := func(what string) (string, error) {
			if len(args) != 1 || args[0] == "}" {
				return "", c.Errf("avi %s needs %s", prop, what)
			}
			return args[0], nil
		}
		switch prop {
		case "credentials":
			f, err := one("a file with `username: ...` and `password: ...` (or `token: ...`) lines, or the same as JSON")
			if err != nil {
				return err
			}
			if _, err := avi.ReadCredentials(f); err != nil {
				return c.Errf("avi: %v", err)
			}
			a.CredentialsFile = f
		case "tenant":
			t, err := one(`a tenant name, or "*" for all tenants`)
			if err != nil {
				return err
			}
			a.Tenant = t
		case "version":
			v, err := one("the API version to send as X-Avi-Version, e.g. version " + avi.DefaultVersion)
			if err != nil {
				return err
			}
			if !aviVersion.MatchString(v) {
				return c.Errf("avi version %q: write the controller's version, e.g. %s", v, avi.DefaultVersion)
			}
			a.Version = v
		case "ca":
			f, err := one("a PEM file with the CA that signed the controller's certificate")
			if err != nil {
				return err
			}
			pool, err := caFile(c, "avi ca", f)
			if err != nil {
				return err
			}
			a.RootCAs, caPath = pool, f
		case "insecure":
			if len(args) != 0 {
				return c.Errf("avi insecure takes no arguments")
			}
			a.Insecure = true
		case "poll", "timeout":
			v, err := one("a duration, e.g. " + prop + " 30s")
			if err != nil {
				return err
			}
			d, err := durationIn(c, "avi "+prop, v, false, "30s or 1m")
			if err != nil {
				return err
			}
			if prop == "poll" {
				if d < minAviPoll {
					return c.Errf("avi poll %s is too often for a controller: use at least %s", d, minAviPoll)
				}
				a.Poll = d
			} else {
				a.Timeout = d
			}
		case "site":
			if len(args) != 2 {
				return c.Errf("avi site needs a name and an Avi cluster uuid: site NAME CLUSTER_UUID")
			}
			name, uuid := args[0], args[1]
			if err := model.CheckSiteName(name); err != nil {
				return c.Errf("avi %v", err)
			}
			if _, dup := a.Sites[uuid]; dup {
				return c.Errf("avi cluster %q already has a site name", uuid)
			}
			if other, dup := siteOfName[name]; dup {
				return c.Errf("avi site %q already names cluster %q", name, other)
			}
			a.Sites[uuid], siteOfName[name] = name, uuid
		default:
			return c.Errf("unknown avi property %q; known: %s", prop, aviProperties)
		}
	}
	if a.CredentialsFile == "" {
		return lineErr(c.File(), line, "avi %s has no credentials: add `credentials FILE` to its block", origin)
	}
	if a.Insecure && caPath != "" {
		return lineErr(c.File(), line, "avi %s has both `ca %s` and `insecure`: keep the CA", origin, caPath)
	}
	cfg.avi = a
	return nil
}

// aviSiteNames are the Avi site names known at parse time.
func aviSiteNames(a *avi.Config) []string {
	if a == nil {
		return nil
	}
	return a.SiteNames()
}
