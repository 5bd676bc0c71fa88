package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// MaxClusters is the number of sites the naming scheme (sitea..sitez) allows.
const MaxClusters = 26

// KubeconfigName is the merged kubeconfig's file name inside the lab dir,
// named like the AMKO secret it stands in for.
const KubeconfigName = "gslb-members"

// Defaults for Options.
const (
	DefaultReadyTimeout = 90 * time.Second
	DefaultStopGrace    = 5 * time.Second
)

// startAttempts bounds retries when a port the lab chose itself was grabbed
// by someone else before the child could bind it.
const startAttempts = 3

// Options tune Start. The zero value is ready to use.
type Options struct {
	// Dir is the lab directory. Empty: a new os.TempDir()/gslb-lab-*
	// directory. Either way Close removes it.
	Dir string
	// BasePort, if non-zero, puts cluster i on BasePort+3i (apiserver),
	// +1 (etcd client) and +2 (etcd peer), for predictable demo URLs. Zero
	// picks free ports.
	BasePort int
	// Log receives short progress lines; nil discards them.
	Log io.Writer
	// ReadyTimeout bounds each cluster's (re)start; default 90 s.
	ReadyTimeout time.Duration
	// StopGrace is how long Cluster.Stop waits after SIGTERM before
	// SIGKILL; default 5 s.
	StopGrace time.Duration
	// Binaries, if set, skips EnsureBinaries.
	Binaries *Binaries
	// AuditLog makes each kube-apiserver write an audit log (metadata of
	// every request, with user and response code) to Cluster.AuditLog, so
	// that a test can prove which requests were forbidden, and to whom.
	AuditLog bool
}

func (o *Options) setDefaults() {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
}

// Lab is a set of running clusters sharing one directory and one kubeconfig.
type Lab struct {
	Dir        string // absolute lab directory
	Kubeconfig string // merged kubeconfig, one context per cluster
	Binaries   Binaries
	Clusters   []*Cluster

	log   io.Writer
	owner owner

	mu       sync.Mutex // guards children, closed and the pids file
	children map[string]childPID
	closed   bool
}

// Start runs n clusters (etcd + kube-apiserver each) concurrently and
// returns once every /readyz answers, with the merged kubeconfig written.
// On error nothing is left running; the directory is kept for its logs.
func Start(ctx context.Context, n int, opts Options) (*Lab, error) {
	if n < 1 || n > MaxClusters {
		return nil, fmt.Errorf("lab: %d clusters requested; between 1 and %d are supported", n, MaxClusters)
	}
	opts.setDefaults()
	begin := time.Now()

	if err := CleanStaleLabs(opts.Log); err != nil {
		fmt.Fprintf(opts.Log, "lab: warning: cleaning stale labs: %v\n", err)
	}
	var bins Binaries
	if opts.Binaries != nil {
		bins = *opts.Binaries
		if m := bins.missing(); len(m) > 0 {
			return nil, fmt.Errorf("lab: Options.Binaries: %s missing or not executable in %s; leave Options.Binaries nil to have them built, or run `go run ./test/lab/cmd/gslb-lab build`",
				strings.Join(m, ", "), bins.Dir)
		}
	} else {
		var err error
		if bins, err = EnsureBinaries(ctx, opts.Log); err != nil {
			return nil, err
		}
	}

	dir, err := prepareDir(opts.Dir, opts.Log)
	if err != nil {
		return nil, err
	}
	l := &Lab{
		Dir:        dir,
		Kubeconfig: filepath.Join(dir, KubeconfigName),
		Binaries:   bins,
		log:        opts.Log,
		owner:      self(),
		children:   map[string]childPID{},
	}
	if err := l.writePIDsLocked(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lab: writing %s: %w", filepath.Join(dir, pidsFileName), err)
	}

	if err := l.startClusters(ctx, n, opts, bins); err != nil {
		return nil, l.abort(err)
	}
	if err := writeKubeconfig(l.Kubeconfig, l.Clusters); err != nil {
		return nil, l.abort(fmt.Errorf("lab: writing kubeconfig %s: %w", l.Kubeconfig, err))
	}
	fmt.Fprintf(opts.Log, "lab: %d cluster(s) ready in %.1fs; kubeconfig %s\n", n, time.Since(begin).Seconds(), l.Kubeconfig)
	return l, nil
}

// prepareDir returns an absolute, empty lab directory. A caller-chosen
// directory may be reused when it holds a lab whose owner died; it is
// refused when its owner still runs or when it is not a lab directory at all,
// because Close deletes it.
func prepareDir(dir string, log io.Writer) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", labDirPrefix)
		if err != nil {
			return "", fmt.Errorf("lab: creating a directory in %s: %w", os.TempDir(), err)
		}
		return d, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("lab: reading %s: %w", abs, err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(abs, pidsFileName)); err != nil {
			return "", fmt.Errorf("lab: %s is not empty and is not a lab directory (no %s file); since the lab deletes its directory on exit, remove it yourself or choose another directory", abs, pidsFileName)
		}
		if err := cleanIfStale(abs, log); err != nil {
			if errors.Is(err, errLabInUse) {
				return "", fmt.Errorf("lab: %v; stop that lab first or choose another directory", err)
			}
			return "", err
		}
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("lab: creating %s: %w", abs, err)
	}
	return abs, nil
}

func (l *Lab) startClusters(ctx context.Context, n int, opts Options, bins Binaries) error {
	ports := make([]clusterPorts, n)
	if opts.BasePort > 0 {
		// Check every port before starting anything, so a taken port
		// fails in milliseconds with its name rather than mid-way.
		for i := range ports {
			ports[i] = fixedPorts(opts.BasePort, i)
			for _, pr := range []struct {
				port int
				role string
			}{{ports[i].apiserver, "kube-apiserver"}, {ports[i].etcdClient, "etcd client"}, {ports[i].etcdPeer, "etcd peer"}} {
				if err := checkPortFree(pr.port, pr.role+" port of "+ClusterName(i)); err != nil {
					return err
				}
			}
		}
	} else {
		free, err := freePorts(n * portsPerCluster)
		if err != nil {
			return err
		}
		for i := range ports {
			ports[i] = clusterPorts{apiserver: free[3*i], etcdClient: free[3*i+1], etcdPeer: free[3*i+2]}
		}
	}

	for i := 0; i < n; i++ {
		c, err := newCluster(i, l.Dir, ports[i], opts, bins, l.recordPID)
		if err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		l.Clusters = append(l.Clusters, c)
	}

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, c := range l.Clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = startWithRetry(ctx, c, opts.BasePort == 0)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startWithRetry starts c, moving it to fresh ports if one it was given
// got taken in the meantime (only when the lab picked the ports itself: a
// user's fixed ports are never silently changed).
func startWithRetry(ctx context.Context, c *Cluster, mayMove bool) error {
	for attempt := 1; ; attempt++ {
		err := c.Start(ctx)
		var pe *portInUseError
		if err == nil || !mayMove || attempt == startAttempts || !errors.As(err, &pe) || ctx.Err() != nil {
			return err
		}
		free, ferr := freePorts(portsPerCluster)
		if ferr != nil {
			return errors.Join(err, ferr)
		}
		fmt.Fprintf(c.log, "cluster %s: a port was taken before it could bind; retrying on other ports\n", c.Name)
		c.setPorts(clusterPorts{apiserver: free[0], etcdClient: free[1], etcdPeer: free[2]})
	}
}

// recordPID keeps the pids file current so a later run can clean up after
// us if we die without Close.
func (l *Lab) recordPID(cluster, name string, pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := cluster + "/" + name
	if pid == 0 {
		delete(l.children, key)
	} else {
		l.children[key] = childPID{pid: pid, cluster: cluster, name: name}
	}
	if !l.closed {
		if err := l.writePIDsLocked(); err != nil {
			fmt.Fprintf(l.log, "lab: warning: updating %s: %v\n", filepath.Join(l.Dir, pidsFileName), err)
		}
	}
}

func (l *Lab) writePIDsLocked() error {
	keys := make([]string, 0, len(l.children))
	for k := range l.children {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	list := make([]childPID, 0, len(keys))
	for _, k := range keys {
		list = append(list, l.children[k])
	}
	return writePIDs(l.Dir, l.owner, list)
}

// Cluster returns the cluster with the given name or site, or nil.
func (l *Lab) Cluster(nameOrSite string) *Cluster {
	for _, c := range l.Clusters {
		if c.Name == nameOrSite || c.Site == nameOrSite {
			return c
		}
	}
	return nil
}

// abort stops every process after a failed Start but keeps the directory,
// because the error points at log files in it. The pids file still names
// this process as owner, so the first lab started after it exits removes
// the directory.
func (l *Lab) abort(cause error) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.killAll()
	return fmt.Errorf("%w\n(logs kept in %s; a later lab start cleans it up once this process has exited)", cause, l.Dir)
}

func (l *Lab) killAll() {
	var wg sync.WaitGroup
	for _, c := range l.Clusters {
		wg.Add(1)
		go func() { defer wg.Done(); c.kill() }()
	}
	wg.Wait()
}

// Close kills every process of the lab (SIGKILL to each process group: the
// data is about to be deleted, so a graceful stop buys nothing) and removes
// the lab directory. It is safe to call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	l.killAll()
	if err := os.RemoveAll(l.Dir); err != nil {
		return fmt.Errorf("lab: removing %s: %w", l.Dir, err)
	}
	fmt.Fprintf(l.log, "lab: stopped %d cluster(s) and removed %s\n", len(l.Clusters), l.Dir)
	return nil
}
