package table

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
)

// scaleStore fills a store as three clusters would: one object per name
// and site, each with that site's VIP.
func scaleStore(names int) *model.Store {
	store := model.NewStore()
	for i := range names {
		for s, site := range []string{"sitea", "siteb", "sitec"} {
			a := netip.AddrFrom4([4]byte{10, byte(s), byte(i >> 8), byte(i)})
			store.Set(fmt.Sprintf("kube/%s/ingress/scale/%d", site, i),
				[]model.Record{{FQDN: fmt.Sprintf("app%d.example.org.", i), Member: model.Member{Site: site, Addr: a}}})
		}
	}
	return store
}

var scaleSizes = []int{1000, 10000, 100000}

// BenchmarkBuilderChange: the cost of one status change (one member of
// one name gets a new address) from the store to the published table, by
// table size. It should not grow with the size.
func BenchmarkBuilderChange(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprint("names=", n), func(b *testing.B) {
			store := scaleStore(n)
			bl := NewBuilder(testConfig(0), store, nil)
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				name := i % n
				a := netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)})
				store.Set(fmt.Sprintf("kube/sitea/ingress/scale/%d", name),
					[]model.Record{{FQDN: fmt.Sprintf("app%d.example.org.", name), Member: model.Member{Site: "sitea", Addr: a}}})
				bl.rebuild(now)
			}
		})
	}
}

// BenchmarkBuilderInitial: the first table from a full store, and the heap
// the builder and its table keep per name (store not counted).
func BenchmarkBuilderInitial(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprint("names=", n), func(b *testing.B) {
			store := scaleStore(n)
			var bl *Builder
			var before, after runtime.MemStats
			b.ResetTimer()
			for b.Loop() {
				bl = nil
				runtime.GC()
				runtime.ReadMemStats(&before)
				bl = NewBuilder(testConfig(0), store, nil)
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heapB/name")
			runtime.KeepAlive(bl)
		})
	}
}

// BenchmarkBuilderSync: three sources (sites) fill an empty store with one
// object per name each, as informers do on start, while the builder runs;
// the time until the table answers every member of every name.
func BenchmarkBuilderSync(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprint("names=", n), func(b *testing.B) {
			for b.Loop() {
				store := model.NewStore()
				bl := NewBuilder(testConfig(0), store, nil)
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() { bl.Run(stop); close(done) }()
				for s, site := range []string{"sitea", "siteb", "sitec"} {
					go func() {
						for i := range n {
							a := netip.AddrFrom4([4]byte{10, byte(s), byte(i >> 8), byte(i)})
							store.Set(fmt.Sprintf("kube/%s/ingress/scale/%d", site, i),
								[]model.Record{{FQDN: fmt.Sprintf("app%d.example.org.", i), Member: model.Member{Site: site, Addr: a}}})
						}
					}()
				}
				for synced(bl.Table(), n) == false {
					time.Sleep(time.Millisecond)
				}
				close(stop)
				<-done
			}
		})
	}
}

// synced tells whether every name answers three members.
func synced(t *Table, n int) bool {
	z := t.Zone("example.org.")
	for i := n - 1; i >= 0; i -= max(1, n/100) {
		name := fmt.Sprintf("app%d.example.org.", i)
		if a := t.Lookup(z, name, 1, policyClient); len(a.Answer) != 3 {
			return false
		}
	}
	for i := range n {
		name := fmt.Sprintf("app%d.example.org.", i)
		if a := t.Lookup(z, name, 1, policyClient); len(a.Answer) != 3 {
			return false
		}
	}
	return true
}

var policyClient = policy.Client{Addr: netip.MustParseAddr("192.0.2.1"), Bits: 32}
