package gslb

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/model"
)

// defaultAPIGrace is how long an unprobed member outlives its cluster's API
// server. The probe defaults are health's.
const defaultAPIGrace = 5 * time.Minute

// healthMode is what the health_check property says about probing.
type healthMode uint8

const (
	healthAuto   healthMode = iota // each source's default probe (Ingress: HTTP(S), Service: TCP)
	healthNone                     // no member is probed
	healthForced                   // every member gets healthConfig.check
)

// healthConfig holds the Corefile's health properties.
type healthConfig struct {
	mode  healthMode
	check model.Check // healthForced only
	probe health.Settings
	// apiGrace: an unprobed member stays up this long after its cluster's
	// API server stops answering.
	apiGrace time.Duration
	// endpointReadiness: a member is down while the Services behind its
	// object have no ready endpoint.
	endpointReadiness bool
}

func newHealthConfig() healthConfig {
	return healthConfig{
		probe: health.Settings{
			Interval: health.DefaultInterval,
			Timeout:  health.DefaultTimeout,
			Rise:     health.DefaultRise,
			Fall:     health.DefaultFall,
		},
		apiGrace: defaultAPIGrace,
	}
}

// healthProperties read how members are probed and when they count as down.
var healthProperties = map[string]property{
	"health_check":       parseHealthCheck,
	"health_interval":    parseHealthDuration,
	"health_timeout":     parseHealthDuration,
	"api_grace":          parseHealthDuration,
	"health_rise":        parseHealthCount,
	"health_fall":        parseHealthCount,
	"health_expect":      parseHealthExpect,
	"health_tls":         parseHealthTLS,
	"health_targets":     parseHealthTargets,
	"endpoint_readiness": parseEndpointReadiness,
	// Shared verdicts (setup_vantage.go).
	"vantage":       parseVantage,
	"health_quorum": parseHealthQuorum,
}

func parseHealthCheck(p *parser, c *caddy.Controller) error {
	h := &p.cfg.health
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 3 {
		return c.Errf("health_check needs auto, none, or a protocol with optional port and path: health_check http|https|tcp [PORT] [PATH]")
	}
	switch mode := strings.ToLower(args[0]); mode {
	case "auto", "none":
		if len(args) > 1 {
			return c.Errf("health_check %s takes no port or path", mode)
		}
		h.mode = healthAuto
		if mode == "none" {
			h.mode = healthNone
		}
		return nil
	}
	proto, ok := model.ParseCheckProto(args[0])
	if !ok || proto == model.CheckNone {
		return c.Errf("health_check %q: use auto, none, http, https or tcp", args[0])
	}
	chk := model.CheckSpec{Proto: proto, ProtoSet: true}
	if len(args) > 1 {
		port, err := strconv.Atoi(args[1])
		if err != nil || port < 1 || port > 65535 {
			return c.Errf("health_check port %q: want 1-65535", args[1])
		}
		chk.Port = uint16(port)
	} else if proto == model.CheckTCP {
		return c.Errf("health_check tcp needs a port")
	}
	if len(args) > 2 {
		if proto == model.CheckTCP || !strings.HasPrefix(args[2], "/") {
			return c.Errf("health_check path %q: want an absolute path, for http or https", args[2])
		}
		chk.Path = args[2]
	}
	base := model.Check{Proto: proto}
	if proto != model.CheckTCP {
		base.Path = "/"
	}
	h.mode, h.check = healthForced, chk.Apply(base)
	return nil
}

func parseHealthDuration(p *parser, c *caddy.Controller) error {
	prop := c.Val()
	arg, err := oneArg(c, "one duration, e.g. 1s")
	if err != nil {
		return err
	}
	d, err := durationIn(c, prop, arg, false, "1s or 500ms")
	if err != nil {
		return err
	}
	h := &p.cfg.health
	switch prop {
	case "health_interval":
		h.probe.Interval = d
	case "health_timeout":
		h.probe.Timeout = d
	default:
		h.apiGrace = d
	}
	return nil
}

func parseHealthCount(p *parser, c *caddy.Controller) error {
	prop := c.Val()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.Errf("%s needs a count 1-10", prop)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 10 {
		return c.Errf("%s: %q is not a count between 1 and 10", prop, args[0])
	}
	if prop == "health_rise" {
		p.cfg.health.probe.Rise = n
	} else {
		p.cfg.health.probe.Fall = n
	}
	return nil
}

func parseHealthExpect(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	r, err := health.ParseExpect(strings.Join(args, ","))
	if err != nil || len(args) == 0 {
		return c.Errf("health_expect: want status codes or ranges such as 200-399 or 200,204: %v", err)
	}
	p.cfg.health.probe.Expect = r
	return nil
}

func parseHealthTLS(p *parser, c *caddy.Controller) error {
	h := &p.cfg.health
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return c.Errf("health_tls needs insecure, or verify [CA_FILE]")
	}
	switch args[0] {
	case "insecure":
		if len(args) > 1 {
			return c.Errf("health_tls insecure takes no CA file")
		}
		h.probe.TLSVerify = false
	case "verify":
		h.probe.TLSVerify = true
		if len(args) == 2 {
			pool, err := caFile(c, "health_tls", args[1])
			if err != nil {
				return err
			}
			h.probe.RootCAs = pool
		}
	default:
		return c.Errf("health_tls %q: use insecure, or verify [CA_FILE]", args[0])
	}
	return nil
}

func parseHealthTargets(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return c.Errf("health_targets needs one or more CIDRs that probes may reach")
	}
	for _, a := range args {
		pfx, err := netip.ParsePrefix(a)
		if err != nil {
			return c.Errf("health_targets: %q is not a CIDR", a)
		}
		p.cfg.health.probe.Allowed = append(p.cfg.health.probe.Allowed, pfx.Masked())
	}
	return nil
}

func parseEndpointReadiness(p *parser, c *caddy.Controller) error {
	if len(c.RemainingArgs()) != 0 {
		return c.Errf("endpoint_readiness takes no arguments")
	}
	p.cfg.health.endpointReadiness = true
	return nil
}
