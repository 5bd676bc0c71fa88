package gslb

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/vantage"
)

// Defaults of the vantage block.
const (
	defaultVantageNamespace = "gslb-system"
	defaultHeartbeat        = 2 * time.Second
	// staleHeartbeats: a peer whose heartbeat is older than this many
	// heartbeat periods is left out of the quorum.
	staleHeartbeats = 4
)

// vantageConfig is the vantage block: this server's name as a vantage
// point, where its objects live, and whose verdicts count.
type vantageConfig struct {
	line      int
	name      string // empty: the own cluster's site
	context   string // site or kubeconfig context of the own cluster; empty: the only cluster
	namespace string
	peers     []string // empty: every site
	heartbeat time.Duration

	// Resolved by finishVantage.
	quorum  vantage.Quorum // health_quorum, before or after the block; default majority
	cluster kube.Cluster
}

// vantageName is what Kubernetes accepts inside an object name, short
// enough for the gslb-vantage- prefix.
var vantageName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$`)

// parseVantage reads
//
//	vantage [NAME] {
//	    context CONTEXT|SITE
//	    namespace NAMESPACE
//	    peers NAME...
//	    heartbeat DURATION
//	}
//
// The block is optional: `vantage` alone takes every default.
func parseVantage(p *parser, c *caddy.Controller) error {
	if p.cfg.vantage != nil {
		return c.Errf("vantage is given twice: a server is one vantage point")
	}
	v := &vantageConfig{line: c.Line(), namespace: defaultVantageNamespace, heartbeat: defaultHeartbeat}
	args := c.RemainingArgs()
	if len(args) > 1 {
		return c.Errf("vantage takes one name: vantage [NAME] { context CONTEXT  namespace NAMESPACE  peers NAME... }")
	}
	if len(args) == 1 {
		if !vantageName.MatchString(args[0]) {
			return c.Errf("vantage name %q: use lower-case letters, digits and '-', at most 50 (it names Kubernetes objects gslb-vantage-NAME)", args[0])
		}
		v.name = args[0]
	}
	for c.NextBlock() {
		prop := c.Val()
		args := c.RemainingArgs()
		switch prop {
		case "context":
			if len(args) != 1 {
				return c.Errf("vantage context needs one kubeconfig context or site name: the member cluster that holds this server's vantage objects")
			}
			v.context = args[0]
		case "namespace":
			if len(args) != 1 || !vantageName.MatchString(args[0]) {
				return c.Errf("vantage namespace needs one namespace name (default %s)", defaultVantageNamespace)
			}
			v.namespace = args[0]
		case "peers":
			if len(args) == 0 {
				return c.Errf("vantage peers needs the vantage names of the other gslb servers of the zone")
			}
			for _, a := range args {
				if !vantageName.MatchString(a) {
					return c.Errf("vantage peers: %q is not a vantage name (lower-case letters, digits and '-')", a)
				}
				if !slices.Contains(v.peers, a) {
					v.peers = append(v.peers, a)
				}
			}
		case "heartbeat":
			if len(args) != 1 {
				return c.Errf("vantage heartbeat needs one duration, e.g. 2s")
			}
			d, err := time.ParseDuration(args[0])
			if err != nil || d < 500*time.Millisecond || d > time.Minute {
				return c.Errf("vantage heartbeat %q: want a duration between 500ms and 1m, e.g. 2s", args[0])
			}
			v.heartbeat = d
		default:
			return c.Errf("unknown vantage property %q; known: context, heartbeat, namespace, peers", prop)
		}
	}
	p.cfg.vantage = v
	return nil
}

// parseHealthQuorum reads health_quorum majority|any|all|N.
func parseHealthQuorum(p *parser, c *caddy.Controller) error {
	arg, err := oneArg(c, "majority, any, all or a count of vantages")
	if err != nil {
		return err
	}
	q, err := vantage.ParseQuorum(arg)
	if err != nil {
		return c.Errf("health_quorum %v", err)
	}
	p.quorum, p.quorumLine = &q, c.Line()
	return nil
}

// finishVantage resolves the vantage block once the clusters are known.
func (p *parser) finishVantage(file string) error {
	v := p.cfg.vantage
	if v == nil {
		if p.quorum != nil {
			return lineErr(file, p.quorumLine, "health_quorum needs a vantage block: add `vantage [NAME] { context CONTEXT }` so that this server shares its verdicts with the others")
		}
		return nil
	}
	if p.quorum != nil {
		v.quorum = *p.quorum
	}
	clusters := p.cfg.clusters
	var sites []string
	for _, cl := range clusters {
		sites = append(sites, cl.Site)
	}
	switch {
	case len(clusters) == 0:
		return lineErr(file, v.line, "vantage needs member clusters: its objects live in one of them (add a kubeconfig line)")
	case v.context == "" && len(clusters) == 1:
		v.cluster = clusters[0]
	case v.context == "":
		return lineErr(file, v.line, "vantage: say which member cluster holds this server's objects: add `context CONTEXT` to the vantage block (one of the sites %s)", strings.Join(sites, ", "))
	default:
		i := slices.IndexFunc(clusters, func(cl kube.Cluster) bool { return cl.Context == v.context || cl.Site == v.context })
		if i < 0 {
			return lineErr(file, v.line, "vantage context %q is neither a watched kubeconfig context nor a site; use one of the sites %s", v.context, strings.Join(sites, ", "))
		}
		v.cluster = clusters[i]
	}
	if v.name == "" {
		// The site's name: what the peers' default (every site) expects.
		v.name = v.cluster.Site
		if !vantageName.MatchString(v.name) {
			return lineErr(file, v.line, "vantage: the default name %q cannot name Kubernetes objects: give a name, vantage NAME", v.name)
		}
	}
	if len(v.peers) == 0 {
		v.peers = sites // one gslb server per site, named after it
	}
	v.peers = slices.DeleteFunc(slices.Clone(v.peers), func(s string) bool { return s == v.name })
	if len(v.peers) == 0 {
		return lineErr(file, v.line, "vantage %s has no peers to share verdicts with: list the other gslb servers' vantage names with `peers NAME...`, or remove the vantage block", v.name)
	}
	return nil
}

// staleAfter is when a peer's heartbeat counts as stale.
func (v *vantageConfig) staleAfter() time.Duration { return staleHeartbeats * v.heartbeat }

func (v *vantageConfig) String() string {
	return fmt.Sprintf("vantage %s in site %s namespace %s, peers %s, health_quorum %s", v.name, v.cluster.Site, v.namespace, strings.Join(v.peers, " "), v.quorum)
}
