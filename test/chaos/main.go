// Command chaos runs bin/coredns with the gslb plugin against the lab's
// clusters (real etcd + kube-apiserver on loopback), the Avi simulator and
// static members probed on loopback, under a steady query load at a fixed
// rate, while it injects faults one after another and then all at once:
//
//   - apiserver-kill: SIGKILL of site A's kube-apiserver, restarted later;
//   - etcd-stop: SIGSTOP of site B's etcd, SIGCONT later;
//   - avi-5xx, avi-timeout, avi-hang: the simulator answers 503, answers
//     after the client's timeout, or never;
//   - probe-flap: a probe target flapping several times a second, and
//     another (the only member of its name) down for a while;
//   - reload: SIGUSR1 (a Corefile reload) every few seconds;
//   - ingress-churn: a thousand Ingress status updates a minute (all along).
//
// Every answer is checked against the truth the driver keeps: NOERROR with
// addresses from the name's member set; SERVFAIL (down_response none) only
// while the name's only member is really down, allowing for the probes'
// detection delay. After each fault it checks that every member answers
// again and that goroutines and resident memory come back to their
// baseline. It ends with `chaos: N queries, U unexpected answers, F faults
// injected` and exits 1 when U is not 0 or a resource did not come back.
//
// Everything runs on 127.0.0.0/8. `make chaos` runs the long version,
// `make test` the short one (-short).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gslb/gslb/test/avisim"
	"github.com/gslb/gslb/test/lab"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

const (
	zone      = "gslb.sddc.lab."
	namespace = "chaos"

	// Static members, probed over HTTP on loopback.
	stableIP = "127.0.13.1" // always healthy
	flapIP   = "127.0.13.2" // flaps several times a second
	soloIP   = "127.0.13.3" // the only member of solo.; down for a while

	// Probe settings (Corefile) and the detection delays they imply.
	healthInterval = 500 * time.Millisecond
	healthTimeout  = time.Second
	healthFall     = 3
	healthRise     = 2
)

// Detection delays, with slack for a loaded machine: a member that went
// down may still be answered for lagDown; one that came back may still be
// missing (SERVFAIL for solo.) for lagUp.
var (
	lagDown = healthFall*healthInterval + healthTimeout + 4*time.Second
	lagUp   = healthRise*healthInterval + healthTimeout + 4*time.Second
)

func main() {
	coredns := flag.String("coredns", "bin/coredns", "CoreDNS binary with the gslb plugin (make build)")
	short := flag.Bool("short", false, "the short version (about a minute of faults), for make test")
	qps := flag.Int("qps", 0, "queries per second (default 300, 150 with -short)")
	keep := flag.Bool("keep", false, "keep the work directory (CoreDNS and lab logs)")
	flag.Parse()
	if *qps == 0 {
		*qps = 300
		if *short {
			*qps = 150
		}
	}
	d := &driver{short: *short, qps: *qps, coredns: *coredns}
	code := d.run(*keep)
	os.Exit(code)
}

type driver struct {
	short   bool
	qps     int
	coredns string
	dir     string

	lab  *lab.Lab
	sim  *avisim.Server
	cmd  *exec.Cmd
	dns  string // 127.0.0.1:port
	mURL string // metrics

	flap, solo atomic.Bool // probe targets failing (true: 503)
	soloTruth  truth

	churnVIP atomic.Value // site A's current churn VIP

	faults   atomic.Int64
	queries  atomic.Int64
	bad      atomic.Int64
	badLog   chan string
	failures []string // resource and recovery failures

	latMu   sync.Mutex
	lat     []time.Duration
	phase   string
	results []phaseResult
	updates atomic.Int64 // Ingress updates applied
	updErrs atomic.Int64
	// phaseBad is the unexpected count when the phase began.
	phaseBad atomic.Int64
	// downAnswers counts the SERVFAILs the policy calls for (solo. down).
	downAnswers atomic.Int64
}

type phaseResult struct {
	name                string
	queries, bad        int64
	p50, p90, p99, max  time.Duration
	goroutines, rssMiB  float64
	recovered           time.Duration
	ingressUpdatesSoFar int64
}

func (d *driver) scale(long, short time.Duration) time.Duration {
	if d.short {
		return short
	}
	return long
}

func (d *driver) logf(format string, args ...any) {
	fmt.Printf("%s chaos: %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (d *driver) run(keep bool) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; cancel() }()

	var err error
	if d.dir, err = os.MkdirTemp("", "gslb-chaos-"); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	if keep {
		d.logf("work directory %s (kept)", d.dir)
	} else {
		defer os.RemoveAll(d.dir)
	}
	d.badLog = make(chan string, 64)
	if err := d.setUp(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: setting up:", err)
		d.tearDown()
		return 2
	}
	defer d.tearDown()

	stopLoad := d.startLoad(ctx)
	stopChurn := d.startChurn(ctx)
	d.faults.Add(1) // the churn runs all along

	// Baseline: the load running, nothing failing.
	d.setPhase("baseline")
	time.Sleep(d.scale(15*time.Second, 5*time.Second))
	baseG, baseRSS := d.resources()
	d.endPhase("baseline", 0, baseG, baseRSS)

	steps := []struct {
		name string
		run  func(ctx context.Context)
	}{
		{"apiserver-kill", d.apiserverKill},
		{"etcd-stop", d.etcdStop},
		{"avi-5xx", func(ctx context.Context) { d.aviFault(ctx, avisim.Faults{Status: http.StatusServiceUnavailable}) }},
		{"avi-timeout", func(ctx context.Context) { d.aviFault(ctx, avisim.Faults{Delay: 3 * time.Second}) }},
		{"avi-hang", func(ctx context.Context) { d.aviFault(ctx, avisim.Faults{Delay: time.Hour}) }},
		{"probe-flap", d.probeFlap},
		{"reload", d.reloads},
		{"overlapping", d.overlapping},
	}
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		d.setPhase(s.name)
		d.logf("fault %s", s.name)
		s.run(ctx)
		rec := d.waitRecovered(ctx)
		g, rss := d.waitResources(ctx, s.name, baseG, baseRSS)
		d.endPhase(s.name, rec, g, rss)
	}
	stopChurn()
	stopLoad()
	d.report(baseG, baseRSS)
	if ctx.Err() != nil {
		fmt.Println("chaos: interrupted")
		return 2
	}
	if d.bad.Load() != 0 || len(d.failures) != 0 {
		return 1
	}
	return 0
}

// ---- set-up ----

func (d *driver) setUp(ctx context.Context) error {
	logf, err := os.Create(filepath.Join(d.dir, "lab.log"))
	if err != nil {
		return err
	}
	d.logf("starting the lab (2 clusters)")
	if d.lab, err = lab.Start(ctx, 2, lab.Options{Dir: filepath.Join(d.dir, "lab"), Log: logf}); err != nil {
		return err
	}
	for i, c := range d.lab.Clusters {
		cs := c.Clientset()
		if err := lab.SeedOnlineshop(ctx, cs, lab.SeedVIP(i)); err != nil {
			return err
		}
		if err := lab.EnsureNamespace(ctx, cs, namespace); err != nil {
			return err
		}
		vip := fmt.Sprintf("172.%d.17.50", 26+i)
		if _, err := lab.CreateIngress(ctx, cs, lab.IngressSpec{
			Namespace: namespace, Name: "churn", Labels: lab.GSLBLabels(), ClassName: lab.OnlineshopIngressClass,
			Hosts: []string{"churn.gslb.sddc.lab"}, Service: "web", Port: 80,
		}); err != nil {
			return err
		}
		if err := lab.SetIngressStatus(ctx, cs, namespace, "churn", []string{vip}, nil); err != nil {
			return err
		}
		ports := []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}
		if _, err := lab.CreateLoadBalancerService(ctx, cs, namespace, "svc", lab.GSLBLabels(),
			map[string]string{"external-dns.alpha.kubernetes.io/hostname": "svc.gslb.sddc.lab"}, ports); err != nil {
			return err
		}
		if err := lab.SetServiceStatus(ctx, cs, namespace, "svc", []string{fmt.Sprintf("172.%d.17.60", 26+i)}, nil); err != nil {
			return err
		}
	}
	d.churnVIP.Store("172.26.17.50")

	// The simulator's own onlineshop service (the lab's VIPs) and an
	// Avi-only one answering every member.
	if d.sim, err = avisim.New(avisim.Options{}); err != nil {
		return err
	}
	pay := avisim.Service("gslbservice-chaos-pay", "pay.gslb.sddc.lab", avisim.Pool(10,
		avisim.Member("172.26.17.30", avisim.ClusterA), avisim.Member("172.27.17.30", avisim.ClusterB)))
	pay.NumDNSIP = avisim.U32(0)
	d.sim.AddService(pay)
	ca, err := d.sim.WriteCA(d.dir)
	if err != nil {
		return err
	}
	creds := filepath.Join(d.dir, "avi-credentials")
	if err := os.WriteFile(creds, []byte("username: admin\npassword: avi-sim-password\n"), 0o600); err != nil {
		return err
	}

	port, err := testutil.FreePort(stableIP, flapIP, soloIP)
	if err != nil {
		return err
	}
	for ip, failing := range map[string]*atomic.Bool{stableIP: new(atomic.Bool), flapIP: &d.flap, soloIP: &d.solo} {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if failing.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
	}

	dnsPort, err := testutil.FreePort("127.0.0.1")
	if err != nil {
		return err
	}
	readyPort, err := testutil.FreePort("127.0.0.1")
	if err != nil {
		return err
	}
	metricsPort, err := testutil.FreePort("127.0.0.1")
	if err != nil {
		return err
	}
	d.dns = net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort))
	d.mURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	corefile := filepath.Join(d.dir, "Corefile")
	cf := fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    prometheus 127.0.0.1:%d
    gslb {
        kubeconfig %s
        site sitea %s
        site siteb %s
        nameserver ns1.gslb.sddc.lab 127.0.0.53
        nameserver ns2.gslb.sddc.lab 127.0.0.54
        member flap.gslb.sddc.lab %s site sitea
        member flap.gslb.sddc.lab %s site siteb
        member solo.gslb.sddc.lab %s site sitea
        # Every member is probed; only loopback is ever contacted (the
        # lab's and Avi's 172.x VIPs are answer data, counted healthy).
        health_check http %d /
        health_interval %s
        health_timeout %s
        health_fall %d
        health_rise %d
        health_targets 127.0.0.0/8
        avi %s {
            credentials %s
            ca %s
            poll 500ms
            timeout 1s
        }
    }
}
`, zone, dnsPort, readyPort, metricsPort, d.lab.Kubeconfig, d.lab.Clusters[0].Context, d.lab.Clusters[1].Context,
		stableIP, flapIP, soloIP, port, healthInterval, healthTimeout, healthFall, healthRise, d.sim.URL(), creds, ca)
	if err := os.WriteFile(corefile, []byte(cf), 0o644); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(d.dir, "coredns.log"))
	if err != nil {
		return err
	}
	d.cmd = exec.Command(d.coredns, "-conf", corefile)
	d.cmd.Stdout, d.cmd.Stderr = out, out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w (run make build first)", d.coredns, err)
	}
	d.logf("coredns pid %d on %s, Corefile %s", d.cmd.Process.Pid, d.dns, corefile)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort)); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return errors.New("coredns not ready after 90 s; see " + out.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every member answers before the load starts.
	if _, err := d.allMembers(ctx, 60*time.Second); err != nil {
		return err
	}
	return nil
}

func (d *driver) tearDown() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	}
	if d.sim != nil {
		d.sim.Close()
	}
	if d.lab != nil {
		for _, c := range d.lab.Clusters {
			if pid := c.EtcdPID(); pid != 0 {
				syscall.Kill(pid, syscall.SIGCONT)
			}
		}
		d.lab.Close()
	}
}

// ---- truth ----

// truth is when a member was really down: [start, end) intervals, end
// zero while it still is.
type truth struct {
	mu   sync.Mutex
	down [][2]time.Time
}

func (t *truth) set(down bool, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.down)
	switch {
	case down && (n == 0 || !t.down[n-1][1].IsZero()):
		t.down = append(t.down, [2]time.Time{at, {}})
	case !down && n > 0 && t.down[n-1][1].IsZero():
		t.down[n-1][1] = at
	}
}

// mayBeDown: the member was down at some time in [from, to].
func (t *truth) mayBeDown(from, to time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, iv := range t.down {
		if iv[0].Before(to) && (iv[1].IsZero() || iv[1].After(from)) {
			return true
		}
	}
	return false
}

// surelyDown: the member was down all through [from, to].
func (t *truth) surelyDown(from, to time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, iv := range t.down {
		if !iv[0].After(from) && (iv[1].IsZero() || !iv[1].Before(to)) {
			return true
		}
	}
	return false
}

// The names under load and the addresses each may answer.
var names = []string{"onlineshop", "pay", "churn", "svc", "flap", "solo"}

var memberSets = map[string][]string{
	// The lab's Ingresses and Avi's GslbService merge by address.
	"onlineshop": {"172.26.17.21", "172.27.17.21"},
	"pay":        {"172.26.17.30", "172.27.17.30"}, // Avi only
	"churn":      {"172.26.17.50", "172.26.17.51", "172.27.17.50"},
	"svc":        {"172.26.17.60", "172.27.17.60"},
	"flap":       {stableIP, flapIP},
	"solo":       {soloIP},
}

// full is what a name must answer (over a few queries) once nothing
// fails: every member, site A's churn VIP being either of its two.
func (d *driver) full(name string) []string {
	switch name {
	case "churn":
		return []string{"172.27.17.50", d.churnVIP.Load().(string)}
	case "flap":
		if d.flap.Load() {
			return []string{stableIP}
		}
	}
	return memberSets[name]
}

// check judges one answer; "" when it is one the policy calls for.
func (d *driver) check(name string, sent, recv time.Time, r *dns.Msg) string {
	if name == "solo" && r.Rcode == dns.RcodeServerFailure && d.soloTruth.mayBeDown(sent.Add(-lagUp), recv) {
		d.downAnswers.Add(1)
		return "" // down_response none: SERVFAIL while its only member is down
	}
	if r.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[r.Rcode]
	}
	if !r.Authoritative {
		return "not authoritative"
	}
	got := addrs(r)
	if len(got) == 0 {
		return "no address"
	}
	for _, a := range got {
		if !slices.Contains(memberSets[name], a) {
			return "unexpected address " + a
		}
		if a == soloIP && d.soloTruth.surelyDown(sent.Add(-lagDown), recv) {
			return "answered " + a + " long after it went down"
		}
	}
	return ""
}

func addrs(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out
}

// ---- load ----

// startLoad sends d.qps queries a second, spread over the names, from a
// pool of workers; a query unanswered within a second is sent once more
// (as a resolver would) and counts as a timeout only if that fails too.
func (d *driver) startLoad(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	work := make(chan string, d.qps)
	var wg sync.WaitGroup
	var dropped atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: time.Second}
			for name := range work {
				d.query(c, name)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		const tick = 10 * time.Millisecond
		t := time.NewTicker(tick)
		defer t.Stop()
		i := 0
		acc := 0.0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			acc += float64(d.qps) * tick.Seconds()
			for ; acc >= 1; acc-- {
				select {
				case work <- names[i%len(names)]:
				default:
					dropped.Add(1)
				}
				i++
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		if n := dropped.Load(); n > 0 {
			d.logf("load generator: %d queries not sent (workers busy)", n)
		}
	}
}

func (d *driver) query(c *dns.Client, name string) {
	m := new(dns.Msg)
	m.SetQuestion(name+"."+zone, dns.TypeA)
	sent := time.Now()
	r, rtt, err := c.Exchange(m, d.dns)
	if err != nil {
		r, _, err = c.Exchange(m, d.dns)
	}
	recv := time.Now()
	d.queries.Add(1)
	why := ""
	if err != nil {
		why = "no answer: " + err.Error()
	} else {
		why = d.check(name, sent, recv, r)
		if rtt > 0 {
			d.latMu.Lock()
			d.lat = append(d.lat, rtt)
			d.latMu.Unlock()
		}
	}
	if why != "" {
		// The first few of each phase are printed; all are counted.
		if d.bad.Add(1)-d.phaseBad.Load() <= 10 {
			select {
			case d.badLog <- fmt.Sprintf("%s %s [%s]: %s", recv.UTC().Format("15:04:05.000"), name, d.currentPhase(), why):
			default:
			}
			d.drainBad(false)
		}
	}
}

func (d *driver) drainBad(all bool) {
	for {
		select {
		case s := <-d.badLog:
			fmt.Println("chaos: UNEXPECTED", s)
		default:
			return
		}
		if !all {
			return
		}
	}
}

// ---- faults ----

func (d *driver) apiserverKill(ctx context.Context) {
	c := d.lab.Clusters[0]
	d.killAPIServer(c)
	sleep(ctx, d.scale(30*time.Second, 6*time.Second))
	d.restart(ctx, c)
}

func (d *driver) killAPIServer(c *lab.Cluster) {
	if pid := c.APIServerPID(); pid != 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		d.faults.Add(1)
		d.logf("SIGKILL kube-apiserver of %s (pid %d)", c.Name, pid)
	}
}

func (d *driver) restart(ctx context.Context, c *lab.Cluster) {
	for i := 0; c.APIServerPID() != 0 && i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	begin := time.Now()
	if err := c.Start(ctx); err != nil {
		d.failures = append(d.failures, fmt.Sprintf("restarting %s: %v", c.Name, err))
		return
	}
	d.logf("kube-apiserver of %s back in %.1f s", c.Name, time.Since(begin).Seconds())
}

func (d *driver) etcdStop(ctx context.Context) {
	c := d.lab.Clusters[1]
	d.stopEtcd(c)
	sleep(ctx, d.scale(30*time.Second, 6*time.Second))
	d.contEtcd(c)
}

func (d *driver) stopEtcd(c *lab.Cluster) {
	if pid := c.EtcdPID(); pid != 0 {
		syscall.Kill(pid, syscall.SIGSTOP)
		d.faults.Add(1)
		d.logf("SIGSTOP etcd of %s (pid %d)", c.Name, pid)
	}
}

func (d *driver) contEtcd(c *lab.Cluster) {
	if pid := c.EtcdPID(); pid != 0 {
		syscall.Kill(pid, syscall.SIGCONT)
		d.logf("SIGCONT etcd of %s", c.Name)
	}
}

func (d *driver) aviFault(ctx context.Context, f avisim.Faults) {
	d.sim.SetFaults(f)
	d.faults.Add(1)
	sleep(ctx, d.scale(30*time.Second, 4*time.Second))
	d.sim.SetFaults(avisim.Faults{})
}

// probeFlap flaps flap.'s second member every 100-200 ms, and takes
// solo.'s only member down for the middle three fifths: longer than
// lagDown, so that answering it after it went down is caught.
func (d *driver) probeFlap(ctx context.Context) {
	total := d.scale(45*time.Second, 15*time.Second)
	d.flapAndSolo(ctx, total)
}

func (d *driver) flapAndSolo(ctx context.Context, total time.Duration) {
	d.faults.Add(2)
	end := time.Now().Add(total)
	soloDown, soloUp := time.Now().Add(total/5), time.Now().Add(4*total/5)
	for time.Now().Before(end) && ctx.Err() == nil {
		d.flap.Store(!d.flap.Load())
		now := time.Now()
		want := now.After(soloDown) && now.Before(soloUp)
		if want != d.solo.Load() {
			// The truth changes before the target does: a probe can only
			// see the new state after this.
			d.soloTruth.set(want, now)
			d.solo.Store(want)
			d.logf("solo member %s", map[bool]string{true: "down", false: "up"}[want])
		}
		time.Sleep(time.Duration(100+rand.IntN(100)) * time.Millisecond)
	}
	d.flap.Store(false)
	if d.solo.Load() {
		d.solo.Store(false)
		d.soloTruth.set(false, time.Now())
		d.logf("solo member up")
	}
}

func (d *driver) reloads(ctx context.Context) {
	d.reloadFor(ctx, d.scale(45*time.Second, 8*time.Second), d.scale(3*time.Second, 2*time.Second))
}

func (d *driver) reloadFor(ctx context.Context, total, every time.Duration) {
	end := time.Now().Add(total)
	for time.Now().Before(end) && ctx.Err() == nil {
		d.cmd.Process.Signal(syscall.SIGUSR1)
		d.faults.Add(1)
		sleep(ctx, every)
	}
}

// overlapping: everything at once.
func (d *driver) overlapping(ctx context.Context) {
	total := d.scale(60*time.Second, 12*time.Second)
	a, b := d.lab.Clusters[0], d.lab.Clusters[1]
	d.killAPIServer(a)
	d.stopEtcd(b)
	d.sim.SetFaults(avisim.Faults{Delay: time.Hour})
	d.faults.Add(1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.flapAndSolo(ctx, total) }()
	go func() { defer wg.Done(); d.reloadFor(ctx, total, d.scale(3*time.Second, 2*time.Second)) }()
	sleep(ctx, total/2)
	d.sim.SetFaults(avisim.Faults{Status: http.StatusInternalServerError})
	d.faults.Add(1)
	wg.Wait()
	d.sim.SetFaults(avisim.Faults{})
	d.contEtcd(b)
	d.restart(ctx, a)
}

// startChurn updates site A's churn Ingress status about 1000 times a
// minute, alternating its VIP; updates fail while its API server is away.
func (d *driver) startChurn(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var cs kubernetes.Interface = d.lab.Clusters[0].Clientset()
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute / 1000)
		defer t.Stop()
		n := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			vip := "172.26.17.50"
			if n%2 == 1 {
				vip = "172.26.17.51"
			}
			uctx, ucancel := context.WithTimeout(ctx, 2*time.Second)
			err := lab.SetIngressStatus(uctx, cs, namespace, "churn", []string{vip}, nil)
			ucancel()
			if err != nil {
				d.updErrs.Add(1)
				continue
			}
			d.churnVIP.Store(vip)
			d.updates.Add(1)
			n++
		}
	}()
	return func() { cancel(); <-done }
}

// ---- recovery and resources ----

// allMembers polls until every name has answered each of its members
// (over several queries: some names answer one address a query), and
// returns how long that took.
func (d *driver) allMembers(ctx context.Context, limit time.Duration) (time.Duration, error) {
	begin := time.Now()
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	missing := map[string][]string{}
	for time.Since(begin) < limit && ctx.Err() == nil {
		clear(missing)
		for _, name := range names {
			want := d.full(name)
			seen := map[string]bool{}
			m := new(dns.Msg)
			m.SetQuestion(name+"."+zone, dns.TypeA)
			for range 30 {
				if r, _, err := c.Exchange(m, d.dns); err == nil {
					for _, a := range addrs(r) {
						seen[a] = true
					}
				}
				if len(seen) >= len(want) {
					break
				}
			}
			for _, a := range want {
				if !seen[a] && (name != "churn" || a == "172.27.17.50") {
					missing[name] = append(missing[name], a)
				}
			}
			if name == "churn" && !seen["172.26.17.50"] && !seen["172.26.17.51"] {
				missing[name] = append(missing[name], "site A's VIP")
			}
		}
		if len(missing) == 0 {
			return time.Since(begin), nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return 0, fmt.Errorf("members still missing after %s: %v", limit, missing)
}

func (d *driver) waitRecovered(ctx context.Context) time.Duration {
	took, err := d.allMembers(ctx, 120*time.Second)
	if err != nil {
		d.failures = append(d.failures, d.currentPhase()+": "+err.Error())
		d.logf("LOST MEMBER after %s: %v", d.currentPhase(), err)
	}
	return took
}

// resources reads go_goroutines and process_resident_memory_bytes (MiB).
func (d *driver) resources() (goroutines, rssMiB float64) {
	resp, err := http.Get(d.mURL)
	if err != nil {
		return -1, -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	read := func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	return read("go_goroutines"), read("process_resident_memory_bytes") / (1 << 20)
}

// waitResources waits (at most a minute) until goroutines are back within
// a quarter (and 30) of the baseline and resident memory within twice the
// baseline (and 64 MiB): old instances stop and the heap shrinks
// asynchronously.
func (d *driver) waitResources(ctx context.Context, phase string, baseG, baseRSS float64) (g, rss float64) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		g, rss = d.resources()
		okG := g >= 0 && g <= baseG*1.25+30
		okM := rss >= 0 && rss <= max(baseRSS*2, baseRSS+64)
		if okG && okM {
			return g, rss
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.failures = append(d.failures, fmt.Sprintf("%s: goroutines %.0f (baseline %.0f), RSS %.0f MiB (baseline %.0f) not back after a minute", phase, g, baseG, rss, baseRSS))
			return g, rss
		}
		time.Sleep(time.Second)
	}
}

// ---- report ----

func (d *driver) setPhase(name string) {
	d.latMu.Lock()
	d.phase = name
	d.lat = d.lat[:0]
	d.latMu.Unlock()
}

func (d *driver) currentPhase() string {
	d.latMu.Lock()
	defer d.latMu.Unlock()
	return d.phase
}

var phaseStart = struct{ q, bad int64 }{}

func (d *driver) endPhase(name string, recovered time.Duration, g, rss float64) {
	d.latMu.Lock()
	lat := slices.Clone(d.lat)
	d.latMu.Unlock()
	slices.Sort(lat)
	q, bad := d.queries.Load(), d.bad.Load()
	r := phaseResult{
		name: name, queries: q - phaseStart.q, bad: bad - phaseStart.bad,
		p50: testutil.Quantile(lat, .50), p90: testutil.Quantile(lat, .90), p99: testutil.Quantile(lat, .99), max: testutil.Quantile(lat, 1),
		goroutines: g, rssMiB: rss, recovered: recovered, ingressUpdatesSoFar: d.updates.Load(),
	}
	phaseStart.q, phaseStart.bad = q, bad
	d.phaseBad.Store(bad)
	d.results = append(d.results, r)
	d.drainBad(true)
	d.logf("%s: %d queries, %d unexpected; latency p50 %s p99 %s max %s; goroutines %.0f, RSS %.0f MiB; all members back after %s",
		name, r.queries, r.bad, ms(r.p50), ms(r.p99), ms(r.max), g, rss, recovered.Round(time.Millisecond))
}

func (d *driver) report(baseG, baseRSS float64) {
	d.drainBad(true)
	fmt.Println()
	fmt.Printf("%-15s %8s %6s %8s %8s %8s %8s %10s %8s %10s\n", "phase", "queries", "unexp", "p50", "p90", "p99", "max", "goroutines", "RSS MiB", "recovered")
	for _, r := range d.results {
		fmt.Printf("%-15s %8d %6d %8s %8s %8s %8s %10.0f %8.0f %10s\n", r.name, r.queries, r.bad, ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max), r.goroutines, r.rssMiB, r.recovered.Round(time.Millisecond))
	}
	fmt.Printf("baseline: %.0f goroutines, %.0f MiB resident; %d Ingress updates applied, %d failed (API server away); %d SERVFAIL for solo. while its only member was down (down_response none)\n",
		baseG, baseRSS, d.updates.Load(), d.updErrs.Load(), d.downAnswers.Load())
	for _, f := range d.failures {
		fmt.Println("chaos: FAILED", f)
	}
	fmt.Printf("chaos: %d queries, %d unexpected answers, %d faults injected\n", d.queries.Load(), d.bad.Load(), d.faults.Load())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
