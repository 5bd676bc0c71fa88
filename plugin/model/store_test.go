package model

import (
	"net/netip"
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
