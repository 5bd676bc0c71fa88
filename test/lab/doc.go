// Package lab runs throw-away Kubernetes control planes on loopback for the
// gslb plugin's integration tests and demo.
//
// Each "cluster" is a real etcd process plus a real kube-apiserver process,
// both built from the versions Kubernetes pins (see test/kubebin) and cached
// under <repo>/.cache/kube/<version>/. There is no controller-manager,
// scheduler or kubelet: objects are stored and served exactly as a real
// apiserver would (validation, defaulting, RBAC, status subresources, watch),
// which is all a DNS plugin that watches Ingresses and Services needs. The
// practical consequences: namespaces
// never finish terminating, no EndpointSlices or service-account tokens are
// made, and nothing is garbage-collected, so tests should use fresh names.
//
// Everything listens on 127.0.0.1 only. Children run in their own process
// group with a parent-death signal, and every lab directory records the pids
// it started, so that a test killed half-way leaves nothing running: the next
// Start cleans up what a dead owner left behind.
//
// Typical use in a test:
//
//	l := lab.StartT(t, 2)
//	a := l.Clusters[0].Clientset()
//	if err := lab.SeedOnlineshop(ctx, a, lab.SeedVIP(0)); err != nil { ... }
package lab
