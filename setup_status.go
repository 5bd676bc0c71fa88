package gslb

import (
	"net"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/status"
)

// parseStatus reads `status [ADDRESS]`: the status page, /status.json and
// /explain listen there. Like health and ready it is off unless asked for;
// unlike them it shows the whole GSLB configuration, so it stays on
// loopback unless the address names another host (`status 0.0.0.0:8282`
// to listen everywhere, behind a NetworkPolicy).
func parseStatus(p *parser, c *caddy.Controller) error {
	args := c.RemainingArgs()
	switch len(args) {
	case 0:
		p.cfg.statusAddr = status.DefaultAddr
	case 1:
		host, port, err := net.SplitHostPort(args[0])
		if err != nil || port == "" {
			return c.Errf("status: %q is not an address like 127.0.0.1:8282 (HOST:PORT)", args[0])
		}
		if host == "" {
			host = "127.0.0.1" // loopback unless configured
		}
		p.cfg.statusAddr = net.JoinHostPort(host, port)
	default:
		return c.Errf("status takes at most one address: status [HOST:PORT] (default %s)", status.DefaultAddr)
	}
	return nil
}

// parseEvents reads `events`: record Kubernetes Events on the Ingresses and
// Services gslb reads (ignored or rejected, members down and up). Off by
// default: it needs create and patch on events in every member cluster.
func parseEvents(p *parser, c *caddy.Controller) error {
	if len(c.RemainingArgs()) != 0 {
		return c.Errf("events takes no arguments")
	}
	p.cfg.events = true
	return nil
}
