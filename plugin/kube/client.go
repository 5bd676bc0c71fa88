package kube

import (
	"github.com/gslb/gslb/plugin/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// ClientConfig is a copy of rc for one of gslb's clients: every client of
// every cluster (watchers, AMKO's objects, namespaces) says who it is.
func ClientConfig(rc *rest.Config) *rest.Config {
	c := rest.CopyConfig(rc)
	c.UserAgent = model.UserAgent
	return c
}

// StripManagedFields is the informer transform of every object gslb caches:
// informers keep objects whole, managed fields are often their bulk, and gslb
// never reads them.
func StripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
