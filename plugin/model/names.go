package model

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/miekg/dns"
)

// HostName turns a name from any source (Corefile, object, Avi, AMKO) into
// the form every package compares: trimmed, lower case, fully qualified. It
// refuses empty names, the root, wildcards (a wildcard GSLB name is not
// something Avi or AMKO offer either) and what is not a domain name.
func HostName(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "." || strings.Contains(s, "*") {
		return "", false
	}
	fqdn := dns.Fqdn(s)
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return "", false
	}
	return fqdn, true
}

// InZone tells whether name lies in zone (or is its apex); both fully
// qualified and lower case. It is dns.IsSubDomain without its allocations
// (that splits both names into label slices), so the table can call it on
// every query.
func InZone(zone, name string) bool {
	if zone == "." || zone == name {
		return true
	}
	n := len(name) - len(zone)
	if n < 2 || name[n:] != zone || name[n-1] != '.' {
		return false
	}
	// The dot before the zone must end a label, not be an escaped "\."
	// inside one: an odd run of backslashes escapes it.
	escapes := 0
	for i := n - 2; i >= 0 && name[i] == '\\'; i-- {
		escapes++
	}
	return escapes%2 == 0
}

// Zones are the zones one gslb stanza serves, fully qualified and lower case.
type Zones []string

// Contains tells whether name (fully qualified, lower case) lies in one of
// the zones.
func (zs Zones) Contains(name string) bool {
	for _, z := range zs {
		if InZone(z, name) {
			return true
		}
	}
	return false
}

// siteName bounds site names: they label metrics and appear in logs, so they
// stay short and plain.
var siteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckSiteName says what is wrong with a site name, or nil.
func CheckSiteName(s string) error {
	if !siteName.MatchString(s) {
		return fmt.Errorf("site name %q: use letters, digits, '.', '-' or '_' (at most 63)", s)
	}
	return nil
}

// UserAgent is how gslb names itself to Kubernetes API servers, the Avi
// controller and (with a suffix) the members it probes, so their logs tell
// its requests apart.
const UserAgent = "coredns-gslb"
