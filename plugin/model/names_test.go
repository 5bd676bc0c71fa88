package model

import (
	"testing"

	"github.com/miekg/dns"
)

func TestHostName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"app.example.org", "app.example.org.", true},
		{"APP.Example.Org.", "app.example.org.", true},
		{"  app.example.org ", "app.example.org.", true},
		{"", "", false},
		{"   ", "", false},
		{".", "", false},
		{"*.example.org", "", false},
		{"a.*.example.org", "", false},
		{"a..example.org", "", false},
	} {
		got, ok := HostName(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("HostName(%q) = %q, %t; want %q, %t", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestZonesContains(t *testing.T) {
	zs := Zones{"gslb.example.org.", "example.net."}
	for name, want := range map[string]bool{
		"gslb.example.org.":       true,
		"app.gslb.example.org.":   true,
		"a.b.gslb.example.org.":   true,
		"example.net.":            true,
		"xgslb.example.org.":      false,
		"example.org.":            false,
		`app\.gslb.example.org.`:  false, // one label "app.gslb", in example.org.
		`app\\.gslb.example.org.`: true,  // an escaped backslash, then a real dot
		"org.":                    false,
	} {
		if got := zs.Contains(name); got != want {
			t.Errorf("Contains(%q) = %t, want %t", name, got, want)
		}
	}
	if !(Zones{"."}).Contains("anything.example.") {
		t.Error("the root zone holds every name")
	}
}

func TestCheckSiteName(t *testing.T) {
	for _, ok := range []string{"a", "site-a", "eu.west_1", "A1"} {
		if err := CheckSiteName(ok); err != nil {
			t.Errorf("CheckSiteName(%q) = %v, want nil", ok, err)
		}
	}
	long := ""
	for range 64 {
		long += "x"
	}
	for _, bad := range []string{"", "-a", ".a", "a b", "a/b", "ä", long} {
		if err := CheckSiteName(bad); err == nil {
			t.Errorf("CheckSiteName(%q) = nil, want an error", bad)
		}
	}
}

func TestInZone(t *testing.T) {
	for _, tc := range []struct {
		zone, name string
		want       bool
	}{
		{"example.org.", "example.org.", true},
		{"example.org.", "www.example.org.", true},
		{"example.org.", "a.b.example.org.", true},
		{"example.org.", "wwwexample.org.", false},
		{"example.org.", "org.", false},
		{"example.org.", "example.org.uk.", false},
		{".", "anything.example.", true},
		{"example.org.", `www\.example.org.`, false}, // one label "www.example", zone "org."
		{"example.org.", `www\\.example.org.`, true}, // "www\" then the zone
	} {
		if got := InZone(tc.zone, tc.name); got != tc.want || got != dns.IsSubDomain(tc.zone, tc.name) {
			t.Errorf("InZone(%q, %q) = %v, want %v (dns.IsSubDomain says %v)", tc.zone, tc.name, got, tc.want, dns.IsSubDomain(tc.zone, tc.name))
		}
	}
}
