// Command gslb-pause stands in for registry.k8s.io/pause in
// kubelet-pod.sh, where no registry can be reached: a Pod sandbox's process
// only has to hold the namespaces until it is told to stop.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
