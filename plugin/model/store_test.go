package model

import (
	"net/netip"
	"slices"
	"testing"
)

func rec(fqdn, site, addr string) Record {
	return Record{FQDN: fqdn, Member: Member{Site: site, Addr: netip.MustParseAddr(addr)}}
}

func TestStoreMergesAndDeduplicates(t *testing.T) {
	s := NewStore()
	s.Set("a", []Record{rec("x.", "b", "10.0.0.2"), rec("x.", "a", "10.0.0.1")})
	s.Set("b", []Record{rec("x.", "a", "10.0.0.1")}) // same member from another object
	got := s.Records()
	if len(got) != 2 || got[0].Member.Site != "a" || got[1].Member.Site != "b" {
		t.Fatalf("want 2 sorted unique records, got %v", got)
	}
	s.Delete("a")
	if got := s.Records(); len(got) != 1 {
		t.Fatalf("after delete want 1 record, got %v", got)
	}
	s.DeletePrefix("b")
	if got := s.Records(); len(got) != 0 {
		t.Fatalf("after DeletePrefix want none, got %v", got)
	}
}

func TestStoreNotifiesOnlyOnChange(t *testing.T) {
	s := NewStore()
	drain := func() bool {
		select {
		case <-s.Changed():
			return true
		default:
			return false
		}
	}
	s.Set("a", []Record{rec("x.", "a", "10.0.0.1")})
	if !drain() {
		t.Fatal("first Set did not notify")
	}
	s.Set("a", []Record{rec("x.", "a", "10.0.0.1")})
	if drain() {
		t.Fatal("identical Set notified")
	}
	s.Delete("missing")
	if drain() {
		t.Fatal("deleting an unknown key notified")
	}
	s.Set("a", nil)
	if !drain() {
		t.Fatal("removal did not notify")
	}
}

// TestStoreReportsChangedNames: TakeChanged names exactly the names whose
// records an object added or dropped, once, and RecordsOf merges one
// name's records over every object.
func TestStoreReportsChangedNames(t *testing.T) {
	s := NewStore()
	take := func() []string {
		got := s.TakeChanged()
		slices.Sort(got)
		return got
	}
	s.Set("a", []Record{rec("x.", "a", "10.0.0.1"), rec("y.", "a", "10.0.0.1")})
	s.Set("b", []Record{rec("x.", "b", "10.0.0.2")})
	if got := take(); !slices.Equal(got, []string{"x.", "y."}) {
		t.Fatalf("changed %q, want x. and y.", got)
	}
	if got := take(); got != nil {
		t.Fatalf("changed %q again, want nothing", got)
	}
	if got := s.RecordsOf("x."); len(got) != 2 || got[0].Member.Site != "a" || got[1].Member.Site != "b" {
		t.Fatalf("RecordsOf(x.) = %v, want both objects' records, sorted", got)
	}
	s.Set("a", []Record{rec("y.", "a", "10.0.0.1"), rec("z.", "a", "10.0.0.3")}) // drops x., keeps y., adds z.
	if got := take(); !slices.Equal(got, []string{"x.", "y.", "z."}) {
		t.Fatalf("changed %q, want x., y. and z.", got)
	}
	if got := s.RecordsOf("x."); len(got) != 1 || got[0].Member.Site != "b" {
		t.Fatalf("RecordsOf(x.) = %v, want b's record only", got)
	}
	s.Set("b", []Record{rec("x.", "b", "10.0.0.2")}) // unchanged
	if got := take(); got != nil {
		t.Fatalf("an identical Set changed %q", got)
	}
	s.DeletePrefix("")
	if got := take(); !slices.Equal(got, []string{"x.", "y.", "z."}) {
		t.Fatalf("changed %q after deleting everything", got)
	}
	for _, n := range []string{"x.", "y.", "z."} {
		if got := s.RecordsOf(n); got != nil {
			t.Fatalf("RecordsOf(%s) = %v after deleting everything", n, got)
		}
	}
	if len(s.byName) != 0 {
		t.Fatalf("index keeps %v after deleting everything", s.byName)
	}
}

// TestStoreClaims: an object claims the names of its claim and of its
// records; a claimed name without records still has the object as a
// publisher (and is reported changed), an unchanged claim is no change, and
// a claim without names removes the object.
func TestStoreClaims(t *testing.T) {
	s := NewStore()
	claim := Claim{Site: "a", Kind: "ingress", Namespace: "shop", Name: "web", Names: []string{"wait."}}
	s.SetClaimed("k", claim, []Record{rec("x.", "a", "10.0.0.1")})
	if got := s.TakeChanged(); len(got) != 2 {
		t.Fatalf("changed %q, want x. and wait.", got)
	}
	p := s.PublishersOf("wait.")
	if len(p) != 1 || p[0].Key != "k" || p[0].Claim == nil || len(p[0].Records) != 0 || !slices.Equal(p[0].Claim.Names, []string{"wait.", "x."}) {
		t.Fatalf("PublishersOf(wait.) = %+v, want k's claim of wait. and x. without records", p)
	}
	if p := s.PublishersOf("x."); len(p) != 1 || len(p[0].Records) != 1 {
		t.Fatalf("PublishersOf(x.) = %+v, want k with its record", p)
	}
	s.SetClaimed("k", claim, []Record{rec("x.", "a", "10.0.0.1")})
	if got := s.TakeChanged(); got != nil {
		t.Fatalf("an unchanged claim changed %q", got)
	}
	s.Set("static", []Record{rec("x.", "s", "10.0.0.9")})
	names := s.Names()
	slices.Sort(names)
	if !slices.Equal(names, []string{"wait.", "x."}) {
		t.Fatalf("Names() = %q", names)
	}
	s.TakeChanged()
	claim.Names = nil
	s.SetClaimed("k", claim, nil)
	if got := s.TakeChanged(); len(got) != 2 {
		t.Fatalf("removing the claim changed %q, want x. and wait.", got)
	}
	if p := s.PublishersOf("wait."); p != nil {
		t.Fatalf("wait. still published by %+v", p)
	}
	if p := s.PublishersOf("x."); len(p) != 1 || p[0].Claim != nil {
		t.Fatalf("PublishersOf(x.) = %+v, want the static object only", p)
	}
}
