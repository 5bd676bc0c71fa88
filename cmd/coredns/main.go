package main

import (
	_ "github.com/coredns/coredns/core/plugin"
	"github.com/coredns/coredns/coremain"
	_ "github.com/vmware/alb-sdk/go/clients"
	_ "k8s.io/client-go/kubernetes"
)

func main() { coremain.Run() }
