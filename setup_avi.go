package gslb

import (
	"crypto/x509"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/avi"
)

// minAviPoll keeps a typo (poll 10ms) from hammering the controller.
const minAviPoll = 100 * time.Millisecond

var aviVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+){0,2}$`)

const aviProperties = "credentials, tenant, version, ca, insecure, poll, timeout, grace, site"

// parseAviProperty reads an `avi` block:
//
//	avi https://LEADER[:PORT] [https://FOLLOWER[:PORT]...] {
//	    credentials FILE
//	    tenant NAME
//	    version X.Y.Z
//	    ca FILE
//	    insecure
//	    poll DURATION
//	    timeout DURATION
//	    grace DURATION
//	    site NAME CLUSTER_UUID
//	}
//
// handled is false for any other property. The block is read token by token
// here: caddy's Dispenser does not nest blocks by itself.
func parseAviProperty(c *caddy.Controller, cfg *config) (handled bool, err error) {
	if c.Val() != "avi" {
		return false, nil
	}
	line := c.Line()
	if cfg.avi != nil {
		return true, c.Errf("only one avi controller per gslb stanza: give the GSLB leader, which holds every site's GSLB services")
	}
	var urls []string
	for c.NextArg() && c.Val() != "{" {
		origin, err := avi.ParseURL(c.Val())
		if err != nil {
			return true, c.Errf("avi: %v", err)
		}
		if slices.Contains(urls, origin) {
			return true, c.Errf("avi: %s is given twice", origin)
		}
		urls = append(urls, origin)
	}
	if len(urls) == 0 {
		return true, c.Errf("avi needs the controller's URL and a block: avi https://CONTROLLER { credentials FILE }")
	}
	origin := urls[0]
	a := &avi.Config{
		URLs:    urls,
		Tenant:  avi.DefaultTenant,
		Version: avi.DefaultVersion,
		Poll:    avi.DefaultPoll,
		Timeout: avi.DefaultTimeout,
		Sites:   map[string]string{},
	}
	if c.Val() != "{" {
		return true, c.Errf("avi %s needs a block with at least its credentials: avi %s { credentials FILE }", origin, origin)
	}
	var caFile string
	siteOfName := map[string]string{}
	for closed := false; !closed; {
		if !c.Next() {
			return true, lineErr(c.File(), line, "the avi block is not closed: add } after its last property")
		}
		prop := c.Val()
		if prop == "}" {
			break
		}
		if prop == "{" {
			return true, c.Errf("unexpected { inside the avi block")
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
				return true, err
			}
			if _, err := avi.ReadCredentials(f); err != nil {
				return true, c.Errf("avi: %v", err)
			}
			a.CredentialsFile = f
		case "tenant":
			t, err := one(`a tenant name, or "*" for all tenants`)
			if err != nil {
				return true, err
			}
			a.Tenant = t
		case "version":
			v, err := one("the API version to send as X-Avi-Version, e.g. version " + avi.DefaultVersion)
			if err != nil {
				return true, err
			}
			if !aviVersion.MatchString(v) {
				return true, c.Errf("avi version %q: write the controller's version, e.g. %s", v, avi.DefaultVersion)
			}
			a.Version = v
		case "ca":
			f, err := one("a PEM file with the CA that signed the controller's certificate")
			if err != nil {
				return true, err
			}
			pem, err := os.ReadFile(f)
			if err != nil {
				return true, c.Errf("avi ca: cannot read %q: %v", f, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return true, c.Errf("avi ca: %q holds no PEM certificate", f)
			}
			a.RootCAs, caFile = pool, f
		case "insecure":
			if len(args) != 0 {
				return true, c.Errf("avi insecure takes no arguments")
			}
			a.Insecure = true
		case "poll", "timeout", "grace":
			v, err := one("a duration, e.g. " + prop + " 30s")
			if err != nil {
				return true, err
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return true, c.Errf("avi %s: %q is not a positive duration like 30s or 1m", prop, v)
			}
			switch prop {
			case "poll":
				if d < minAviPoll {
					return true, c.Errf("avi poll %s is too often for a controller: use at least %s", d, minAviPoll)
				}
				a.Poll = d
			case "timeout":
				a.Timeout = d
			default:
				a.Grace = d
			}
		case "site":
			if len(args) != 2 {
				return true, c.Errf("avi site needs a name and an Avi cluster uuid: site NAME CLUSTER_UUID")
			}
			name, uuid := args[0], args[1]
			if !siteName.MatchString(name) {
				return true, c.Errf("site name %q: use letters, digits, '.', '-' or '_'", name)
			}
			if _, dup := a.Sites[uuid]; dup {
				return true, c.Errf("avi cluster %q already has a site name", uuid)
			}
			if other, dup := siteOfName[name]; dup {
				return true, c.Errf("avi site %q already names cluster %q", name, other)
			}
			a.Sites[uuid], siteOfName[name] = name, uuid
		default:
			return true, c.Errf("unknown avi property %q; known: %s", prop, aviProperties)
		}
	}
	if a.CredentialsFile == "" {
		return true, lineErr(c.File(), line, "avi %s has no credentials: add `credentials FILE` to its block", origin)
	}
	if a.Insecure && caFile != "" {
		return true, lineErr(c.File(), line, "avi %s has both `ca %s` and `insecure`: keep the CA", origin, caFile)
	}
	cfg.avi = a
	return true, nil
}

// aviSiteNames are the Avi site names known at parse time.
func aviSiteNames(a *avi.Config) []string {
	if a == nil {
		return nil
	}
	return a.SiteNames()
}
