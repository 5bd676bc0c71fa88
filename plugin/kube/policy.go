package kube

import (
	"net/netip"

	"github.com/gslb/gslb/plugin/model"
)

// Policy is an optional layer between the selected objects and the store:
// a further filter on which objects are GSLB services, and settings that sit
// between the Corefile's defaults and the objects' annotations. plugin/amko
// implements it with AMKO's GlobalDeploymentPolicy and GSLBHostRules.
//
// It is asked on every evaluation of an object, so it must be cheap and safe
// for concurrent use. When its answers change, its owner calls Resync on the
// watchers so every object is evaluated again.
type Policy interface {
	// Publish tells whether the object of site, in namespace with labels,
	// is published at all.
	Publish(site, namespace string, labels map[string]string) bool
	// Layer returns the settings for the members of fqdn at site.
	Layer(site, fqdn string) Layer
}

// Layer is what a Policy says about one name at one site.
type Layer struct {
	// Overrides sit under the object's annotations, which win field by
	// field (model.Overrides.Over); what neither sets falls through to the
	// Corefile.
	Overrides model.Overrides
	// NoProbe turns the default probe off (AMKO's controlPlaneHmOnly): the
	// member is then up unless its cluster is gone or a source says down.
	// A gslb.io/health-check annotation still turns probing back on.
	NoProbe bool
	// PublicIP, when valid, is the public address of the site's members of
	// the same family (AMKO's publicIP: a VIP behind NAT): answered to
	// clients outside the private networks; the VIP stays the member's
	// address, probed and answered inside them.
	PublicIP netip.Addr
}

// applyLayer layers the policy over what one object of site contributes.
// It returns the names the policy leaves unprobed, for which endpoint
// readiness stays a health input whatever the Corefile says.
func applyLayer(ex *Extracted, p Policy, site string) map[string]bool {
	layers := map[string]Layer{}
	var noProbe map[string]bool
	for i := range ex.Records {
		r := &ex.Records[i]
		l, ok := layers[r.FQDN]
		if !ok {
			l = p.Layer(site, r.FQDN)
			layers[r.FQDN] = l
		}
		r.Overrides = r.Overrides.Over(l.Overrides)
		if r.Member.IsAlias() {
			continue
		}
		if l.NoProbe {
			r.Check = ex.Check.Apply(model.Check{})
			if noProbe == nil {
				noProbe = map[string]bool{}
			}
			noProbe[r.FQDN] = true
		}
		if l.PublicIP.IsValid() && l.PublicIP.Is4() == r.Member.Addr.Is4() {
			r.Public = l.PublicIP
		}
	}
	return noProbe
}
