// Command etcd is the etcd server, built from the same go.etcd.io/etcd/server/v3
// release that Kubernetes pins, so the lab does not depend on a distribution's
// (older, unsupported) etcd package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
