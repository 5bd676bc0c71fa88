// Package health probes member endpoints actively (TCP connect, HTTP, HTTPS)
// and tells which of them are alive, so that answers leave out a dead member
// within seconds instead of waiting for a cluster or Avi to notice.
//
// It knows nothing of GSLB services or zones: callers turn members into
// Targets, hand the full set to Checker.Sync whenever it changes, and ask
// Checker.Healthy while compiling answers. The checker calls back when a
// target's state flips so the caller can rebuild.
package health

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Proto is how a target is probed.
type Proto uint8

const (
	// HTTP sends a request and judges the status code.
	HTTP Proto = iota
	// HTTPS is HTTP over TLS, with SNI set to the target's Host.
	HTTPS
	// TCP only opens (and closes) a connection.
	TCP
)

func (p Proto) String() string {
	switch p {
	case HTTP:
		return "http"
	case HTTPS:
		return "https"
	case TCP:
		return "tcp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// Target is one distinct endpoint to probe. It is comparable so it can key
// maps: two members that share address, port, protocol, host and path are
// probed once.
type Target struct {
	Addr  netip.Addr
	Port  uint16
	Proto Proto
	// Host is sent as the Host header and as TLS SNI: the GSLB FQDN without
	// its trailing dot, because ingress controllers route on it and a probe
	// without it would test the default backend, not the service. Empty for
	// TCP.
	Host string
	// Path is the HTTP(S) request path; empty means "/".
	Path string
	// Site only labels metrics and logs.
	Site string
}

func (t Target) String() string {
	s := t.Proto.String() + " " + netip.AddrPortFrom(t.Addr, t.Port).String()
	if t.Proto != TCP {
		s += fmt.Sprintf(" host %q path %q", t.Host, t.path())
	}
	return s
}

func (t Target) path() string {
	switch {
	case t.Path == "":
		return "/"
	case !strings.HasPrefix(t.Path, "/"):
		return "/" + t.Path
	}
	return t.Path
}

// Settings tune every probe of a Checker. Zero fields take the defaults.
type Settings struct {
	// Interval between two probes of one target (default 1s) and Timeout of
	// one probe (default 1s). With the defaults and Fall 3 a dead endpoint is
	// out of the answers within about 3-4 s.
	Interval, Timeout time.Duration
	// Rise consecutive successes bring an unhealthy target back (default 2);
	// Fall consecutive failures take a healthy one out (default 3), so one
	// lost probe never flips a target.
	Rise, Fall int
	// Method of HTTP(S) probes (default HEAD, as AMKO's monitors send:
	// the status is all a probe needs, and the body is never sent).
	Method string
	// Expect lists the status codes that count as success (default 200-399).
	// Redirects are not followed: a 3xx is judged like any other status.
	Expect []StatusRange
	// TLSVerify turns certificate verification on (off by default, as in
	// Avi/AMKO monitors: members often serve certificates for the FQDN signed
	// by a private CA, and a probe is about liveness, not trust). When on,
	// RootCAs is the trust pool (nil = system roots).
	TLSVerify bool
	RootCAs   *x509.CertPool
	// Concurrency caps the probes in flight (default 32), so a thousand
	// targets timing out at once cannot exhaust file descriptors.
	Concurrency int
	// Allowed, when non-empty, is the only address space ever contacted:
	// targets outside it are reported healthy and never probed. It lets a
	// deployment (or a test) fence the prober in, whatever members say.
	// Guarded ranges (loopback, link-local, metadata) stay closed unless
	// an Allowed prefix inside them names them, Allowed empty or not.
	Allowed []netip.Prefix
}

// Defaults, applied by NewChecker to zero fields (and the Corefile's): a
// dead member is out in about interval × fall + timeout ≈ 3-4 s, and one
// lost probe never flips it.
const (
	DefaultInterval    = time.Second
	DefaultTimeout     = time.Second
	DefaultRise        = 2
	DefaultFall        = 3
	DefaultMethod      = "HEAD"
	DefaultConcurrency = 32
)

func (s Settings) withDefaults() Settings {
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Rise < 1 {
		s.Rise = DefaultRise
	}
	if s.Fall < 1 {
		s.Fall = DefaultFall
	}
	if s.Method == "" {
		s.Method = DefaultMethod
	}
	if len(s.Expect) == 0 {
		s.Expect = []StatusRange{{200, 399}}
	}
	if s.Concurrency < 1 {
		s.Concurrency = DefaultConcurrency
	}
	return s
}

// Guarded are the address ranges a probe never contacts unless Allowed names
// them: a DNS server running in a cluster must not be talked into probing
// itself, its node or its cloud's metadata service by whoever can publish a
// member. They are loopback and "this host" (0.0.0.0 reaches loopback),
// link-local (with the 169.254.169.254 metadata service of AWS, GCP, Azure
// and OpenStack), and the metadata addresses outside link-local (AWS's IPv6
// one, Alibaba Cloud's).
var Guarded = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("100.100.100.200/32"),
}

// allowed tells whether addr may be contacted.
func (s *Settings) allowed(addr netip.Addr) bool { return s.refusal(addr) == "" }

// refusal tells why addr may not be contacted: "" when it may, guarded when
// it lies in a Guarded range that no Allowed prefix opens, notAllowed when
// it lies outside the Allowed prefixes. A v4-mapped v6 address is judged as
// the v4 address it reaches; the zone does not matter. An address in a
// Guarded range is contacted only when an Allowed prefix lies inside that
// range and holds it: naming 127.0.0.0/8 opens loopback, while a wide
// 0.0.0.0/0 opens every other address but no guarded one.
func (s *Settings) refusal(addr netip.Addr) string {
	a := addr.WithZone("").Unmap()
	inAllowed := len(s.Allowed) == 0
	for _, p := range s.Allowed {
		inAllowed = inAllowed || p.Contains(a)
	}
	if g, ok := guardedRange(a); ok {
		for _, p := range s.Allowed {
			if p.Contains(a) && p.Bits() >= g.Bits() {
				return ""
			}
		}
		if inAllowed {
			return guarded // refused only for lying in a Guarded range
		}
		return notAllowed
	}
	if inAllowed {
		return ""
	}
	return notAllowed
}

// guardedRange returns the Guarded range holding a (unmapped), if any.
func guardedRange(a netip.Addr) (netip.Prefix, bool) {
	for _, g := range Guarded {
		if g.Contains(a) {
			return g, true
		}
	}
	return netip.Prefix{}, false
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

func (r StatusRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(r.Lo)
	}
	return strconv.Itoa(r.Lo) + "-" + strconv.Itoa(r.Hi)
}

// ParseExpect reads a comma-separated list of codes and ranges, such as
// "200-399,404".
func ParseExpect(s string) ([]StatusRange, error) {
	var out []StatusRange
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("expected status %q: empty item", s)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		l, err := parseStatus(lo)
		if err != nil {
			return nil, fmt.Errorf("expected status %q: %v", s, err)
		}
		h := l
		if isRange {
			if h, err = parseStatus(hi); err != nil {
				return nil, fmt.Errorf("expected status %q: %v", s, err)
			}
			if h < l {
				return nil, fmt.Errorf("expected status %q: range %s is backwards", s, part)
			}
		}
		out = append(out, StatusRange{l, h})
	}
	return out, nil
}

func parseStatus(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("%q is not an HTTP status code (100-599)", s)
	}
	return n, nil
}

func expected(rs []StatusRange, code int) bool {
	for _, r := range rs {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// State is what the checker knows of one target.
type State struct {
	Healthy bool
	// Reason is the result that set the current state ("HTTP 503",
	// "connect: connection refused", "timeout after 1s"), or why the target
	// is not probed at all.
	Reason string
	// Since is when the current state was set (when the target was added,
	// until its first probe).
	Since time.Time
	// LastLatency is how long the last probe took (to response headers for
	// HTTP(S), to connect for TCP).
	LastLatency time.Duration
	// Last is the result of the most recent probe, which differs from Reason
	// while hysteresis holds a state against a few contrary probes.
	Last string
	// Probes counts the probes completed.
	Probes int
}
