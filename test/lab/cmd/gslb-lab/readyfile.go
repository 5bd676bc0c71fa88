package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gslb/gslb/test/lab"
)

// writeReadyFile writes KEY=VALUE lines a shell can source and make can
// include. Cluster keys are numbered from 1 (site A). It is written
// atomically, so a script polling for the file never reads half of it.
func writeReadyFile(path string, l *lab.Lab, seeded bool) error {
	if path == "" {
		return nil
	}
	var b strings.Builder
	b.WriteString("# gslb-lab up: cluster keys are numbered from 1 (site a); regenerated after kill -USR1\n")
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	kv("GSLB_LAB_PID", os.Getpid())
	kv("LAB_DIR", l.Dir)
	kv("KUBECONFIG", l.Kubeconfig)
	kv("KUBECTL", l.Binaries.Kubectl)
	kv("CLUSTERS", len(l.Clusters))
	for i, c := range l.Clusters {
		n := i + 1
		kv(fmt.Sprintf("NAME_%d", n), c.Name)
		kv(fmt.Sprintf("SITE_%d", n), c.Site)
		kv(fmt.Sprintf("CONTEXT_%d", n), c.Context)
		kv(fmt.Sprintf("APISERVER_%d", n), c.APIServerURL)
		kv(fmt.Sprintf("APISERVER_PID_%d", n), c.APIServerPID())
		kv(fmt.Sprintf("ETCD_PID_%d", n), c.EtcdPID())
		if seeded {
			kv(fmt.Sprintf("VIP_%d", n), lab.SeedVIP(i))
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := abs + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing ready file: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		return fmt.Errorf("writing ready file %s: %w", abs, err)
	}
	return nil
}
