package policy

import (
	"testing"

	"github.com/miekg/dns"
)

// TestRotationPrecomputed checks which rotations hold precomputed windows.
func TestRotationPrecomputed(t *testing.T) {
	rrs := func(n int) []dns.RR {
		out := make([]dns.RR, n)
		for i := range out {
			out[i] = &dns.A{Hdr: dns.RR_Header{Name: "a.", Rrtype: dns.TypeA, Class: dns.ClassINET}}
		}
		return out
	}
	if r := newRotation(nil, 0); len(r.rrs) != 0 || r.windows != nil || r.pick(7) != nil {
		t.Errorf("empty rotation: %+v", r)
	}
	if r := newRotation(rrs(maxPrecomputed), 0); len(r.windows) != maxPrecomputed {
		t.Errorf("%d members: %d windows, want %d", maxPrecomputed, len(r.windows), maxPrecomputed)
	}
	if r := newRotation(rrs(maxPrecomputed+1), 0); r.windows != nil {
		t.Errorf("%d members: windows precomputed", maxPrecomputed+1)
	}
}
