package gslb

import (
	"slices"
	"strings"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/amko"
	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"k8s.io/apimachinery/pkg/util/validation"
)

// amkoConfig is the `amko` and `amko_status` properties.
type amkoConfig struct {
	context    string // as written: a member context (or its site name)
	namespace  string
	status     bool
	line       int
	statusLine int
	leader     kube.Cluster // resolved once the clusters are known
}

// parseAmko reads `amko CONTEXT [NAMESPACE]`.
func parseAmko(p *parser, c *caddy.Controller) error {
	cfg := p.cfg
	if cfg.amko != nil && cfg.amko.line != 0 {
		return c.Errf("only one amko line per gslb stanza: AMKO keeps its policy objects in one namespace of the leader cluster")
	}
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return c.Errf("amko needs the kubeconfig context of the cluster that holds the AMKO objects, and optionally their namespace: amko CONTEXT [NAMESPACE] (default %s)", amko.DefaultNamespace)
	}
	if cfg.amko == nil {
		cfg.amko = &amkoConfig{}
	}
	cfg.amko.context, cfg.amko.namespace, cfg.amko.line = args[0], amko.DefaultNamespace, c.Line()
	if len(args) == 2 {
		if errs := validation.IsDNS1123Label(args[1]); len(errs) > 0 {
			return c.Errf("amko namespace %q: %s", args[1], strings.Join(errs, "; "))
		}
		cfg.amko.namespace = args[1]
	}
	return nil
}

// parseAmkoStatus reads `amko_status`.
func parseAmkoStatus(p *parser, c *caddy.Controller) error {
	if len(c.RemainingArgs()) != 0 {
		return c.Errf("amko_status takes no arguments")
	}
	if p.cfg.amko == nil {
		p.cfg.amko = &amkoConfig{}
	}
	p.cfg.amko.status, p.cfg.amko.statusLine = true, c.Line()
	return nil
}

// resolveAmko finds the leader among the member clusters: the amko context
// must be one that this stanza watches (a site's context; its site name is
// accepted too).
func resolveAmko(file string, a *amkoConfig, clusters []kube.Cluster) error {
	if a == nil {
		return nil
	}
	if a.line == 0 {
		return lineErr(file, a.statusLine, "amko_status writes the status of AMKO objects, but there is no `amko CONTEXT [NAMESPACE]` line")
	}
	for _, byContext := range []bool{true, false} {
		for _, cl := range clusters {
			if (byContext && cl.Context == a.context) || (!byContext && cl.Site == a.context) {
				a.leader = cl
				return nil
			}
		}
	}
	var known []string
	for _, cl := range clusters {
		known = append(known, cl.Context)
	}
	slices.Sort(known)
	if len(known) == 0 {
		return lineErr(file, a.line, "amko context %q: this stanza watches no Kubernetes cluster; add the kubeconfig that has it", a.context)
	}
	return lineErr(file, a.line, "amko context %q is not a member context of this stanza; the contexts are: %s", a.context, strings.Join(known, ", "))
}

// newAmko builds the AMKO policy source from the parsed stanza.
func newAmko(cfg *config, inZone kube.InZone, store *model.Store) (*amko.Source, error) {
	env := amko.Env{
		InZone:        inZone,
		Zones:         cfg.zones,
		Weights:       cfg.policy.weights,
		DefaultWeight: cfg.defaults.Weight.V,
		Selector:      cfg.selector,
	}
	for _, c := range cfg.clusters {
		env.Sites = append(env.Sites, amko.Site{Name: c.Site, Context: c.Context})
	}
	// Third-party members are probed like AMKO's monitors of them: HTTP on
	// 80 by default, the forced health_check when there is one, none when
	// the Corefile says `health_check none`.
	switch cfg.health.mode {
	case healthForced:
		env.ThirdPartyCheck = cfg.health.check
	case healthNone:
	default:
		env.ThirdPartyCheck = model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}
	}
	return amko.New(amko.Config{
		Leader:         cfg.amko.leader,
		Namespace:      cfg.amko.namespace,
		Status:         cfg.amko.status,
		Clusters:       cfg.clusters,
		Env:            env,
		StartupTimeout: cfg.startupTimeout,
	}, store)
}
