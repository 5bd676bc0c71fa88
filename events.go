package gslb

import (
	"fmt"
	"strings"

	"github.com/gslb/gslb/plugin/kube"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/owner"
	"github.com/gslb/gslb/plugin/status"
	corev1 "k8s.io/api/core/v1"
)

// memberEvent records, on the Ingresses and Services that publish a member,
// that its health verdict flipped (the `events` property): the app team
// sees it in `kubectl describe`. It runs on the table builder's goroutine
// and only reads memory; client-go's recorder sends, aggregates and
// rate-limits in the background.
func (g *GSLB) memberEvent(name string, r model.Record, up bool) {
	keys := g.store.Objects(name, r.Member)
	fqdn := strings.TrimSuffix(name, ".")
	addr := memberAddr(r.Member)
	eventtype, reason := corev1.EventTypeNormal, kube.ReasonMemberUp
	msg := fmt.Sprintf("gslb: member %s of %s at site %s is up again: back in the answers", addr, fqdn, r.Member.Site)
	if !up {
		eventtype, reason = corev1.EventTypeWarning, kube.ReasonMemberDown
		why := "its health inputs say so"
		for _, in := range g.status.inputs(r, keys) {
			if in.Verdict == status.StateDown {
				why = in.Input + ": " + in.Detail
				break
			}
		}
		msg = fmt.Sprintf("gslb: member %s of %s at site %s is down (%s): the answers leave it out until it recovers", addr, fqdn, r.Member.Site, why)
	}
	for _, key := range keys {
		g.recordEvent(key, eventtype, reason, msg)
	}
}

// recordEvent records a Kubernetes Event on the object of store key
// (kube/SITE/KIND/NAMESPACE/NAME) in its cluster, when events are on.
func (g *GSLB) recordEvent(key, eventtype, reason, message string) {
	for _, s := range g.sources {
		if c, ok := s.(clusterSource); ok && strings.HasPrefix(key, "kube/"+c.Site()+"/") {
			c.Event(key, eventtype, reason, message)
			return
		}
	}
}

// ownershipEvent records a name ownership conflict on the object that may
// not publish the name, when it starts.
func (g *GSLB) ownershipEvent(c owner.Conflict, active bool) {
	if active {
		g.recordEvent(c.Key, corev1.EventTypeWarning, kube.ReasonNameConflict, "gslb: "+c.Message())
	}
}
