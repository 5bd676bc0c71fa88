//go:build tools

// tools.go keeps the binaries' main packages in go.mod so that `go mod tidy`
// does not drop them.
package kubebin

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
