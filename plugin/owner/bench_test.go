package owner

import (
	"fmt"
	"testing"

	"github.com/gslb/gslb/plugin/model"
)

// BenchmarkRecordsOf compares what the table builder pays per changed name
// for reading its records through the judge (first claim, one name
// published by one namespace in three sites, plus a rejected rival) with
// reading them from the store directly, the baseline before ownership.
//
//	go test ./plugin/owner -run XXX -bench RecordsOf -benchmem
func BenchmarkRecordsOf(b *testing.B) {
	s := model.NewStore()
	for i := range 1000 {
		name := fmt.Sprintf("app%d.gslb.test.", i)
		for si, site := range []string{"a", "b", "c"} {
			object{site: site, ns: "team", name: fmt.Sprint("web", i), age: si, addr: fmt.Sprintf("10.%d.%d.%d", si, i/250, i%250+1)}.set(s, name)
		}
		object{site: "c", ns: "rival", name: fmt.Sprint("web", i), age: 9, addr: "10.6.6.6"}.set(s, name)
	}
	j := New(s, Rules{}, FirstClaim)
	defer j.Close()
	for i := range 1000 { // each conflict is reported once, before timing
		if got := len(j.RecordsOf(fmt.Sprintf("app%d.gslb.test.", i))); got != 3 {
			b.Fatalf("%d records, want the owner's 3", got)
		}
	}
	b.Run("store", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			s.RecordsOf(fmt.Sprintf("app%d.gslb.test.", i%1000))
		}
	})
	b.Run("judge", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			j.RecordsOf(fmt.Sprintf("app%d.gslb.test.", i%1000))
		}
	})
}
