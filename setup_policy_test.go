package gslb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// policyStanza is a stanza with static members at two sites (sitea, siteb)
// and the given policy properties; the first property is on line 5.
func policyStanza(props ...string) string {
	return "gslb example.org {\n" +
		"\tmember app.example.org 10.0.0.1 site sitea\n" +
		"\tmember app.example.org 10.0.1.1 site siteb\n" +
		"\tmember lb.example.org lb-1.example.net site siteb\n" +
		"\t" + strings.Join(props, "\n\t") + "\n}"
}

// caFiles writes a self-signed CA certificate as PEM (CAFILE), a file that
// holds no PEM (NOTPEM) and names a path that does not exist (NOFILE). It
// returns the replacer for a Corefile and the CA's PEM bytes.
func caFiles(t *testing.T) (*strings.Replacer, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gslb test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("this is not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("CAFILE", ca, "NOTPEM", notPEM, "NOFILE", filepath.Join(dir, "missing.pem")), caPEM
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestParsePolicy(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files, caPEM := caFiles(t)
	wantPool := x509.NewCertPool()
	if !wantPool.AppendCertsFromPEM(caPEM) {
		t.Fatal("test CA does not parse")
	}

	tests := []struct {
		name  string
		props []string
		// want is applied to newConfig() to give the expected result.
		want     func(c *config)
		wantPool *x509.CertPool // health.RootCAs, compared with Equal
	}{
		{name: "defaults", want: func(c *config) {}},
		{name: "policy round-robin", props: []string{"policy round-robin"}, want: func(c *config) {}},
		{name: "policy weighted", props: []string{"policy weighted"}, want: func(c *config) { c.defaults.Algorithm = model.Weighted }},
		{name: "policy consistent-hash", props: []string{"policy consistent-hash"}, want: func(c *config) { c.defaults.Algorithm = model.ConsistentHash }},
		{name: "policy topology", props: []string{"policy topology"}, want: func(c *config) { c.defaults.Algorithm = model.Topology }},
		{name: "policy topology with fallback", props: []string{"policy topology consistent-hash"}, want: func(c *config) {
			c.defaults.Algorithm, c.defaults.Fallback = model.Topology, model.ConsistentHash
		}},
		{name: "AMKO consistent hash", props: []string{"policy GSLB_ALGORITHM_CONSISTENT_HASH"}, want: func(c *config) { c.defaults.Algorithm = model.ConsistentHash }},
		{name: "AMKO round robin", props: []string{"policy GSLB_ALGORITHM_ROUND_ROBIN"}, want: func(c *config) {}},
		{name: "AMKO topology with AMKO fallback", props: []string{"policy GSLB_ALGORITHM_TOPOLOGY GSLB_ALGORITHM_WEIGHTED"}, want: func(c *config) {
			c.defaults.Algorithm, c.defaults.Fallback = model.Topology, model.Weighted
		}},
		{name: "last policy wins", props: []string{"policy weighted", "policy Consistent-Hash"}, want: func(c *config) { c.defaults.Algorithm = model.ConsistentHash }},

		{name: "hash_mask v4", props: []string{"hash_mask 16"}, want: func(c *config) { c.defaults.HashMask4 = model.Some(16) }},
		{name: "hash_mask v4 and v6", props: []string{"hash_mask 20 48"}, want: func(c *config) { c.defaults.HashMask4, c.defaults.HashMask6 = model.Some(20), model.Some(48) }},
		{name: "hash_mask bounds", props: []string{"hash_mask 1 1", "hash_mask 32 128"}, want: func(c *config) { c.defaults.HashMask4, c.defaults.HashMask6 = model.Some(32), model.Some(128) }},

		{name: "weight and priority per site", props: []string{"weight sitea 20", "weight siteb 0", "priority sitea 100", "priority siteb 0"}, want: func(c *config) {
			c.policy.weights = map[string]int{"sitea": 20, "siteb": 0}
			c.policy.priorities = map[string]int{"sitea": 100, "siteb": 0}
		}},

		{name: "topology v4 and v6", props: []string{"topology 10.26.0.0/16 sitea siteb", "topology 2001:db8:1::/48 siteb", "topology 10.26.1.7/24 siteb"}, want: func(c *config) {
			c.policy.topology.Add(netip.MustParsePrefix("10.26.0.0/16"), []string{"sitea", "siteb"})
			c.policy.topology.Add(netip.MustParsePrefix("2001:db8:1::/48"), []string{"siteb"})
			c.policy.topology.Add(netip.MustParsePrefix("10.26.1.0/24"), []string{"siteb"})
		}},

		{name: "down_response none", props: []string{"down_response none"}, want: func(c *config) {}},
		{name: "down_response all-records", props: []string{"down_response all-records"}, want: func(c *config) { c.defaults.Down = model.Down{Kind: model.DownAllRecords} }},
		{name: "down_response empty", props: []string{"down_response empty"}, want: func(c *config) { c.defaults.Down = model.Down{Kind: model.DownEmpty} }},
		{name: "down_response fallback v4 and v6", props: []string{"down_response fallback 2001:db8::99 192.0.2.1"}, want: func(c *config) {
			c.defaults.Down = model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.1"), V6: netip.MustParseAddr("2001:db8::99")}
		}},
		{name: "down_response cname", props: []string{"down_response cname Sorry.Example.NET"}, want: func(c *config) {
			c.defaults.Down = model.Down{Kind: model.DownCNAME, Target: "sorry.example.net."}
		}},
		{name: "AMKO down response fallback ip", props: []string{"down_response GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP 192.0.2.1"}, want: func(c *config) {
			c.defaults.Down = model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.1")}
		}},
		{name: "AMKO down response all records", props: []string{"down_response GSLB_SERVICE_DOWN_RESPONSE_ALL_RECORDS"}, want: func(c *config) {
			c.defaults.Down = model.Down{Kind: model.DownAllRecords}
		}},
		{name: "AMKO down response empty", props: []string{"down_response GSLB_SERVICE_DOWN_RESPONSE_EMPTY"}, want: func(c *config) {
			c.defaults.Down = model.Down{Kind: model.DownEmpty}
		}},

		{name: "health_check auto", props: []string{"health_check none", "health_check auto"}, want: func(c *config) {}},
		{name: "health_check none", props: []string{"health_check NONE"}, want: func(c *config) { c.health.mode = healthNone }},
		{name: "health_check http", props: []string{"health_check http"}, want: func(c *config) {
			c.health.mode, c.health.check = healthForced, model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}
		}},
		{name: "health_check http port", props: []string{"health_check HTTP 8080"}, want: func(c *config) {
			c.health.mode, c.health.check = healthForced, model.Check{Proto: model.CheckHTTP, Port: 8080, Path: "/"}
		}},
		{name: "health_check http port path", props: []string{"health_check http 8080 /healthz"}, want: func(c *config) {
			c.health.mode, c.health.check = healthForced, model.Check{Proto: model.CheckHTTP, Port: 8080, Path: "/healthz"}
		}},
		{name: "health_check https", props: []string{"health_check https"}, want: func(c *config) {
			c.health.mode, c.health.check = healthForced, model.Check{Proto: model.CheckHTTPS, Port: 443, Path: "/"}
		}},
		{name: "health_check https port path", props: []string{"health_check https 8443 /ready"}, want: func(c *config) {
			c.health.mode, c.health.check = healthForced, model.Check{Proto: model.CheckHTTPS, Port: 8443, Path: "/ready"}
		}},
		{name: "health_check tcp", props: []string{"health_check tcp 5432"}, want: func(c *config) {
			c.health.mode, c.health.check = healthForced, model.Check{Proto: model.CheckTCP, Port: 5432}
		}},
		{name: "health_check port bounds", props: []string{"health_check tcp 1", "health_check tcp 65535"}, want: func(c *config) {
			c.health.mode, c.health.check = healthForced, model.Check{Proto: model.CheckTCP, Port: 65535}
		}},

		{name: "health timers and api_grace", props: []string{"health_interval 500ms", "health_timeout 2s", "api_grace 1m30s"}, want: func(c *config) {
			c.health.probe.Interval, c.health.probe.Timeout, c.health.apiGrace = 500*time.Millisecond, 2*time.Second, 90*time.Second
		}},
		{name: "health_rise and health_fall bounds", props: []string{"health_rise 1", "health_fall 10"}, want: func(c *config) {
			c.health.probe.Rise, c.health.probe.Fall = 1, 10
		}},
		{name: "health_rise and health_fall other bounds", props: []string{"health_rise 10", "health_fall 1"}, want: func(c *config) {
			c.health.probe.Rise, c.health.probe.Fall = 10, 1
		}},
		{name: "health_expect as args", props: []string{"health_expect 200-299 404"}, want: func(c *config) {
			c.health.probe.Expect = []health.StatusRange{{Lo: 200, Hi: 299}, {Lo: 404, Hi: 404}}
		}},
		{name: "health_expect comma separated", props: []string{"health_expect 200,204"}, want: func(c *config) {
			c.health.probe.Expect = []health.StatusRange{{Lo: 200, Hi: 200}, {Lo: 204, Hi: 204}}
		}},

		{name: "health_tls insecure", props: []string{"health_tls verify", "health_tls insecure"}, want: func(c *config) {}},
		{name: "health_tls verify with system roots", props: []string{"health_tls verify"}, want: func(c *config) { c.health.probe.TLSVerify = true }},
		{name: "health_tls verify with a CA file", props: []string{"health_tls verify CAFILE"}, want: func(c *config) { c.health.probe.TLSVerify = true }, wantPool: wantPool},

		{name: "health_targets", props: []string{"health_targets 127.0.0.0/8 10.1.2.3/16", "health_targets 2001:db8::/32"}, want: func(c *config) {
			c.health.probe.Allowed = prefixes("127.0.0.0/8", "10.1.0.0/16", "2001:db8::/32")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := files.Replace(policyStanza(tc.props...))
			cfg, err := parse(caddy.NewTestController("dns", input))
			if err != nil {
				t.Fatalf("unexpected error: %v\n%s", err, input)
			}
			want := newConfig()
			tc.want(want)
			switch {
			case tc.wantPool == nil && cfg.health.probe.RootCAs != nil:
				t.Errorf("RootCAs set, want nil (system roots)")
			case tc.wantPool != nil && (cfg.health.probe.RootCAs == nil || !cfg.health.probe.RootCAs.Equal(tc.wantPool)):
				t.Errorf("RootCAs do not hold exactly the CA file's certificate")
			}
			cfg.health.probe.RootCAs = nil
			if !reflect.DeepEqual(cfg.defaults, want.defaults) {
				t.Errorf("defaults:\n got %+v\nwant %+v", cfg.defaults, want.defaults)
			}
			if !reflect.DeepEqual(cfg.policy, want.policy) {
				t.Errorf("policy:\n got %+v\nwant %+v", cfg.policy, want.policy)
			}
			if !reflect.DeepEqual(cfg.health, want.health) {
				t.Errorf("health:\n got %+v\nwant %+v", cfg.health, want.health)
			}
		})
	}
}

// TestParsePolicyTopologyMatch checks the parsed topology rules through
// Match: longest prefix wins, the preferred sites keep their order, and the
// scope of a rule with a more specific rule inside is the inner one's length.
func TestParsePolicyTopologyMatch(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	cfg, err := parse(caddy.NewTestController("dns", policyStanza(
		"policy topology",
		"topology 10.26.0.0/16 sitea siteb",
		"topology 10.26.1.0/24 siteb sitea",
		"topology 2001:db8:1::/48 siteb",
		"topology 10.27.0.0/16 sitea",
	)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr  string
		sites []string
		bits  int
		ok    bool
	}{
		{"10.26.0.1", []string{"sitea", "siteb"}, 24, true}, // scope: the /24 inside
		{"10.27.0.1", []string{"sitea"}, 16, true},
		{"10.26.1.200", []string{"siteb", "sitea"}, 24, true},
		{"2001:db8:1:ff::1", []string{"siteb"}, 48, true},
		{"10.28.0.1", nil, 0, false},
		{"2001:db8:2::1", nil, 0, false},
	} {
		sites, bits, ok := cfg.policy.topology.Match(netip.MustParseAddr(tc.addr))
		if !reflect.DeepEqual(sites, tc.sites) || bits != tc.bits || ok != tc.ok {
			t.Errorf("Match(%s) = %v /%d %t, want %v /%d %t", tc.addr, sites, bits, ok, tc.sites, tc.bits, tc.ok)
		}
	}
	if n := cfg.policy.topology.Len(); n != 4 {
		t.Errorf("%d topology rules, want 4", n)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files, _ := caFiles(t)

	tests := []struct {
		name  string
		props []string // the first is on line 5
		want  []string // substrings of the error
	}{
		{"policy without args", []string{"policy"}, []string{"Testfile:5", "policy needs an algorithm"}},
		{"policy three args", []string{"policy topology weighted round-robin"}, []string{"Testfile:5", "policy needs an algorithm"}},
		{"policy unknown", []string{"policy fastest"}, []string{"Testfile:5", `unknown policy "fastest"`}},
		{"policy fallback on weighted", []string{"policy weighted round-robin"}, []string{"Testfile:5", "only topology takes a fallback algorithm"}},
		{"policy fallback on consistent hash", []string{"policy GSLB_ALGORITHM_CONSISTENT_HASH round-robin"}, []string{"Testfile:5", "only topology takes a fallback algorithm"}},
		{"policy topology falls back to topology", []string{"policy topology topology"}, []string{"Testfile:5", `topology fallback "topology"`}},
		{"policy topology falls back to geo", []string{"policy topology GSLB_ALGORITHM_GEO"}, []string{"Testfile:5", `topology fallback "GSLB_ALGORITHM_GEO"`}},
		{"policy topology unknown fallback", []string{"policy topology fastest"}, []string{"Testfile:5", `topology fallback "fastest"`}},

		{"hash_mask without args", []string{"hash_mask"}, []string{"Testfile:5", "hash_mask: want an IPv4 prefix length"}},
		{"hash_mask three args", []string{"hash_mask 24 56 64"}, []string{"Testfile:5", "hash_mask: want an IPv4 prefix length"}},
		{"hash_mask v4 zero", []string{"hash_mask 0"}, []string{"Testfile:5", `IPv4 mask "0": want 1-32`}},
		{"hash_mask v4 too long", []string{"hash_mask 33"}, []string{"Testfile:5", `IPv4 mask "33": want 1-32`}},
		{"hash_mask v4 not a number", []string{"hash_mask /24"}, []string{"Testfile:5", `IPv4 mask "/24"`}},
		{"hash_mask v6 zero", []string{"hash_mask 24 0"}, []string{"Testfile:5", `IPv6 mask "0": want 1-128`}},
		{"hash_mask v6 too long", []string{"hash_mask 24 129"}, []string{"Testfile:5", `IPv6 mask "129": want 1-128`}},

		{"weight without args", []string{"weight"}, []string{"Testfile:5", "weight needs a site and a number 0-20"}},
		{"weight without number", []string{"weight sitea"}, []string{"Testfile:5", "weight needs a site and a number 0-20: weight SITE N"}},
		{"weight three args", []string{"weight sitea 1 2"}, []string{"Testfile:5", "weight needs a site and a number"}},
		{"weight negative", []string{"weight sitea -1"}, []string{"Testfile:5", `weight sitea: "-1" is not a number between 0 and 20`}},
		{"weight too large", []string{"weight sitea 21"}, []string{"Testfile:5", `weight sitea: "21" is not a number between 0 and 20`}},
		{"weight not a number", []string{"weight sitea heavy"}, []string{"Testfile:5", `"heavy" is not a number`}},
		{"priority without number", []string{"priority sitea"}, []string{"Testfile:5", "priority needs a site and a number 0-100: priority SITE N"}},
		{"priority too large", []string{"priority sitea 101"}, []string{"Testfile:5", `priority sitea: "101" is not a number between 0 and 100`}},
		{"priority not a number", []string{"priority sitea high"}, []string{"Testfile:5", `priority sitea: "high" is not a number`}},

		{"weight for an unknown site", []string{"ttl 30", "weight sitec 5"}, []string{"Testfile:6", `site "sitec" is not a site of this gslb stanza; sites are: sitea, siteb`}},
		{"priority for an unknown site", []string{"priority SiteA 5"}, []string{"Testfile:5", `site "SiteA" is not a site of this gslb stanza; sites are: sitea, siteb`}},
		{"topology for an unknown site", []string{"ttl 30", "ttl 30", "topology 10.0.0.0/8 sitea sitec"}, []string{"Testfile:7", `site "sitec" is not a site of this gslb stanza; sites are: sitea, siteb`}},

		{"topology without args", []string{"topology"}, []string{"Testfile:5", "topology needs a client subnet and preferred sites"}},
		{"topology without site", []string{"topology 10.26.0.0/16"}, []string{"Testfile:5", "topology needs a client subnet and preferred sites"}},
		{"topology bad CIDR", []string{"topology 10.26.0.0/33 sitea"}, []string{"Testfile:5", `topology: "10.26.0.0/33" is not a CIDR`}},
		{"topology address without length", []string{"topology 10.26.0.1 sitea"}, []string{"Testfile:5", `topology: "10.26.0.1" is not a CIDR`}},
		{"topology site first", []string{"topology sitea 10.26.0.0/16"}, []string{"Testfile:5", `topology: "sitea" is not a CIDR`}},
		{"topology v4-mapped", []string{"topology ::ffff:10.26.0.0/112 sitea"}, []string{"Testfile:5", `write IPv4 subnets as IPv4, not "::ffff:10.26.0.0/112"`}},
		{"topology prefix twice", []string{"topology 10.26.0.0/16 sitea", "topology 10.26.0.0/16 siteb"}, []string{"Testfile:6", "topology 10.26.0.0/16 is given twice"}},
		{"topology prefix twice, other host bits", []string{"topology 10.26.0.0/16 sitea", "topology 10.26.9.9/16 siteb"}, []string{"Testfile:6", "topology 10.26.9.9/16 is given twice"}},
		{"topology v6 prefix twice", []string{"topology 2001:db8::/32 sitea", "topology 2001:db8:0:1::/32 siteb"}, []string{"Testfile:6", "is given twice"}},

		{"down_response without args", []string{"down_response"}, []string{"Testfile:5", "down_response: want none, all-records, empty, fallback ADDRESS... or cname NAME"}},
		{"down_response unknown", []string{"down_response sorry"}, []string{"Testfile:5", `unknown down response "sorry"`}},
		{"down_response none with args", []string{"down_response none 192.0.2.1"}, []string{"Testfile:5", "none takes no arguments"}},
		{"down_response empty with args", []string{"down_response empty x"}, []string{"Testfile:5", "empty takes no arguments"}},
		{"down_response fallback without address", []string{"down_response fallback"}, []string{"Testfile:5", "fallback wants one IPv4 and/or one IPv6 address"}},
		{"down_response fallback three addresses", []string{"down_response fallback 192.0.2.1 2001:db8::1 192.0.2.2"}, []string{"Testfile:5", "fallback wants one IPv4 and/or one IPv6 address"}},
		{"down_response fallback two v4", []string{"down_response fallback 192.0.2.1 192.0.2.2"}, []string{"Testfile:5", "at most one address per family"}},
		{"down_response fallback bad address", []string{"down_response GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP 192.0.2"}, []string{"Testfile:5", `fallback "192.0.2" is not an IP address`}},
		{"down_response cname without name", []string{"down_response cname"}, []string{"Testfile:5", "cname wants one name"}},
		{"down_response cname two names", []string{"down_response cname a.example.net b.example.net"}, []string{"Testfile:5", "cname wants one name"}},

		{"health_check without args", []string{"health_check"}, []string{"Testfile:5", "health_check needs auto, none, or a protocol"}},
		{"health_check four args", []string{"health_check http 80 /a /b"}, []string{"Testfile:5", "health_check needs auto, none, or a protocol"}},
		{"health_check unknown", []string{"health_check icmp"}, []string{"Testfile:5", `health_check "icmp": use auto, none, http, https or tcp`}},
		{"health_check auto with port", []string{"health_check auto 80"}, []string{"Testfile:5", "health_check auto takes no port or path"}},
		{"health_check none with port", []string{"health_check none 80"}, []string{"Testfile:5", "health_check none takes no port or path"}},
		{"health_check tcp without port", []string{"health_check tcp"}, []string{"Testfile:5", "health_check tcp needs a port"}},
		{"health_check port zero", []string{"health_check http 0"}, []string{"Testfile:5", `health_check port "0": want 1-65535`}},
		{"health_check port too large", []string{"health_check https 65536"}, []string{"Testfile:5", `health_check port "65536": want 1-65535`}},
		{"health_check port not a number", []string{"health_check http /healthz"}, []string{"Testfile:5", `health_check port "/healthz": want 1-65535`}},
		{"health_check relative path", []string{"health_check http 80 healthz"}, []string{"Testfile:5", `health_check path "healthz": want an absolute path`}},
		{"health_check tcp with path", []string{"health_check tcp 80 /healthz"}, []string{"Testfile:5", `health_check path "/healthz": want an absolute path, for http or https`}},

		{"health_interval without args", []string{"health_interval"}, []string{"Testfile:5", "health_interval needs one duration"}},
		{"health_interval two args", []string{"health_interval 1s 2s"}, []string{"Testfile:5", "health_interval needs one duration"}},
		{"health_interval zero", []string{"health_interval 0s"}, []string{"Testfile:5", `health_interval: "0s" is not a positive duration`}},
		{"health_interval negative", []string{"health_interval -1s"}, []string{"Testfile:5", `health_interval: "-1s" is not a positive duration`}},
		{"health_interval without unit", []string{"health_interval 5"}, []string{"Testfile:5", `health_interval: "5" is not a positive duration`}},
		{"health_timeout bad", []string{"health_timeout soon"}, []string{"Testfile:5", `health_timeout: "soon" is not a positive duration`}},
		{"health_timeout without args", []string{"health_timeout"}, []string{"Testfile:5", "health_timeout needs one duration"}},
		{"api_grace zero", []string{"api_grace 0"}, []string{"Testfile:5", `api_grace: "0" is not a positive duration`}},
		{"api_grace two args", []string{"api_grace 1m 2m"}, []string{"Testfile:5", "api_grace needs one duration"}},

		{"health_rise without args", []string{"health_rise"}, []string{"Testfile:5", "health_rise needs a count 1-10"}},
		{"health_rise zero", []string{"health_rise 0"}, []string{"Testfile:5", `health_rise: "0" is not a count between 1 and 10`}},
		{"health_rise too large", []string{"health_rise 11"}, []string{"Testfile:5", `health_rise: "11" is not a count between 1 and 10`}},
		{"health_fall not a number", []string{"health_fall three"}, []string{"Testfile:5", `health_fall: "three" is not a count between 1 and 10`}},
		{"health_fall two args", []string{"health_fall 1 2"}, []string{"Testfile:5", "health_fall needs a count 1-10"}},

		{"health_expect without args", []string{"health_expect"}, []string{"Testfile:5", "health_expect: want status codes or ranges"}},
		{"health_expect not a status", []string{"health_expect 99"}, []string{"Testfile:5", "health_expect: want status codes", `"99" is not an HTTP status code`}},
		{"health_expect above 599", []string{"health_expect 200 600"}, []string{"Testfile:5", `"600" is not an HTTP status code`}},
		{"health_expect backwards range", []string{"health_expect 399-200"}, []string{"Testfile:5", "range 399-200 is backwards"}},
		{"health_expect word", []string{"health_expect ok"}, []string{"Testfile:5", `"ok" is not an HTTP status code`}},

		{"health_tls without args", []string{"health_tls"}, []string{"Testfile:5", "health_tls needs insecure, or verify [CA_FILE]"}},
		{"health_tls three args", []string{"health_tls verify CAFILE CAFILE"}, []string{"Testfile:5", "health_tls needs insecure, or verify [CA_FILE]"}},
		{"health_tls unknown", []string{"health_tls strict"}, []string{"Testfile:5", `health_tls "strict": use insecure, or verify [CA_FILE]`}},
		{"health_tls insecure with file", []string{"health_tls insecure CAFILE"}, []string{"Testfile:5", "health_tls insecure takes no CA file"}},
		{"health_tls missing CA file", []string{"health_tls verify NOFILE"}, []string{"Testfile:5", `health_tls: cannot read CA file "NOFILE"`}},
		{"health_tls CA file without PEM", []string{"health_tls verify NOTPEM"}, []string{"Testfile:5", `health_tls: "NOTPEM" holds no PEM certificate`}},

		{"health_targets without args", []string{"health_targets"}, []string{"Testfile:5", "health_targets needs one or more CIDRs"}},
		{"health_targets address without length", []string{"health_targets 127.0.0.0/8 127.0.0.1"}, []string{"Testfile:5", `health_targets: "127.0.0.1" is not a CIDR`}},
		{"health_targets bad CIDR", []string{"health_targets 10.0.0.0/40"}, []string{"Testfile:5", `health_targets: "10.0.0.0/40" is not a CIDR`}},

		{"unknown property lists the policy properties", []string{"health_probe tcp 80"}, []string{"Testfile:5", `unknown property "health_probe"`, "known: amko, amko_status, answers, api_grace, avi, custom_global_fqdn, down_response, endpoint_readiness, events, fallthrough, gateway_selection, hash_mask, health_check, " +
			"health_expect, health_fall, health_interval, health_quorum, health_rise, health_targets, health_timeout, health_tls, hostmaster, kubeconfig, " +
			"member, nameserver, namespaces, owner, ownership, policy, priority, private_networks, resources, selector, site, startup_timeout, status, topology, ttl, vantage, weight"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := files.Replace(policyStanza(tc.props...))
			cfg, err := parse(caddy.NewTestController("dns", input))
			if err == nil {
				t.Fatalf("expected an error, got policy %+v", cfg.policy)
			}
			for _, w := range tc.want {
				if w = files.Replace(w); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestParsePolicySitesFromKubeconfig: weight, priority and topology may name
// the sites of kubeconfig contexts (renamed or not) as well as static sites,
// and the error lists all of them.
func TestParsePolicySitesFromKubeconfig(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	files := kubeconfigFiles(t)
	stanza := func(props ...string) string {
		return files.Replace("gslb example.org {\n\tkubeconfig KUBECONFIG\n\tsite sitea " + ctxA +
			"\n\tmember dr.example.org 192.0.2.10 site dr\n\t" + strings.Join(props, "\n\t") + "\n}")
	}
	cfg, err := parse(caddy.NewTestController("dns", stanza("weight sitea 3", "priority "+ctxB+" 20", "topology 10.0.0.0/8 dr sitea")))
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(cfg.policy.weights, map[string]int{"sitea": 3}) || !reflect.DeepEqual(cfg.policy.priorities, map[string]int{ctxB: 20}) {
		t.Errorf("weights %v priorities %v", cfg.policy.weights, cfg.policy.priorities)
	}
	_, err = parse(caddy.NewTestController("dns", stanza("ttl 60", "weight "+ctxA+" 3")))
	want := `Testfile:6 - Error during parsing: site "` + ctxA + `" is not a site of this gslb stanza; sites are: sitea, ` + ctxB + `, dr`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
}

// TestParseForcedHealthCheck: a forced health_check probes static address
// members (their Check is set, and the health adapter turns it into a
// target), never CNAME members; auto and none leave static members unprobed.
func TestParseForcedHealthCheck(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	const stanza = `gslb example.org {
	member app.example.org 10.0.0.1 2001:db8::1 site sitea
	member lb.example.org lb-1.example.net site siteb
	%s
}`
	tests := []struct {
		prop      string
		wantCheck model.Check // of the address members
		target    bool        // whether the address members become probe targets
		proto     health.Proto
		path      string
	}{
		{"health_check auto", model.Check{}, false, 0, ""},
		{"health_check none", model.Check{}, false, 0, ""},
		{"health_check http", model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/"}, true, health.HTTP, "/"},
		{"health_check https 8443 /ready", model.Check{Proto: model.CheckHTTPS, Port: 8443, Path: "/ready"}, true, health.HTTPS, "/ready"},
		{"health_check tcp 5432", model.Check{Proto: model.CheckTCP, Port: 5432}, true, health.TCP, ""},
	}
	for _, tc := range tests {
		t.Run(tc.prop, func(t *testing.T) {
			cfg, err := parse(caddy.NewTestController("dns", strings.Replace(stanza, "%s", tc.prop, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.static) != 3 {
				t.Fatalf("%d static records, want 3: %+v", len(cfg.static), cfg.static)
			}
			for _, r := range cfg.static {
				tgt, ok := target(r)
				if r.Member.IsAlias() {
					if r.Check != (model.Check{}) || ok {
						t.Errorf("CNAME member %s: check %+v (target %t), want none", r.Member.Target, r.Check, ok)
					}
					continue
				}
				if r.Check != tc.wantCheck {
					t.Errorf("%s: check %+v, want %+v", r.Member.Addr, r.Check, tc.wantCheck)
				}
				if ok != tc.target {
					t.Fatalf("%s: probe target %t, want %t", r.Member.Addr, ok, tc.target)
				}
				if !ok {
					continue
				}
				want := health.Target{Addr: r.Member.Addr, Port: tc.wantCheck.Port, Proto: tc.proto, Site: "sitea", Path: tc.path}
				if tc.proto != health.TCP {
					want.Host = "app.example.org"
				}
				if tgt != want {
					t.Errorf("%s: target %+v, want %+v", r.Member.Addr, tgt, want)
				}
			}
		})
	}
}

// TestPolicyConfigReachesTable: the parsed policy is what newGSLB hands the
// table builder (checked through an answer that depends on each setting).
func TestPolicyConfigReachesTable(t *testing.T) {
	g := newTestGSLB(t, `gslb example.org {
	ttl 45
	member app.example.org 10.0.0.1 site sitea
	member app.example.org 10.0.1.1 site siteb
	priority siteb 50
	down_response fallback 192.0.2.99
}`)
	tbl := g.builder.Table()
	z := tbl.Zone("app.example.org.")
	a := tbl.Lookup(z, "app.example.org.", dns.TypeA, policy.Client{})
	if len(a.Answer) != 1 || a.Answer[0].String() != "app.example.org.\t45\tIN\tA\t10.0.1.1" {
		t.Fatalf("answer %v, want only siteb's member (priority 50 over the default 10)", a.Answer)
	}
}

func TestParseGeoTopology(t *testing.T) {
	const head = "gslb example.org {\n member a.example.org 192.0.2.1 site sitea\n member a.example.org 192.0.2.2 site siteb\n"
	for _, tc := range []struct {
		lines   string
		wantErr string
	}{
		{"topology country gb siteb sitea", ""},
		{"topology continent EU sitea", ""},
		{"topology country GB sitea\n topology country gb siteb", "Testfile:5 - Error during parsing: topology country GB is given twice"},
		{"topology country GBR sitea", "not a two-letter code"},
		{"topology continent E1 sitea", "not a two-letter code"},
		{"topology country GB", "needs a code and preferred sites"},
		{"topology country GB sitez", `site "sitez" is not a site of this gslb stanza`},
	} {
		t.Run(tc.lines, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			cfg, err := parse(caddy.NewTestController("dns", head+" "+tc.lines+"\n}"))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !cfg.policy.topology.HasGeo() {
					t.Error("no geo rule recorded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
