// Package owner decides which namespaces may publish which names: the
// Corefile's owner rules, and first claim for the names no rule covers. It
// sits between the model's store and the table builder, so that the records
// of an object that may not publish a name never reach health checks or
// answers.
package owner

import (
	"fmt"
	"strings"

	"github.com/gslb/gslb/plugin/model"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Owner is a namespace allowed to publish a name: in one member cluster
// (Site) or, with Site empty, in every cluster (namespace sameness).
type Owner struct {
	Site, Namespace string
}

// ParseOwner reads NAMESPACE or SITE/NAMESPACE.
func ParseOwner(s string) (Owner, error) {
	site, ns, ok := strings.Cut(s, "/")
	if !ok {
		site, ns = "", s
	}
	// A namespace's name is a DNS-1123 label.
	if ok && site == "" || len(validation.IsDNS1123Label(ns)) > 0 {
		return Owner{}, fmt.Errorf("%q is not a namespace or SITE/NAMESPACE", s)
	}
	return Owner{Site: site, Namespace: ns}, nil
}

func (o Owner) String() string {
	if o.Site == "" {
		return o.Namespace
	}
	return o.Site + "/" + o.Namespace
}

// allows tells whether an object of claim c is this owner's.
func (o Owner) allows(c *model.Claim) bool {
	return c.Namespace == o.Namespace && (o.Site == "" || o.Site == c.Site)
}

// Rules map names and wildcard patterns to their owners. The most specific
// rule covering a name decides: its exact name, else the wildcard of the
// nearest parent ("*.payroll.example." covers every name below
// payroll.example., at any depth, but not payroll.example. itself).
type Rules struct {
	exact map[string]rule
	below map[string]rule // wildcard rules by the name they cover below
}

type rule struct {
	pattern string
	owners  []Owner
}

// Add adds the rule that pattern (a fully-qualified, lower-case name, or
// "*." and one) belongs to owners. A pattern given twice is an error.
func (r *Rules) Add(pattern string, owners []Owner) error {
	if r.exact == nil {
		r.exact, r.below = map[string]rule{}, map[string]rule{}
	}
	m, key := r.exact, pattern
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		m, key = r.below, rest
	}
	if _, dup := m[key]; dup {
		return fmt.Errorf("%s has an owner rule already: list every owner on one line", pattern)
	}
	m[key] = rule{pattern: pattern, owners: owners}
	return nil
}

// Len is the number of rules.
func (r *Rules) Len() int { return len(r.exact) + len(r.below) }

// lookup returns the rule covering name, if any.
func (r *Rules) lookup(name string) (rule, bool) {
	if r.Len() == 0 {
		return rule{}, false
	}
	if ru, ok := r.exact[name]; ok {
		return ru, true
	}
	// Each parent, nearest first. Kubernetes host names have no escaped
	// dots ("\."), so every dot ends a label here.
	for off := strings.IndexByte(name, '.') + 1; off > 0 && off < len(name); {
		if ru, ok := r.below[name[off:]]; ok {
			return ru, true
		}
		j := strings.IndexByte(name[off:], '.')
		if j < 0 {
			break
		}
		off += j + 1
	}
	return rule{}, false
}

func (ru rule) allows(c *model.Claim) bool {
	for _, o := range ru.owners {
		if o.allows(c) {
			return true
		}
	}
	return false
}

func (ru rule) ownerList() string {
	parts := make([]string, len(ru.owners))
	for i, o := range ru.owners {
		parts[i] = o.String()
	}
	return strings.Join(parts, " ")
}
