package owner

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/test/testutil"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// object publishes name from namespace ns of site at addr, created at
// t0+age seconds; an empty addr claims the name without a member.
type object struct {
	site, ns, name string
	age            int
	addr           string
}

func (o object) key() string { return "kube/" + o.site + "/ingress/" + o.ns + "/" + o.name }

func (o object) set(s *model.Store, fqdn string) {
	var recs []model.Record
	if o.addr != "" {
		recs = []model.Record{{FQDN: fqdn, Member: model.Member{Site: o.site, Addr: netip.MustParseAddr(o.addr)}}}
	}
	s.SetClaimed(o.key(), model.Claim{Site: o.site, Kind: "ingress", Namespace: o.ns, Name: o.name,
		Created: t0.Add(time.Duration(o.age) * time.Second), Names: []string{fqdn}}, recs)
}

func addrs(recs []model.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Member.Addr.String())
	}
	slices.Sort(out)
	return out
}

func rules(t *testing.T, lines ...string) Rules {
	t.Helper()
	var r Rules
	for _, l := range lines {
		f := strings.Fields(l)
		var owners []Owner
		for _, a := range f[1:] {
			o, err := ParseOwner(a)
			if err != nil {
				t.Fatal(err)
			}
			owners = append(owners, o)
		}
		if err := r.Add(f[0], owners); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

const payroll = "payroll.gslb.test."

// TestFirstClaim: the namespace with the earliest object owns a name in
// every site; another namespace's objects are not answered until the
// owner's objects are gone; the decision does not depend on the order the
// objects arrived in.
func TestFirstClaim(t *testing.T) {
	teamA := object{site: "a", ns: "team-a", name: "web", age: 0, addr: "10.0.0.1"}
	teamAinB := object{site: "b", ns: "team-a", name: "web", age: 5, addr: "10.0.1.1"}
	hijack := object{site: "b", ns: "hijack", name: "evil", age: 10, addr: "10.6.6.6"}
	orders := [][]object{{teamA, teamAinB, hijack}, {hijack, teamAinB, teamA}, {teamAinB, hijack, teamA}}
	for i, order := range orders {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			logs := testutil.CaptureLog(t)
			s := model.NewStore()
			j := New(s, Rules{}, FirstClaim)
			defer j.Close()
			for _, o := range order {
				o.set(s, payroll)
			}
			if got := addrs(j.RecordsOf(payroll)); !slices.Equal(got, []string{"10.0.0.1", "10.0.1.1"}) {
				t.Fatalf("answered %v, want team-a's members in both sites only", got)
			}
			cs := j.Conflicts()
			if len(cs) != 1 || cs[0].Key != hijack.key() || cs[0].Reason != ClaimedFirst || cs[0].Owner != "team-a" {
				t.Fatalf("conflicts %+v, want hijack's object rejected in favour of team-a", cs)
			}
			// team-a releases the name: the hijacker's claim is next.
			s.Delete(teamA.key())
			if got := addrs(j.RecordsOf(payroll)); !slices.Equal(got, []string{"10.0.1.1"}) {
				t.Fatalf("answered %v while team-a still has an object in site b", got)
			}
			s.Delete(teamAinB.key())
			if got := addrs(j.RecordsOf(payroll)); !slices.Equal(got, []string{"10.6.6.6"}) {
				t.Fatalf("answered %v after team-a released the name, want the next claimant's", got)
			}
			if cs := j.Conflicts(); len(cs) != 0 {
				t.Fatalf("conflicts %+v after the owner left, want none", cs)
			}
			if !strings.Contains(logs.String(), "ingress hijack/evil in site b now publishes "+payroll) {
				t.Errorf("the takeover was not logged:\n%s", logs)
			}
		})
	}
}

// TestEarliestExistingObject pins the limit of a decision that every
// server must reach from the objects alone: a claim is as old as the
// namespace's earliest object that still exists. An owner that replaces its
// early object while a rival's object older than its new one waits hands
// the name to the rival (the conflict was reported all along; an owner
// rule is the fence for names that matter).
func TestEarliestExistingObject(t *testing.T) {
	s := model.NewStore()
	j := New(s, Rules{}, FirstClaim)
	defer j.Close()
	old := object{site: "a", ns: "team-a", name: "web", age: 0, addr: "10.0.0.1"}
	rival := object{site: "b", ns: "rival", name: "web", age: 10, addr: "10.6.6.6"}
	replacement := object{site: "a", ns: "team-a", name: "web2", age: 50, addr: "10.0.0.2"}
	old.set(s, payroll)
	rival.set(s, payroll)
	replacement.set(s, payroll)
	s.Delete(old.key())
	if got := addrs(j.RecordsOf(payroll)); !slices.Equal(got, []string{"10.6.6.6"}) {
		t.Fatalf("answered %v, want the rival's: its object is now the earliest", got)
	}
}

// TestClaimWithoutMember: an object naming a host before its VIP exists
// holds the name: a later namespace's records are not answered meanwhile.
func TestClaimWithoutMember(t *testing.T) {
	s := model.NewStore()
	j := New(s, Rules{}, FirstClaim)
	defer j.Close()
	object{site: "a", ns: "team-a", name: "web", age: 0}.set(s, payroll)
	object{site: "b", ns: "team-b", name: "web", age: 5, addr: "10.0.0.2"}.set(s, payroll)
	if got := j.RecordsOf(payroll); got != nil {
		t.Fatalf("answered %v, want nothing: team-a holds the name while it waits for its VIP", addrs(got))
	}
}

// TestTieBreak: claims of the same second go to the namespace that sorts
// first, whichever arrived first.
func TestTieBreak(t *testing.T) {
	for _, first := range []string{"zeta", "alpha"} {
		s := model.NewStore()
		j := New(s, Rules{}, FirstClaim)
		objs := map[string]object{
			"zeta":  {site: "a", ns: "zeta", name: "web", addr: "10.0.0.26"},
			"alpha": {site: "b", ns: "alpha", name: "web", addr: "10.0.0.1"},
		}
		objs[first].set(s, payroll)
		for ns, o := range objs {
			if ns != first {
				o.set(s, payroll)
			}
		}
		if got := addrs(j.RecordsOf(payroll)); !slices.Equal(got, []string{"10.0.0.1"}) {
			t.Errorf("%s first: answered %v, want alpha's", first, got)
		}
		j.Close()
	}
}

// TestRules: a rule decides for the names it covers (the most specific
// rule first), lists several namespaces as one owner, may bind a
// namespace to one site, and leaves the other names to first claim.
func TestRules(t *testing.T) {
	r := rules(t,
		"payroll.gslb.test. payroll",
		"*.payroll.gslb.test. a/payroll b/payroll-prod",
		"*.deep.payroll.gslb.test. ops",
	)
	cases := []struct {
		what    string
		name    string
		objects []object
		want    []string
		reason  Reason
	}{
		{"exact rule, earlier intruder", "payroll.gslb.test.", []object{
			{site: "a", ns: "payroll", name: "web", age: 10, addr: "10.0.0.1"},
			{site: "b", ns: "intruder", name: "web", age: 0, addr: "10.6.6.6"},
		}, []string{"10.0.0.1"}, NotInRule},
		{"wildcard, one owner under two names", "api.payroll.gslb.test.", []object{
			{site: "a", ns: "payroll", name: "web", age: 10, addr: "10.0.0.1"},
			{site: "b", ns: "payroll-prod", name: "web", age: 0, addr: "10.0.1.1"},
		}, []string{"10.0.0.1", "10.0.1.1"}, ""},
		{"wildcard binds namespaces to sites", "x.y.payroll.gslb.test.", []object{
			{site: "b", ns: "payroll", name: "web", age: 0, addr: "10.6.6.6"},
			{site: "a", ns: "payroll", name: "web", age: 10, addr: "10.0.0.1"},
		}, []string{"10.0.0.1"}, NotInRule},
		{"nearest wildcard wins", "x.deep.payroll.gslb.test.", []object{
			{site: "a", ns: "payroll", name: "web", age: 0, addr: "10.0.0.1"},
			{site: "a", ns: "ops", name: "web", age: 10, addr: "10.0.0.2"},
		}, []string{"10.0.0.2"}, NotInRule},
		{"no rule: first claim", "shop.gslb.test.", []object{
			{site: "a", ns: "shop", name: "web", age: 0, addr: "10.0.0.1"},
			{site: "b", ns: "payroll", name: "web", age: 10, addr: "10.0.0.2"},
		}, []string{"10.0.0.1"}, ClaimedFirst},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			s := model.NewStore()
			j := New(s, r, FirstClaim)
			defer j.Close()
			for _, o := range c.objects {
				o.set(s, c.name)
			}
			if got := addrs(j.RecordsOf(c.name)); !slices.Equal(got, c.want) {
				t.Fatalf("answered %v, want %v", got, c.want)
			}
			cs := j.Conflicts()
			if c.reason == "" {
				if len(cs) != 0 {
					t.Fatalf("conflicts %+v, want none", cs)
				}
				return
			}
			if len(cs) != 1 || cs[0].Reason != c.reason {
				t.Fatalf("conflicts %+v, want one for %q", cs, c.reason)
			}
		})
	}
}

// TestOperatorSourcesExempt: records stored without a claim (static, Avi,
// AMKO third-party members) are answered whoever owns the name, and claim
// nothing.
func TestOperatorSourcesExempt(t *testing.T) {
	s := model.NewStore()
	j := New(s, rules(t, "payroll.gslb.test. payroll"), FirstClaim)
	defer j.Close()
	s.Set("static", []model.Record{{FQDN: payroll, Member: model.Member{Site: "static", Addr: netip.MustParseAddr("192.0.2.1")}}})
	object{site: "a", ns: "payroll", name: "web", addr: "10.0.0.1"}.set(s, payroll)
	object{site: "b", ns: "other", name: "web", addr: "10.0.0.2"}.set(s, payroll)
	if got := addrs(j.RecordsOf(payroll)); !slices.Equal(got, []string{"10.0.0.1", "192.0.2.1"}) {
		t.Fatalf("answered %v, want the owner's and the static member", got)
	}
}

// TestOff answers everything, as before ownership.
func TestOff(t *testing.T) {
	s := model.NewStore()
	j := New(s, Rules{}, Off)
	defer j.Close()
	object{site: "a", ns: "team-a", name: "web", addr: "10.0.0.1"}.set(s, payroll)
	object{site: "b", ns: "team-b", name: "web", age: 5, addr: "10.0.0.2"}.set(s, payroll)
	if got := addrs(j.RecordsOf(payroll)); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Fatalf("answered %v, want both", got)
	}
	if cs := j.Conflicts(); len(cs) != 0 {
		t.Fatalf("conflicts %+v with ownership off", cs)
	}
}

// TestConflictReportedOnce: a conflict is counted and told once however
// often its name is recomputed (resyncs, the owner's status updates), told
// again when it ends, and the gauge follows; Close takes it out.
func TestConflictReportedOnce(t *testing.T) {
	logs := testutil.CaptureLog(t)
	s := model.NewStore()
	j := New(s, Rules{}, FirstClaim)
	var events []string
	j.OnChange = func(c Conflict, active bool) {
		events = append(events, fmt.Sprintf("%s %s %v", c.Claim.Namespace, c.FQDN, active))
	}
	site := "once-b"
	counter := conflictsTotal.WithLabelValues(site, string(ClaimedFirst))
	gauge := conflictsGauge.WithLabelValues(site)
	before := testutil.Value(t, counter)

	owner := object{site: "once-a", ns: "team-a", name: "web", addr: "10.0.0.1"}
	intruder := object{site: site, ns: "team-b", name: "web", age: 5, addr: "10.0.0.2"}
	owner.set(s, payroll)
	intruder.set(s, payroll)
	for i := range 5 {
		owner.addr = fmt.Sprintf("10.0.0.%d", i+1) // the owner's VIP moves: the name is recomputed
		owner.set(s, payroll)
		j.RecordsOf(payroll)
	}
	if got := testutil.Value(t, counter) - before; got != 1 {
		t.Errorf("conflicts counted %v times, want once", got)
	}
	if got := testutil.Value(t, gauge); got != 1 {
		t.Errorf("gauge %v, want 1", got)
	}
	if want := []string{"team-b " + payroll + " true"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
	if n := strings.Count(logs.String(), "may not publish"); n != 1 {
		t.Errorf("conflict logged %d times, want once:\n%s", n, logs)
	}
	if msg := j.Conflicts()[0].Message(); !strings.Contains(msg, "ingress team-b/web in site once-b") || !strings.Contains(msg, "namespace team-a claimed it first") {
		t.Errorf("message %q names neither the object nor the owner", msg)
	}

	s.Delete(intruder.key())
	j.RecordsOf(payroll)
	if want := []string{"team-b " + payroll + " true", "team-b " + payroll + " false"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
	if got := testutil.Value(t, gauge); got != 0 {
		t.Errorf("gauge %v after the conflict ended, want 0", got)
	}

	intruder.set(s, payroll)
	j.RecordsOf(payroll)
	if got := testutil.Value(t, gauge); got != 1 {
		t.Errorf("gauge %v, want 1", got)
	}
	j.Close()
	if got := testutil.Value(t, gauge); got != 0 {
		t.Errorf("gauge %v after Close, want 0", got)
	}
}

// TestInheritConflicts: a reload's new judge takes over the conflicts in
// force without logging, counting or telling them again; one that ended
// meanwhile is told as ended, and the gauge counts each conflict once
// after the old judge closes.
func TestInheritConflicts(t *testing.T) {
	logs := testutil.CaptureLog(t)
	s := model.NewStore()
	site := "inherit-b"
	counter := conflictsTotal.WithLabelValues(site, string(ClaimedFirst))
	gauge := conflictsGauge.WithLabelValues(site)
	owner := object{site: "inherit-a", ns: "team-a", name: "web", addr: "10.0.0.1"}
	intruder := object{site: site, ns: "team-b", name: "web", age: 5, addr: "10.0.0.2"}
	apiOwner := object{site: "inherit-a", ns: "team-a", name: "api", addr: "10.0.0.4"}
	other := object{site: site, ns: "team-c", name: "api", age: 9, addr: "10.0.0.3"}
	const api = "api.gslb.test."
	owner.set(s, payroll)
	intruder.set(s, payroll)
	apiOwner.set(s, api)
	other.set(s, api)
	old := New(s, Rules{}, FirstClaim)
	old.RecordsOf(payroll)
	old.RecordsOf(api)
	before := testutil.Value(t, counter)
	logged := strings.Count(logs.String(), "may not publish")

	next := New(s, Rules{}, FirstClaim)
	var events []string
	next.OnChange = func(c Conflict, active bool) {
		events = append(events, fmt.Sprintf("%s %v", c.Claim.Namespace, active))
	}
	next.Inherit(old.Conflicts())
	s.Delete(other.key()) // ends while the reload runs
	if got := addrs(next.RecordsOf(payroll)); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("payroll answers %v, want only the owner's", got)
	}
	next.RecordsOf(api)
	old.Close()
	if got := testutil.Value(t, counter) - before; got != 0 {
		t.Errorf("conflicts counted %v more times after the reload, want none", got)
	}
	if n := strings.Count(logs.String(), "may not publish"); n != logged {
		t.Errorf("conflict logged again after the reload (%d lines, %d before):\n%s", n, logged, logs)
	}
	if want := []string{"team-c false"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
	if got := testutil.Value(t, gauge); got != 1 {
		t.Errorf("gauge %v, want 1 (team-b's conflict, counted once)", got)
	}
	next.Close()
	if got := testutil.Value(t, gauge); got != 0 {
		t.Errorf("gauge %v after Close, want 0", got)
	}
}

func TestParseOwner(t *testing.T) {
	for in, want := range map[string]Owner{
		"payroll":          {Namespace: "payroll"},
		"sitea/payroll-v2": {Site: "sitea", Namespace: "payroll-v2"},
	} {
		if got, err := ParseOwner(in); err != nil || got != want {
			t.Errorf("ParseOwner(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/payroll", "sitea/", "a/b/c", "Payroll", "-payroll", "pay_roll", strings.Repeat("x", 64)} {
		if _, err := ParseOwner(bad); err == nil {
			t.Errorf("ParseOwner(%q) accepted", bad)
		}
	}
	var r Rules
	if err := r.Add("*.x.test.", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("*.x.test.", nil); err == nil {
		t.Error("a pattern given twice was accepted")
	}
	if err := r.Add("x.test.", nil); err != nil {
		t.Errorf("an exact name beside the wildcard of the same domain: %v", err)
	}
}
