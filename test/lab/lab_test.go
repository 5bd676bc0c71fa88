package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// resumeBudget is how long a watch may take to resume after a site
// restart: client-go's reflector backs off up to 30 s with jitter, and a
// loaded 2-core machine adds to that. The measured figure is logged.
const resumeBudget = 90 * time.Second

// TestLab runs one two-cluster lab through everything the plugin's tests
// rely on. The subtests share the lab because starting it dominates the
// runtime; they run in order and the last one tears it down.
func TestLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	begin := time.Now()
	l := lab.StartT(t, 2)
	t.Logf("two clusters started in %.1fs", time.Since(begin).Seconds())
	if len(l.Clusters) != 2 {
		t.Fatalf("got %d clusters, want 2", len(l.Clusters))
	}

	t.Run("Seed", func(t *testing.T) { testSeed(ctx, t, l) })
	t.Run("Kubeconfig", func(t *testing.T) { testKubeconfig(ctx, t, l) })
	t.Run("RBAC", func(t *testing.T) { testRBAC(ctx, t, l.Clusters[0]) })
	t.Run("RestartResumesWatch", func(t *testing.T) { testRestart(ctx, t, l.Clusters[1]) })
	t.Run("APIServerOnlyRestart", func(t *testing.T) { testAPIServerRestart(ctx, t, l.Clusters[0]) })
	t.Run("CloseLeavesNothing", func(t *testing.T) { testClose(t, l) })
}

func testSeed(ctx context.Context, t *testing.T, l *lab.Lab) {
	want := []string{"172.26.17.21", "172.27.17.21"}
	for i, c := range l.Clusters {
		if got := lab.SeedVIP(i); got != want[i] {
			t.Errorf("SeedVIP(%d) = %s, want %s", i, got, want[i])
		}
		cs := c.Clientset()
		// Twice: seeding must be idempotent.
		for range 2 {
			if err := lab.SeedOnlineshop(ctx, cs, lab.SeedVIP(i)); err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
		}
		ing, err := cs.NetworkingV1().Ingresses(lab.OnlineshopNamespace).Get(ctx, lab.OnlineshopIngress, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: reading back the ingress: %v", c.Name, err)
		}
		checkOnlineshopIngress(t, c.Name, ing, want[i])

		svc, err := cs.CoreV1().Services(lab.OnlineshopNamespace).Get(ctx, lab.OnlineshopService, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: reading back the service: %v", c.Name, err)
		}
		if svc.Spec.Type != "LoadBalancer" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.ClusterIP == "" {
			t.Errorf("%s: service spec = %+v, want LoadBalancer port 80 with a ClusterIP", c.Name, svc.Spec)
		}
		if err := lab.SetServiceStatus(ctx, cs, lab.OnlineshopNamespace, lab.OnlineshopService, []string{"10.0.0.1"}, []string{"lb.example"}); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}

	// Status helpers on one cluster: set several, clear, restore.
	cs := l.Clusters[0].Clientset()
	ns, name := lab.OnlineshopNamespace, lab.OnlineshopIngress
	if err := lab.SetIngressStatus(ctx, cs, ns, name, []string{"192.0.2.1", "192.0.2.2"}, []string{"vs.example"}); err != nil {
		t.Fatal(err)
	}
	if got := ingressAddrs(ctx, t, cs, ns, name); got != "192.0.2.1,192.0.2.2,vs.example" {
		t.Errorf("after SetIngressStatus: %s", got)
	}
	if err := lab.ClearIngressStatus(ctx, cs, ns, name); err != nil {
		t.Fatal(err)
	}
	if got := ingressAddrs(ctx, t, cs, ns, name); got != "" {
		t.Errorf("after ClearIngressStatus: %q, want empty", got)
	}
	if err := lab.SeedOnlineshop(ctx, cs, lab.SeedVIP(0)); err != nil {
		t.Fatal(err)
	}

	// A small ScaleIngresses run checks the bulk path; the plugin's
	// benchmarks use larger n.
	const n = 50
	begin := time.Now()
	if err := lab.ScaleIngresses(ctx, cs, "scale-test", n, "app%d.gslb.sddc.lab", func(i int) string { return fmt.Sprintf("10.1.%d.%d", i/250, i%250+1) }); err != nil {
		t.Fatal(err)
	}
	list, err := cs.NetworkingV1().Ingresses("scale-test").List(ctx, metav1.ListOptions{LabelSelector: "app=gslb"})
	if err != nil {
		t.Fatal(err)
	}
	withStatus := 0
	for _, ing := range list.Items {
		if len(ing.Status.LoadBalancer.Ingress) == 1 {
			withStatus++
		}
	}
	if len(list.Items) != n || withStatus != n {
		t.Errorf("ScaleIngresses: %d ingresses, %d with status; want %d and %d", len(list.Items), withStatus, n, n)
	}
	t.Logf("ScaleIngresses created %d ingresses with status in %.1fs", n, time.Since(begin).Seconds())
}

func checkOnlineshopIngress(t *testing.T, cluster string, ing *networkingv1.Ingress, vip string) {
	t.Helper()
	if ing.Labels["app"] != "gslb" {
		t.Errorf("%s: ingress labels = %v, want app=gslb", cluster, ing.Labels)
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "avi-lb" {
		t.Errorf("%s: ingressClassName = %v, want avi-lb", cluster, ing.Spec.IngressClassName)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "onlineshop.gslb.sddc.lab" {
		t.Fatalf("%s: rules = %+v, want one for onlineshop.gslb.sddc.lab", cluster, ing.Spec.Rules)
	}
	p := ing.Spec.Rules[0].HTTP.Paths[0]
	if p.Path != "/" || *p.PathType != networkingv1.PathTypePrefix || p.Backend.Service.Name != "frontend-external" || p.Backend.Service.Port.Number != 80 {
		t.Errorf("%s: path = %+v, want / Prefix -> frontend-external:80", cluster, p)
	}
	// AKO's shape: one entry per host, with the host as hostname.
	lb := ing.Status.LoadBalancer.Ingress
	if len(lb) != 1 || lb[0].IP != vip || lb[0].Hostname != "onlineshop.gslb.sddc.lab" {
		t.Errorf("%s: status.loadBalancer.ingress = %+v, want {ip %s, hostname onlineshop.gslb.sddc.lab}", cluster, lb, vip)
	}
}

func ingressAddrs(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	ing, err := cs.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ing.Status.LoadBalancer.Ingress {
		out = append(out, e.IP+e.Hostname)
	}
	return strings.Join(out, ",")
}

func testKubeconfig(ctx context.Context, t *testing.T, l *lab.Lab) {
	cfg, err := clientcmd.LoadFromFile(l.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	wantContexts := []string{"sitea-tkg-wld01-admin@sitea-tkg-wld01", "siteb-tkg-wld01-admin@siteb-tkg-wld01"}
	if len(cfg.Contexts) != len(wantContexts) {
		t.Errorf("kubeconfig has %d contexts, want %d", len(cfg.Contexts), len(wantContexts))
	}
	if cfg.CurrentContext != wantContexts[0] {
		t.Errorf("current context = %q, want %q", cfg.CurrentContext, wantContexts[0])
	}
	for i, name := range wantContexts {
		c := l.Clusters[i]
		if c.Context != name {
			t.Errorf("cluster %d context = %q, want %q", i, c.Context, name)
		}
		kc := cfg.Contexts[name]
		if kc == nil {
			t.Errorf("kubeconfig lacks context %q", name)
			continue
		}
		if kc.Cluster != c.Name || kc.AuthInfo != c.Name+"-admin" {
			t.Errorf("context %q = cluster %q user %q, want %q and %q", name, kc.Cluster, kc.AuthInfo, c.Name, c.Name+"-admin")
		}
		rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			t.Fatalf("context %q: %v", name, err)
		}
		cs := kubernetes.NewForConfigOrDie(rc)
		v, err := cs.Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("context %q: %v", name, err)
		}
		if v.GitVersion != l.Binaries.Version {
			t.Errorf("context %q: server version %s, want %s (ldflags not applied?)", name, v.GitVersion, l.Binaries.Version)
		}
		// Each context reaches its own cluster: the seeded VIP tells them apart.
		ing, err := cs.NetworkingV1().Ingresses(lab.OnlineshopNamespace).Get(ctx, lab.OnlineshopIngress, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("context %q: %v", name, err)
		}
		if got := ing.Status.LoadBalancer.Ingress; len(got) == 0 || got[0].IP != lab.SeedVIP(i) {
			t.Errorf("context %q reached the wrong cluster: ingress status %+v, want %s", name, got, lab.SeedVIP(i))
		}
	}

	// The kubectl we built reads the same file.
	out, err := exec.CommandContext(ctx, l.Binaries.Kubectl, "--kubeconfig", l.Kubeconfig, "--context", wantContexts[1],
		"get", "ingress", "-n", lab.OnlineshopNamespace, "-o", "jsonpath={.items[0].status.loadBalancer.ingress[0].ip}").CombinedOutput()
	if err != nil || string(out) != "172.27.17.21" {
		t.Errorf("kubectl get ingress on site B: %q, %v; want 172.27.17.21", out, err)
	}
}

func testRBAC(ctx context.Context, t *testing.T, c *lab.Cluster) {
	list := func(rc *rest.Config) error {
		_, err := kubernetes.NewForConfigOrDie(rc).NetworkingV1().Ingresses("").List(ctx, metav1.ListOptions{})
		return err
	}
	anonymous := c.RESTConfig()
	anonymous.CertData, anonymous.KeyData = nil, nil
	if err := list(anonymous); !apierrors.IsUnauthorized(err) {
		t.Errorf("without credentials: err = %v, want 401 Unauthorized", err)
	}
	if err := list(c.RESTConfigForToken("not-a-known-token")); !apierrors.IsUnauthorized(err) {
		t.Errorf("unknown token: err = %v, want 401 Unauthorized", err)
	}
	nobody, err := c.RESTConfigForUser("nobody", "some-group")
	if err != nil {
		t.Fatal(err)
	}
	if err := list(nobody); !apierrors.IsForbidden(err) {
		t.Errorf("authenticated user without bindings: err = %v, want 403 Forbidden", err)
	}
	if err := list(c.RESTConfigForToken(c.AdminToken())); err != nil {
		t.Errorf("admin token: %v", err)
	}
}

// testRestart takes a whole site down and up again and checks that an
// informer started before the outage delivers an object created after it.
func testRestart(ctx context.Context, t *testing.T, c *lab.Cluster) {
	cs := c.Clientset()
	ns := "restart-test"
	if err := lab.EnsureNamespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	seen := make(chan time.Time, 1)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	inf := factory.Networking().V1().Ingresses().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if ing, ok := obj.(*networkingv1.Ingress); ok && ing.Name == "after-restart" {
			select {
			case seen <- time.Now():
			default:
			}
		}
	}}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer func() { close(stop); factory.Shutdown() }()
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer never synced")
	}

	oldPID := c.APIServerPID()
	down := time.Now()
	c.Stop()
	if c.Running() {
		t.Fatal("cluster still running after Stop")
	}
	if err := syscall.Kill(oldPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("old kube-apiserver pid %d still exists after Stop (kill -0: %v)", oldPID, err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	t.Logf("site %s: stop+start took %.1fs", c.Site, up.Sub(down).Seconds())

	// The data survived (same etcd data dir).
	ing, err := cs.NetworkingV1().Ingresses(lab.OnlineshopNamespace).Get(ctx, lab.OnlineshopIngress, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	checkOnlineshopIngress(t, c.Name, ing, lab.SeedVIP(1))

	if _, err := lab.CreateIngress(ctx, cs, lab.IngressSpec{Namespace: ns, Name: "after-restart", Hosts: []string{"after.gslb.sddc.lab"}, Service: "x", Port: 80}); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	select {
	case at := <-seen:
		t.Logf("watch resumed: event delivered %.1fs after the create, %.1fs after the apiserver was ready again",
			at.Sub(created).Seconds(), at.Sub(up).Seconds())
	case <-time.After(resumeBudget):
		t.Fatalf("informer did not deliver an object created after the restart within %s", resumeBudget)
	}
}

// testAPIServerRestart takes only the API away: etcd keeps running with
// the same pid, and Start brings back just the apiserver.
func testAPIServerRestart(ctx context.Context, t *testing.T, c *lab.Cluster) {
	etcdPID := c.EtcdPID()
	c.StopAPIServer()
	if c.APIServerPID() != 0 || c.Running() {
		t.Fatal("kube-apiserver still running after StopAPIServer")
	}
	if c.EtcdPID() != etcdPID {
		t.Fatalf("etcd pid changed from %d to %d; StopAPIServer must leave etcd alone", etcdPID, c.EtcdPID())
	}
	if _, err := c.Clientset().Discovery().ServerVersion(); err == nil {
		t.Fatal("the API still answers after StopAPIServer")
	}
	begin := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver alone restarted in %.1fs", time.Since(begin).Seconds())
	if c.EtcdPID() != etcdPID {
		t.Errorf("Start replaced a running etcd (pid %d -> %d)", etcdPID, c.EtcdPID())
	}
	ing, err := c.Clientset().NetworkingV1().Ingresses(lab.OnlineshopNamespace).Get(ctx, lab.OnlineshopIngress, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkOnlineshopIngress(t, c.Name, ing, lab.SeedVIP(0))
}

func testClose(t *testing.T, l *lab.Lab) {
	var pids []int
	for _, c := range l.Clusters {
		for _, pid := range []int{c.APIServerPID(), c.EtcdPID()} {
			if pid == 0 {
				t.Errorf("%s: a process is not running before Close", c.Name)
				continue
			}
			pids = append(pids, pid)
		}
	}
	begin := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %.1fs", time.Since(begin).Seconds())
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Close (kill -0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab dir %s still exists after Close (stat: %v)", l.Dir, err)
	}
	for _, c := range l.Clusters {
		if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(c.APIServerURL, "https://"), time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Close", c.APIServerURL)
		}
	}
}

// TestBasePortInUse checks that a taken fixed port fails at once with an
// error naming the port and how to change it, starting nothing.
func TestBasePortInUse(t *testing.T) {
	if lab.SkipRequested() {
		t.Skip(lab.EnvSkipLab + "=1")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	begin := time.Now()
	l, err := lab.Start(context.Background(), 1, lab.Options{BasePort: port, Dir: t.TempDir() + "/lab"})
	if err == nil {
		l.Close()
		t.Fatal("Start succeeded on a port that is in use")
	}
	msg := err.Error()
	t.Logf("error, as expected:\n%s", msg)
	for _, want := range []string{fmt.Sprintf("127.0.0.1:%d", port), "kube-apiserver", "-base-port", lab.EnvBasePort} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("failing took %s; it should be immediate", d)
	}
}

// TestServerExitIsExplained uses an "etcd" that dies at once: Start must
// return promptly with the exit status and the end of its log, kill the
// rest, and keep the log it points at.
func TestServerExitIsExplained(t *testing.T) {
	dir := t.TempDir()
	fake := lab.Binaries{Dir: dir, APIServer: dir + "/kube-apiserver", Etcd: dir + "/etcd", Kubectl: dir + "/kubectl"}
	for _, p := range []string{fake.APIServer, fake.Kubectl} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\nsleep 600\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(fake.Etcd, []byte("#!/bin/sh\necho 'etcd: simulated fatal error' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	labDir := dir + "/lab"
	begin := time.Now()
	l, err := lab.Start(context.Background(), 1, lab.Options{Binaries: &fake, Dir: labDir})
	if err == nil {
		l.Close()
		t.Fatal("Start succeeded with an etcd that exits")
	}
	msg := err.Error()
	t.Logf("error, as expected:\n%s", msg)
	for _, want := range []string{"sitea-tkg-wld01", "etcd exit status 3", "simulated fatal error", "etcd.log"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("failing took %s; it should be immediate", d)
	}
	if _, err := os.Stat(labDir + "/sitea-tkg-wld01/etcd.log"); err != nil {
		t.Errorf("the log the error points at is gone: %v", err)
	}
}
