package avi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/avisim"
	"github.com/miekg/dns"
	"github.com/vmware/alb-sdk/go/models"
)

var labZone = func(fqdn string) bool { return dns.IsSubDomain("gslb.sddc.lab.", fqdn) }

var labSites = func(uuid, rtSite string) string {
	switch uuid {
	case avisim.ClusterA:
		return "site-a"
	case avisim.ClusterB:
		return "site-b"
	case "":
		if rtSite != "" {
			return rtSite
		}
		return UnknownSite
	}
	return uuid
}

// strict decodes like SOURCES.md promises: every field is a model field.
func strict(t *testing.T, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatal(err)
	}
}

func fixtureServices(t *testing.T) map[string]*models.GslbService {
	t.Helper()
	var list models.GslbServiceAPIResponse
	strict(t, avisim.Fixture(avisim.FixtureServices), &list)
	out := map[string]*models.GslbService{}
	for _, gs := range list.Results {
		out[*gs.UUID] = gs
	}
	return out
}

// show renders records as "fqdn site answer w=W p=P [down]" lines.
func show(recs []model.Record) []string {
	var out []string
	for _, r := range recs {
		// What clients outside the private networks get: the public
		// address of a member behind NAT.
		ans := r.Member.Target
		if r.Public.IsValid() {
			ans = r.Public.String()
		} else if !r.Member.IsAlias() {
			ans = r.Member.Addr.String()
		}
		line := fmt.Sprintf("%s %s %s w=%d p=%d", r.FQDN, r.Member.Site, ans, r.Overrides.Weight.V, r.Overrides.Priority.V)
		if r.SourceDown {
			line += " down"
		}
		if r.Check != (model.Check{}) {
			line += " probed"
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

func TestFromServiceFixtures(t *testing.T) {
	all := fixtureServices(t)

	shop := FromService(all[avisim.OnlineshopUUID], nil, labSites, labZone, model.Check{})
	want := []string{
		"onlineshop.gslb.sddc.lab. site-a 172.26.17.21 w=1 p=10",
		"onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10",
	}
	if got := show(shop.Records); !slices.Equal(got, want) {
		t.Errorf("onlineshop\n got %q\nwant %q", got, want)
	}
	o := shop.Records[0].Overrides
	// No num_dns_ip in the fixture (AMKO leaves it unset): Avi's DNS
	// profile then answers one address per query.
	if o.TTL != model.Some(10) || o.Algorithm != model.RoundRobin || o.Down.Kind != model.DownNone || o.Answers != model.Some(1) {
		t.Errorf("onlineshop overrides: %+v", o)
	}
	all[avisim.OnlineshopUUID].NumDNSIP = avisim.U32(0)
	if o := FromService(all[avisim.OnlineshopUUID], nil, labSites, labZone, model.Check{}).Records[0].Overrides; o.Answers != model.Some(0) {
		t.Errorf("num_dns_ip 0 (all addresses): answers %+v", o.Answers)
	}

	pay := FromService(all[avisim.PaymentsUUID], nil, labSites, labZone, model.Check{})
	want = []string{
		"pay.gslb.sddc.lab. avi 198.51.100.40 w=1 p=10",
		"pay.gslb.sddc.lab. site-a 203.0.113.30 w=8 p=20",
		"pay.gslb.sddc.lab. site-b 172.27.17.30 w=2 p=10",
		"payments.gslb.sddc.lab. avi 198.51.100.40 w=1 p=10",
		"payments.gslb.sddc.lab. site-a 203.0.113.30 w=8 p=20",
		"payments.gslb.sddc.lab. site-b 172.27.17.30 w=2 p=10",
	}
	// Site A's member is behind NAT: its ip is the member (probed,
	// answered inside the private networks), public_ip answered outside.
	for _, r := range pay.Records {
		if r.Member.Site == "site-a" && (r.Member.Addr.String() != "172.26.17.30" || r.Public.String() != "203.0.113.30") {
			t.Errorf("site-a's member behind NAT: %v public %v", r.Member.Addr, r.Public)
		}
	}
	if got := show(pay.Records); !slices.Equal(got, want) {
		t.Errorf("payments\n got %q\nwant %q", got, want)
	}
	o = pay.Records[0].Overrides
	wantDown := model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.10")}
	if o.TTL != model.Some(30) || o.Algorithm != model.ConsistentHash || o.HashMask4 != model.Some(24) || o.HashMask6.Set || o.Down != wantDown {
		t.Errorf("payments overrides: %+v", o)
	}
	if pay.Ignored != 0 || shop.Ignored != 0 {
		t.Errorf("ignored %d, %d", shop.Ignored, pay.Ignored)
	}
}

func TestFromServiceRuntimeFixture(t *testing.T) {
	all := fixtureServices(t)
	var rts []*models.GslbServiceRuntime
	strict(t, avisim.Fixture(avisim.FixtureRuntime), &rts)
	if len(rts) != 1 {
		t.Fatalf("runtime fixture: %d entries", len(rts))
	}
	ex := FromService(all[avisim.OnlineshopUUID], rts[0], labSites, labZone, model.Check{})
	want := []string{
		"onlineshop.gslb.sddc.lab. site-a 172.26.17.21 w=1 p=10",
		"onlineshop.gslb.sddc.lab. site-b 172.27.17.21 w=1 p=10 down",
	}
	if got := show(ex.Records); !slices.Equal(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

func TestInventoryFixtureDecodes(t *testing.T) {
	var inv models.GslbServiceInventoryAPIResponse
	strict(t, avisim.Fixture(avisim.FixtureInventory), &inv)
	if len(inv.Results) != 1 || inv.Results[0].Runtime == nil || *inv.Results[0].UUID != avisim.OnlineshopUUID {
		t.Fatalf("inventory: %+v", inv)
	}
	ex := FromService(fixtureServices(t)[avisim.OnlineshopUUID], inv.Results[0].Runtime, labSites, labZone, model.Check{})
	for _, r := range ex.Records {
		if r.SourceDown {
			t.Errorf("%v is down; the inventory says every member is up", r)
		}
	}
}

// The AMKO mock's legacy list: VIP-only members without cluster_uuid, in a
// zone we may not serve.
func TestFromServiceLegacyList(t *testing.T) {
	var list models.GslbServiceAPIResponse
	if err := json.Unmarshal(avisim.Fixture(avisim.FixtureLegacyList), &list); err != nil {
		t.Fatal(err)
	}
	inZone := func(fqdn string) bool { return dns.IsSubDomain("avi-container-dns.internal.", fqdn) }
	n := 0
	for _, gs := range list.Results {
		ex := FromService(gs, nil, labSites, inZone, model.Check{})
		for _, r := range ex.Records {
			if r.Member.Site != UnknownSite || !r.Member.Addr.IsValid() || !r.Overrides.Weight.Set {
				t.Errorf("%s: %+v", *gs.Name, r)
			}
			n++
		}
		if ex2 := FromService(gs, nil, labSites, labZone, model.Check{}); len(ex2.Records) != 0 || ex2.Ignored != len(gs.DomainNames) {
			t.Errorf("%s outside the zone: %+v", *gs.Name, ex2)
		}
	}
	if n == 0 {
		t.Fatal("no records from the legacy list")
	}
}

func TestFromServiceRules(t *testing.T) {
	member := avisim.Member
	tests := []struct {
		name  string
		gs    func() *models.GslbService
		rt    func(gs *models.GslbService) *models.GslbServiceRuntime
		want  []string
		check func(t *testing.T, ex Extracted)
	}{
		{
			name: "disabled service publishes nothing",
			gs: func() *models.GslbService {
				gs := avisim.Service("gs-1", "a.gslb.sddc.lab", avisim.Pool(10, member("10.0.0.1", avisim.ClusterA)))
				gs.Enabled = avisim.Bool(false)
				return gs
			},
		},
		{
			name: "disabled pool and member are left out",
			gs: func() *models.GslbService {
				off := avisim.Pool(20, member("10.0.0.9", avisim.ClusterA))
				off.Enabled = avisim.Bool(false)
				m := member("10.0.0.2", avisim.ClusterB)
				m.Enabled = avisim.Bool(false)
				return avisim.Service("gs-1", "a.gslb.sddc.lab", off, avisim.Pool(10, member("10.0.0.1", avisim.ClusterA), m))
			},
			want: []string{"a.gslb.sddc.lab. site-a 10.0.0.1 w=1 p=10"},
		},
		{
			name: "names outside the zone, wildcards and duplicates",
			gs: func() *models.GslbService {
				gs := avisim.Service("gs-1", "a.gslb.sddc.lab", avisim.Pool(10, member("10.0.0.1", avisim.ClusterA)))
				gs.DomainNames = append(gs.DomainNames, "A.GSLB.SDDC.LAB.", "other.example.org", "*.gslb.sddc.lab", "bad..name")
				return gs
			},
			want:  []string{"a.gslb.sddc.lab. site-a 10.0.0.1 w=1 p=10"},
			check: func(t *testing.T, ex Extracted) { wantInt(t, "ignored", ex.Ignored, 3) },
		},
		{
			name: "IPv6, fqdn member as CNAME, unknown cluster by uuid, bad address ignored",
			gs: func() *models.GslbService {
				fq := &models.GslbPoolMember{Fqdn: avisim.Str("LB.Example.NET"), Enabled: avisim.Bool(true), ClusterUUID: avisim.Str("cluster-x")}
				bad := member("not-an-ip", avisim.ClusterA)
				return avisim.Service("gs-1", "a.gslb.sddc.lab", avisim.Pool(10, member("2001:db8::1", avisim.ClusterA), fq, bad))
			},
			want: []string{
				"a.gslb.sddc.lab. cluster-x lb.example.net. w=1 p=10",
				"a.gslb.sddc.lab. site-a 2001:db8::1 w=1 p=10",
			},
			check: func(t *testing.T, ex Extracted) { wantInt(t, "ignored", ex.Ignored, 1) },
		},
		{
			name: "ratio defaults to 1 and is clamped to 20; priority to 100",
			gs: func() *models.GslbService {
				a := member("10.0.0.1", avisim.ClusterA)
				a.Ratio = nil
				b := member("10.0.0.2", avisim.ClusterB)
				b.Ratio = avisim.U32(50)
				c := member("10.0.0.3", avisim.ClusterB)
				c.Ratio = avisim.U32(0)
				p := avisim.Pool(10, a, b, c)
				p.Priority = nil
				hi := avisim.Pool(250, member("10.0.0.4", avisim.ClusterA))
				return avisim.Service("gs-1", "a.gslb.sddc.lab", p, hi)
			},
			want: []string{
				"a.gslb.sddc.lab. site-a 10.0.0.1 w=1 p=10",
				"a.gslb.sddc.lab. site-a 10.0.0.4 w=1 p=100",
				"a.gslb.sddc.lab. site-b 10.0.0.2 w=20 p=10",
				"a.gslb.sddc.lab. site-b 10.0.0.3 w=1 p=10",
			},
		},
		{
			name: "runtime: down and unknown states, members without entry up, matched across group names",
			gs: func() *models.GslbService {
				return avisim.Service("gs-1", "a.gslb.sddc.lab", avisim.Pool(10,
					member("10.0.0.1", avisim.ClusterA), member("10.0.0.2", avisim.ClusterB),
					member("10.0.0.3", avisim.ClusterB), member("10.0.0.4", "")))
			},
			rt: func(gs *models.GslbService) *models.GslbServiceRuntime {
				st := func(ip, state, site string) *models.GslbPoolMemberRuntimeInfo {
					m := &models.GslbPoolMemberRuntimeInfo{IP: avisim.IP(ip), OperStatus: &models.OperationalStatus{State: avisim.Str(state)}}
					if site != "" {
						m.SiteName = avisim.Str(site)
					}
					return m
				}
				return &models.GslbServiceRuntime{Groups: []*models.GslbPoolRuntime{{
					Name:    avisim.Str("renamed"),
					Members: []*models.GslbPoolMemberRuntimeInfo{st("10.0.0.1", "OPER_UP", ""), st("10.0.0.2", "OPER_DOWN", ""), st("10.0.0.4", "OPER_INITIALIZING", "third-party")},
				}}}
			},
			want: []string{
				"a.gslb.sddc.lab. site-a 10.0.0.1 w=1 p=10",
				"a.gslb.sddc.lab. site-b 10.0.0.2 w=1 p=10 down",
				"a.gslb.sddc.lab. site-b 10.0.0.3 w=1 p=10",
				"a.gslb.sddc.lab. third-party 10.0.0.4 w=1 p=10 down",
			},
		},
		{
			name: "round robin with different ratios is weighted; ttl and num_dns_ip",
			gs: func() *models.GslbService {
				b := member("10.0.0.2", avisim.ClusterB)
				b.Ratio = avisim.U32(3)
				gs := avisim.Service("gs-1", "a.gslb.sddc.lab", avisim.Pool(10, member("10.0.0.1", avisim.ClusterA), b))
				gs.TTL = avisim.U32(5)
				gs.NumDNSIP = avisim.U32(0)
				return gs
			},
			check: func(t *testing.T, ex Extracted) {
				o := ex.Records[0].Overrides
				if o.Algorithm != model.Weighted || o.TTL != model.Some(5) || o.Answers != model.Some(0) {
					t.Errorf("overrides %+v", o)
				}
			},
		},
		{
			name: "the highest-priority pool's algorithm wins; geo is topology with its fallback",
			gs: func() *models.GslbService {
				lo := avisim.Pool(10, member("10.0.0.1", avisim.ClusterA))
				lo.Algorithm = avisim.Str("GSLB_ALGORITHM_CONSISTENT_HASH")
				hi := avisim.Pool(20, member("10.0.0.2", avisim.ClusterB))
				hi.Algorithm = avisim.Str("GSLB_ALGORITHM_GEO")
				hi.FallbackAlgorithm = avisim.Str("GSLB_ALGORITHM_CONSISTENT_HASH")
				hi.ConsistentHashMask = avisim.U32(16)
				hi.ConsistentHashMask6 = avisim.U32(48)
				return avisim.Service("gs-1", "a.gslb.sddc.lab", lo, hi)
			},
			check: func(t *testing.T, ex Extracted) {
				o := ex.Records[0].Overrides
				if o.Algorithm != model.Topology || o.Fallback != model.ConsistentHash || o.HashMask4 != model.Some(16) || o.HashMask6 != model.Some(48) {
					t.Errorf("overrides %+v", o)
				}
			},
		},
		{
			name: "unknown algorithm leaves the Corefile's",
			gs: func() *models.GslbService {
				p := avisim.Pool(10, member("10.0.0.1", avisim.ClusterA))
				p.Algorithm = avisim.Str("GSLB_ALGORITHM_SOMETHING_NEW")
				return avisim.Service("gs-1", "a.gslb.sddc.lab", p)
			},
			check: func(t *testing.T, ex Extracted) {
				if o := ex.Records[0].Overrides; o.Algorithm != model.AlgorithmUnset {
					t.Errorf("overrides %+v", o)
				}
			},
		},
		{
			name: "SRV services are not served",
			gs: func() *models.GslbService {
				gs := avisim.Service("gs-1", "a.gslb.sddc.lab", avisim.Pool(10, member("10.0.0.1", avisim.ClusterA)))
				gs.RecordType = avisim.Str("GSLB_SERVICE_RECORD_TYPE_SRV")
				return gs
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gs := tc.gs()
			var rt *models.GslbServiceRuntime
			if tc.rt != nil {
				rt = tc.rt(gs)
			}
			ex := FromService(gs, rt, labSites, labZone, model.Check{})
			if tc.want != nil || tc.check == nil {
				if got := show(ex.Records); !slices.Equal(got, tc.want) {
					t.Errorf("\n got %q\nwant %q", got, tc.want)
				}
			}
			if tc.check != nil {
				tc.check(t, ex)
			}
		})
	}
}

func TestDownResponse(t *testing.T) {
	ip := avisim.IP
	tests := []struct {
		in   *models.GslbServiceDownResponse
		want string
	}{
		{nil, "unset"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_NONE")}, "none"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_ALL_RECORDS")}, "all-records"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_EMPTY")}, "empty"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_CNAME"), FallbackCname: avisim.Str("Sorry.Example.ORG")}, "cname sorry.example.org."},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_CNAME")}, "unset"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP"), FallbackIP: ip("192.0.2.1"), FallbackIp6: ip("2001:db8::1")}, "fallback 192.0.2.1 2001:db8::1"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP"), FallbackIP: ip("10.0.0.1"), PublicFallbackIP: ip("203.0.113.1")}, "fallback 203.0.113.1"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP")}, "unset"},
		{&models.GslbServiceDownResponse{Type: avisim.Str("GSLB_SERVICE_DOWN_RESPONSE_NEW")}, "unset"},
	}
	for _, tc := range tests {
		if got := downResponse(tc.in).String(); got != tc.want {
			b, _ := json.Marshal(tc.in)
			t.Errorf("%s: got %q, want %q", b, got, tc.want)
		}
	}
}

func wantInt(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

func TestCredentials(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	good := []struct {
		name, in string
		want     Credentials
	}{
		{"yaml", "username: admin\npassword: " + secret + "\n", Credentials{Username: "admin", Password: secret}},
		{"yaml quoted, comments", "# Avi\n---\nusername: \"amko-user\"\n\npassword: '" + secret + "'\n", Credentials{Username: "amko-user", Password: secret}},
		{"token", "username: admin\ntoken: " + secret, Credentials{Username: "admin", Token: secret}},
		{"json", `{"username": "admin", "password": "` + secret + `"}`, Credentials{Username: "admin", Password: secret}},
		{"password with colon", "username: a\npassword: x:y: z", Credentials{Username: "a", Password: "x:y: z"}},
	}
	for _, tc := range good {
		c, err := parseCredentials([]byte(tc.in))
		if err != nil || c != tc.want {
			t.Errorf("%s: got %v, %v", tc.name, c, err)
		}
		if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c); strings.Contains(s, secret) {
			t.Errorf("%s: formatting leaks the secret: %s", tc.name, s)
		}
	}
	bad := []struct{ name, in, want string }{
		{"no username", "password: " + secret, "no username"},
		{"no secret", "username: admin", "no password or token"},
		{"both", "username: a\npassword: " + secret + "\ntoken: " + secret, "both a password and a token"},
		{"unknown key", "username: a\npasword: " + secret, `line 2: unknown key "pasword"`},
		{"not key value", "username: a\n" + secret, "line 2 is not `key: value`"},
		{"bad json", `{"username": "a", "password": "` + secret + `"`, "not valid JSON"},
		{"json non-string", `{"username": "a", "password": 12345}`, `key "password" must be a string`},
	}
	for _, tc := range bad {
		_, err := parseCredentials([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error leaks the secret: %v", tc.name, err)
		}
	}
	if _, err := ReadCredentials(t.TempDir() + "/missing"); err == nil || !strings.Contains(err.Error(), "cannot read credentials file") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
