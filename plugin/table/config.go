package table

import (
	"net/netip"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
)

// Config is what the Corefile says about the served zones and answers.
type Config struct {
	Zones []Zone
	// Overrides are the defaults every GSLB service starts from before its
	// objects' settings (model.Resolve): the Corefile sets every field.
	// TTL is also the SOA minimum (negative-caching TTL). Answers limits
	// how many addresses one answer carries (Avi's num_dns_ip); 0 means all
	// for round robin and topology, one for the per-query picks (weighted,
	// consistent hash). Weight and Priority are those of the sites that
	// Weights and Priorities do not list (0 or unset counts as 1: a default
	// that drains everything makes no sense).
	model.Overrides
	Topology *policy.Topology
	// Weights and Priorities per site.
	Weights, Priorities map[string]int
}

// Zone is one zone the plugin is authoritative for.
type Zone struct {
	// Name is fully qualified and lower case.
	Name string
	// NameServers are published as the apex NS set; the first is the SOA
	// MNAME. Names inside the zone carry their glue addresses.
	NameServers []NameServer
	// Hostmaster is the SOA RNAME in domain form (hostmaster.example.org.).
	Hostmaster string
}

// NameServer is an NS target and, when it lies inside the zone, its addresses.
type NameServer struct {
	Name  string
	Addrs []netip.Addr
}

func (c *Config) weight(site string) int {
	if w, ok := c.Weights[site]; ok {
		return w
	}
	return max(c.Weight.V, 1)
}

func (c *Config) priority(site string) int {
	if p, ok := c.Priorities[site]; ok {
		return p
	}
	return max(c.Priority.V, 1)
}
