package avi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/avisim"
	"github.com/vmware/alb-sdk/go/models"
)

// FuzzAviDecode feeds arbitrary controller answers through the decoding a
// poll does: a /api/gslbservice page (its objects decoded one by one, the
// bad ones skipped and named), its next link, a service's runtime (a list
// or an object), the inventory, and the mapping of each decoded service
// to records. No input may panic; every record must be a name in the zone
// with a usable member; a skipped object's name stays short.
func FuzzAviDecode(f *testing.F) {
	for _, fx := range []string{avisim.FixtureServices, avisim.FixtureLegacyList, avisim.FixtureInventory} {
		f.Add(avisim.Fixture(fx), avisim.Fixture(avisim.FixtureRuntime))
	}
	f.Fuzz(func(t *testing.T, pageJSON, runtimeJSON []byte) {
		const op = "GET /api/gslbservice"
		var p page
		if decode(op, pageJSON, &p) != nil {
			return
		}
		if p.Next != "" {
			if rel, err := relative(p.Next); err == nil && !strings.HasPrefix(rel, "/api/") {
				t.Fatalf("next link %q became %q, outside /api/", p.Next, rel)
			}
		}
		services, skipped := decodeResults[*models.GslbService](op, p.Results, nil, nil)
		inventory, invSkipped := decodeResults[*models.GslbServiceInventory](op, p.Results, nil, nil)
		for _, s := range append(skipped, invSkipped...) {
			if len(s.UUID) > 200 || len(s.Name) > 200 {
				t.Fatalf("skipped object named at length %d/%d: names must be clipped", len(s.UUID), len(s.Name))
			}
			_ = s.String()
		}
		rt, err := decodeRuntime(op+"/x/runtime", rawJSON(runtimeJSON), avisim.ClusterA)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindMalformed {
				t.Fatalf("runtime decoding failed with %v, want a KindMalformed *Error", err)
			}
			rt = nil
		}
		_ = rt != nil && hasMemberRuntime(rt)
		for _, item := range inventory {
			if item != nil && item.Runtime != nil {
				_ = hasMemberRuntime(item.Runtime)
			}
		}
		for _, gs := range services {
			if gs != nil {
				_ = hasEnabledMember(gs)
			}
			for _, r := range []*models.GslbServiceRuntime{nil, rt} {
				ex := FromService(gs, r, labSites, labZone, model.Check{})
				for _, rec := range ex.Records {
					if !labZone(rec.FQDN) || rec.FQDN != strings.ToLower(rec.FQDN) {
						t.Fatalf("record %+v: name outside the zone or not lower case", rec)
					}
					if !rec.Member.Addr.IsValid() && rec.Member.Target == "" {
						t.Fatalf("record %+v has neither address nor target", rec)
					}
					if rec.Member.Site == "" {
						t.Fatalf("record %+v has no site", rec)
					}
				}
			}
		}
	})
}

// FuzzCredentials: any credentials file is read or refused with an error;
// what is read never shows its secret when printed.
func FuzzCredentials(f *testing.F) {
	f.Add([]byte("username: admin\npassword: \"avi-sim-password\"\n"))
	f.Add([]byte(`{"username": "admin", "token": "abcdef0123456789"}`))
	f.Add([]byte("# comment\n---\nuser: 'admin'\nauth_token: t0ken-value\n"))
	f.Add([]byte("username admin\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCredentials(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if c.Username == "" || (c.Password == "" && c.Token == "") {
			t.Fatalf("accepted %#v without a username and a secret", c)
		}
		for _, secret := range []string{c.Password, c.Token} {
			if len(secret) < 8 || strings.Contains(c.Username, secret) {
				continue // too short to tell from the rest of the text
			}
			for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String()} {
				if strings.Contains(out, secret) {
					t.Fatalf("printing the credentials shows a secret: %s", out)
				}
			}
			if j, _ := json.Marshal(c.String()); strings.Contains(string(j), secret) {
				t.Fatalf("the credentials' string shows a secret: %s", j)
			}
		}
	})
}
