package model

import (
	"net/netip"
	"reflect"
	"testing"
)

// TestEverySettingIsListed fails when a field is added to Overrides without
// its line in settings: Over would drop it and compare ignore it.
func TestEverySettingIsListed(t *testing.T) {
	typ := reflect.TypeFor[Overrides]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var o Overrides
		v := reflect.ValueOf(&o).Elem().Field(i)
		switch f.Type {
		case reflect.TypeFor[Opt]():
			v.Set(reflect.ValueOf(Some(7)))
		case reflect.TypeFor[Algorithm]():
			v.Set(reflect.ValueOf(Weighted))
		case reflect.TypeFor[Down]():
			v.Set(reflect.ValueOf(Down{Kind: DownFallback, V4: netip.MustParseAddr("192.0.2.1")}))
		default:
			t.Fatalf("Overrides.%s has a type (%s) this test does not know: teach it, and add the field to settings", f.Name, f.Type)
		}
		if got := o.Over(Overrides{}); got != o {
			t.Errorf("Overrides.%s: Over does not carry it (%+v); add it to settings", f.Name, got)
		}
		if got := (Overrides{}).Over(o); got != o {
			t.Errorf("Overrides.%s: an unset top layer does not fall through to it (%+v)", f.Name, got)
		}
		if o.compare(Overrides{}) == 0 {
			t.Errorf("Overrides.%s: compare ignores it; add it to settings", f.Name)
		}
	}
}

func TestResolve(t *testing.T) {
	defaults := Overrides{TTL: Some(30), Algorithm: RoundRobin, Weight: Some(1), Down: Down{Kind: DownNone}}
	got, conflicts := Resolve(defaults, []SiteOverrides{
		{Site: "a", Overrides: Overrides{TTL: Some(10), Weight: Some(5)}},
		{Site: "b", Overrides: Overrides{TTL: Some(20), Algorithm: Weighted}},
		{Site: "b", Overrides: Overrides{Algorithm: ConsistentHash}},
		{Site: "c", Overrides: Overrides{TTL: Some(10)}},
	})
	want := Overrides{TTL: Some(10), Algorithm: Weighted, Weight: Some(1), Down: Down{Kind: DownNone}}
	if got != want {
		t.Errorf("Resolve = %+v, want %+v (per-site weight stays the default's)", got, want)
	}
	wantConflicts := []string{
		"objects of site b set different algorithms; the first one's wins",
		"sites a and b set different TTLs; a's wins",
	}
	if !reflect.DeepEqual(conflicts, wantConflicts) {
		t.Errorf("conflicts:\n got %q\nwant %q", conflicts, wantConflicts)
	}
}

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
