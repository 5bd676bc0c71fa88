package gslb

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/fall"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/table"
)

const (
	ctxA = "sitea-tkg-wld01-admin@sitea-tkg-wld01"
	ctxB = "siteb-tkg-wld01-admin@siteb-tkg-wld01"
)

// kubeconfigYAML has two member clusters, as `kubectl config view --flatten`
// writes them for TKG workload clusters. Nothing connects during parse.
const kubeconfigYAML = `apiVersion: v1
kind: Config
clusters:
- name: sitea-tkg-wld01
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
- name: siteb-tkg-wld01
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
users:
- name: sitea-tkg-wld01-admin
  user:
    token: token-a
- name: siteb-tkg-wld01-admin
  user:
    token: token-b
contexts:
- name: sitea-tkg-wld01-admin@sitea-tkg-wld01
  context:
    cluster: sitea-tkg-wld01
    user: sitea-tkg-wld01-admin
- name: siteb-tkg-wld01-admin@siteb-tkg-wld01
  context:
    cluster: siteb-tkg-wld01
    user: siteb-tkg-wld01-admin
current-context: sitea-tkg-wld01-admin@sitea-tkg-wld01
`

// kubeconfigFiles writes the test kubeconfigs and returns the replacer that
// puts their paths into a Corefile: KUBECONFIG (two contexts), NOCONTEXTS
// (a valid file without contexts) and MISSING (a path that does not exist).
func kubeconfigFiles(t *testing.T) *strings.Replacer {
	t.Helper()
	dir := t.TempDir()
	two := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(two, []byte(kubeconfigYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty-kubeconfig")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(
		"KUBECONFIG", two,
		"NOCONTEXTS", empty,
		"MISSING", filepath.Join(dir, "does-not-exist"),
	)
}

func staticRec(fqdn, site, addr string) model.Record {
	return model.Record{FQDN: fqdn, Member: model.Member{Site: site, Addr: netip.MustParseAddr(addr)}}
}

func aliasRec(fqdn, site, target string) model.Record {
	return model.Record{FQDN: fqdn, Member: model.Member{Site: site, Target: target}}
}

func TestParse(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)

	tests := []struct {
		name  string
		input string
		keys  []string // server block keys
		// want is applied to the defaults to give the expected config
		// (clusters aside, they are checked through wantClusters).
		want         func(c *config)
		wantClusters []string // "site=context"
	}{
		{
			name: "defaults",
			input: `gslb example.org {
	member app.example.org 10.0.0.1
}`,
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("app.example.org.", "static", "10.0.0.1")}
			},
		},
		{
			name:  "zones from args, normalised",
			input: "gslb Example.ORG example.net. {\n\tmember a.example.net 10.0.0.1\n}",
			want: func(c *config) {
				c.zones = []string{"example.org.", "example.net."}
				c.static = []model.Record{staticRec("a.example.net.", "static", "10.0.0.1")}
			},
		},
		{
			name:  "zones from the server block",
			input: "gslb {\n\tmember a.example.net 10.0.0.1\n}",
			keys:  []string{"example.org.:53", "example.net.:53"},
			want: func(c *config) {
				c.zones = []string{"example.org.", "example.net."}
				c.static = []model.Record{staticRec("a.example.net.", "static", "10.0.0.1")}
			},
		},
		{
			name:  "args win over the server block",
			input: "gslb gslb.example.org {\n\tmember a.gslb.example.org 10.0.0.1\n}",
			keys:  []string{"example.org.:53"},
			want: func(c *config) {
				c.zones = []string{"gslb.example.org."}
				c.static = []model.Record{staticRec("a.gslb.example.org.", "static", "10.0.0.1")}
			},
		},
		{
			name:         "kubeconfig with all contexts",
			input:        "gslb example.org {\n\tkubeconfig KUBECONFIG\n}",
			want:         func(c *config) { c.zones = []string{"example.org."} },
			wantClusters: []string{ctxA + "=" + ctxA, ctxB + "=" + ctxB},
		},
		{
			name:         "kubeconfig with listed contexts",
			input:        "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxB + "\n}",
			want:         func(c *config) { c.zones = []string{"example.org."} },
			wantClusters: []string{ctxB + "=" + ctxB},
		},
		{
			name: "kubeconfig twice, one context each, renamed",
			input: `gslb example.org {
	kubeconfig KUBECONFIG ` + ctxB + `
	kubeconfig KUBECONFIG ` + ctxA + `
	site siteb ` + ctxB + `
	site sitea ` + ctxA + `
}`,
			want:         func(c *config) { c.zones = []string{"example.org."} },
			wantClusters: []string{"siteb=" + ctxB, "sitea=" + ctxA},
		},
		{
			name: "site renames a context, the other keeps its name",
			input: `gslb example.org {
	site sitea ` + ctxA + `
	kubeconfig KUBECONFIG
}`,
			want:         func(c *config) { c.zones = []string{"example.org."} },
			wantClusters: []string{"sitea=" + ctxA, ctxB + "=" + ctxB},
		},
		{
			name: "kubeconfig and static members together",
			input: `gslb example.org {
	kubeconfig KUBECONFIG ` + ctxA + `
	member dr.example.org 192.0.2.10 site dr
}`,
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("dr.example.org.", "dr", "192.0.2.10")}
			},
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:         "resources ingress",
			input:        "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxA + "\n\tresources ingress\n}",
			want:         func(c *config) { c.zones = []string{"example.org."}; c.services = false },
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:         "resources service",
			input:        "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxA + "\n\tresources service\n}",
			want:         func(c *config) { c.zones = []string{"example.org."}; c.ingresses = false },
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:         "resources both, plural and any case",
			input:        "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxA + "\n\tresources Services Ingresses\n}",
			want:         func(c *config) { c.zones = []string{"example.org."} },
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:  "resources gateway API kinds and OpenShift Routes, gateway selection",
			input: "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxA + "\n\tresources HTTPRoutes tcproute httproute route\n\tgateway_selection gateway\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.ingresses, c.services = false, false
				c.gatewayRoutes = []string{"httproutes", "tcproutes"}
				c.openShiftRoutes, c.selectGateways = true, true
			},
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:  "resources gatewayapi is every route kind",
			input: "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxA + "\n\tresources ingress gatewayapi\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.services = false
				c.gatewayRoutes = []string{"httproutes", "grpcroutes", "tlsroutes", "tcproutes", "udproutes"}
			},
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:         "selector with set syntax",
			input:        "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxA + "\n\tselector app in (gslb, web), tier!=test\n}",
			want:         func(c *config) { c.zones = []string{"example.org."}; c.selector = "app in (gslb, web), tier!=test" },
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:         "namespaces accumulate",
			input:        "gslb example.org {\n\tkubeconfig KUBECONFIG " + ctxA + "\n\tnamespaces shop web\n\tnamespaces api\n}",
			want:         func(c *config) { c.zones = []string{"example.org."}; c.namespaces = []string{"shop", "web", "api"} },
			wantClusters: []string{ctxA + "=" + ctxA},
		},
		{
			name:  "ttl, answers, startup_timeout",
			input: "gslb example.org {\n\tmember a.example.org 10.0.0.1\n\tttl 300\n\tanswers 1\n\tstartup_timeout 2m\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.defaults.TTL, c.defaults.Answers, c.startupTimeout = model.Some(300), model.Some(1), 2*time.Minute
			},
		},
		{
			name:  "ttl and answers at their bounds",
			input: "gslb example.org {\n\tmember a.example.org 10.0.0.1\n\tttl 0\n\tttl 86400\n\tanswers 1000\n\tanswers 0\n\tstartup_timeout 0s\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.defaults.TTL, c.defaults.Answers, c.startupTimeout = model.Some(86400), model.Some(0), 0
			},
		},
		{
			name: "members: IPv4, IPv6, mapped IPv4, host name, site, case",
			input: `gslb example.org {
	member App.Example.org 10.0.0.1 2001:DB8::1 site sitea
	member app.example.org ::ffff:10.0.0.2 site siteb
	member lb.example.org LB-1.eu-west-1.ELB.amazonaws.com
	member ns-free.example.org 10.0.0.3 lb.example.net.
}`,
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{
					staticRec("app.example.org.", "sitea", "10.0.0.1"),
					staticRec("app.example.org.", "sitea", "2001:db8::1"),
					staticRec("app.example.org.", "siteb", "10.0.0.2"),
					aliasRec("lb.example.org.", "static", "lb-1.eu-west-1.elb.amazonaws.com."),
					staticRec("ns-free.example.org.", "static", "10.0.0.3"),
					aliasRec("ns-free.example.org.", "static", "lb.example.net."),
				}
			},
		},
		{
			name: "nameservers inside the zone with glue, outside without",
			input: `gslb example.org {
	member a.example.org 10.0.0.1
	nameserver NS1.example.org 192.0.2.53 2001:db8::53
	nameserver ns2.example.net.
}`,
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.nameServers = []table.NameServer{
					{Name: "ns1.example.org.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}},
					{Name: "ns2.example.net."},
				}
			},
		},
		{
			name:  "hostmaster as a mail address",
			input: "gslb example.org {\n\tmember a.example.org 10.0.0.1\n\thostmaster User@Example.org\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.hostmaster = "user.example.org."
			},
		},
		{
			name:  "hostmaster with a dot in the local part",
			input: "gslb example.org {\n\tmember a.example.org 10.0.0.1\n\thostmaster dns.admin@example.org\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.hostmaster = `dns\.admin.example.org.`
			},
		},
		{
			name:  "hostmaster in domain form",
			input: "gslb example.org {\n\tmember a.example.org 10.0.0.1\n\thostmaster hostmaster.example.org\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.hostmaster = "hostmaster.example.org."
			},
		},
		{
			name:  "fallthrough without zones",
			input: "gslb example.org {\n\tmember a.example.org 10.0.0.1\n\tfallthrough\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.fall = fall.Root
			},
		},
		{
			name:  "fallthrough with zones",
			input: "gslb example.org {\n\tmember a.example.org 10.0.0.1\n\tfallthrough legacy.example.org Other.example.org\n}",
			want: func(c *config) {
				c.zones = []string{"example.org."}
				c.static = []model.Record{staticRec("a.example.org.", "static", "10.0.0.1")}
				c.fall = fall.F{Zones: []string{"legacy.example.org.", "other.example.org."}}
			},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", files.Replace(tc.input))
			c.ServerBlockKeys = tc.keys
			got, err := parse(c)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := newConfig()
			tc.want(want)

			var clusters []string
			for _, cl := range got.clusters {
				clusters = append(clusters, cl.Site+"="+cl.Context)
				if cl.Config == nil || cl.Config.Host != "https://127.0.0.1:1" {
					t.Errorf("cluster %s: want a rest config for https://127.0.0.1:1, got %+v", cl.Site, cl.Config)
				}
			}
			if !reflect.DeepEqual(clusters, tc.wantClusters) {
				t.Errorf("clusters: got %q, want %q", clusters, tc.wantClusters)
			}
			if !got.fall.Equal(want.fall) {
				t.Errorf("fallthrough: got %v, want %v", got.fall, want.fall)
			}
			got.clusters, got.fall, want.fall = nil, fall.F{}, fall.F{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config:\n got %+v\nwant %+v", *got, *want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)

	// block wraps properties into a stanza whose first property is on line 2.
	block := func(props ...string) string {
		return "gslb example.org {\n\t" + strings.Join(props, "\n\t") + "\n}"
	}
	const member = "member a.example.org 10.0.0.1"

	tests := []struct {
		name  string
		input string
		// want are substrings of the error: the problem and, where the
		// message format carries it, the line.
		want []string
	}{
		{"unknown property", block(member, "bogus 1"), []string{"Testfile:3", `unknown property "bogus"`}},

		{"kubeconfig without file", block("kubeconfig"), []string{"Testfile:2", "kubeconfig needs a file"}},
		{"kubeconfig file missing", block(member, "kubeconfig MISSING"), []string{"Testfile:3", "cannot read kubeconfig", "does-not-exist"}},
		{"kubeconfig unknown context", block("kubeconfig KUBECONFIG " + ctxA + " sitec"), []string{"Testfile:2", `has no context "sitec"`, "it has: " + ctxA + ", " + ctxB}},
		{"kubeconfig without contexts", block("kubeconfig NOCONTEXTS"), []string{"Testfile:2", "has no contexts"}},

		{"site without args", block("site"), []string{"Testfile:2", "site needs a name and a kubeconfig context"}},
		{"site with three args", block("site a b c"), []string{"Testfile:2", "site needs a name and a kubeconfig context"}},
		{"site bad name", block("site -sitea " + ctxA), []string{"Testfile:2", `site name "-sitea"`}},
		{"in-cluster site bad name", block("site site/a"), []string{"Testfile:2", `site name "site/a"`}},
		{"site names one context twice", block("site a "+ctxA, "site b "+ctxA), []string{"Testfile:3", `context "` + ctxA + `" already has a site name`}},
		{"duplicate site", block("kubeconfig KUBECONFIG", "site same "+ctxA, "site same "+ctxB), []string{"Testfile:2", `site "same" is used by both context "` + ctxA + `" and context "` + ctxB + `"`}},
		{"duplicate site from two kubeconfig lines", block("kubeconfig KUBECONFIG "+ctxA, "kubeconfig KUBECONFIG "+ctxA), []string{"Testfile:3", `site "` + ctxA + `" is used by both`}},
		{"site for a context nobody watches", block("kubeconfig KUBECONFIG "+ctxA, "site siteb "+ctxB), []string{"Testfile:3", `site names context "` + ctxB + `", which no kubeconfig line watches`}},
		{"site for a context without any kubeconfig", block(member, "site siteb "+ctxB), []string{"Testfile:3", `site names context "` + ctxB + `"`}},
		{"in-cluster site with a kubeconfig", block("kubeconfig KUBECONFIG", "site local"), []string{"`site local` without a context names the in-cluster site"}},

		{"resources without args", block("resources"), []string{"Testfile:2", "resources needs one or more of", "httproute"}},
		{"gateway_selection unknown", block("gateway_selection listener"), []string{"Testfile:2", `gateway_selection "listener"`, "route", "gateway"}},
		{"gateway_selection without args", block("gateway_selection"), []string{"Testfile:2", "gateway_selection needs one of"}},
		{"resources unknown", block("resources ingress pods"), []string{"Testfile:2", `unknown resource "pods"`}},

		{"selector without args", block("selector"), []string{"Testfile:2", "selector needs a Kubernetes label selector"}},
		{"selector unbalanced", block("selector app in (gslb"), []string{"Testfile:2", `bad label selector "app in (gslb"`}},
		{"selector bad operator", block("selector app=~gslb"), []string{"Testfile:2", "bad label selector"}},

		{"namespaces without args", block("namespaces"), []string{"Testfile:2", "namespaces needs at least one namespace"}},

		{"ttl without args", block("ttl"), []string{"Testfile:2", "ttl needs one number between 0 and 86400"}},
		{"ttl two args", block("ttl 30 60"), []string{"Testfile:2", "ttl needs one number between 0 and 86400"}},
		{"ttl negative", block("ttl -1"), []string{"Testfile:2", `ttl: "-1" is not a number between 0 and 86400`}},
		{"ttl too large", block("ttl 86401"), []string{"Testfile:2", `ttl: "86401" is not a number`}},
		{"ttl not a number", block("ttl 30s"), []string{"Testfile:2", `ttl: "30s" is not a number`}},

		{"answers without args", block("answers"), []string{"Testfile:2", "answers needs one number between 0 and 1000"}},
		{"answers two args", block("answers 1 2"), []string{"Testfile:2", "answers needs one number"}},
		{"answers negative", block("answers -1"), []string{"Testfile:2", `answers: "-1" is not a number between 0 and 1000`}},
		{"answers too large", block("answers 1001"), []string{"Testfile:2", `answers: "1001" is not a number`}},
		{"answers not a number", block("answers all"), []string{"Testfile:2", `answers: "all" is not a number`}},

		{"startup_timeout without args", block("startup_timeout"), []string{"Testfile:2", "startup_timeout needs one duration"}},
		{"startup_timeout two args", block("startup_timeout 1s 2s"), []string{"Testfile:2", "startup_timeout needs one duration"}},
		{"startup_timeout bad duration", block("startup_timeout soon"), []string{"Testfile:2", `startup_timeout: "soon" is not a duration`}},
		{"startup_timeout no unit", block("startup_timeout 30"), []string{"Testfile:2", `startup_timeout: "30" is not a duration`}},
		{"startup_timeout negative", block("startup_timeout -1s"), []string{"Testfile:2", `startup_timeout: "-1s" is not a duration`}},

		{"member without args", block("member"), []string{"Testfile:2", "member needs a name and at least one address"}},
		{"member without address", block("member a.example.org"), []string{"Testfile:2", "member needs a name and at least one address"}},
		{"member with site but no address", block("member a.example.org site sitea"), []string{"Testfile:2", "member needs a name and at least one address"}},
		{"member bad site name", block("member a.example.org 10.0.0.1 site site/a"), []string{"Testfile:2", `site name "site/a"`}},
		{"member wildcard name", block("member *.example.org 10.0.0.1"), []string{"Testfile:2", `member "*.example.org" is not a domain name`}},
		{"member single-label address", block("member a.example.org bogus"), []string{"Testfile:2", `member a.example.org: "bogus" is neither an IP address nor a host name`}},
		{"member mistyped IPv4", block("member a.example.org 10.0.0.300"), []string{"Testfile:2", `"10.0.0.300" is neither an IP address nor a host name`}},
		{"member IPv4 with prefix", block("member a.example.org 10.0.0.1/24"), []string{"Testfile:2", `"10.0.0.1/24" is neither an IP address nor a host name`}},
		{"member mistyped IPv6", block("member a.example.org 2001:db8::1::2"), []string{"Testfile:2", `"2001:db8::1::2" is neither an IP address nor a host name`}},
		{"member empty label", block("member a.example.org lb..example.net"), []string{"Testfile:2", `"lb..example.net" is neither`}},
		{"member outside the zones", block("ttl 60", "member a.example.net 10.0.0.1"), []string{"Testfile:3", "member a.example.net is outside the zones example.org."}},

		{"nameserver without args", block("nameserver"), []string{"Testfile:2", "nameserver needs a name"}},
		{"nameserver bad address", block("nameserver ns1.example.org 192.0.2"), []string{"Testfile:2", `nameserver ns1.example.org: "192.0.2" is not an IP address`}},
		{"nameserver inside the zone without address", block(member, "nameserver ns1.example.org"), []string{"Testfile:3", "nameserver ns1.example.org lies inside the zone", "give its address(es) for glue"}},
		{"nameserver outside the zone with address", block(member, "nameserver ns1.example.net 192.0.2.53"), []string{"Testfile:3", "nameserver ns1.example.net lies outside the zone", "remove them"}},

		{"hostmaster without args", block("hostmaster"), []string{"Testfile:2", "hostmaster needs one mailbox"}},
		{"hostmaster two args", block("hostmaster a@example.org b@example.org"), []string{"Testfile:2", "hostmaster needs one mailbox"}},

		{"nothing to serve", "gslb example.org", []string{"no kubeconfig given and not running inside a cluster", "kubeconfig FILE", "member"}},
		{"nothing to serve, empty block", block("ttl 60"), []string{"no kubeconfig given and not running inside a cluster"}},
		{"second stanza", block(member) + "\ngslb example.net", []string{"this plugin can only be used once per Server Block"}},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", files.Replace(tc.input))
			cfg, err := parse(c)
			if err == nil {
				t.Fatalf("expected an error, got config %+v", cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), files.Replace(w)) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestParseInCluster checks that without kubeconfig the plugin watches the
// cluster it runs in, and says so when the service account is missing.
func TestParseInCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	c := caddy.NewTestController("dns", "gslb example.org")
	_, err := parse(c)
	if _, statErr := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/token"); statErr == nil {
		t.Skip("running with a service account; the in-cluster path succeeds here")
	}
	if err == nil || !strings.Contains(err.Error(), "in-cluster configuration") {
		t.Fatalf("want an in-cluster configuration error, got %v", err)
	}
}

func TestMailbox(t *testing.T) {
	for in, want := range map[string]string{
		"hostmaster@example.org":    "hostmaster.example.org.",
		"Dns.Admin@Example.org":     `dns\.admin.example.org.`,
		"hostmaster.example.org":    "hostmaster.example.org.",
		"hostmaster.example.org.":   "hostmaster.example.org.",
		"a.b.c@sub.example.org":     `a\.b\.c.sub.example.org.`,
		"dns-admin@sub.example.org": "dns-admin.sub.example.org.",
	} {
		if got := mailbox(in); got != want {
			t.Errorf("mailbox(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSetupRegisters runs the whole setup once: it must add the handler and
// register startup and shutdown hooks without touching the network.
func TestSetupRegisters(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	c := caddy.NewTestController("dns", "gslb example.org {\n\tmember a.example.org 10.0.0.1\n}")
	if err := setup(c); err != nil {
		t.Fatalf("setup: %v", err)
	}
	c = caddy.NewTestController("dns", "gslb example.org {\n\tttl x\n}")
	err := setup(c)
	if err == nil || !strings.Contains(err.Error(), "plugin/gslb") || !strings.Contains(err.Error(), "Testfile:2") {
		t.Fatalf("setup error should name the plugin and the line, got %v", err)
	}
}
