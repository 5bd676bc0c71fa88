package policy

import "github.com/miekg/dns"

// rotation hands out a window of k records starting at a rotating offset:
// round robin without allocating per query. For the usual few members every
// window is precomputed; beyond maxPrecomputed members a window is built per
// query rather than holding members² pointers. Windows are capped slices
// (len == cap), so a plugin that appends to an answer reallocates instead of
// writing into the table.
type rotation struct {
	rrs     []dns.RR
	k       int
	windows [][]dns.RR // windows[i] starts at rrs[i]; nil when not precomputed
}

const maxPrecomputed = 64

func newRotation(rrs []dns.RR, limit int) rotation {
	k := len(rrs)
	if limit > 0 && limit < k {
		k = limit
	}
	r := rotation{rrs: rrs, k: k}
	if len(rrs) == 0 || len(rrs) > maxPrecomputed {
		return r
	}
	r.windows = make([][]dns.RR, len(rrs))
	for i := range rrs {
		r.windows[i] = r.window(i)
	}
	return r
}

func (r *rotation) window(start int) []dns.RR {
	w := make([]dns.RR, 0, r.k)
	for j := 0; j < r.k; j++ {
		w = append(w, r.rrs[(start+j)%len(r.rrs)])
	}
	return w[:len(w):len(w)]
}

func (r *rotation) pick(seq uint32) []dns.RR {
	if len(r.rrs) == 0 {
		return nil
	}
	i := int(seq % uint32(len(r.rrs)))
	if r.windows != nil {
		return r.windows[i]
	}
	return r.window(i)
}
