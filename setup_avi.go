package gslb

import (
	"regexp"
	"slices"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/plugin/model"
)

// minAviPoll keeps a typo (poll 10ms) from hammering the controller.
const minAviPoll = 100 * time.Millisecond

var aviVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+){0,2}$`)

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
	var urls []string
	for c.NextArg() && c.Val() != "{" {
		origin, err := avi.ParseURL(c.Val())
		if err != nil {
			return c.Errf("avi: %v", err)
		}
		if slices.Contains(urls, origin) {
			return c.Errf("avi: %s is given twice", origin)
		}
		urls = append(urls, origin)
	}
	if len(urls) == 0 {
		return c.Errf("avi needs the controller's URL and a block: avi https://CONTROLLER { credentials FILE }")
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
		return c.Errf("avi %s needs a block with at least its credentials: avi %s { credentials FILE }", origin, origin)
	}
	b := &aviBlock{c: c, cfg: a, siteOfName: map[string]string{}}
	for closed := false; !closed; {
		if !c.Next() {
			return lineErr(c.File(), line, "the avi block is not closed: add } after its last property")
		}
		b.prop = c.Val()
		if b.prop == "}" {
			break
		}
		if b.prop == "{" {
			return c.Errf("unexpected { inside the avi block")
		}
		// A } on the property's own line closes the block too.
		b.args = c.RemainingArgs()
		if n := len(b.args); n > 0 && b.args[n-1] == "}" {
			b.args, closed = b.args[:n-1], true
		}
		prop, ok := aviProperties[b.prop]
		if !ok {
			return c.Errf("unknown avi property %q; known: %s", b.prop, known(aviProperties))
		}
		if err := prop(b); err != nil {
			return err
		}
	}
	if a.CredentialsFile == "" {
		return lineErr(c.File(), line, "avi %s has no credentials: add `credentials FILE` to its block", origin)
	}
	if a.Insecure && b.caPath != "" {
		return lineErr(c.File(), line, "avi %s has both `ca %s` and `insecure`: keep the CA", origin, b.caPath)
	}
	cfg.avi = a
	return nil
}

// aviBlock is one avi block being read; prop and args are the property at
// hand.
type aviBlock struct {
	c          *caddy.Controller
	cfg        *avi.Config
	prop       string
	args       []string
	caPath     string            // the ca property's file
	siteOfName map[string]string // site name -> Avi cluster uuid
}

// one returns the property's single argument; what says what it is.
func (b *aviBlock) one(what string) (string, error) {
	if len(b.args) != 1 || b.args[0] == "}" {
		return "", b.c.Errf("avi %s needs %s", b.prop, what)
	}
	return b.args[0], nil
}

// aviProperties is every property of an avi block: the parser and the list
// of known properties in its error message both come from here.
var aviProperties = map[string]func(b *aviBlock) error{
	"credentials": func(b *aviBlock) error {
		f, err := b.one("a file with `username: ...` and `password: ...` (or `token: ...`) lines, or the same as JSON")
		if err != nil {
			return err
		}
		if _, err := avi.ReadCredentials(f); err != nil {
			return b.c.Errf("avi: %v", err)
		}
		b.cfg.CredentialsFile = f
		return nil
	},
	"tenant": func(b *aviBlock) error {
		t, err := b.one(`a tenant name, or "*" for all tenants`)
		if err != nil {
			return err
		}
		b.cfg.Tenant = t
		return nil
	},
	"version": func(b *aviBlock) error {
		v, err := b.one("the API version to send as X-Avi-Version, e.g. version " + avi.DefaultVersion)
		if err != nil {
			return err
		}
		if !aviVersion.MatchString(v) {
			return b.c.Errf("avi version %q: write the controller's version, e.g. %s", v, avi.DefaultVersion)
		}
		b.cfg.Version = v
		return nil
	},
	"ca": func(b *aviBlock) error {
		f, err := b.one("a PEM file with the CA that signed the controller's certificate")
		if err != nil {
			return err
		}
		pool, err := caFile(b.c, "avi ca", f)
		if err != nil {
			return err
		}
		b.cfg.RootCAs, b.caPath = pool, f
		return nil
	},
	"insecure": func(b *aviBlock) error {
		if len(b.args) != 0 {
			return b.c.Errf("avi insecure takes no arguments")
		}
		b.cfg.Insecure = true
		return nil
	},
	"poll":    aviDuration,
	"timeout": aviDuration,
	"grace":   aviDuration,
	"site": func(b *aviBlock) error {
		if len(b.args) != 2 {
			return b.c.Errf("avi site needs a name and an Avi cluster uuid: site NAME CLUSTER_UUID")
		}
		name, uuid := b.args[0], b.args[1]
		if err := model.CheckSiteName(name); err != nil {
			return b.c.Errf("avi %v", err)
		}
		if _, dup := b.cfg.Sites[uuid]; dup {
			return b.c.Errf("avi cluster %q already has a site name", uuid)
		}
		if other, dup := b.siteOfName[name]; dup {
			return b.c.Errf("avi site %q already names cluster %q", name, other)
		}
		b.cfg.Sites[uuid], b.siteOfName[name] = name, uuid
		return nil
	},
}

func aviDuration(b *aviBlock) error {
	v, err := b.one("a duration, e.g. " + b.prop + " 30s")
	if err != nil {
		return err
	}
	d, err := durationIn(b.c, "avi "+b.prop, v, false, "30s or 1m")
	if err != nil {
		return err
	}
	switch b.prop {
	case "timeout":
		b.cfg.Timeout = d
		return nil
	case "grace":
		b.cfg.Grace = d
		return nil
	}
	if d < minAviPoll {
		return b.c.Errf("avi poll %s is too often for a controller: use at least %s", d, minAviPoll)
	}
	b.cfg.Poll = d
	return nil
}

// aviSiteNames are the Avi site names known at parse time.
func aviSiteNames(a *avi.Config) []string {
	if a == nil {
		return nil
	}
	return a.SiteNames()
}
