package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// partitionUID runs the server that a firewall rule cuts off from one site:
// an otherwise unused uid, so the rule touches nothing else on the machine.
const partitionUID = 61712

// vantageLab is three sites, each with one gslb server (a vantage named
// after its site) and one member of the same name on its own loopback
// address.
type vantageLab struct {
	t       *testing.T
	lab     *lab.Lab
	host    string
	ips     []string // member of site i
	members []*member
	servers []*server
}

// needPartition checks what cutting one server off needs: root (to run a
// server under another uid and to change the firewall) and iptables. On CI
// (.ci/run installs iptables) their absence is a failure, not a skip.
func needPartition(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("iptables")
	if os.Geteuid() == 0 && err == nil {
		return
	}
	msg := "the vantage e2e test needs root and iptables (apt-get install iptables) to drop one server's probes"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startVantageLab starts the three sites, their members and servers: server
// i runs as partitionUID when i == cut (-1: none).
func startVantageLab(t *testing.T, cut int, extra ...string) *vantageLab {
	t.Helper()
	v := &vantageLab{t: t, lab: lab.StartT(t, 3)}
	ctx := context.Background()
	const objects = "gslb-vantages" // namespace of the vantage objects
	ns := fmt.Sprintf("vantage-%d", time.Now().UnixNano()%1e6)
	v.host = ns + ".gslb.sddc.lab"
	for i := range 3 {
		v.ips = append(v.ips, fmt.Sprintf("127.%d.17.41", 26+i))
	}
	port := freePortOn(t, v.ips...)
	ann := map[string]string{"gslb.io/health-port": strconv.Itoa(port)}
	for i, c := range v.lab.Clusters {
		v.members = append(v.members, startMember(t, v.ips[i], port))
		cs := c.Clientset()
		for _, n := range []string{ns, objects} {
			if err := lab.EnsureNamespace(ctx, cs, n); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := lab.CreateIngress(ctx, cs, lab.IngressSpec{
			Namespace: ns, Name: "web", Labels: lab.GSLBLabels(), Annotations: ann,
			ClassName: "avi-lb", Hosts: []string{v.host}, Service: "web", Port: 80,
		}); err != nil {
			t.Fatal(err)
		}
		if err := lab.SetIngressStatus(ctx, cs, ns, "web", []string{v.ips[i]}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var as *runAs
	if cut >= 0 {
		as = userDir(t, partitionUID)
	}
	for i, c := range v.lab.Clusters {
		kubeconfig := v.lab.Kubeconfig
		var who *runAs
		if i == cut {
			who, kubeconfig = as, as.copy(v.lab.Kubeconfig)
		}
		lines := []string{"kubeconfig " + kubeconfig}
		for _, cl := range v.lab.Clusters {
			lines = append(lines, "site "+cl.Site+" "+cl.Context)
		}
		lines = append(lines,
			"nameserver ns1.gslb.sddc.lab 127.0.0.53",
			"nameserver ns2.gslb.sddc.lab 127.0.0.54",
			"health_targets 127.0.0.0/8",
			"vantage {\n            context "+c.Site+"\n            namespace "+objects+"\n        }",
			"health_quorum majority")
		v.servers = append(v.servers, startServerAs(t, who, strings.Join(append(lines, extra...), "\n        ")))
	}
	return v
}

// userDir makes a directory owned by uid holding a copy of the binary.
func userDir(t *testing.T, uid int) *runAs {
	t.Helper()
	dir, err := os.MkdirTemp("", "gslb-vantage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	as := &runAs{uid: uint32(uid), dir: dir}
	as.coredns = as.copy(coredns)
	if err := os.Chmod(as.coredns, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	return as
}

// copy copies file into the directory, owned by its uid, and returns the copy.
func (as *runAs) copy(file string) string {
	src, err := os.Open(file)
	if err != nil {
		panic(err)
	}
	defer src.Close()
	dst := filepath.Join(as.dir, filepath.Base(file))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = io.Copy(out, src)
		err = errorsJoin(err, out.Close(), os.Chown(dst, int(as.uid), int(as.uid)))
	}
	if err != nil {
		panic(err)
	}
	return dst
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// dropProbes makes the firewall drop every packet from the partitioned
// server to ip, until the returned function (also run at cleanup, so that
// a failing test leaves no rule behind) removes the rule.
func dropProbes(t *testing.T, ip string) (restore func()) {
	t.Helper()
	rule := []string{"OUTPUT", "-m", "owner", "--uid-owner", strconv.Itoa(partitionUID), "-d", ip, "-j", "DROP",
		"-m", "comment", "--comment", "gslb-e2e-vantage"}
	iptables := func(op string) error {
		out, err := exec.Command("iptables", append([]string{"-w", "10", op}, rule...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %s %s: %v: %s", op, strings.Join(rule, " "), err, out)
		}
		return nil
	}
	for iptables("-D") == nil { // a rule left by a killed run
	}
	if err := iptables("-I"); err != nil {
		t.Fatal(err)
	}
	done := false
	restore = func() {
		if !done {
			done = true
			if err := iptables("-D"); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(restore)
	return restore
}

// allAnswer waits until every server answers exactly want.
func (v *vantageLab) allAnswer(limit time.Duration, want ...string) time.Duration {
	v.t.Helper()
	begin := time.Now()
	for _, s := range v.servers {
		s.eventually(v.host, dns.TypeA, limit-time.Since(begin), want...)
	}
	return time.Since(begin)
}

// waitMetric polls a server's metric until ok accepts it.
func (s *server) waitMetric(name, labels string, limit time.Duration, ok func(float64) bool) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		v := s.metric(name, labels)
		if ok(v) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s{%s} = %v after %s", name, labels, v, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func equal(n float64) func(float64) bool { return func(v float64) bool { return v == n } }

// TestVantageQuorum runs three gslb servers, one per site, sharing their
// verdicts through their clusters' API servers (health_quorum majority):
//   - a firewall rule drops server C's probes to site B's member: C sees it
//     down, the others up, and all three keep answering it;
//   - site B's member really stops: all three take it out;
//   - site C's API server dies: A and B leave vantage C out and still take
//     a dead member out by the two fresh votes.
func TestVantageQuorum(t *testing.T) {
	needPartition(t)
	const c = 2 // server C, the one cut off from site B
	v := startVantageLab(t, c)
	a, b, sc := v.servers[0], v.servers[1], v.servers[2]
	all := v.ips
	v.allAnswer(updateBound, all...)
	// Every server counts both peers, and every peer has published its
	// first probes of all three members.
	for i, s := range v.servers {
		for j, cl := range v.lab.Clusters {
			if i != j {
				s.waitMetric("coredns_gslb_vantage_fresh", `vantage="`+cl.Site+`"`, 60*time.Second, equal(1))
				s.waitMetric("coredns_gslb_vantage_verdicts", `vantage="`+cl.Site+`",verdict="up"`, 60*time.Second, equal(3))
			}
		}
	}

	// 1. Partition seen by C alone.
	heal := dropProbes(t, v.ips[1])
	// C's own probes fail, and A learns it through C's published verdicts.
	sc.waitMetric("coredns_gslb_quorum_targets", `decision="up",own="down"`, failoverBound, equal(1))
	a.waitMetric("coredns_gslb_vantage_verdicts", `vantage="sitec",verdict="down"`, failoverBound, equal(1))
	b.waitMetric("coredns_gslb_vantage_verdicts", `vantage="sitec",verdict="down"`, failoverBound, equal(1))
	// For several probe intervals, every server still answers site B.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		for i, s := range v.servers {
			if got := s.addrs(v.host, dns.TypeA); !slices.Equal(got, all) {
				t.Fatalf("partition seen by C only: server %d answers %v, want %v", i, got, all)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got := sc.metric("coredns_gslb_member_unhealthy", `site="siteb"`); got != 1 {
		t.Errorf("server C's own checker: %v unhealthy targets in siteb, want 1 (the partition must be real)", got)
	}
	heal()
	a.waitMetric("coredns_gslb_vantage_verdicts", `vantage="sitec",verdict="down"`, failoverBound, equal(0))

	// 2. A real outage: site B's member stops; all three drop it.
	v.members[1].stop()
	took := v.allAnswer(failoverBound, v.ips[0], v.ips[2])
	t.Logf("site B's member stopped: all three servers answer without it after %.2f s", took.Seconds())
	v.members[1].start()
	v.allAnswer(failoverBound, all...)

	// 3. Site C's API server dies: A and B leave vantage C out.
	v.lab.Clusters[c].StopAPIServer()
	for _, s := range []*server{a, b} {
		s.waitMetric("coredns_gslb_vantage_fresh", `vantage="sitec"`, 60*time.Second, equal(0))
	}
	// With C left out, a dead member still leaves the answers by the votes
	// of A and B (2 of 2), in all three servers (C still reads A and B).
	v.members[0].stop()
	took = v.allAnswer(failoverBound, v.ips[1], v.ips[2])
	t.Logf("vantage C stale, site A's member stopped: all answer without it after %.2f s", took.Seconds())
	if got := a.metric("coredns_gslb_vantage_fallback", ""); got != 0 {
		t.Errorf("server A fell back to its own probes with B fresh")
	}
}

// TestVantageFallback: when no other vantage is fresh, a server decides on
// its own probes, says so in a metric, and still fails over.
func TestVantageFallback(t *testing.T) {
	v := startVantageLab(t, -1)
	v.allAnswer(updateBound, v.ips...)
	a := v.servers[0]
	a.waitMetric("coredns_gslb_vantage_fresh", `vantage="siteb"`, 60*time.Second, equal(1))
	// Stop servers B and C: their heartbeats go stale.
	v.servers[1].stop()
	v.servers[2].stop()
	a.waitMetric("coredns_gslb_vantage_fallback", "", 60*time.Second, equal(1))
	v.members[2].stop()
	a.eventually(v.host, dns.TypeA, failoverBound, v.ips[0], v.ips[1])
	if !strings.Contains(a.Log(), "no other vantage is fresh") {
		t.Errorf("server A did not log its fallback:\n%s", a.Log())
	}
}

// TestVantageLeastPrivilege runs two vantages as the gslb ServiceAccount
// with exactly deploy/rbac.yaml and deploy/rbac-vantage.yaml (part 2 for
// each vantage in its own cluster): they publish and read each other, and
// may neither create objects nor write another vantage's.
func TestVantageLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	root, err := lab.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(filepath.Join(root, "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vantageRBAC, err := os.ReadFile(filepath.Join(root, "deploy", "rbac-vantage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Fresh vantage names: the shared lab outlives this test.
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	names := []string{"va" + suffix, "vb" + suffix}
	kc := clientcmdapi.NewConfig()
	var limited []kubernetes.Interface
	for i, c := range theLab.Clusters {
		applyManifest(t, c.Clientset(), base)
		applyManifest(t, c.Clientset(), []byte(strings.ReplaceAll(string(vantageRBAC), "sitea", names[i])))
		tok, err := c.Clientset().CoreV1().ServiceAccounts("gslb-system").CreateToken(ctx, "gslb",
			&authv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.APIServerURL, CertificateAuthorityData: c.CAData()}
		kc.AuthInfos["gslb@"+c.Name] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
		kc.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: "gslb@" + c.Name}
		cs, err := kubernetes.NewForConfig(&rest.Config{Host: c.APIServerURL, BearerToken: tok.Status.Token,
			TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData()}})
		if err != nil {
			t.Fatal(err)
		}
		limited = append(limited, cs)
	}
	kubeconfig := filepath.Join(t.TempDir(), "gslb-members")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	var servers []*server
	for i, c := range theLab.Clusters {
		body := strings.Replace(gslbBlock(
			"vantage "+names[i]+" {\n            context "+c.Context+"\n            peers "+strings.Join(names, " ")+"\n        }"),
			"kubeconfig "+theLab.Kubeconfig, "kubeconfig "+kubeconfig, 1)
		servers = append(servers, startServer(t, body))
	}
	for i, s := range servers {
		s.waitMetric("coredns_gslb_vantage_fresh", `vantage="`+names[1-i]+`"`, 60*time.Second, equal(1))
		if strings.Contains(strings.ToLower(s.Log()), "forbidden") {
			t.Errorf("server %d: a request was forbidden: deploy/rbac-vantage.yaml misses a permission:\n%s", i, s.Log())
		}
	}
	// Site A's token may not touch anything but vantage A's objects.
	cs := limited[0]
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "gslb-vantage-" + names[1], Namespace: "gslb-system"}}
	if _, err := cs.CoreV1().ConfigMaps("gslb-system").Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("creating a ConfigMap: err %v, want Forbidden", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("gslb-system").Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("updating another vantage's ConfigMap: err %v, want Forbidden", err)
	}
	if _, err := cs.CoordinationV1().Leases("gslb-system").Get(ctx, "gslb-vantage-"+names[1], metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("getting another vantage's Lease: err %v, want Forbidden", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing ConfigMaps outside gslb-system: err %v, want Forbidden", err)
	}
}
