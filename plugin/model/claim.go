package model

import (
	"slices"
	"time"
)

// Claim says which Kubernetes object published a set of names, so that
// ownership rules can decide whether its records may be answered. Records
// stored without a claim (static Corefile members, the Avi controller's GSLB
// services, AMKO's third-party members) come from the operator's own
// configuration: no namespace owns them, and they are always answered.
type Claim struct {
	// Site is the member cluster the object lives in.
	Site string
	// Kind ("ingress", "service"), Namespace and Name identify the object
	// in its cluster, for messages and for events on it.
	Kind, Namespace, Name string
	// Created is the object's creationTimestamp. Under first-claim
	// ownership the namespace of the earliest object claiming a name owns
	// it: a fact every gslb server reads alike, before and after a restart.
	Created time.Time
	// Names are the names the object claims, sorted: every host it names
	// inside the zones, whether or not it has a member yet (an Ingress
	// waiting for its VIP already holds its names).
	Names []string
}

// Equal tells whether two claims say the same.
func (c *Claim) Equal(o *Claim) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Site == o.Site && c.Kind == o.Kind && c.Namespace == o.Namespace && c.Name == o.Name &&
		c.Created.Equal(o.Created) && slices.Equal(c.Names, o.Names)
}

// Object names the claiming object for messages: "ingress shop/web in site a".
func (c *Claim) Object() string {
	return c.Kind + " " + c.Namespace + "/" + c.Name + " in site " + c.Site
}

// Publisher is one object's part in a name: its claim (nil for operator
// configured sources) and its records of that name (none while a claimed
// host has no member yet). The slices are shared: read, never modify.
type Publisher struct {
	Key     string
	Claim   *Claim
	Records []Record
}
