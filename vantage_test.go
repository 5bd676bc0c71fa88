package gslb

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/health"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/vantage"
)

// TestSharedVerdicts: with a board, a probed member's health is the
// quorum's, not the own probe's alone; the own verdicts published are the
// probed targets only; a peer's changed verdict touches exactly the names
// of its target.
func TestSharedVerdicts(t *testing.T) {
	// A closed port: the own probe fails.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	h := newMemberHealth(health.Settings{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, Fall: 1, Rise: 1,
		Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, time.Minute, nil)
	board := vantage.NewBoard(vantage.Config{Self: "a", Peers: []string{"b", "c"}, Quorum: vantage.Quorum{Kind: vantage.Majority}, StaleAfter: time.Minute})
	h.board, h.self, h.byID = board, "a", map[uint64]health.Target{}
	rec := model.Record{FQDN: "app.example.org.", Member: model.Member{Site: "sitea", Addr: netip.MustParseAddr("127.0.0.1")},
		Check: model.Check{Proto: model.CheckTCP, Port: uint16(port)}}
	other := model.Record{FQDN: "other.example.org.", Member: model.Member{Site: "sitea", Addr: netip.MustParseAddr("127.0.0.1")}}
	h.Track("app.example.org.", nil, []model.Record{rec})
	h.Track("other.example.org.", nil, []model.Record{other})
	tgt, _ := target(rec)
	id := targetID(tgt)

	if got := h.verdicts(); len(got) != 0 {
		t.Fatalf("verdicts before any probe: %v, want none (no opinion)", got)
	}
	stop := make(chan struct{})
	defer close(stop)
	go h.checker.Run(stop)
	deadline := time.Now().Add(10 * time.Second)
	for h.checker.Healthy(tgt) {
		if time.Now().After(deadline) {
			t.Fatal("the own probe of a closed port never failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.verdicts(); len(got) != 1 || got[0].ID != id || !got[0].Down || got[0].Reason == "" {
		t.Fatalf("own verdicts %+v, want one down verdict with its reason", got)
	}
	// No peer known: the own probe decides (fallback).
	if h.Up(rec) {
		t.Error("no peer fresh: the own failed probe must decide")
	}

	epoch := time.Now()
	publish := func(peer string, down bool) {
		data, _ := vantage.Encode(vantage.Sheet{Vantage: peer, Epoch: epoch, Verdicts: []vantage.Verdict{{ID: id, Down: down, Since: epoch}}})
		board.Heartbeat("lease "+peer, peer, peer, epoch, time.Now())
		board.Sheet("cm "+peer, peer, data)
	}
	publish("b", false)
	publish("c", false)
	board.Refresh()
	if !h.Up(rec) {
		t.Error("b and c see it up: the own failure alone (1 of 3) must not take it down")
	}
	if !h.Up(other) {
		t.Error("an unprobed member does not follow the quorum")
	}
	board.TakeChanged()
	publish("b", true)
	if names := h.namesOfIDs(board.TakeChanged()); !slices.Equal(names, []string{"app.example.org."}) {
		t.Errorf("b's changed verdict touches %v, want only the name it probes", names)
	}
	if h.Up(rec) {
		t.Error("a and b see it down: 2 of 3 must take it down")
	}
	if own, peers, down, ok := h.vantageViews(rec); !ok || !own || !down || len(peers) != 2 || !peers["b"] || peers["c"] {
		t.Errorf("views: own down %v, peers %v, decision down %v, ok %v", own, peers, down, ok)
	}
	if _, _, _, ok := h.vantageViews(other); ok {
		t.Error("an unprobed member has no vantage views")
	}
	// The status page shows the same views as inputs, the quorum last.
	var shown []string
	for _, in := range h.quorumInputs(rec) {
		shown = append(shown, in.Input+"="+in.Verdict)
	}
	if want := []string{"vantage a=down", "vantage b=down", "vantage c=up", "quorum=down"}; !slices.Equal(shown, want) {
		t.Errorf("status inputs %v, want %v", shown, want)
	}
	if in := h.quorumInputs(rec); !strings.Contains(in[len(in)-1].Detail, "2 of 3") || !strings.Contains(in[len(in)-1].Detail, "majority") {
		t.Errorf("quorum detail %q, want the vote count and the setting", in[len(in)-1].Detail)
	}
	if in := h.quorumInputs(other); in != nil {
		t.Errorf("an unprobed member has vantage inputs %v", in)
	}
	// A peer leaving the quorum touches the names of its targets only.
	board.TakeChanged()
	board.Forget("lease c", "c", true)
	if names := h.namesOfIDs(board.TakeChanged()); !slices.Equal(names, []string{"app.example.org."}) {
		t.Errorf("c leaving touches %v, want only the name it probes", names)
	}
	// Removing the record forgets its ID.
	h.Track("app.example.org.", []model.Record{rec}, nil)
	if _, ok := h.byID[id]; ok {
		t.Error("a target no name uses stays in byID")
	}
}
