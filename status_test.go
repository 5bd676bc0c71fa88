package gslb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	golog "log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/test"
	"github.com/gslb/gslb/plugin/status"
	"github.com/gslb/gslb/test/testutil"
	"github.com/miekg/dns"
)

// getJSON fetches path from h and decodes it into v; it fails the test
// unless the status is want.
func getJSON(t *testing.T, h http.Handler, path string, want int, v any) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body := rec.Body.String()
	if rec.Code != want {
		t.Fatalf("GET %s: %d %q, want %d", path, rec.Code, body, want)
	}
	if v != nil && want == http.StatusOK {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v in %q", path, err, body)
		}
	}
	return body
}

// explainStanzas cover every policy whose answer the next query can be
// predicted for (weighted draws at random: see TestExplainWeighted), with
// pools, drained and priority-0 sites, several answers, CNAME and
// dual-stack names.
var explainStanzas = map[string]string{
	"round-robin": `gslb example.org {
	policy round-robin
	answers 2
	priority sitec 5
	weight sited 0
	fallthrough other.example.org
}`,
	"consistent-hash": `gslb example.org {
	policy consistent-hash
	hash_mask 20 48
	priority sitec 0
}`,
	"topology": `gslb example.org {
	policy topology consistent-hash
	topology 10.26.0.0/16 siteb
	topology 10.26.7.0/24 sitea siteb
	topology 2001:db8:26::/48 siteb
	topology 172.16.0.0/12 sitec
	private_networks 10.0.0.0/8
}`,
}

// explainMembers are the names of every stanza: members in four sites,
// v4, v6, a CNAME.
func explainMembers() (string, []string) {
	var b strings.Builder
	var names []string
	for i := range 40 {
		name := fmt.Sprintf("app%d.example.org", i)
		names = append(names, name)
		fmt.Fprintf(&b, "\tmember %s 10.0.%d.1 2001:db8:%x::1 site sitea\n", name, i, i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "\tmember %s 10.1.%d.1 10.1.%d.2 site siteb\n", name, i, i)
		}
		if i%3 == 0 {
			fmt.Fprintf(&b, "\tmember %s 10.2.%d.1 site sitec\n", name, i)
		}
		if i%5 == 0 {
			fmt.Fprintf(&b, "\tmember %s 10.3.%d.1 site sited\n", name, i)
		}
	}
	b.WriteString("\tmember alias.example.org lb.example.net\n")
	b.WriteString("\tmember deep.team.example.org 10.9.0.1 site sitea\n")
	names = append(names, "alias.example.org", "deep.team.example.org", "team.example.org", "example.org", "missing.example.org", "other.example.org", "x.app1.example.org")
	return b.String(), names
}

func withMembers(stanza, members string) string {
	i := strings.LastIndex(stanza, "}")
	return stanza[:i] + members + stanza[i:]
}

func randomClient(r *rand.Rand) netip.Prefix {
	if r.IntN(3) == 0 {
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		b[4], b[5] = 0, byte(r.IntN(40))
		if r.IntN(2) == 0 {
			b[5] = 0x26
		}
		for i := 6; i < 16; i++ {
			b[i] = byte(r.IntN(256))
		}
		return netip.PrefixFrom(netip.AddrFrom16(b), 24+r.IntN(105)).Masked()
	}
	firsts := []byte{10, 10, 172, 192, 198, 8}
	a := netip.AddrFrom4([4]byte{firsts[r.IntN(len(firsts))], byte(r.IntN(40)), byte(r.IntN(256)), byte(r.IntN(256))})
	if a.As4()[0] == 10 && r.IntN(2) == 0 {
		a = netip.AddrFrom4([4]byte{10, 26, byte(r.IntN(10)), byte(r.IntN(256))})
	}
	return netip.PrefixFrom(a, 8+r.IntN(25)).Masked()
}

// TestExplainEqualsServeDNS: for random names, types and client subnets,
// /explain's reply is the reply ServeDNS then writes for the same query
// (rcode, every section, the ECS scope), through every policy that can be
// predicted. The explained query does not advance the rotation, so it is
// the next real query's answer even for round robin.
func TestExplainEqualsServeDNS(t *testing.T) {
	members, names := explainMembers()
	types := []uint16{dns.TypeA, dns.TypeA, dns.TypeAAAA, dns.TypeANY, dns.TypeCNAME, dns.TypeMX, dns.TypeSOA, dns.TypeNS, dns.TypeTXT}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 15))
	for policyName, stanza := range explainStanzas {
		t.Run(policyName, func(t *testing.T) {
			g := newTestGSLB(t, withMembers(stanza, members))
			g.Next = test.NextHandler(dns.RcodeRefused, nil)
			h := status.Handler(g.status)
			compared, picked := 0, 0
			for range 400 {
				name := names[r.IntN(len(names))]
				if r.IntN(4) == 0 {
					name = strings.ToUpper(name[:1]) + name[1:] // names are case-insensitive
				}
				qtype := types[r.IntN(len(types))]
				client := randomClient(r)
				var e status.Explanation
				q := url.Values{"name": {name}, "type": {dns.TypeToString[qtype]}, "client": {client.String()}}
				getJSON(t, h, "/explain?"+q.Encode(), http.StatusOK, &e)

				fam := uint16(1)
				if client.Addr().Is6() {
					fam = 2
				}
				r := ecsQuery(t, dns.Fqdn(name), qtype, &ecs{fam, client.String()})
				if slices.Contains(e.Notes, "the name does not exist here and fallthrough is on: the next plugin answers instead") {
					// The next plugin (a test handler) refuses.
					if rc, _ := g.ServeDNS(context.Background(), &test.ResponseWriter{}, r); rc != dns.RcodeRefused {
						t.Fatalf("%s %s: explain says fallthrough, ServeDNS answered rcode %d", name, dns.TypeToString[qtype], rc)
					}
					continue
				}
				resp := serve(t, g, r, "192.0.2.99")
				want := replyOf(resp)
				got := e.Reply
				got.Text, want.Text = "", ""
				if !equalReply(got, want) {
					t.Fatalf("%s %s from %s:\nexplained %+v\nServeDNS  %+v\nexplanation %+v", name, dns.TypeToString[qtype], client, got, want, e)
				}
				compared++
				if len(e.Candidates) > 0 {
					picked++
					for _, a := range e.Reply.Answer {
						if !slices.Contains(e.Candidates, a) {
							t.Fatalf("%s: answer %q is not among the candidates %q", name, a, e.Candidates)
						}
					}
				}
			}
			// The test means something only if most queries were answered
			// by a pick.
			if compared < 300 || picked < 100 {
				t.Fatalf("only %d replies compared, %d of them picks", compared, picked)
			}
		})
	}
}

func equalReply(a, b status.Reply) bool {
	return a.Rcode == b.Rcode && a.ECSScope == b.ECSScope && slices.Equal(a.Answer, b.Answer) &&
		slices.Equal(a.Authority, b.Authority) && slices.Equal(a.Additional, b.Additional)
}

// TestExplainWeighted: a weighted answer is a random draw, so explain says
// so, and its draw is one of the candidates.
func TestExplainWeighted(t *testing.T) {
	g := newTestGSLB(t, `gslb example.org {
	policy weighted
	weight sitea 3
	member app.example.org 10.0.0.1 site sitea
	member app.example.org 10.0.1.1 site siteb
}`)
	var e status.Explanation
	getJSON(t, status.Handler(g.status), "/explain?name=app.example.org&client=192.0.2.0/24", http.StatusOK, &e)
	if e.Policy != "weighted" || len(e.Candidates) != 2 || len(e.Reply.Answer) != 1 || !slices.Contains(e.Candidates, e.Reply.Answer[0]) {
		t.Fatalf("explanation %+v, want a weighted draw among 2 candidates", e)
	}
	if len(e.Notes) == 0 || !strings.Contains(e.Notes[0], "one draw") {
		t.Errorf("notes %q, want the random draw explained", e.Notes)
	}
}

// TestExplainReasons: each member's exclusion says why, and the topology
// route names the rule's sites.
func TestExplainReasons(t *testing.T) {
	g := newTestGSLB(t, `gslb example.org {
	policy topology
	topology 10.26.0.0/16 siteb sitea
	priority sitec 20
	priority sited 0
	weight sitee 0
	member app.example.org 10.0.0.1 site sitea
	member app.example.org 10.0.1.1 site siteb
	member app.example.org 10.0.2.1 site sitec
	member app.example.org 10.0.3.1 site sited
	member app.example.org 10.0.4.1 site sitee
}`)
	var e status.Explanation
	getJSON(t, status.Handler(g.status), "/explain?name=app.example.org&type=A&client=10.26.1.0/24", http.StatusOK, &e)
	if e.Service == nil {
		t.Fatalf("no service in %+v", e)
	}
	why := map[string]string{}
	for _, m := range e.Service.Members {
		why[m.Site] = m.Excluded
		if m.Answering != (m.Excluded == "") {
			t.Errorf("%s: answering %v with exclusion %q", m.Site, m.Answering, m.Excluded)
		}
	}
	for site, want := range map[string]string{"sitea": "standby", "siteb": "standby", "sitec": "", "sited": "priority 0", "sitee": "weight 0"} {
		if want == "" && why[site] != "" || !strings.Contains(why[site], want) {
			t.Errorf("%s excluded %q, want %q", site, why[site], want)
		}
	}
	// Only sitec's pool answers: the rule's sites have no candidates, the
	// fallback picks.
	if e.Route != "no rule with members: fallback" || !slices.Equal(e.Reply.Answer, []string{"app.example.org.\t30\tIN\tA\t10.0.2.1"}) {
		t.Errorf("route %q answer %q, want the fallback's 10.0.2.1", e.Route, e.Reply.Answer)
	}
	if e.Service.ActivePool != 20 || e.Service.State != status.StateUp {
		t.Errorf("active pool %d state %s, want 20 up", e.Service.ActivePool, e.Service.State)
	}

	g2 := newTestGSLB(t, `gslb example.org {
	policy topology
	topology 10.26.0.0/16 siteb sitea
	member app.example.org 10.0.0.1 site sitea
	member app.example.org 10.0.1.1 site siteb
}`)
	getJSON(t, status.Handler(g2.status), "/explain?name=app.example.org&client=10.26.200.7", http.StatusOK, &e)
	if e.Route != "subnet rule" || e.ChosenSite != "siteb" || !slices.Equal(e.RuleSites, []string{"siteb", "sitea"}) || e.Reply.ECSScope != 16 {
		t.Errorf("explanation %+v, want subnet rule → siteb, scope 16", e)
	}
}

// TestExplainBadRequest: a bad name, type or subnet is a 400 that says
// what is wrong; a name outside the zones a 404.
func TestExplainBadRequest(t *testing.T) {
	g := newTestGSLB(t, "gslb example.org {\n member app.example.org 10.0.0.1\n}")
	h := status.Handler(g.status)
	for q, want := range map[string]string{
		"":                                       "name is missing",
		"name=bad..name":                         "not a domain name",
		"name=app.example.org&type=BOGUS":        "not a DNS record type",
		"name=app.example.org&client=10.0.0.300": "neither an address nor a subnet",
		"name=app.example.org&client=10.0.0.0/33":        "neither an address nor a subnet",
		"name=app.example.org&client=0.0.0.0/0":          "/0 subnet",
		"name=app.example.org&client=::ffff:1.2.3.0/120": "IPv4 form",
	} {
		body := getJSON(t, h, "/explain?"+q, http.StatusBadRequest, nil)
		if !strings.Contains(body, want) {
			t.Errorf("%q: %q, want it to say %q", q, body, want)
		}
	}
	if body := getJSON(t, h, "/explain?name=www.example.net", http.StatusNotFound, nil); !strings.Contains(body, "not in a zone served here") {
		t.Errorf("out of zone: %q", body)
	}
}

// TestStatusPageFiltersAndPages: 10 000 names, some down, down first;
// filters by name, site and state; pages that add up; the HTML page shows
// the same.
func TestStatusPageFiltersAndPages(t *testing.T) {
	port := tcpTarget(t)
	var b strings.Builder
	fmt.Fprintf(&b, "gslb example.org {\n health_check tcp %d\n health_targets 127.0.0.0/8\n health_interval 100ms\n health_timeout 500ms\n", port)
	for i := range 10000 {
		fmt.Fprintf(&b, " member app%05d.example.org 127.0.0.1 site sitea\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&b, " member app%05d.example.org 10.0.%d.%d site siteb\n", i, i/256, i%256)
		}
	}
	// Nothing listens on 127.0.0.2: these go down.
	b.WriteString(" member dead1.example.org 127.0.0.2 site siteb\n member dead2.example.org 127.0.0.2 site siteb\n member half.example.org 127.0.0.1 site sitea\n member half.example.org 127.0.0.3 site siteb\n}")
	g := newTestGSLB(t, b.String())
	// 5000 members outside health_targets say once each that they are not
	// probed: not worth 5000 lines of test output.
	golog.SetOutput(io.Discard)
	defer golog.SetOutput(os.Stderr)
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	defer g.stop()
	h := status.Handler(g.status)
	var p status.Page
	testutil.Eventually(t, "dead1 and dead2 down, half degraded", func() bool {
		getJSON(t, h, "/status.json?limit=3", http.StatusOK, &p)
		return p.Counts.Down == 2 && p.Counts.Degraded == 1
	})
	if p.Counts.Services != 10003 || len(p.Services) != 3 || p.Services[0].Name != "dead1.example.org." || p.Services[1].Name != "dead2.example.org." || p.Services[2].Name != "half.example.org." {
		t.Fatalf("first page %d services: %+v", p.Counts.Services, p.Services)
	}
	dead := p.Services[0].Members[0]
	if dead.State != status.StateDown || dead.Answering || len(dead.Health) == 0 || dead.Health[0].Input != "probe" || dead.Health[0].Verdict != status.StateDown || dead.Health[0].Since.IsZero() {
		t.Errorf("dead member %+v, want down by its probe, with since", dead)
	}
	if !slices.Equal(dead.Objects, []string{"Corefile member"}) || p.Services[0].DownResponse != "none" {
		t.Errorf("dead member objects %q, down response %q", dead.Objects, p.Services[0].DownResponse)
	}
	if len(p.Zones) != 1 || p.Zones[0].Serial == 0 || p.Zones[0].Built.IsZero() || p.Zones[0].Down != 2 || p.Zones[0].Services != 10003 {
		t.Errorf("zones %+v", p.Zones)
	}

	getJSON(t, h, "/status.json?state=down", http.StatusOK, &p)
	if p.Matching != 2 || len(p.Services) != 2 {
		t.Errorf("state=down: %d matching", p.Matching)
	}
	getJSON(t, h, "/status.json?name=app0999&site=siteb", http.StatusOK, &p)
	if p.Matching != 5 { // app09990, 92, 94, 96, 98
		t.Errorf("name=app0999 site=siteb: %d matching, want 5", p.Matching)
	}
	// Pages add up to every service once, in order.
	seen := map[string]bool{}
	last := ""
	for off := 0; ; off += status.MaxLimit {
		getJSON(t, h, fmt.Sprintf("/status.json?state=up&offset=%d&limit=%d", off, status.MaxLimit), http.StatusOK, &p)
		for _, s := range p.Services {
			if seen[s.Name] || s.Name <= last {
				t.Fatalf("page at %d: %s repeated or out of order", off, s.Name)
			}
			seen[s.Name], last = true, s.Name
		}
		if len(p.Services) < status.MaxLimit {
			break
		}
	}
	if len(seen) != 10000 {
		t.Errorf("paged through %d up services, want 10000", len(seen))
	}
	for _, q := range []string{"limit=0", "limit=1001", "offset=-1", "state=sideways"} {
		getJSON(t, h, "/status.json?"+q, http.StatusBadRequest, nil)
	}

	page := getJSON(t, h, "/?state=down", http.StatusOK, nil)
	for _, want := range []string{`data-name="dead1.example.org."`, `data-state="down"`, "probe: down", "Corefile member lines"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestStatusShowsNoSecrets: the Avi password and the kubeconfig's token
// and client key never appear in the page, the JSON or an explanation.
func TestStatusShowsNoSecrets(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	dir := t.TempDir()
	const password, token, keyData = "pa55-SECRET-word", "tok-SECRET-abcdef0123456789", "S0VZLVNFQ1JFVA=="
	creds := filepath.Join(dir, "avi-creds")
	os.WriteFile(creds, []byte("username: admin\npassword: "+password+"\n"), 0o600)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: a
  user: {token: `+token+`, client-key-data: `+keyData+`}
contexts:
- name: sitea
  context: {cluster: a, user: a}
`), 0o600)
	// The controller answers 401 to everything, echoing nothing useful.
	avi := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	defer avi.Close()
	g, err := newGSLBFrom(t, fmt.Sprintf(`gslb example.org {
	kubeconfig %s
	avi %s {
		credentials %s
		insecure
	}
	member app.example.org 10.0.0.1
}`, kubeconfig, avi.URL, creds))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	defer g.stop()
	h := status.Handler(g.status)
	testutil.Eventually(t, "the Avi source to report its poll", func() bool {
		var p status.Page
		getJSON(t, h, "/status.json", http.StatusOK, &p)
		for _, s := range p.Sources {
			if s.Kind == "avi" && s.Result != "" {
				return true
			}
		}
		return false
	})
	for _, path := range []string{"/status.json", "/", "/explain?name=app.example.org"} {
		body := getJSON(t, h, path, http.StatusOK, nil)
		for _, secret := range []string{password, token, keyData, "SECRET"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s shows a secret (%q)", path, secret)
			}
		}
	}
}

// newGSLBFrom parses and wires a stanza that may name clusters and Avi.
func newGSLBFrom(t *testing.T, corefile string) (*GSLB, error) {
	t.Helper()
	cfg, err := parse(caddy.NewTestController("dns", corefile))
	if err != nil {
		return nil, err
	}
	return newGSLB(cfg)
}

// statusBenchGSLB serves 10 000 names of two members each.
func statusBenchGSLB(b *testing.B) *GSLB {
	var sb strings.Builder
	sb.WriteString("gslb example.org {\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, " member app%05d.example.org 10.0.%d.%d site sitea\n member app%05d.example.org 10.1.%d.%d site siteb\n", i, i/256, i%256, i, i/256, i%256)
	}
	sb.WriteString("}")
	return newTestGSLB(b, sb.String())
}

// BenchmarkStatusJSON: a page of /status.json over 10 000 names, as the
// page's refresh asks for it (the service list is built once per table).
func BenchmarkStatusJSON(b *testing.B) {
	for _, q := range []string{"", "?name=app0999&site=siteb", "?state=down"} {
		b.Run("query="+q, func(b *testing.B) {
			g := statusBenchGSLB(b)
			g.status.Services() // the list of this table, made once
			h := status.Handler(g.status)
			req := httptest.NewRequest("GET", "/status.json"+q, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

// BenchmarkStatusFirstList: listing 10 000 names once after a new table.
func BenchmarkStatusFirstList(b *testing.B) {
	g := statusBenchGSLB(b)
	b.ReportAllocs()
	for b.Loop() {
		g.status.cache.Store(nil)
		if n := len(g.status.Services()); n != 10000 {
			b.Fatal(n)
		}
	}
}
