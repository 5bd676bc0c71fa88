package table

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/miekg/dns"
)

// propConfig has nested zones (with an empty non-terminal between
// example.org. and x.y.a.example.org.), in-zone name servers with glue, site
// weights and priorities, so that random changes reach every path of an
// incremental update.
func propConfig() Config {
	cfg := polConfig()
	cfg.Zones = []Zone{
		{Name: "example.org.", NameServers: []NameServer{
			{Name: "ns1.example.org.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}},
			{Name: "b.a.example.org.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.54")}},
		}},
		{Name: "sub.example.org.", NameServers: []NameServer{
			{Name: "ns.sub.example.org.", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::53")}},
		}},
		{Name: "x.y.a.example.org."},
	}
	cfg.Weights = map[string]int{"sitec": 3}
	cfg.Priorities = map[string]int{"sitea": 20}
	return cfg
}

// propNames are the names random records use: apexes, names below and
// above each other (so that they become and stop being empty
// non-terminals), a name server's name, a static empty non-terminal, and a
// name outside every zone.
var propNames = []string{
	"example.org.", "sub.example.org.", "x.y.a.example.org.",
	"a.example.org.", "b.a.example.org.", "c.b.a.example.org.", "d.c.b.a.example.org.",
	"y.a.example.org.", "z.x.y.a.example.org.",
	"ns1.example.org.", "w.ns1.example.org.",
	"w.sub.example.org.", "v.w.sub.example.org.", "ns.sub.example.org.",
	"deep.q.r.example.org.", "app.other.net.",
}

var propAddrs = []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.2.1", "2001:db8::1", "2001:db8::2"}

func randRecord(r *rand.Rand) model.Record {
	rec := model.Record{
		FQDN:   propNames[r.IntN(len(propNames))],
		Member: model.Member{Site: []string{"sitea", "siteb", "sitec"}[r.IntN(3)]},
	}
	if r.IntN(6) == 0 {
		rec.Member.Target = []string{"lb1.example.net.", "lb2.example.net."}[r.IntN(2)]
	} else {
		rec.Member.Addr = netip.MustParseAddr(propAddrs[r.IntN(len(propAddrs))])
	}
	if r.IntN(4) == 0 {
		rec.Check = model.Check{Proto: model.CheckHTTP, Port: 80, Path: "/healthz"}
	}
	if rec.Member.Addr.Is4() && r.IntN(5) == 0 {
		rec.Public = netip.MustParseAddr("203.0.113.7") // behind NAT
	}
	rec.SourceDown = r.IntN(8) == 0
	o := &rec.Overrides
	if r.IntN(5) == 0 {
		o.Weight = model.Some(r.IntN(3))
	}
	if r.IntN(5) == 0 {
		o.Priority = model.Some(r.IntN(3) * 10)
	}
	if r.IntN(5) == 0 {
		o.Algorithm = []model.Algorithm{model.RoundRobin, model.Weighted, model.ConsistentHash}[r.IntN(3)]
	}
	if r.IntN(6) == 0 {
		o.TTL = model.Some(10 + r.IntN(3)*10)
	}
	if r.IntN(6) == 0 {
		o.Answers = model.Some(1 + r.IntN(2))
	}
	switch r.IntN(10) {
	case 0:
		o.Down = model.Down{Kind: model.DownCNAME, Target: "sorry.example.net."}
	case 1:
		o.Down = model.Down{Kind: model.DownFallback, V4: netip.MustParseAddr("192.0.2.1")}
	case 2:
		o.Down = model.Down{Kind: model.DownAllRecords}
	case 3:
		o.Down = model.Down{Kind: model.DownEmpty}
	}
	return rec
}

// checkSame fails unless got has exactly want's content: the same names,
// nodes, zone apexes, down counts and warnings.
func checkSame(t *testing.T, step string, got, want *Table) {
	t.Helper()
	if g, w := got.Names(), want.Names(); !slices.Equal(g, w) {
		t.Fatalf("%s: names\n got %q\nwant %q", step, g, w)
	}
	if got.Len() != want.Len() {
		t.Fatalf("%s: Len %d, want %d", step, got.Len(), want.Len())
	}
	for _, name := range want.Names() {
		g, w := got.names.get(name), want.names.get(name)
		if g.zone != w.zone || g.apex != w.apex || g.down != w.down || g.downKind != w.downKind ||
			!reflect.DeepEqual(g.v4, w.v4) || !reflect.DeepEqual(g.v6, w.v6) ||
			!reflect.DeepEqual(g.pub4, w.pub4) || !reflect.DeepEqual(g.pub6, w.pub6) ||
			!reflect.DeepEqual(g.alias, w.alias) || !reflect.DeepEqual(g.fixed, w.fixed) {
			t.Fatalf("%s: node %s differs from a full compile\n got %+v\nwant %+v", step, name, g, w)
		}
	}
	if len(got.zones) != len(want.zones) {
		t.Fatalf("%s: %d zones, want %d", step, len(got.zones), len(want.zones))
	}
	for i := range want.zones {
		g, w := got.zones[i], want.zones[i]
		if g.Name != w.Name || g.downNames != w.downNames || !reflect.DeepEqual(g.soa, w.soa) ||
			!reflect.DeepEqual(g.ns, w.ns) || !reflect.DeepEqual(g.glue, w.glue) {
			t.Fatalf("%s: zone %s: down names %d, want %d; soa %v, want %v", step, w.Name, g.downNames, w.downNames, g.soa, w.soa)
		}
	}
	if !slices.Equal(got.Warnings, want.Warnings) {
		t.Fatalf("%s: warnings\n got %q\nwant %q", step, got.Warnings, want.Warnings)
	}
}

// fullCompile is the reference: a from-scratch compile of everything the
// store and health say now, with the serial of the table under test.
func fullCompile(cfg Config, store *model.Store, h Health, serial uint32) *Table {
	recs := store.Records()
	up := make([]bool, len(recs))
	for i, r := range recs {
		up[i] = h.Up(r)
	}
	return Compile(cfg, recs, up, serial)
}

// TestIncrementalMatchesFullCompile applies random sequences of object
// sets, deletes, prefix deletes and health flips (announced by Touch for
// the names they affect, or by Notify) and checks after every step that
// the incrementally maintained table is exactly what a full compile of the
// same inputs gives, and that the serial rises with every published table.
func TestIncrementalMatchesFullCompile(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 10))
			cfg := propConfig()
			store := model.NewStore()
			h := &fakeHealth{down: map[netip.Addr]bool{}}
			for i := range r.IntN(4) {
				store.Set(fmt.Sprint("pre", i), []model.Record{randRecord(r)})
			}
			b := NewBuilder(cfg, store, h)
			now := time.Unix(1_700_000_000, 0)
			checkSame(t, "initial", b.Table(), fullCompile(cfg, store, h, b.Table().Serial))
			for step := range 150 {
				prev := b.Table()
				var what string
				switch op := r.IntN(10); {
				case op < 5:
					key := fmt.Sprint("o", r.IntN(8))
					recs := make([]model.Record, r.IntN(4))
					for i := range recs {
						recs[i] = randRecord(r)
					}
					store.Set(key, recs)
					what = fmt.Sprintf("set %s %d records", key, len(recs))
				case op < 7:
					key := fmt.Sprint("o", r.IntN(8))
					store.Delete(key)
					what = "delete " + key
				case op < 8:
					store.DeletePrefix("pre")
					what = "delete prefix pre"
				default:
					a := netip.MustParseAddr(propAddrs[r.IntN(len(propAddrs))])
					h.set(a.String(), !h.isDown(a))
					what = fmt.Sprintf("flip %s", a)
					if r.IntN(3) == 0 {
						b.Notify()
					} else {
						// Exactly the names with a member at a.
						var names []string
						for _, rec := range store.Records() {
							if rec.Member.Addr == a {
								names = append(names, rec.FQDN)
							}
						}
						b.Touch(names...)
					}
				}
				// Sometimes let changes pile up over several steps.
				if r.IntN(3) == 0 {
					continue
				}
				now = now.Add(time.Duration(r.IntN(3)) * time.Second)
				b.rebuild(now)
				cur := b.Table()
				label := fmt.Sprintf("step %d (%s)", step, what)
				if cur != prev && cur.Serial <= prev.Serial {
					t.Fatalf("%s: serial %d after %d", label, cur.Serial, prev.Serial)
				}
				checkSame(t, label, cur, fullCompile(cfg, store, h, cur.Serial))
			}
		})
	}
}

func (f *fakeHealth) isDown(a netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down[a]
}

// TestIncrementalSharesUnchangedNodes: a change to one name leaves every
// other name's node (and most shards) shared with the previous table.
func TestIncrementalSharesUnchangedNodes(t *testing.T) {
	store := model.NewStore()
	for i := range 2000 {
		store.Set(fmt.Sprint("k", i), []model.Record{addr(fmt.Sprintf("app%d.example.org.", i), "s", "10.0.0.1")})
	}
	b := NewBuilder(testConfig(0), store, nil)
	t0 := b.Table()
	store.Set("k7", []model.Record{addr("app7.example.org.", "s", "10.0.0.2")})
	b.rebuild(time.Now())
	t1 := b.Table()
	if t1 == t0 {
		t.Fatal("the change was not published")
	}
	changed, sharedShards := 0, 0
	t0.names.each(func(name string, n *node) {
		if t1.names.get(name) != n {
			changed++
		}
	})
	for i := range t0.names.shards {
		if t0.names.shards[i] != nil && reflect.ValueOf(t0.names.shards[i]).UnsafePointer() == reflect.ValueOf(t1.names.shards[i]).UnsafePointer() {
			sharedShards++
		}
	}
	if changed != 1 {
		t.Errorf("%d nodes differ after changing one name, want 1", changed)
	}
	if used := countShards(t0); sharedShards != used-1 {
		t.Errorf("%d of %d shards shared, want all but one", sharedShards, used)
	}
	if got := addrs(lookup(t, t1, "app7.example.org.", dns.TypeA).Answer); !slices.Equal(got, []string{"10.0.0.2"}) {
		t.Errorf("app7: %q", got)
	}
	if got := addrs(lookup(t, t0, "app7.example.org.", dns.TypeA).Answer); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("the old table changed: app7 answers %q", got)
	}
}

func countShards(t *Table) int {
	n := 0
	for _, s := range t.names.shards {
		if s != nil {
			n++
		}
	}
	return n
}

// TestConcurrentReaders: queries run against the published table while
// the builder applies changes; with -race this proves readers never race
// with a build, and every answer is a whole one: a name's two members
// (written by one object in one change) are answered together or not at
// all, never one of them.
func TestConcurrentReaders(t *testing.T) {
	store := model.NewStore()
	const names = 200
	pair := func(i, gen int) []model.Record {
		fqdn := fmt.Sprintf("app%d.example.org.", i)
		a := netip.AddrFrom4([4]byte{10, byte(gen % 200), byte(i), 1})
		b := netip.AddrFrom4([4]byte{10, byte(gen % 200), byte(i), 2})
		return []model.Record{
			{FQDN: fqdn, Member: model.Member{Site: "a", Addr: a}},
			{FQDN: fqdn, Member: model.Member{Site: "b", Addr: b}},
		}
	}
	for i := range names {
		store.Set(fmt.Sprint("k", i), pair(i, 0))
	}
	b := NewBuilder(testConfig(0), store, nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { b.Run(stop); close(done) }()

	var wg sync.WaitGroup
	errs := make(chan string, 8)
	readersStop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := policy.Client{Addr: netip.MustParseAddr("192.0.2.9"), Bits: 32}
			for q := 0; ; q++ {
				select {
				case <-readersStop:
					return
				default:
				}
				tbl := b.Table()
				qname := fmt.Sprintf("app%d.example.org.", (q*7+w)%names)
				z := tbl.Zone(qname)
				a := tbl.Lookup(z, qname, dns.TypeA, c)
				if a.Result == NXDomain {
					continue // deleted in this generation
				}
				if a.Result != Success || len(a.Answer) != 2 {
					errs <- fmt.Sprintf("%s: %s with %d records", qname, a.Result, len(a.Answer))
					return
				}
				x, y := a.Answer[0].(*dns.A).A, a.Answer[1].(*dns.A).A
				if x[1] != y[1] {
					errs <- fmt.Sprintf("%s: answer mixes generations %s and %s", qname, x, y)
					return
				}
			}
		}()
	}
	for gen := 1; gen <= 60; gen++ {
		for i := range names {
			if (i+gen)%5 == 0 {
				store.Delete(fmt.Sprint("k", i))
			} else {
				store.Set(fmt.Sprint("k", i), pair(i, gen))
			}
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * Debounce)
	close(readersStop)
	wg.Wait()
	close(stop)
	<-done
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	want := Compile(testConfig(0), store.Records(), nil, b.Table().Serial)
	checkSame(t, "after the churn", b.Table(), want)
}

// TestFlush: Flush returns only once a table with every change made
// before it is in use, however short the wait since the change (the
// debounce would otherwise leave it out), and it does not block a stopped
// builder's caller.
func TestFlush(t *testing.T) {
	store := model.NewStore()
	b := NewBuilder(testConfig(0), store, nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { b.Run(stop); close(done) }()
	c := policy.Client{Addr: netip.MustParseAddr("192.0.2.9"), Bits: 32}
	for i := range 100 {
		qname := fmt.Sprintf("app%d.example.org.", i)
		store.Set(fmt.Sprint("k", i), []model.Record{{FQDN: qname, Member: model.Member{Site: "a", Addr: netip.AddrFrom4([4]byte{10, 0, byte(i), 1})}}})
		b.Flush(stop)
		tbl := b.Table()
		if a := tbl.Lookup(tbl.Zone(qname), qname, dns.TypeA, c); a.Result != Success {
			t.Fatalf("%s right after Flush: %s", qname, a.Result)
		}
	}
	close(stop)
	<-done
	flushed := make(chan struct{})
	go func() { b.Flush(stop); close(flushed) }()
	select {
	case <-flushed:
	case <-time.After(10 * time.Second):
		t.Fatal("Flush blocks after the builder stopped")
	}
}
