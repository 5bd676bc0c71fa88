package model

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// AnnotationPrefix starts every policy annotation on Ingresses and Services.
const AnnotationPrefix = "gslb.io/"

// Annotation names (see README, "Policy annotations").
const (
	AnnotationWeight      = AnnotationPrefix + "weight"
	AnnotationPriority    = AnnotationPrefix + "priority"
	AnnotationAlgorithm   = AnnotationPrefix + "algorithm"
	AnnotationFallback    = AnnotationPrefix + "fallback-algorithm"
	AnnotationHashMask    = AnnotationPrefix + "hash-mask"
	AnnotationTTL         = AnnotationPrefix + "ttl"
	AnnotationAnswers     = AnnotationPrefix + "answers"
	AnnotationDown        = AnnotationPrefix + "down-response"
	AnnotationHealthCheck = AnnotationPrefix + "health-check"
	AnnotationHealthPort  = AnnotationPrefix + "health-port"
	AnnotationHealthPath  = AnnotationPrefix + "health-path"
)

// Limits shared by the Corefile, annotations, AMKO's objects and Avi's
// services, and the defaults of the per-site settings.
const (
	DefaultWeight   = 1
	DefaultPriority = 10 // AMKO's GlobalDeploymentPolicy default

	MaxWeight   = 20 // Avi's ratio range is 1-20; 0 drains a site
	MaxPriority = 100
	MaxTTL      = 86400
	MaxAnswers  = 1000
)

// CheckSpec is what annotations say about probing; unset fields keep the
// source's default (HTTP 80 / HTTPS 443 for Ingresses, lowest TCP port for
// Services).
type CheckSpec struct {
	Proto    CheckProto
	ProtoSet bool
	Port     uint16
	Path     string
}

// Apply returns c with the spec's settings.
func (s CheckSpec) Apply(c Check) Check {
	if s.ProtoSet {
		c.Proto = s.Proto
		if c.Proto == CheckNone {
			return Check{}
		}
	}
	if s.Port != 0 {
		c.Port = s.Port
	}
	if s.Path != "" {
		c.Path = s.Path
	}
	if c.Proto == CheckHTTP && c.Port == 0 {
		c.Port = 80
	}
	if c.Proto == CheckHTTPS && c.Port == 0 {
		c.Port = 443
	}
	return c
}

// ParseAnnotations reads the gslb.io/ annotations. A bad value is reported
// in errs (naming the annotation and what is expected) and left unset, so the
// object falls back to the defaults instead of taking its service down.
func ParseAnnotations(ann map[string]string) (o Overrides, check CheckSpec, errs []error) {
	bad := func(key, val, want string) {
		errs = append(errs, fmt.Errorf("annotation %s=%q: %s", key, val, want))
	}
	intIn := func(key string, lo, hi int) Opt {
		v, ok := ann[key]
		if !ok {
			return Opt{}
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			bad(key, v, fmt.Sprintf("want a number between %d and %d", lo, hi))
			return Opt{}
		}
		return Some(n)
	}
	o.Weight = intIn(AnnotationWeight, 0, MaxWeight)
	o.Priority = intIn(AnnotationPriority, 0, MaxPriority)
	o.TTL = intIn(AnnotationTTL, 0, MaxTTL)
	o.Answers = intIn(AnnotationAnswers, 0, MaxAnswers)
	if v, ok := ann[AnnotationAlgorithm]; ok {
		if a, ok := ParseAlgorithm(strings.TrimSpace(v)); ok {
			o.Algorithm = a
		} else {
			bad(AnnotationAlgorithm, v, "want round-robin, weighted, consistent-hash or topology")
		}
	}
	if v, ok := ann[AnnotationFallback]; ok {
		if a, ok := ParseAlgorithm(strings.TrimSpace(v)); ok && a != Topology {
			o.Fallback = a
		} else {
			bad(AnnotationFallback, v, "want round-robin, weighted or consistent-hash")
		}
	}
	if v, ok := ann[AnnotationHashMask]; ok {
		m4, m6, err := ParseHashMask(strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }))
		if err != nil {
			bad(AnnotationHashMask, v, err.Error())
		} else {
			o.HashMask4, o.HashMask6 = m4, m6
		}
	}
	if v, ok := ann[AnnotationDown]; ok {
		d, err := ParseDown(strings.Fields(v))
		if err != nil {
			bad(AnnotationDown, v, err.Error())
		} else {
			o.Down = d
		}
	}
	if v, ok := ann[AnnotationHealthCheck]; ok {
		if p, ok := ParseCheckProto(strings.TrimSpace(v)); ok {
			check.Proto, check.ProtoSet = p, true
		} else {
			bad(AnnotationHealthCheck, v, "want http, https, tcp or none")
		}
	}
	if p := intIn(AnnotationHealthPort, 1, 65535); p.Set {
		check.Port = uint16(p.V)
	}
	if v, ok := ann[AnnotationHealthPath]; ok {
		if strings.HasPrefix(v, "/") && !strings.ContainsAny(v, " \t\r\n") {
			check.Path = v
		} else {
			bad(AnnotationHealthPath, v, "want an absolute path such as /healthz")
		}
	}
	return o, check, errs
}

// ParseCheckProto reads http, https, tcp or none.
func ParseCheckProto(s string) (CheckProto, bool) {
	switch strings.ToLower(s) {
	case "http":
		return CheckHTTP, true
	case "https":
		return CheckHTTPS, true
	case "tcp":
		return CheckTCP, true
	case "none":
		return CheckNone, true
	}
	return CheckNone, false
}

// ParseHashMask reads "V4 [V6]" prefix lengths for consistent hashing.
func ParseHashMask(args []string) (v4, v6 Opt, err error) {
	if len(args) < 1 || len(args) > 2 {
		return v4, v6, fmt.Errorf("want an IPv4 prefix length 1-32 and optionally an IPv6 one 1-128")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 32 {
		return v4, v6, fmt.Errorf("IPv4 mask %q: want 1-32", args[0])
	}
	v4 = Some(n)
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 || n > 128 {
			return v4, v6, fmt.Errorf("IPv6 mask %q: want 1-128", args[1])
		}
		v6 = Some(n)
	}
	return v4, v6, nil
}

// ParseDown reads a down response: none | all-records | empty |
// fallback ADDRESS [ADDRESS] (one IPv4 and/or one IPv6) | cname NAME. AMKO's
// GSLB_SERVICE_DOWN_RESPONSE_* names work too.
func ParseDown(args []string) (Down, error) {
	if len(args) == 0 {
		return Down{}, fmt.Errorf("want none, all-records, empty, fallback ADDRESS... or cname NAME")
	}
	kind := strings.ToLower(strings.TrimPrefix(strings.ToLower(args[0]), "gslb_service_down_response_"))
	kind = strings.ReplaceAll(kind, "_", "-")
	rest := args[1:]
	switch kind {
	case "none", "all-records", "empty":
		if len(rest) > 0 {
			return Down{}, fmt.Errorf("%s takes no arguments", kind)
		}
		return Down{Kind: map[string]DownKind{"none": DownNone, "all-records": DownAllRecords, "empty": DownEmpty}[kind]}, nil
	case "fallback", "fallback-ip":
		d := Down{Kind: DownFallback}
		if len(rest) == 0 || len(rest) > 2 {
			return Down{}, fmt.Errorf("fallback wants one IPv4 and/or one IPv6 address")
		}
		for _, a := range rest {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return Down{}, fmt.Errorf("fallback %q is not an IP address", a)
			}
			ip = ip.Unmap()
			if ip.Is4() && !d.V4.IsValid() {
				d.V4 = ip
			} else if ip.Is6() && !d.V6.IsValid() {
				d.V6 = ip
			} else {
				return Down{}, fmt.Errorf("fallback takes at most one address per family")
			}
		}
		return d, nil
	case "cname":
		if len(rest) != 1 {
			return Down{}, fmt.Errorf("cname wants one name")
		}
		t := strings.ToLower(dns.Fqdn(rest[0]))
		if _, ok := dns.IsDomainName(t); !ok || slices.Contains([]string{".", ""}, t) {
			return Down{}, fmt.Errorf("cname %q is not a domain name", rest[0])
		}
		return Down{Kind: DownCNAME, Target: t}, nil
	}
	return Down{}, fmt.Errorf("unknown down response %q: want none, all-records, empty, fallback ADDRESS... or cname NAME", args[0])
}
