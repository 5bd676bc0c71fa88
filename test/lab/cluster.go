package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Client rate limits for RESTConfig. client-go's defaults (5 QPS, burst 10)
// would make seeding a thousand objects take minutes; a loopback apiserver
// handles this easily.
const (
	ClientQPS   = 200
	ClientBurst = 400
)

// Cluster is one etcd + kube-apiserver pair. Its name, ports, certificates
// and etcd data survive Stop/Start, so clients and kubeconfigs stay valid
// across an outage.
type Cluster struct {
	Name         string // e.g. "sitea-tkg-wld01"
	Site         string // e.g. "sitea"
	User         string // kubeconfig user, e.g. "sitea-tkg-wld01-admin"
	Context      string // kubeconfig context, e.g. "sitea-tkg-wld01-admin@sitea-tkg-wld01"
	APIServerURL string // e.g. "https://127.0.0.1:41234"

	dir          string
	ports        clusterPorts
	pki          *pki
	files        pkiFiles
	bins         Binaries
	log          io.Writer
	readyTimeout time.Duration
	stopGrace    time.Duration
	recordPID    func(cluster, name string, pid int) // pid 0: no longer running
	audit        bool                                // Options.AuditLog

	mu        sync.Mutex // serialises Start/Stop
	etcd      *process
	apiserver *process
}

// ClusterName is the name of the i-th (0-based) lab cluster, modelled on
// Tanzu workload clusters: sitea-tkg-wld01, siteb-tkg-wld01, ...
func ClusterName(i int) string { return SiteName(i) + "-tkg-wld01" }

// SiteName is the site of the i-th (0-based) cluster: sitea, siteb, ...
func SiteName(i int) string { return "site" + string(rune('a'+i)) }

func newCluster(i int, labDir string, ports clusterPorts, opts Options, bins Binaries, record func(string, string, int)) (*Cluster, error) {
	name := ClusterName(i)
	c := &Cluster{
		Name:         name,
		Site:         SiteName(i),
		User:         name + "-admin",
		Context:      name + "-admin@" + name,
		dir:          filepath.Join(labDir, name),
		bins:         bins,
		log:          opts.Log,
		readyTimeout: opts.ReadyTimeout,
		stopGrace:    opts.StopGrace,
		recordPID:    record,
		audit:        opts.AuditLog,
	}
	c.setPorts(ports)
	if err := c.ensureDirs(); err != nil {
		return nil, fmt.Errorf("creating directories for %s: %w", name, err)
	}
	var err error
	if c.pki, err = newPKI(name); err != nil {
		return nil, err
	}
	if c.files, err = c.pki.write(filepath.Join(c.dir, "pki")); err != nil {
		return nil, fmt.Errorf("writing certificates for %s: %w", name, err)
	}
	return c, nil
}

func (c *Cluster) setPorts(p clusterPorts) {
	c.ports = p
	c.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(p.apiserver)
}

// APIServerLog and EtcdLog are the files the processes log to.
func (c *Cluster) APIServerLog() string { return filepath.Join(c.dir, "kube-apiserver.log") }
func (c *Cluster) EtcdLog() string      { return filepath.Join(c.dir, "etcd.log") }

// AuditLog is the kube-apiserver's audit log (JSON lines, one event per
// request), written only with Options.AuditLog.
func (c *Cluster) AuditLog() string { return filepath.Join(c.dir, "audit.log") }

// auditPolicy records every request's metadata once, when it completes.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`

// EtcdURL is the etcd client URL (plain HTTP on loopback).
func (c *Cluster) EtcdURL() string { return "http://127.0.0.1:" + strconv.Itoa(c.ports.etcdClient) }

// CAData is the PEM CA that signed the serving and client certificates.
func (c *Cluster) CAData() []byte { return c.pki.caPEM }

// AdminToken is a bearer token for kube-admin (group system:masters),
// accepted through --token-auth-file.
func (c *Cluster) AdminToken() string { return c.pki.adminToken }

// APIServerPID and EtcdPID return the running processes' pids (each is also
// its process group), or 0 if not running. Killing the apiserver pid takes
// the site's API away while etcd keeps the data.
func (c *Cluster) APIServerPID() int { return c.pidOf(func() *process { return c.apiserver }) }
func (c *Cluster) EtcdPID() int      { return c.pidOf(func() *process { return c.etcd }) }

func (c *Cluster) pidOf(get func() *process) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := get(); p != nil && !p.exited() {
		return p.pid()
	}
	return 0
}

// Running reports whether both processes are up (not whether they are ready).
func (c *Cluster) Running() bool { return c.APIServerPID() != 0 && c.EtcdPID() != 0 }

// RESTConfig returns a new admin (client-certificate) config with raised
// rate limits. It never uses a proxy: the lab only talks to 127.0.0.1.
func (c *Cluster) RESTConfig() *rest.Config {
	return c.restConfig(rest.TLSClientConfig{CAData: c.pki.caPEM, CertData: c.pki.adminCert, KeyData: c.pki.adminKey}, "")
}

// RESTConfigForToken authenticates with a bearer token instead of a client
// certificate; with an unknown token every request gets 401.
func (c *Cluster) RESTConfigForToken(token string) *rest.Config {
	return c.restConfig(rest.TLSClientConfig{CAData: c.pki.caPEM}, token)
}

// RESTConfigForUser mints a client certificate for user in groups, for
// testing what a non-admin identity may do under RBAC.
func (c *Cluster) RESTConfigForUser(user string, groups ...string) (*rest.Config, error) {
	cert, key, err := c.pki.issueClientCert(user, groups...)
	if err != nil {
		return nil, fmt.Errorf("issuing a client certificate for %q on %s: %w", user, c.Name, err)
	}
	return c.restConfig(rest.TLSClientConfig{CAData: c.pki.caPEM, CertData: cert, KeyData: key}, ""), nil
}

func (c *Cluster) restConfig(tls rest.TLSClientConfig, token string) *rest.Config {
	return &rest.Config{
		Host:            c.APIServerURL,
		TLSClientConfig: tls,
		BearerToken:     token,
		QPS:             ClientQPS,
		Burst:           ClientBurst,
		Proxy:           func(*http.Request) (*url.URL, error) { return nil, nil },
	}
}

// Clientset returns an admin clientset built from RESTConfig. Building it
// can only fail on a malformed config, which the lab never produces, so it
// panics rather than burden every caller with an impossible error.
func (c *Cluster) Clientset() *kubernetes.Clientset {
	return kubernetes.NewForConfigOrDie(c.RESTConfig())
}

// Start starts whichever of etcd and kube-apiserver is not running, on the
// cluster's ports and data, and waits until /readyz answers 200. On failure
// it stops what it started and returns an error quoting the failing
// process's log.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.readyTimeout)
	defer cancel()

	if c.etcd == nil || c.etcd.exited() {
		if err := c.startEtcd(ctx); err != nil {
			c.stopLocked(0)
			return err
		}
	}
	if c.apiserver == nil || c.apiserver.exited() {
		if err := c.startAPIServer(ctx); err != nil {
			c.stopLocked(0)
			return err
		}
	}
	fmt.Fprintf(c.log, "cluster %s ready on %s in %.1fs\n", c.Name, c.APIServerURL, time.Since(begin).Seconds())
	return nil
}

// Stop takes the whole site down: kube-apiserver first (so it does not
// spend its shutdown retrying a vanished etcd), then etcd. Each gets SIGTERM
// and, after the stop grace (default 5 s), SIGKILL.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	begin := time.Now()
	c.stopLocked(c.stopGrace)
	fmt.Fprintf(c.log, "cluster %s stopped in %.1fs\n", c.Name, time.Since(begin).Seconds())
}

// StopAPIServer stops only kube-apiserver, leaving etcd running: the
// shorter "API unavailable" outage. Start brings it back.
func (c *Cluster) StopAPIServer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver != nil {
		c.apiserver.stop(c.stopGrace)
		c.recordPID(c.Name, "kube-apiserver", 0)
	}
	fmt.Fprintf(c.log, "cluster %s: kube-apiserver stopped\n", c.Name)
}

// kill stops everything at once; used for teardown, where graceful shutdown
// buys nothing because the data is deleted next.
func (c *Cluster) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(0)
}

func (c *Cluster) stopLocked(grace time.Duration) {
	if c.apiserver != nil {
		c.apiserver.stop(grace)
		c.recordPID(c.Name, "kube-apiserver", 0)
	}
	if c.etcd != nil {
		c.etcd.stop(grace)
		c.recordPID(c.Name, "etcd", 0)
	}
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	if err := checkPortFree(c.ports.etcdClient, "etcd client port of "+c.Name); err != nil {
		return err
	}
	if err := checkPortFree(c.ports.etcdPeer, "etcd peer port of "+c.Name); err != nil {
		return err
	}
	p, err := startProcess("etcd", c.bins.Etcd, c.etcdArgs(), c.EtcdLog())
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	c.etcd = p
	c.recordPID(c.Name, "etcd", p.pid())
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	return c.waitFor(ctx, p, c.EtcdURL()+"/health", client)
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	if err := checkPortFree(c.ports.apiserver, "kube-apiserver port of "+c.Name); err != nil {
		return err
	}
	p, err := startProcess("kube-apiserver", c.bins.APIServer, c.apiserverArgs(), c.APIServerLog())
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	c.apiserver = p
	c.recordPID(c.Name, "kube-apiserver", p.pid())
	// /readyz needs credentials because anonymous auth is off.
	client, err := rest.HTTPClientFor(c.RESTConfig())
	if err != nil {
		return err
	}
	client.Timeout = 2 * time.Second
	return c.waitFor(ctx, p, c.APIServerURL+"/readyz", client)
}

// waitFor polls url until it answers 200. It gives up at once if the
// process exits, and at the deadline; either way the error carries the end
// of the process's log, which is where the real cause is.
func (c *Cluster) waitFor(ctx context.Context, p *process, url string, client *http.Client) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return c.processFailed(p, fmt.Sprintf("%s %s before it became ready", p.name, p.exitSummary()))
		case <-ctx.Done():
			why := "was not ready"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = fmt.Sprintf("was not ready within %s (Options.ReadyTimeout)", c.readyTimeout)
			}
			return c.processFailed(p, fmt.Sprintf("%s %s; last answer from %s: %s", p.name, why, url, last))
		case <-tick.C:
		}
	}
}

func (c *Cluster) processFailed(p *process, what string) error {
	tail := logTail(p.logPath, 30)
	err := fmt.Errorf("cluster %s: %s\nlog %s ends with:\n%s", c.Name, what, p.logPath, tail)
	if strings.Contains(tail, "address already in use") {
		return &portInUseError{msg: err.Error()}
	}
	return err
}

func (c *Cluster) etcdArgs() []string {
	peer := "http://127.0.0.1:" + strconv.Itoa(c.ports.etcdPeer)
	return []string{
		"--name=" + c.Name,
		"--data-dir=" + filepath.Join(c.dir, "etcd-data"),
		"--listen-client-urls=" + c.EtcdURL(),
		"--advertise-client-urls=" + c.EtcdURL(),
		// Distinct peer URLs per etcd: the default :2380 would collide
		// between clusters and is not loopback-only.
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + c.Name + "=" + peer,
		"--initial-cluster-token=" + c.Name,
		"--listen-metrics-urls=",
		// Lab data is disposable; skipping fsync keeps a 2-core machine's
		// disk out of every write's latency.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

func (c *Cluster) apiserverArgs() []string {
	args := []string{
		"--etcd-servers=" + c.EtcdURL(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.apiserver),
		"--cert-dir=" + filepath.Join(c.dir, "apiserver-certs"),
		"--tls-cert-file=" + c.files.servingCert,
		"--tls-private-key-file=" + c.files.servingKey,
		"--client-ca-file=" + c.files.caCert,
		"--token-auth-file=" + c.files.tokens,
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + c.files.saPublic,
		"--service-account-signing-key-file=" + c.files.saPrivate,
		"--service-cluster-ip-range=10.96.0.0/16",
		// Loopback is not a valid endpoint for the "kubernetes" Service.
		"--endpoint-reconciler-type=none",
		// No controller-manager mints service-account tokens here.
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
		// Without it SIGTERM waits up to 60 s for open watches to end.
		"--shutdown-send-retry-after=true",
	}
	if c.audit {
		args = append(args,
			"--audit-policy-file="+filepath.Join(c.dir, "audit-policy.yaml"),
			"--audit-log-path="+c.AuditLog(),
			"--audit-log-mode=blocking")
	}
	return args
}

// portInUseError marks a start failure caused by a taken port, which Start
// retries with other ports when it chose them itself.
type portInUseError struct{ msg string }

func (e *portInUseError) Error() string { return e.msg }

// ensureDirs creates the per-cluster directories the processes expect.
func (c *Cluster) ensureDirs() error {
	for _, d := range []string{c.dir, filepath.Join(c.dir, "apiserver-certs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if c.audit {
		return os.WriteFile(filepath.Join(c.dir, "audit-policy.yaml"), []byte(auditPolicy), 0o600)
	}
	return nil
}
