// Command gslb-lab builds and runs the gslb test lab from a shell: real
// etcd + kube-apiserver pairs on 127.0.0.1, one per site, with one merged
// kubeconfig. It is what `make demo` uses; tests use package lab directly.
//
//	gslb-lab build                      build/cache kube-apiserver, etcd, kubectl
//	gslb-lab up [flags]                 run clusters until Ctrl-C, SIGTERM or -seconds
//	gslb-lab clean                      remove labs left behind by killed runs
//
// It never reads stdin, so it can run in the background of a script.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gslb/gslb/test/lab"
)

const usage = `usage:
  gslb-lab build    build (once) and print the kube-apiserver, etcd and kubectl paths
  gslb-lab up       start clusters; see gslb-lab up -h
  gslb-lab clean    remove lab directories whose owner process died
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "build":
		err = build(ctx)
	case "up":
		err = up(ctx, args)
	case "clean":
		err = lab.CleanStaleLabs(os.Stderr)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "gslb-lab: unknown command %q\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gslb-lab: %v\n", err)
		os.Exit(1)
	}
}

func build(ctx context.Context) error {
	bins, err := lab.EnsureBinaries(ctx, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("kube-apiserver %s\netcd %s\nkubectl %s\n", bins.APIServer, bins.Etcd, bins.Kubectl)
	return nil
}
