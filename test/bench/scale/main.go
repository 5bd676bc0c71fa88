// Command scale measures gslb at scale on the lab: three real API servers,
// N Ingresses in each (one host each, the same N hosts in every cluster, so
// every name has one member per site), health_check none, bin/coredns
// watching them. For every size it prints:
//
//   - sync: time from starting coredns until the table holds every member
//     of every site (the members gauge), then checked by querying names;
//   - RSS after the sync and peak (VmHWM) after the churn, and the RSS of
//     the same server watching an empty namespace, for bytes per name;
//   - propagation of one Ingress status change to the answers (p50/p99),
//     at rest and under a steady churn of -churn status changes a second;
//   - coredns CPU per change (CPU during the churn minus CPU at rest, over
//     the changes made);
//   - dnsperf QPS (all names, flat out) and latency p50/p99 (at -rate
//     queries a second, from dnsperf -v) under churn, against the same
//     server at rest.
//
// Everything listens on 127.0.0.1. `make bench-scale` runs it; the sizes are
// a flag (-sizes 1000,10000,100000).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

const zone = "scale.lab."

type options struct {
	coredns     string
	compare     string
	sizes       []int
	samples     int
	churn       int
	window      time.Duration
	perfSeconds int
	rate        int
	out         string
}

func main() {
	var o options
	sizes := flag.String("sizes", "1000,10000", "comma-separated numbers of names (Ingresses per cluster)")
	flag.StringVar(&o.coredns, "coredns", "bin/coredns", "CoreDNS binary with the gslb plugin")
	flag.StringVar(&o.compare, "compare", "", "a second binary (e.g. built from main) measured the same way on the same objects, as the baseline")
	flag.IntVar(&o.samples, "samples", 40, "propagation samples per condition")
	flag.IntVar(&o.churn, "churn", 100, "status changes a second during the churn")
	flag.DurationVar(&o.window, "window", 10*time.Second, "length of the CPU measurement windows")
	flag.IntVar(&o.perfSeconds, "perf-seconds", 8, "dnsperf -l per run")
	flag.IntVar(&o.rate, "rate", 3000, "dnsperf -Q of the latency runs")
	flag.StringVar(&o.out, "out", "test/bench/out/scale", "directory for generated files")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "scale: -sizes: %q is not a positive number\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if _, err := exec.LookPath("dnsperf"); err != nil {
		return fmt.Errorf("dnsperf not found; install it: apt-get install -y dnsperf")
	}
	if _, err := os.Stat(o.coredns); err != nil {
		return fmt.Errorf("%s: %w; build it with `make build`", o.coredns, err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	ctx := context.Background()
	l, err := lab.Start(ctx, 3, lab.Options{Log: os.Stderr})
	if err != nil {
		return err
	}
	defer l.Close()
	clients := make([]kubernetes.Interface, len(l.Clusters))
	for i, c := range l.Clusters {
		cfg := c.RESTConfig()
		cfg.QPS, cfg.Burst = 1000, 2000 // the seeding is the slow part
		clients[i] = kubernetes.NewForConfigOrDie(cfg)
	}

	binaries := []string{o.coredns}
	if o.compare != "" {
		binaries = append(binaries, o.compare)
	}
	// The server with nothing to serve, for bytes per name.
	rss0 := map[string]int64{}
	for _, bin := range binaries {
		empty, err := startServer(o, bin, l, "empty")
		if err != nil {
			return err
		}
		if err := empty.waitMembers(0, time.Minute); err != nil {
			empty.stop()
			return err
		}
		time.Sleep(2 * time.Second)
		rss0[bin] = empty.status("VmRSS")
		empty.stop()
		fmt.Printf("%s watching an empty namespace: RSS %.1f MB\n", bin, mb(rss0[bin]))
	}

	var results []result
	for _, n := range o.sizes {
		if err := seed(ctx, clients, n); err != nil {
			return fmt.Errorf("%d names: %w", n, err)
		}
		for _, bin := range binaries {
			r, err := measure(ctx, o, bin, l, clients, n, rss0[bin])
			if err != nil {
				return fmt.Errorf("%d names, %s: %w", n, bin, err)
			}
			results = append(results, r)
		}
	}
	fmt.Println()
	fmt.Println("| binary | names | sync | RSS after sync | peak RSS | bytes/name | propagation p50/p99 at rest | under churn | CPU/change | QPS churn/rest | q/CPU-s churn/rest | p99 at rest | p99 under churn |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %s | %d | %.2f s | %.0f MB | %.0f MB | %.0f | %.0f / %.0f ms | %.0f / %.0f ms | %.2f ms | %.0f / %.0f = %.2fx | %.0f / %.0f = %.2fx | %.2f ms | %.2f ms |\n",
			filepath.Base(r.binary), r.names, r.sync.Seconds(), mb(r.rss), mb(r.peak), r.bytesPerName,
			ms(r.propRest[0]), ms(r.propRest[1]), ms(r.propChurn[0]), ms(r.propChurn[1]), r.cpuPerChange*1000,
			r.qpsChurn, r.qpsRest, r.qpsChurn/r.qpsRest, r.qcpuChurn, r.qcpuRest, r.qcpuChurn/r.qcpuRest, ms(r.latRest[1]), ms(r.latChurn[1]))
	}
	return nil
}

type result struct {
	binary              string
	names               int
	sync                time.Duration
	rss, peak           int64
	bytesPerName        float64
	propRest, propChurn [2]time.Duration // p50, p99
	cpuPerChange        float64          // seconds
	qpsRest, qpsChurn   float64
	qcpuRest, qcpuChurn float64 // queries per CPU-second of coredns
	latRest, latChurn   [2]time.Duration
	changes             int64
	cpuRest, cpuChurn   float64
}

func hostFmt(n int) string { return "app%d.n" + strconv.Itoa(n) + ".scale.lab" }

func vip(cluster, i int) string {
	return fmt.Sprintf("10.%d.%d.%d", cluster*16+i>>16, (i>>8)&255, i&255)
}

// seed creates n Ingresses in each cluster, in namespace scaleN.
func seed(ctx context.Context, clients []kubernetes.Interface, n int) error {
	ns := fmt.Sprintf("scale%d", n)
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(clients))
	for c, cs := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[c] = lab.ScaleIngresses(ctx, cs, ns, n, hostFmt(n), func(i int) string { return vip(c, i) })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	fmt.Printf("\nseeded %d Ingresses (%d in each of %d clusters, namespace %s) in %.1f s\n", n*len(clients), n, len(clients), ns, time.Since(begin).Seconds())
	return nil
}

func measure(ctx context.Context, o options, bin string, l *lab.Lab, clients []kubernetes.Interface, n int, rss0 int64) (result, error) {
	r := result{binary: bin, names: n}
	ns := fmt.Sprintf("scale%d", n)
	fmt.Printf("\n== %s, %d names\n", bin, n)

	names := make([]string, n)
	for i := range names {
		names[i] = dns.Fqdn(fmt.Sprintf(hostFmt(n), i))
	}
	queries := filepath.Join(o.out, fmt.Sprintf("queries-%d.txt", n))
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name + " A\n")
	}
	if err := os.WriteFile(queries, []byte(b.String()), 0o644); err != nil {
		return r, err
	}

	s, err := startServer(o, bin, l, ns)
	if err != nil {
		return r, err
	}
	defer s.stop()
	if err := s.waitMembers(n, 10*time.Minute); err != nil {
		return r, err
	}
	r.sync = time.Since(s.started)
	// Check the answers themselves: every name of a sample (all of them
	// up to 10 000) answers one address per site.
	if err := s.checkAll(names, len(clients)); err != nil {
		return r, err
	}
	time.Sleep(2 * time.Second)
	r.rss = s.status("VmRSS")
	heap := filepath.Join(o.out, fmt.Sprintf("heap-%s-%d.pb.gz", filepath.Base(bin), n))
	if err := s.save("heap?gc=1", heap); err != nil {
		fmt.Fprintf(os.Stderr, "heap profile: %v\n", err)
	} else {
		fmt.Printf("heap profile after the sync: %s (go tool pprof -top -sample_index=inuse_space %s)\n", heap, heap)
	}
	r.bytesPerName = float64(r.rss-rss0) / float64(n)
	fmt.Printf("sync %.2f s; RSS %.1f MB (%.0f bytes/name, %.0f bytes/member)\n", r.sync.Seconds(), mb(r.rss), r.bytesPerName, r.bytesPerName/float64(len(clients)))

	ch := &churner{clients: clients, ns: ns, n: n}
	ch.busy.Store(-1)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := ch.watch(wctx); err != nil {
		return r, err
	}

	// At rest.
	r.qpsRest, r.qcpuRest = s.flatOut(queries, o.perfSeconds)
	_, r.latRest = s.dnsperf(queries, o.perfSeconds, o.rate)
	fmt.Printf("at rest: dnsperf %.0f QPS, %.0f queries per coredns CPU-second; at %d QPS p50 %.2f ms p99 %.2f ms\n", r.qpsRest, r.qcpuRest, o.rate, ms(r.latRest[0]), ms(r.latRest[1]))
	r.propRest, err = s.propagation(ctx, ch, o.samples)
	if err != nil {
		return r, err
	}
	fmt.Printf("at rest: propagation p50 %.1f ms p99 %.1f ms\n", ms(r.propRest[0]), ms(r.propRest[1]))
	cpu0 := s.cpu()
	time.Sleep(o.window)
	r.cpuRest = s.cpu() - cpu0

	// Under churn.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { ch.run(ctx, o.churn, stop); close(done) }()
	time.Sleep(2 * time.Second)
	c0, cpu1 := ch.changes.Load(), s.cpu()
	time.Sleep(o.window)
	r.cpuChurn, r.changes = s.cpu()-cpu1, ch.changes.Load()-c0
	r.cpuPerChange = (r.cpuChurn - r.cpuRest) / float64(r.changes)
	fmt.Printf("churn: %d changes in %s (%.0f/s); CPU %.2f s (at rest %.2f s): %.3f ms per change\n",
		r.changes, o.window, float64(r.changes)/o.window.Seconds(), r.cpuChurn, r.cpuRest, r.cpuPerChange*1000)
	r.propChurn, err = s.propagation(ctx, ch, o.samples)
	if err == nil {
		r.qpsChurn, r.qcpuChurn = s.flatOut(queries, o.perfSeconds)
		_, r.latChurn = s.dnsperf(queries, o.perfSeconds, o.rate)
	}
	close(stop)
	<-done
	if err != nil {
		return r, err
	}
	if ch.failed.Load() > 0 {
		fmt.Printf("churn: %d status patches failed (first: %v)\n", ch.failed.Load(), ch.firstErr.Load())
	}
	fmt.Printf("under churn: propagation p50 %.1f ms p99 %.1f ms\n", ms(r.propChurn[0]), ms(r.propChurn[1]))
	fmt.Printf("under churn: dnsperf %.0f QPS (%.2fx at rest), %.0f queries per coredns CPU-second (%.2fx at rest); at %d QPS p50 %.2f ms p99 %.2f ms\n",
		r.qpsChurn, r.qpsChurn/r.qpsRest, r.qcpuChurn, r.qcpuChurn/r.qcpuRest, o.rate, ms(r.latChurn[0]), ms(r.latChurn[1]))
	r.peak = s.status("VmHWM")
	fmt.Printf("peak RSS %.1f MB\n", mb(r.peak))
	return r, nil
}

// churner changes Ingress statuses: a merge patch of the status
// subresource, so no read is needed first.
type churner struct {
	clients  []kubernetes.Interface
	seen     sync.Map // "cluster/ingress/ip" -> time.Time our own watch saw it
	ns       string
	n        int
	seq      atomic.Int64
	busy     atomic.Int64 // the Ingress a propagation sample watches, -1 none
	changes  atomic.Int64
	failed   atomic.Int64
	firstErr atomic.Value
}

// change gives Ingress i of cluster c a new address and returns it.
func (ch *churner) change(ctx context.Context, c, i int) (string, error) {
	k := ch.seq.Add(1)
	ip := fmt.Sprintf("10.%d.%d.%d", 128+c*16+int(k>>16)&15, (k>>8)&255, k&255)
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": []map[string]string{{"ip": ip}}}}})
	_, err := ch.clients[c].NetworkingV1().Ingresses(ch.ns).Patch(ctx, lab.ScaleIngressName(i), types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		if ch.failed.Add(1) == 1 {
			ch.firstErr.Store(err)
		}
		return "", err
	}
	ch.changes.Add(1)
	return ip, nil
}

// watch records when a watch of our own sees each status address appear,
// to split a propagation into the API server's share (patch to watch
// event) and gslb's (watch event to answer). coredns's watch and ours get
// the event from the same API server at about the same time.
func (ch *churner) watch(ctx context.Context) error {
	for c, cs := range ch.clients {
		list, err := cs.NetworkingV1().Ingresses(ch.ns).List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return err
		}
		w, err := cs.NetworkingV1().Ingresses(ch.ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			return err
		}
		go func() {
			defer w.Stop()
			for ev := range w.ResultChan() {
				ing, ok := ev.Object.(*networkingv1.Ingress)
				if !ok {
					continue
				}
				now := time.Now()
				for _, lb := range ing.Status.LoadBalancer.Ingress {
					ch.seen.LoadOrStore(fmt.Sprintf("%d/%s/%s", c, ing.Name, lb.IP), now)
				}
			}
		}()
	}
	return nil
}

// run makes perSecond changes a second, spread over the clusters, until
// stop closes; it never touches the Ingress a sample watches. It paces on
// the clock, not a ticker, so that ticks a loaded machine drops are made up.
func (ch *churner) run(ctx context.Context, perSecond int, stop <-chan struct{}) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	defer wg.Wait()
	begin := time.Now()
	for k := 0; ; k++ {
		due := begin.Add(time.Duration(k) * time.Second / time.Duration(perSecond))
		select {
		case <-stop:
			return
		case <-time.After(time.Until(due)):
		}
		i := rand.IntN(ch.n)
		if int64(i) == ch.busy.Load() {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-stop:
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ch.change(ctx, k%len(ch.clients), i)
		}()
	}
}

type server struct {
	cmd                  *exec.Cmd
	addr, metrics, ready string
	pprof                string
	started              time.Time
	exited               chan struct{}
	log                  *os.File
}

func startServer(o options, bin string, l *lab.Lab, ns string) (*server, error) {
	var ports [4]int
	for i := range ports {
		p, err := testutil.FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	var sites []string
	for i, c := range l.Clusters {
		sites = append(sites, fmt.Sprintf("site %s %s", lab.SiteName(i), c.Context))
	}
	corefile := fmt.Sprintf(`%s {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    prometheus 127.0.0.1:%d
    pprof 127.0.0.1:%d
    gslb {
        kubeconfig %s
        %s
        namespaces %s
        resources ingresses
        health_check none
        startup_timeout 10m
    }
}
`, zone, ports[1], ports[2], ports[3], l.Kubeconfig, strings.Join(sites, "\n        "), ns)
	cf := filepath.Join(o.out, "Corefile-"+ns)
	if err := os.WriteFile(cf, []byte(corefile), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(o.out, filepath.Base(bin)+"-"+ns+".log"))
	if err != nil {
		return nil, err
	}
	s := &server{
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2]),
		ready:   fmt.Sprintf("http://127.0.0.1:%d/ready", ports[1]),
		pprof:   fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", ports[3]),
		exited:  make(chan struct{}),
		log:     logf,
	}
	s.cmd = exec.Command(bin, "-conf", cf, "-dns.port", strconv.Itoa(ports[0]))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.log.Close()
}

// waitMembers waits until the members gauge shows n members for each of
// the three sites (and Ready answers), polling every 20 ms.
func (s *server) waitMembers(n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("coredns exited; see %s", s.log.Name())
		default:
		}
		if m, err := s.gauges("coredns_gslb_members"); err == nil {
			ok := true
			for i := range 3 {
				ok = ok && m[`site="`+lab.SiteName(i)+`"`] == float64(n)
			}
			if ok {
				if resp, err := http.Get(s.ready); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return nil
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the table did not reach %d members per site within %s; see %s", n, limit, s.log.Name())
}

// gauges returns the samples of one metric by their label text.
func (s *server) gauges(metric string) (map[string]float64, error) {
	resp, err := http.Get(s.metrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, metric+"{"), "} ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		out[labels] = v
	}
	return out, sc.Err()
}

func (s *server) query(c *dns.Client, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	resp, _, err := c.Exchange(m, s.addr)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// checkAll queries every name (at most 10 000 of them, spread evenly) and
// wants one address per site in each answer.
func (s *server) checkAll(names []string, sites int) error {
	step := max(1, len(names)/10000)
	c := &dns.Client{Timeout: 2 * time.Second}
	for i := 0; i < len(names); i += step {
		got, err := s.query(c, names[i])
		if err != nil {
			return fmt.Errorf("querying %s: %w", names[i], err)
		}
		if len(got) != sites {
			return fmt.Errorf("%s answers %v after the sync, want %d addresses", names[i], got, sites)
		}
	}
	return nil
}

// propagation changes the status of random Ingresses one at a time and
// times each from the patch request to the first answer with the new
// address; returns p50 and p99. It also prints gslb's share: from our own
// watch seeing the change to the answer.
func (s *server) propagation(ctx context.Context, ch *churner, samples int) ([2]time.Duration, error) {
	c := &dns.Client{Timeout: time.Second}
	var took, share []time.Duration
	for k := range samples {
		cl, i := k%len(ch.clients), rand.IntN(ch.n)
		name := dns.Fqdn(fmt.Sprintf(hostFmt(ch.n), i))
		ch.busy.Store(int64(i))
		// A churn change of this Ingress already in flight must land
		// before the sample's own.
		time.Sleep(100 * time.Millisecond)
		begin := time.Now()
		ip, err := ch.change(ctx, cl, i)
		if err != nil {
			return [2]time.Duration{}, fmt.Errorf("changing the status of %s: %w", lab.ScaleIngressName(i), err)
		}
		for {
			got, err := s.query(c, name)
			if err == nil && slices.Contains(got, ip) {
				break
			}
			if time.Since(begin) > 30*time.Second {
				return [2]time.Duration{}, fmt.Errorf("%s never answered %s (last %v)", name, ip, got)
			}
			time.Sleep(time.Millisecond)
		}
		answered := time.Now()
		took = append(took, answered.Sub(begin))
		if v, ok := ch.seen.Load(fmt.Sprintf("%d/%s/%s", cl, lab.ScaleIngressName(i), ip)); ok {
			share = append(share, max(0, answered.Sub(v.(time.Time))))
		}
	}
	ch.busy.Store(-1)
	p := percentiles(took)
	if len(share) > 0 {
		g := percentiles(share)
		fmt.Printf("gslb's share (our watch saw the change -> answer), %d samples: p50 %.1f ms p99 %.1f ms\n", len(share), ms(g[0]), ms(g[1]))
	}
	var all []string
	for _, d := range took {
		all = append(all, strconv.FormatFloat(ms(d), 'f', 0, 64))
	}
	fmt.Printf("propagation samples (ms, sorted): %s\n", strings.Join(all, " "))
	return p, nil
}

func percentiles(d []time.Duration) [2]time.Duration {
	if len(d) == 0 {
		return [2]time.Duration{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return [2]time.Duration{at(0.50), at(0.99)}
}

// flatOut runs dnsperf flat out and returns the QPS and the queries
// answered per CPU-second coredns used meanwhile: the API servers and
// dnsperf share the machine's cores with coredns, and the churn loads the
// API servers, so QPS alone mixes in their load; q/CPU-s does not.
func (s *server) flatOut(queries string, seconds int) (qps, perCPU float64) {
	cpu0 := s.cpu()
	qps, _ = s.dnsperf(queries, seconds, 0)
	if cpu := s.cpu() - cpu0; cpu > 0 {
		perCPU = qps * float64(seconds) / cpu
	}
	return qps, perCPU
}

// dnsperf runs dnsperf over queries: flat out when rate is 0 (returns the
// QPS), else at rate queries a second with -v (returns latency p50/p99).
func (s *server) dnsperf(queries string, seconds, rate int) (float64, [2]time.Duration) {
	host, port, _ := net.SplitHostPort(s.addr)
	args := []string{"-s", host, "-p", port, "-d", queries, "-l", strconv.Itoa(seconds), "-c", "32", "-q", "100"}
	if rate > 0 {
		args = append(args, "-Q", strconv.Itoa(rate), "-v")
	}
	out, err := exec.Command("dnsperf", args...).Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "dnsperf: %v\n", err)
		return 0, [2]time.Duration{}
	}
	var qps float64
	var lat []time.Duration
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 4 && f[0] == "Queries" && f[1] == "per" && f[2] == "second:":
			qps, _ = strconv.ParseFloat(f[3], 64)
		case rate > 0 && len(f) >= 5 && f[0] == ">":
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				lat = append(lat, time.Duration(v*float64(time.Second)))
			}
		}
	}
	return qps, percentiles(lat)
}

// save writes a pprof endpoint's answer to file.
func (s *server) save(what, file string) error {
	resp, err := http.Get(s.pprof + what)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// status reads a kB field of /proc/PID/status, in bytes.
func (s *server) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpu returns the user+system CPU seconds coredns used so far.
func (s *server) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command: utime and stime are the
	// 12th and 13th, in clock ticks (100 a second on Linux).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

func mb(b int64) float64         { return float64(b) / (1 << 20) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
