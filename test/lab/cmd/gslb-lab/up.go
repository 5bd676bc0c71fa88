package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gslb/gslb/test/lab"
)

type upFlags struct {
	clusters     int
	seed         bool
	dir          string
	basePort     int
	readyFile    string
	seconds      int
	readyTimeout time.Duration
}

func parseUp(args []string) (upFlags, error) {
	var f upFlags
	fs := flag.NewFlagSet("gslb-lab up", flag.ContinueOnError)
	fs.IntVar(&f.clusters, "clusters", 2, "number of clusters (sites a, b, ...)")
	fs.BoolVar(&f.seed, "seed", false, "create the onlineshop Ingress in every cluster, site i with VIP 172.(26+i).17.21")
	fs.StringVar(&f.dir, "dir", "", "lab directory (deleted on exit); empty: a new one under "+os.TempDir())
	fs.IntVar(&f.basePort, "base-port", envInt(lab.EnvBasePort), "cluster i uses ports base+3i (apiserver), +1, +2 (etcd); 0: free ports (default $"+lab.EnvBasePort+")")
	fs.StringVar(&f.readyFile, "ready-file", "", "write KEY=VALUE lines (KUBECONFIG, KUBECTL, CONTEXT_i, APISERVER_i, ...) here once ready; removed on exit")
	fs.IntVar(&f.seconds, "seconds", 0, "tear down after this many seconds; 0: run until SIGINT/SIGTERM")
	fs.DurationVar(&f.readyTimeout, "ready-timeout", lab.DefaultReadyTimeout, "how long each cluster may take to become ready")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("up: unexpected arguments %v", fs.Args())
	}
	return f, nil
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func up(ctx context.Context, args []string) error {
	f, err := parseUp(args)
	if err != nil {
		return err
	}
	// Subscribe before starting so a USR1 during startup is not fatal
	// (its default action would terminate us).
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)

	l, err := lab.Start(ctx, f.clusters, lab.Options{Dir: f.dir, BasePort: f.basePort, Log: os.Stderr, ReadyTimeout: f.readyTimeout})
	if err != nil {
		return err
	}
	defer func() {
		if f.readyFile != "" {
			os.Remove(f.readyFile)
		}
		if err := l.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "gslb-lab: %v\n", err)
		}
	}()

	if f.seed {
		for i, c := range l.Clusters {
			if err := lab.SeedOnlineshop(ctx, c.Clientset(), lab.SeedVIP(i)); err != nil {
				return fmt.Errorf("seeding %s: %w", c.Name, err)
			}
			fmt.Fprintf(os.Stderr, "seeded %s: ingress %s/%s host %s -> %s\n", c.Name, lab.OnlineshopNamespace, lab.OnlineshopIngress, lab.OnlineshopHost, lab.SeedVIP(i))
		}
	}
	if err := writeReadyFile(f.readyFile, l, f.seed); err != nil {
		return err
	}
	printSummary(l, f)

	var deadline <-chan time.Time
	if f.seconds > 0 {
		deadline = time.After(time.Duration(f.seconds) * time.Second)
	}
	watch := time.NewTicker(time.Second)
	defer watch.Stop()
	reported := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "gslb-lab: signal received, tearing down")
			return nil
		case <-deadline:
			fmt.Fprintf(os.Stderr, "gslb-lab: %d seconds elapsed, tearing down\n", f.seconds)
			return nil
		case <-usr1:
			restartStopped(ctx, l)
			clear(reported)
			if err := writeReadyFile(f.readyFile, l, f.seed); err != nil {
				fmt.Fprintf(os.Stderr, "gslb-lab: %v\n", err)
			}
		case <-watch.C:
			reportOutages(l, reported)
		}
	}
}

// reportOutages says once per outage that a site's processes went away
// (typically the user killed its apiserver) and how to bring it back.
func reportOutages(l *lab.Lab, reported map[string]bool) {
	for _, c := range l.Clusters {
		if c.Running() || reported[c.Name] {
			continue
		}
		reported[c.Name] = true
		fmt.Fprintf(os.Stderr, "gslb-lab: site %s (%s) is down; `kill -USR1 %d` starts it again\n", c.Site, c.Name, os.Getpid())
	}
}

func restartStopped(ctx context.Context, l *lab.Lab) {
	for _, c := range l.Clusters {
		if c.Running() {
			continue
		}
		if err := c.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "gslb-lab: restarting %s: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(os.Stderr, "gslb-lab: %s is back: kube-apiserver pid %d, etcd pid %d\n", c.Name, c.APIServerPID(), c.EtcdPID())
	}
}

func printSummary(l *lab.Lab, f upFlags) {
	fmt.Printf("gslb lab: %d cluster(s), directory %s (deleted on exit)\n", len(l.Clusters), l.Dir)
	fmt.Printf("  KUBECONFIG=%s\n", l.Kubeconfig)
	for _, c := range l.Clusters {
		fmt.Printf("  %-16s %-26s context %s\n", c.Name, c.APIServerURL, c.Context)
		fmt.Printf("  %-16s kube-apiserver pid %d, etcd pid %d, logs %s\n", "", c.APIServerPID(), c.EtcdPID(), c.APIServerLog())
	}
	if f.readyFile != "" {
		fmt.Printf("  environment written to %s\n", f.readyFile)
	}
	last := l.Clusters[len(l.Clusters)-1]
	fmt.Printf("try:            %s --kubeconfig %s --context %s get ingress -A\n", l.Binaries.Kubectl, l.Kubeconfig, last.Context)
	fmt.Printf("site outage:    kill %d   (stops %s's kube-apiserver; etcd keeps the data)\n", last.APIServerPID(), last.Name)
	fmt.Printf("bring it back:  kill -USR1 %d\n", os.Getpid())
	if f.seconds > 0 {
		fmt.Printf("stop the lab:   Ctrl-C or kill %d (or wait %d s)\n", os.Getpid(), f.seconds)
	} else {
		fmt.Printf("stop the lab:   Ctrl-C or kill %d\n", os.Getpid())
	}
}
