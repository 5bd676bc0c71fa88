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
