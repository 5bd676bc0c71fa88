package labtest

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/gslb/gslb/deploy/tools/chart"
	"github.com/gslb/gslb/deploy/tools/image"
	"github.com/gslb/gslb/deploy/tools/internal/testbin"
	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	saUser    = "system:serviceaccount:" + chart.Namespace + ":gslb"
	saPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	nonRootID = 65532
)

// TestPodInCluster installs the chart for real in both clusters (AMKO's
// gslb-config-secret as the existing Secret, made from TokenRequest tokens
// of the chart's ServiceAccount), then runs the image's /coredns the way
// the kubelet would: the image's root file system read-only, the chart's
// ConfigMap and Secret (read back from the API server) and a service
// account token bind-mounted read-only at their paths in a private mount
// namespace, KUBERNETES_SERVICE_HOST/PORT set, user 65532. It must answer
// the seed of both sites, and no API server may log a forbidden request.
func TestPodInCluster(t *testing.T) {
	ctx := context.Background()
	rootfs := imageRootfs(t)
	a, b := theLab.Clusters[0], theLab.Clusters[1]

	ports := freePorts(t, 4)
	values := fmt.Sprintf(`
kubeconfig: {existingSecret: gslb-config-secret}
ports: {dns: %d, health: %d, ready: %d, metrics: %d}
corefile: {bind: [127.0.0.1]}
gslb:
  sites:
    - {name: sitea, context: %s}
    - {name: siteb, context: %s}
  # Probes may only reach loopback: the seed's VIPs are answer data.
  health: {targets: [127.0.0.0/8]}
`, ports[0], ports[1], ports[2], ports[3], a.Context, b.Context)
	install(t, values)

	// gslb-members as AMKO users have it: one context per member cluster,
	// here with tokens of the chart's ServiceAccount in each.
	kc := clientcmdapi.NewConfig()
	for _, c := range theLab.Clusters {
		tok := token(t, c, 0)
		kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.APIServerURL, CertificateAuthorityData: c.CAData()}
		kc.AuthInfos["gslb@"+c.Name] = &clientcmdapi.AuthInfo{Token: tok}
		kc.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: "gslb@" + c.Name}
	}
	members, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gslb-config-secret", Namespace: chart.Namespace},
		Data: map[string][]byte{"gslb-members": members}}
	if _, err := a.Clientset().CoreV1().Secrets(chart.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Clientset().CoreV1().Secrets(chart.Namespace).Delete(context.Background(), "gslb-config-secret", metav1.DeleteOptions{})
	})

	from := auditOffsets(t)
	p := runPod(t, rootfs, a, true)
	p.waitReady(t, ports[2])
	p.checkIdentity(t)
	want := []string{lab.SeedVIP(0), lab.SeedVIP(1)}
	eventually(t, ports[0], lab.OnlineshopHost, want)
	p.measure(t, ports[0])
	p.stop()
	checkAudit(t, from, a, b)
}

// TestPodInClusterOwnCluster is the chart's inCluster mode: no kubeconfig,
// the mounted token alone (rest.InClusterConfig) watches site A.
func TestPodInClusterOwnCluster(t *testing.T) {
	rootfs := imageRootfs(t)
	a := theLab.Clusters[0]
	ports := freePorts(t, 4)
	install(t, fmt.Sprintf(`
ports: {dns: %d, health: %d, ready: %d, metrics: %d}
corefile: {bind: [127.0.0.1]}
gslb:
  inCluster: {enabled: true, site: sitea}
  health: {targets: [127.0.0.0/8]}
`, ports[0], ports[1], ports[2], ports[3]))
	from := auditOffsets(t)
	p := runPod(t, rootfs, a, false)
	p.waitReady(t, ports[2])
	p.checkIdentity(t)
	eventually(t, ports[0], lab.OnlineshopHost, []string{lab.SeedVIP(0)})
	p.stop()
	checkAudit(t, from, a)
}

// install applies the chart's objects for real (server-side apply) in
// both clusters, release gslb in gslb-system.
func install(t *testing.T, values string) {
	t.Helper()
	ctx := context.Background()
	v, err := chart.Values(values)
	if err != nil {
		t.Fatal(err)
	}
	m, err := chart.Render(chart.Dir(repoRoot), v)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := chart.Objects(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range theLab.Clusters {
		if err := ensureNamespace(ctx, c, chart.Namespace); err != nil {
			t.Fatal(err)
		}
		ap, err := newApplier(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if err := ap.apply(ctx, o, false); err != nil {
				t.Fatalf("%s: applying %s %s: %v", c.Name, o.GetKind(), o.GetName(), err)
			}
		}
	}
}

// token asks the API server for a token of the chart's ServiceAccount, as
// the kubelet does for a projected service account volume (1 h).
func token(t *testing.T, c *lab.Cluster, seconds int64) string {
	t.Helper()
	req := &authv1.TokenRequest{}
	if seconds > 0 {
		req.Spec.ExpirationSeconds = &seconds
	}
	tr, err := c.Clientset().CoreV1().ServiceAccounts(chart.Namespace).CreateToken(context.Background(), "gslb", req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: TokenRequest for %s: %v", c.Name, saUser, err)
	}
	return tr.Status.Token
}

var (
	rootfsOnce sync.Once
	rootfsDir  string
	rootfsErr  error
)

// imageRootfs unpacks the image the way a runtime does (layers in order,
// modes, owners, the file capability), from the OCI archive `make image`
// wrote ($GSLB_IMAGE), else from one built here from the static coredns.
func imageRootfs(t *testing.T) string {
	t.Helper()
	archive := os.Getenv("GSLB_IMAGE")
	if archive == "" {
		bin := testbin.CoreDNS(t)
		rootfsOnce.Do(func() {
			var a image.Artifact
			a, rootfsErr = image.Assemble(image.Options{Binaries: map[string]string{"linux/amd64": bin},
				Version: "test", Revision: "test", Source: "https://github.com/gslb/gslb", Created: time.Unix(0, 0)})
			if rootfsErr == nil {
				archive = filepath.Join(os.TempDir(), fmt.Sprintf("gslb-image-%d.tar", os.Getpid()))
				rootfsErr = image.WriteOCIArchive(a, "ghcr.io/gslb/coredns:test", archive)
				defer os.Remove(archive)
			}
			if rootfsErr == nil {
				rootfsDir, rootfsErr = unpackArchive(archive)
			}
		})
	} else {
		rootfsOnce.Do(func() { rootfsDir, rootfsErr = unpackArchive(archive) })
	}
	if rootfsErr != nil {
		t.Fatalf("unpacking the image: %v", rootfsErr)
	}
	return rootfsDir
}

func unpackArchive(archive string) (string, error) {
	layoutDir, err := os.MkdirTemp("", "gslb-layout-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(layoutDir)
	img, _, err := image.ReadOCIArchive(archive, layoutDir, "linux/amd64")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gslb-rootfs-")
	if err != nil {
		return "", err
	}
	return dir, unpack(img, dir)
}

func unpack(img v1.Image, dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode&0o777)); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode&0o777))
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected entry %s", h.Name)
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(h.Mode&0o7777)|modeBits(h.Mode)); err != nil {
			return err
		}
		for k, v := range h.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if err := unix.Lsetxattr(p, name, []byte(v), 0); err != nil {
					return fmt.Errorf("%s: xattr %s: %w", h.Name, name, err)
				}
			}
		}
	}
	// Mount points the kubelet's volumes land on.
	for _, d := range []string{"etc/coredns", strings.TrimPrefix(saPath, "/")} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func modeBits(m int64) os.FileMode {
	var fm os.FileMode
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

type pod struct {
	cmd    *exec.Cmd
	rootfs string
	logMu  sync.Mutex
	log    strings.Builder
	exited chan struct{}
}

func (p *pod) Log() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.log.String()
}

// volume writes files as the kubelet's projected volume does: group
// fsGroup (65532), mode 0440.
func volume(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o440); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 0, nonRootID); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The mounts a container runtime would make, then the process as the
// image's user. Everything runs in a private mount namespace and a PID
// namespace whose init (sh) dies with the test, taking /coredns with it.
const podScript = `
root=$1 config=$2 sa=$3; shift 3
mount --bind "$root" "$root"
mount --bind "$config" "$root/etc/coredns"
mount --bind "$sa" "$root` + saPath + `"
mount -o remount,bind,ro "$root/etc/coredns"
mount -o remount,bind,ro "$root` + saPath + `"
mount -o remount,bind,ro "$root"
unshare --root="$root" --wd=/ --setgid 65532 --setuid 65532 -- "$@" &
wait $!
`

// runPod starts the image's entrypoint against cluster c (the Pod's own
// cluster), with the chart's ConfigMap and, when withKubeconfig, its Secret.
func runPod(t *testing.T, rootfs string, c *lab.Cluster, withKubeconfig bool) *pod {
	t.Helper()
	ctx := context.Background()
	cm, err := c.Clientset().CoreV1().ConfigMaps(chart.Namespace).Get(ctx, "gslb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	config := map[string][]byte{"Corefile": []byte(cm.Data["Corefile"])}
	if withKubeconfig {
		s, err := c.Clientset().CoreV1().Secrets(chart.Namespace).Get(ctx, "gslb-config-secret", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		config["gslb-members"] = s.Data["gslb-members"]
	}
	sa := volume(t, map[string][]byte{
		"token":     []byte(token(t, c, 3607)),
		"ca.crt":    c.CAData(),
		"namespace": []byte(chart.Namespace),
	})
	u, err := urlHostPort(c.APIServerURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u)
	p := &pod{rootfs: rootfs, exited: make(chan struct{})}
	p.cmd = exec.Command("unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation", "private", "--",
		"sh", "-ec", podScript, "sh", rootfs, volume(t, config), sa, image.Entrypoint, "-conf", image.Corefile)
	// What the kubelet and the image set, nothing of the test's own env.
	p.cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=" + image.CABundle,
		"HOSTNAME=gslb-5d8f7b9c4-x2x7q",
		"KUBERNETES_SERVICE_HOST=" + host,
		"KUBERNETES_SERVICE_PORT=" + port,
		"KUBERNETES_SERVICE_PORT_HTTPS=" + port,
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.logMu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.logMu.Unlock()
		}
	}()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	go func() { p.cmd.Wait(); pw.Close(); close(p.exited) }()
	t.Cleanup(p.stop)
	return p
}

func urlHostPort(u string) (string, error) {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		return "", fmt.Errorf("not an https URL: %s", u)
	}
	return strings.TrimSuffix(rest, "/"), nil
}

func (p *pod) stop() {
	if p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	// unshare --kill-child takes the PID namespace, and /coredns, down.
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *pod) waitReady(t *testing.T, readyPort int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	url := fmt.Sprintf("127.0.0.1:%d", readyPort)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("the pod exited:\n%s", p.Log())
		default:
		}
		if httpOK(url, "/ready") {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("not ready after 90 s:\n%s", p.Log())
}

func httpOK(addr, path string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr)
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.Contains(line, " 200 ")
}

// corednsPID finds /coredns among the processes whose root is the image.
func (p *pod) corednsPID(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		if strings.HasPrefix(string(cmdline), image.Entrypoint+"\x00") && root == p.rootfs {
			return pid
		}
	}
	t.Fatalf("no /coredns process rooted in %s:\n%s", p.rootfs, p.Log())
	return 0
}

// checkIdentity: the process runs as 65532 with NET_BIND_SERVICE alone
// (from the image's file capability), like the chart's securityContext.
func (p *pod) checkIdentity(t *testing.T) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.corednsPID(t)))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, l := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(l, ":")
		fields[k] = strings.Join(strings.Fields(v), " ")
	}
	if fields["Uid"] != "65532 65532 65532 65532" || fields["Gid"] != "65532 65532 65532 65532" || fields["Groups"] != "" {
		t.Errorf("/coredns runs as Uid %q Gid %q Groups %q, want 65532 only", fields["Uid"], fields["Gid"], fields["Groups"])
	}
	if fields["CapEff"] != "0000000000000400" {
		t.Errorf("/coredns has effective capabilities %s, want only NET_BIND_SERVICE (0x400)", fields["CapEff"])
	}
}

// eventually waits until name's answers cover exactly want: the chart's
// default answers one address per query (Avi's num_dns_ip 1), so the last
// few answers together must hold every address of want and nothing else.
func eventually(t *testing.T, port int, name string, want []string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(60 * time.Second)
	var window [][]string
	var got []string
	for time.Now().Before(deadline) {
		window = append(window, queryA(port, name))
		if len(window) > 4 {
			window = window[1:]
		}
		got = nil
		for _, a := range window {
			got = append(got, a...)
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if slices.Equal(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s A: %v in the last answers after 60 s, want %v", name, got, want)
}

func queryA(port int, name string) []string {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		return nil
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	slices.Sort(ips)
	return ips
}

// measure logs what the resources of the chart are based on: RSS and CPU
// time of /coredns serving the seed, after a burst of queries.
func (p *pod) measure(t *testing.T, port int) {
	pid := p.corednsPID(t)
	cpu := func() time.Duration {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
	}
	rss := func() string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmHWM") {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
		return strings.Join(out, ", ")
	}
	t.Logf("footprint at ready: %s, cpu %v", rss(), cpu())
	const n = 5000
	c0, t0 := cpu(), time.Now()
	for range n {
		queryA(port, lab.OnlineshopHost)
	}
	el := time.Since(t0)
	t.Logf("footprint after %d sequential queries in %v: %s, cpu %v for them (%.0f µs per query)", n, el.Round(time.Millisecond), rss(), cpu()-c0,
		float64((cpu()-c0).Microseconds())/n)
}

type auditEvent struct {
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	Verb           string `json:"verb"`
	RequestURI     string `json:"requestURI"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// auditOffsets marks where each audit log ends now.
func auditOffsets(t *testing.T) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, c := range theLab.Clusters {
		fi, err := os.Stat(c.AuditLog())
		if err != nil {
			t.Fatalf("the lab runs without an audit log: %v", err)
		}
		m[c.Name] = fi.Size()
	}
	return m
}

// checkAudit reads every API server's audit log from the offsets on: no
// request of the chart's ServiceAccount was forbidden, and it made some to
// each of the clusters in used.
func checkAudit(t *testing.T, from map[string]int64, used ...*lab.Cluster) {
	t.Helper()
	for _, c := range theLab.Clusters {
		f, err := os.Open(c.AuditLog())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(from[c.Name], io.SeekStart); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		requests, forbidden := 0, 0
		for sc.Scan() {
			var e auditEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: %v", c.AuditLog(), err)
			}
			if e.User.Username != saUser {
				continue
			}
			requests++
			if e.ResponseStatus.Code == 403 {
				forbidden++
				t.Errorf("%s: forbidden: %s %s", c.Name, e.Verb, e.RequestURI)
			}
		}
		f.Close()
		t.Logf("%s: %d requests by %s, %d forbidden", c.Name, requests, saUser, forbidden)
		if requests == 0 && slices.Contains(used, c) {
			t.Errorf("%s: the audit log has no request by %s: the test did not exercise its rights", c.Name, saUser)
		}
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
