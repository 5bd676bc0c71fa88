package model

import (
	"net/netip"
	"testing"
)

func TestOverridesOver(t *testing.T) {
	fallback := Down{Kind: DownFallback, V4: netip.MustParseAddr("192.0.2.1")}
	gdp := Overrides{
		Weight: Some(8), Priority: Some(20), Algorithm: ConsistentHash, HashMask4: Some(24),
		TTL: Some(10), Down: fallback,
	}
	rule := Overrides{Weight: Some(2), TTL: Some(0), Algorithm: Topology, Fallback: RoundRobin}
	ann := Overrides{Priority: Some(0), Down: Down{Kind: DownEmpty}}

	got := ann.Over(rule.Over(gdp))
	want := Overrides{
		Weight:    Some(2),  // rule over gdp
		Priority:  Some(0),  // annotation, even though 0
		Algorithm: Topology, // rule
		Fallback:  RoundRobin,
		HashMask4: Some(24), // only gdp sets it
		TTL:       Some(0),  // a set zero is a value, not "unset"
		Down:      Down{Kind: DownEmpty},
	}
	if got != want {
		t.Errorf("layered:\n got %+v\nwant %+v", got, want)
	}

	// Unset everywhere stays unset, so the Corefile's defaults apply.
	if got := (Overrides{}).Over(Overrides{}); got != (Overrides{}) {
		t.Errorf("empty over empty = %+v", got)
	}
	// An empty top layer is transparent; an empty base changes nothing.
	if got := (Overrides{}).Over(gdp); got != gdp {
		t.Errorf("empty over gdp = %+v, want gdp", got)
	}
	if got := gdp.Over(Overrides{}); got != gdp {
		t.Errorf("gdp over empty = %+v, want gdp", got)
	}
	// A down response is taken whole: the fallback addresses of a lower
	// layer never leak into a higher layer's kind.
	if got := (Overrides{Down: Down{Kind: DownAllRecords}}).Over(gdp); got.Down != (Down{Kind: DownAllRecords}) {
		t.Errorf("down = %+v", got.Down)
	}
}
