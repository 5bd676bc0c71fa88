package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/status"
	"github.com/gslb/gslb/test/lab"
	"github.com/miekg/dns"
)

// chromium finds Debian's headless browser; .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// browse loads url in headless Chromium and returns the DOM after its
// scripts ran; with screenshot set it also saves a PNG there. The browser
// may reach loopback only: every other host resolves to nothing and goes
// to a proxy that does not exist, and its background services are off.
func browse(t *testing.T, url, screenshot string) string {
	t.Helper()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir=" + t.TempDir(),
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
		"--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--virtual-time-budget=3000",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if screenshot != "" {
		shot := exec.CommandContext(ctx, chromium(t), append(args, "--window-size=1280,900", "--hide-scrollbars", "--screenshot="+screenshot, url)...)
		if out, err := shot.CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out)
		}
	}
	cmd := exec.CommandContext(ctx, chromium(t), append(args, "--dump-dom", url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.String())
	}
	return string(dom)
}

// memberRow finds the row of a member of service name at site in the DOM.
func memberRow(dom, name, site string) string {
	re := regexp.MustCompile(`(?s)<tr class="member" data-service="` + regexp.QuoteMeta(name) + `" data-site="` + site + `"[^>]*>.*?</tr>`)
	return re.FindString(dom)
}

// TestStatusPageInBrowser loads the status page in a real browser against
// the lab: the seed's two sites are up; then site B's VIP of a probed name
// is withdrawn (nothing answers on it any more) and the page shows that
// member down, with the probe's reason. The last screenshot is kept
// ($GSLB_STATUS_SCREENSHOT, else the test's log says where).
func TestStatusPageInBrowser(t *testing.T) {
	chromium(t)
	// The VIPs of the probed name: loopback addresses of this test, with a
	// listener each, on one port.
	vipA, vipB := "127.0.0.31", "127.0.0.32"
	lnA, err := net.Listen("tcp", vipA+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer lnA.Close()
	port := lnA.Addr().(*net.TCPAddr).Port
	lnB, err := net.Listen("tcp", fmt.Sprintf("%s:%d", vipB, port))
	if err != nil {
		t.Fatal(err)
	}
	defer lnB.Close()
	acceptAll(lnA)
	acceptAll(lnB)
	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, gslbBlock(
		"status "+statusAddr,
		fmt.Sprintf("health_check tcp %d", port),
		"health_interval 200ms", "health_timeout 1s", "health_fall 2",
	))
	ns := namespace(t, "statuspage")
	host := ns + ".gslb.sddc.lab"
	ingress(t, 0, ns, "web", lab.GSLBLabels(), []string{host}, []string{vipA}, nil)
	ingress(t, 1, ns, "web", lab.GSLBLabels(), []string{host}, []string{vipB}, nil)
	s.eventually(host, dns.TypeA, updateBound, vipA, vipB)
	s.eventually("onlineshop.gslb.sddc.lab", dns.TypeA, updateBound, "172.26.17.21", "172.27.17.21")

	url := "http://" + statusAddr + "/"
	dom := browse(t, url, "")
	for _, site := range []string{"sitea", "siteb"} {
		row := memberRow(dom, "onlineshop.gslb.sddc.lab.", site)
		if row == "" || !strings.Contains(row, `data-state="up"`) || !strings.Contains(row, "answering") {
			t.Errorf("seed member at %s: want an up, answering row, got %q", site, row)
		}
		src := regexp.MustCompile(`(?s)<tr class="source" data-name="` + site + ` \(context [^"]*\)">.*?</tr>`).FindString(dom)
		if strings.Count(src, `<span class="up">yes</span>`) != 2 {
			t.Errorf("source %s: want connected and synced in the sources table, got %q", site, src)
		}
	}
	if !strings.Contains(dom, `data-name="`+host+`." data-state="up"`) {
		t.Errorf("%s: want the service up on the page", host)
	}

	// Site B's VIP goes away: its probe fails, the answer loses it, and
	// the page shows it down and why.
	lnB.Close()
	s.eventually(host, dns.TypeA, updateBound, vipA)
	shot := os.Getenv("GSLB_STATUS_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(os.TempDir(), "gslb-status-page.png")
	}
	dom = browse(t, url, shot)
	row := memberRow(dom, host+".", "siteb")
	if !strings.Contains(row, `data-state="down"`) || !strings.Contains(row, "probe: down") || !strings.Contains(row, "connection refused") || !strings.Contains(row, "since") {
		t.Errorf("site B's member after its VIP went away: want down with the probe's reason and since when, got %q", row)
	}
	if row := memberRow(dom, host+".", "sitea"); !strings.Contains(row, `data-state="up"`) {
		t.Errorf("site A's member: want up, got %q", row)
	}
	if !strings.Contains(dom, `data-name="`+host+`." data-state="degraded"`) {
		t.Errorf("%s: want the service degraded on the page", host)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("screenshot %s: %v, want a PNG of the page", shot, err)
	}
	t.Logf("screenshot of the page: %s", shot)

	// The JSON says the same, and /explain gives the answer DNS gives.
	var p status.Page
	getJSON(t, "http://"+statusAddr+"/status.json?name="+ns, &p)
	if len(p.Services) != 1 || p.Services[0].State != status.StateDegraded {
		t.Fatalf("status.json: %+v, want %s degraded", p.Services, host)
	}
	var e status.Explanation
	getJSON(t, "http://"+statusAddr+"/explain?name="+host+"&type=A&client=192.0.2.0/24", &e)
	if len(e.Reply.Answer) != 1 || !strings.HasSuffix(e.Reply.Answer[0], vipA) {
		t.Errorf("explain: answer %q, want %s only", e.Reply.Answer, vipA)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestStatusListenerReload: the status listener follows Corefile reloads:
// it keeps serving across a reload (the new instance shows the new
// configuration), moves when the address changes, and the old address is
// closed.
func TestStatusListenerReload(t *testing.T) {
	a1, a2 := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	body := func(addr string, ttl int) string { return gslbBlock("status "+addr, fmt.Sprintf("ttl %d", ttl)) }
	s := startServer(t, body(a1, 30), "reload 2s 0s")
	ttlOf := func(addr string) (uint32, error) {
		resp, err := http.Get("http://" + addr + "/status.json?name=onlineshop")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var p status.Page
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			return 0, err
		}
		if len(p.Services) != 1 {
			return 0, fmt.Errorf("%d services", len(p.Services))
		}
		return p.Services[0].TTL, nil
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s\n%s", what, s.Log())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("the page on "+a1, func() bool { ttl, err := ttlOf(a1); return err == nil && ttl == 30 })

	s.writeCorefile(body(a1, 31), "reload 2s 0s")
	waitFor("the reloaded configuration on "+a1, func() bool { ttl, err := ttlOf(a1); return err == nil && ttl == 31 })

	s.writeCorefile(body(a2, 32), "reload 2s 0s")
	waitFor("the page moved to "+a2, func() bool { ttl, err := ttlOf(a2); return err == nil && ttl == 32 })
	waitFor(a1+" closed", func() bool { _, err := net.DialTimeout("tcp", a1, time.Second); return err != nil })
}
