package vantage

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	epoch := time.UnixMicro(1_790_000_000_123_456)
	s := Sheet{Vantage: "sitea", Epoch: epoch, Verdicts: []Verdict{
		{ID: 42, Since: epoch.Add(3 * time.Second)},
		{ID: 1<<64 - 1, Down: true, Since: epoch.Add(90 * time.Second), Reason: "dial tcp 127.27.17.21:80:\nconnect: connection refused, and a lot more text"},
		{ID: 7, Down: true, Since: epoch.Add(-5 * time.Second)}, // before the epoch: a state older than the run is impossible, but must not break
	}}
	data, dropped := Encode(s)
	if dropped != 0 {
		t.Fatalf("dropped %d", dropped)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v\n%s", err, data)
	}
	if got.Vantage != "sitea" || !got.Epoch.Equal(epoch) || len(got.Verdicts) != 3 {
		t.Fatalf("got %+v", got)
	}
	// Down first, then by ID.
	if v := got.Verdicts[0]; v.ID != 7 || !v.Down || v.Reason != "" || !v.Since.Equal(time.Unix(epoch.Unix()-5, 0)) {
		t.Errorf("first %+v", v)
	}
	if v := got.Verdicts[1]; v.ID != 1<<64-1 || !v.Down || v.Reason != "dial tcp 127.27.17.21:80: connect: conne" {
		t.Errorf("second %+v (reason %q)", v, v.Reason)
	}
	if v := got.Verdicts[2]; v.ID != 42 || v.Down || !v.Since.Equal(time.Unix(epoch.Unix()+3, 0)) {
		t.Errorf("third %+v", v)
	}
	again, _ := Encode(got)
	if again != data {
		t.Errorf("re-encoding differs:\n%s\n%s", data, again)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, data := range []string{
		"",
		"hello",
		"gslb-verdicts/v2 a 1\n",
		"gslb-verdicts/v1 a x\n",
		"gslb-verdicts/v1 a 1\nzz x 0\n",
		"gslb-verdicts/v1 a 1\n1 u 0 reason-on-up\n",
		"gslb-verdicts/v1 a 1\n1 u\n",
		"gslb-verdicts/v1 a 1\n!! u 0\n",
		"gslb-verdicts/v1 a 1\n1 u 0\n1 d 0\n",
	} {
		if s, err := Decode(data); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", data, s)
		}
	}
}

// With 10 000 targets (the scale the README promises) a sheet fits with
// room to spare, and beyond the limit down verdicts are kept first.
func TestEncodeSize(t *testing.T) {
	epoch := time.Now()
	var vs []Verdict
	for i := range 10_000 {
		vs = append(vs, Verdict{ID: uint64(i) * 0x9e3779b97f4a7c15, Down: i%100 == 0, Since: epoch.Add(time.Hour), Reason: "timeout after 1s"})
	}
	data, dropped := Encode(Sheet{Vantage: "v", Epoch: epoch, Verdicts: vs})
	if dropped != 0 || len(data) > 400<<10 {
		t.Fatalf("10 000 verdicts: %d bytes, %d dropped", len(data), dropped)
	}
	t.Logf("10 000 verdicts: %d bytes (%.1f per verdict)", len(data), float64(len(data))/10_000)
	for i := range 60_000 {
		vs = append(vs, Verdict{ID: uint64(i)*0x9e3779b97f4a7c15 + 1, Since: epoch})
	}
	vs = append(vs, Verdict{ID: 3, Down: true, Since: epoch})
	data, dropped = Encode(Sheet{Vantage: "v", Epoch: epoch, Verdicts: vs})
	if dropped == 0 || len(data) > MaxBytes {
		t.Fatalf("50 000 verdicts: %d bytes, %d dropped", len(data), dropped)
	}
	s, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	downs := 0
	for _, v := range s.Verdicts {
		if v.Down {
			downs++
		}
	}
	if downs != 101 || len(s.Verdicts)+dropped != len(vs) {
		t.Errorf("kept %d verdicts (%d down), dropped %d of %d", len(s.Verdicts), downs, dropped, len(vs))
	}
}

func TestQuorum(t *testing.T) {
	for _, tc := range []struct {
		q           string
		down, votes int
		want        bool
	}{
		{"majority", 1, 1, true}, {"majority", 1, 2, false}, {"majority", 2, 3, true}, {"majority", 1, 3, false},
		{"majority", 2, 4, false}, {"majority", 3, 4, true},
		{"any", 1, 3, true}, {"any", 0, 3, false},
		{"all", 2, 3, false}, {"all", 3, 3, true}, {"all", 1, 1, true},
		{"2", 1, 3, false}, {"2", 2, 3, true}, {"3", 2, 2, true}, {"3", 1, 1, true}, {"3", 1, 2, false},
	} {
		q, err := ParseQuorum(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.down(tc.down, tc.votes); got != tc.want {
			t.Errorf("%s: %d of %d down = %v, want %v", tc.q, tc.down, tc.votes, got, tc.want)
		}
	}
	for _, bad := range []string{"", "0", "101", "most", "-1"} {
		if _, err := ParseQuorum(bad); err == nil {
			t.Errorf("ParseQuorum(%q) accepted", bad)
		}
	}
}

// clock is a settable time for the board.
type clock struct{ now time.Time }

func newTestBoard(q string, peers ...string) (*Board, *clock) {
	quorum, _ := ParseQuorum(q)
	c := &clock{now: time.Unix(1_790_000_000, 0)}
	b := NewBoard(Config{Self: "a", Peers: peers, Quorum: quorum, StaleAfter: 8 * time.Second})
	b.now = func() time.Time { return c.now }
	b.created = c.now
	return b, c
}

func sheet(vantage string, epoch time.Time, downs map[uint64]bool) string {
	var vs []Verdict
	for id, d := range downs {
		vs = append(vs, Verdict{ID: id, Down: d, Since: epoch})
	}
	data, _ := Encode(Sheet{Vantage: vantage, Epoch: epoch, Verdicts: vs})
	return data
}

// sameIDs tells whether ids holds exactly want, in any order.
func sameIDs(ids []uint64, want ...uint64) bool {
	slices.Sort(ids)
	return slices.Equal(ids, want)
}

// freshPeers returns the peers whose verdicts count, as the fresh gauge
// says since the last Refresh.
func freshPeers(b *Board) []string {
	var out []string
	for _, name := range b.sortedPeers() {
		var m dto.Metric
		if err := freshGauge.WithLabelValues(name).Write(&m); err == nil && m.GetGauge().GetValue() == 1 {
			out = append(out, name)
		}
	}
	return out
}

func TestBoardQuorumAndStaleness(t *testing.T) {
	b, clk := newTestBoard("majority", "a", "b", "c")
	epochB, epochC := clk.now.Add(-time.Minute), clk.now.Add(-2*time.Minute)
	// Nothing known yet: the own probe decides alone.
	if !b.Down(1, true) || b.Down(1, false) {
		t.Fatal("without peers the own verdict must decide")
	}
	b.Heartbeat("lease b", "b", "b", epochB, clk.now)
	b.Sheet("cm b", "b", sheet("b", epochB, map[uint64]bool{1: false, 2: true}))
	b.Heartbeat("lease c", "c", "c", epochC, clk.now)
	b.Sheet("cm c", "c", sheet("c", epochC, map[uint64]bool{1: false, 2: true}))
	b.Refresh()
	if ids := b.TakeChanged(); !sameIDs(ids, 1, 2) {
		t.Fatalf("peers became usable: Refresh must say so for their targets: changed %v, want [1 2]", ids)
	}
	if got := freshPeers(b); len(got) != 2 {
		t.Fatalf("fresh %v", got)
	}
	// A partition seen by a alone: outvoted.
	if b.Down(1, true) {
		t.Error("target 1: a sees it down, b and c up: must stay up")
	}
	// An outage seen by the others first: down before a's own probe says so.
	if !b.Down(2, false) {
		t.Error("target 2: b and c see it down: must be down")
	}
	// A target nobody else has an opinion on: own probe.
	if !b.Down(3, true) {
		t.Error("target 3: only a votes")
	}
	// c's heartbeat goes stale: a and b decide; a tie keeps it up.
	clk.now = clk.now.Add(5 * time.Second)
	b.Heartbeat("lease b", "b", "b", epochB, clk.now)
	clk.now = clk.now.Add(5 * time.Second)
	b.TakeChanged()
	select { // drain: the signal is to come from Refresh
	case <-b.Changed():
	default:
	}
	b.Refresh()
	if ids := b.TakeChanged(); !sameIDs(ids, 1, 2) {
		t.Fatalf("c went stale: Refresh must say so for its targets: changed %v, want [1 2]", ids)
	}
	select {
	case <-b.Changed():
	default:
		t.Fatal("c went stale: Refresh must signal Changed")
	}
	if got := freshPeers(b); len(got) != 1 || got[0] != "b" {
		t.Fatalf("fresh %v, want [b]", got)
	}
	if b.Down(1, true) {
		t.Error("target 1: 1 down of 2 votes is a tie: stays up")
	}
	if !b.Down(2, true) {
		t.Error("target 2: a and b down")
	}
	// b restarts: its new heartbeat with an old sheet does not count.
	newEpoch := clk.now
	b.Heartbeat("lease b", "b", "b", newEpoch, clk.now)
	b.Refresh()
	if len(freshPeers(b)) != 0 || !b.Down(1, true) {
		t.Error("a sheet of an earlier run must not count")
	}
	b.TakeChanged()
	b.Sheet("cm b", "b", sheet("b", newEpoch, map[uint64]bool{1: false}))
	if ids := b.TakeChanged(); len(ids) != 1 || ids[0] != 1 {
		t.Errorf("b's current sheet counts at once: changed %v, want [1]", ids)
	}
	if b.Down(1, true) {
		t.Error("b's current sheet counts again")
	}
}

func TestBoardIgnoresBadObjects(t *testing.T) {
	b, clk := newTestBoard("any", "a", "b")
	epoch := clk.now
	b.Heartbeat("lease x", "x", "x", epoch, clk.now) // unknown vantage
	b.Sheet("cm x", "x", sheet("x", epoch, map[uint64]bool{1: true}))
	b.Heartbeat("lease b", "b", "b", epoch, clk.now)
	b.Sheet("cm b", "b", "garbage")
	b.Sheet("cm b", "b", "garbage") // logged once only
	b.Sheet("cm b2", "b", sheet("z", epoch, map[uint64]bool{1: true}))
	b.Refresh()
	if b.Down(1, false) {
		t.Error("ignored objects took a member down")
	}
	if len(b.logged) != 4 {
		t.Errorf("complaints %v, want one per bad object", b.logged)
	}
	// A valid sheet counts and is signalled.
	b.Sheet("cm b", "b", sheet("b", epoch, map[uint64]bool{1: true}))
	if ids := b.TakeChanged(); len(ids) != 1 || ids[0] != 1 {
		t.Errorf("changed %v", ids)
	}
	if !b.Down(1, false) {
		t.Error("any: b's down verdict takes it down")
	}
	if _, ok := b.logged["cm b"]; ok {
		t.Error("a good object must clear its complaint, so that a later bad one is logged again")
	}
	// Its lease deleted: left out at the next Refresh.
	b.Forget("lease b", "b", true)
	b.Refresh()
	if b.Down(1, false) {
		t.Error("b without a heartbeat must not vote")
	}
}

func TestShortReason(t *testing.T) {
	if got := shortReason("a\tb\n c"); got != "a b c" {
		t.Errorf("%q", got)
	}
	long := strings.Repeat("é", 30) // 60 bytes
	if got := shortReason(long); len(got) > MaxReason || len(got)%2 != 0 {
		t.Errorf("cut a rune: %q", got)
	}
}

// TestBoardDuplicateVantage: heartbeats under the server's own name are its
// own writes read back, or an earlier run's, and are fine; another run
// renewing the name after this one started is a second server with the
// same vantage name, logged once. None of them ever votes.
func TestBoardDuplicateVantage(t *testing.T) {
	b, clk := newTestBoard("majority", "a", "b")
	start := clk.now
	b.Heartbeat("lease a", "a", "a", start.Add(-time.Hour), start.Add(-time.Minute)) // before SetSelfEpoch: nothing known
	b.SetSelfEpoch(start)
	b.Heartbeat("lease a", "a", "a", start.Add(-time.Hour), start.Add(-time.Minute))           // the previous run's last heartbeat
	b.Heartbeat("lease a", "a", "a", start.Add(300*time.Nanosecond), start.Add(2*time.Second)) // our own, microseconds kept
	if len(b.logged) != 0 {
		t.Fatalf("own and earlier heartbeats complained: %v", b.logged)
	}
	// A reload: the instance replaced renews once more after this run
	// started, then stops.
	b.Heartbeat("lease a", "a", "a", start.Add(-time.Hour), start.Add(time.Second))
	if len(b.logged) != 0 {
		t.Fatalf("a reload's handover complained: %v", b.logged)
	}
	other := start.Add(5 * time.Second)
	b.Heartbeat("lease a", "a", "a", other, other.Add(time.Second))
	b.Heartbeat("lease a", "a", "a", other, other.Add(10*time.Second)) // past StaleAfter (8 s): not a handover
	b.Heartbeat("lease a", "a", "a", other, other.Add(12*time.Second))
	if msg := b.logged["lease a"]; !strings.Contains(msg, "another gslb server publishes as vantage \"a\"") || !strings.Contains(msg, "its own vantage name") {
		t.Errorf("complaint %q, want the duplicate name and the fix", msg)
	}
	if len(b.logged) != 1 {
		t.Errorf("complaints %v, want one", b.logged)
	}
	if views := b.Views(1); len(views) != 0 {
		t.Errorf("own-named objects vote: %v", views)
	}
}

// TestBoardStrayObjects: every cluster's informers report every vantage's
// objects. An empty copy of b's ConfigMap in another cluster (as
// deploy/rbac-vantage.yaml creates them), or the deletion of a copy there,
// must not drop b's current sheet or heartbeat: the real ones are not
// delivered again until they change, so b would stay out of the quorum.
func TestBoardStrayObjects(t *testing.T) {
	b, clk := newTestBoard("majority", "a", "b", "c")
	epoch := clk.now.Add(-time.Minute)
	for _, v := range []string{"b", "c"} {
		b.Heartbeat("Site "+v+": Lease ns/gslb-vantage-"+v, v, v, epoch, clk.now)
		b.Sheet("Site "+v+": ConfigMap ns/gslb-vantage-"+v, v, sheet(v, epoch, map[uint64]bool{2: true}))
	}
	b.Refresh()
	b.TakeChanged()
	want := map[string]bool{"b": true, "c": true}
	check := func(when string) {
		t.Helper()
		if !b.Down(2, false) {
			t.Errorf("%s: b and c see target 2 down, a up: must be down", when)
		}
		if views := b.Views(2); !reflect.DeepEqual(views, want) {
			t.Errorf("%s: views %v, want %v", when, views, want)
		}
	}
	check("start")
	b.Sheet("Site c: ConfigMap ns/gslb-vantage-b", "b", "")
	b.Refresh()
	check("an empty copy of b's sheet in site c")
	b.Forget("Site c: ConfigMap ns/gslb-vantage-b", "b", false)
	b.Forget("Site c: Lease ns/gslb-vantage-b", "b", true)
	b.Refresh()
	check("copies of b's objects deleted in site c")
	if ids := b.TakeChanged(); len(ids) != 0 {
		t.Errorf("stray objects changed targets %v", ids)
	}
	// The real sheet deleted: b leaves.
	b.Forget("Site b: ConfigMap ns/gslb-vantage-b", "b", false)
	want = map[string]bool{"c": true}
	if b.Down(2, false) {
		t.Error("b's sheet deleted: a up and c down is a tie: must stay up")
	}
	if views := b.Views(2); !reflect.DeepEqual(views, want) {
		t.Errorf("b's sheet deleted: views %v, want %v", views, want)
	}
	if ids := b.TakeChanged(); len(ids) != 1 || ids[0] != 2 {
		t.Errorf("b's sheet deleted: changed %v, want [2]", ids)
	}
}
