package gslb

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gslb/gslb/plugin/avi"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/owner"
	"github.com/gslb/gslb/plugin/status"
	"github.com/gslb/gslb/plugin/table"
	"github.com/miekg/dns"
)

// statusView is a stanza as the status page sees it (status.Provider). It
// reads the published table and small accessors of health and sources; the
// DNS hot path knows nothing of it.
type statusView struct {
	g *GSLB
	// endpointReadiness says whether a Kubernetes source's "down" is
	// endpoint readiness (else it is a policy's unprobed name, which also
	// follows endpoint readiness).
	endpointReadiness bool

	cache atomic.Pointer[servicesCache]
}

// servicesCache holds the services of one table: listing 10 000 names
// costs milliseconds, so it is done once per table, not per request.
type servicesCache struct {
	t    *table.Table
	svcs []status.Service
}

// Services implements status.Provider.
func (v *statusView) Services() []status.Service {
	t := v.g.builder.Table()
	if c := v.cache.Load(); c != nil && c.t == t {
		return c.svcs
	}
	var svcs []status.Service
	t.EachService(func(name string) bool {
		if s, ok := t.Service(name); ok && !s.Glue {
			svcs = append(svcs, serviceOf(s))
		}
		return true
	})
	slices.SortFunc(svcs, status.Compare)
	v.cache.Store(&servicesCache{t: t, svcs: svcs})
	return svcs
}

// serviceOf turns the table's view of a service into the page's.
func serviceOf(s table.Service) status.Service {
	out := status.Service{
		Name: s.Name, Zone: s.Zone, Policy: s.Algorithm.String(), TTL: s.TTL, Answers: s.Answers,
		DownResponse: s.DownResponse.String(), ActivePool: s.Active, State: status.StateUp,
	}
	if s.Algorithm == model.Topology {
		out.Fallback = s.Fallback.String()
	}
	for _, w := range s.Warnings {
		out.Problems = append(out.Problems, status.Problem{Reason: "policy conflict: " + w})
	}
	for _, m := range s.Members {
		sm := status.Member{
			Site: m.Site, Address: memberAddr(m.Member), Weight: m.Weight, Priority: m.Priority,
			State: status.StateUp, Answering: m.Excluded == "", Excluded: m.Excluded,
		}
		if m.Public.Addr.IsValid() {
			sm.Public = m.Public.Addr.String()
		}
		if !m.Up {
			sm.State = status.StateDown
			out.State = status.StateDegraded
		}
		out.Members = append(out.Members, sm)
	}
	if s.Down {
		out.State = status.StateDown
	}
	return out
}

func memberAddr(m model.Member) string {
	if m.IsAlias() {
		return m.Target
	}
	return m.Addr.String()
}

// Detail implements status.Provider: each member's health inputs and the
// objects that publish it, read now.
func (v *statusView) Detail(svcs []status.Service) []status.Service {
	t := v.g.builder.Table()
	conflicts := v.conflicts()
	out := make([]status.Service, len(svcs))
	for i, sv := range svcs {
		if ts, ok := t.Service(sv.Name); ok {
			out[i] = v.detail(ts, conflicts) // the table in use now
		} else {
			out[i] = sv // gone since the list was made: shown as it was
		}
	}
	return out
}

// conflicts are the name ownership conflicts by name: objects whose
// namespace may not publish the name, so they are not answered.
func (v *statusView) conflicts() map[string][]status.Problem {
	out := map[string][]status.Problem{}
	for _, c := range v.g.owners.Conflicts() {
		out[c.FQDN] = append(out[c.FQDN], conflictProblem(c))
	}
	return out
}

func conflictProblem(c owner.Conflict) status.Problem {
	return status.Problem{Object: objectName(c.Key), Reason: "not answered: " + c.Message()}
}

// detail is the page's view of ts with each member's health inputs and
// the objects that publish it.
func (v *statusView) detail(ts table.Service, conflicts map[string][]status.Problem) status.Service {
	sv := serviceOf(ts)
	sv.Problems = append(sv.Problems, conflicts[sv.Name]...)
	for i, m := range ts.Members {
		keys := v.g.store.Objects(sv.Name, m.Member)
		for _, k := range keys {
			sv.Members[i].Objects = append(sv.Members[i].Objects, objectName(k))
		}
		for _, r := range m.Records {
			sv.Members[i].Health = append(sv.Members[i].Health, v.inputs(r.Record, keys)...)
		}
	}
	return sv
}

// objectName renders a store key for people: "sitea ingress shop/web".
func objectName(key string) string {
	switch {
	case strings.HasPrefix(key, "kube/"):
		parts := strings.SplitN(strings.TrimPrefix(key, "kube/"), "/", 3)
		if len(parts) == 3 {
			return parts[0] + " " + parts[1] + " " + parts[2]
		}
	case strings.HasPrefix(key, avi.KeyPrefix):
		return "avi gslbservice " + strings.TrimPrefix(key, avi.KeyPrefix)
	case strings.HasPrefix(key, "amko/hostrule/"):
		return "GSLBHostRule " + strings.TrimPrefix(key, "amko/hostrule/")
	case key == "static":
		return "Corefile member"
	}
	return key
}

// inputs lists every health input of one record of a member.
func (v *statusView) inputs(r model.Record, keys []string) []status.HealthInput {
	var out []status.HealthInput
	fromKube, fromAvi := false, false
	for _, k := range keys {
		fromKube = fromKube || strings.HasPrefix(k, "kube/")
		fromAvi = fromAvi || strings.HasPrefix(k, avi.KeyPrefix)
	}
	switch {
	case fromAvi:
		in := status.HealthInput{Input: "avi oper status", Verdict: status.StateUp, Detail: "the Avi controller reports the member up"}
		if r.SourceDown {
			in.Verdict, in.Detail = status.StateDown, "the Avi controller reports the member down (or disabled)"
		}
		out = append(out, in)
	case fromKube && (v.endpointReadiness || r.SourceDown):
		in := status.HealthInput{Input: "endpoint readiness", Verdict: status.StateUp, Detail: "a Service behind the object has a ready endpoint"}
		if r.SourceDown {
			in.Verdict, in.Detail = status.StateDown, "no Service behind the object has a ready endpoint"
		}
		out = append(out, in)
	}
	h := v.g.health
	t, probed := target(r)
	if probed {
		in := status.HealthInput{Input: "probe", Verdict: "unknown", Detail: t.String() + ": not probed yet"}
		if st, ok := h.checker.State(t); ok {
			in.Since, in.LatencyMS = st.Since, float64(st.LastLatency.Microseconds())/1000
			switch {
			case st.Probes == 0 && strings.HasPrefix(st.Reason, "not probed: "):
				// Outside health_targets: the input does not apply.
				in.Verdict, in.Detail = status.VerdictSkipped, t.String()+": "+st.Reason
			case st.Probes == 0:
				in.Detail = t.String() + ": " + orDefault(st.Reason, "not probed yet")
			case st.Healthy:
				in.Verdict, in.Detail = status.StateUp, t.String()+": "+st.Reason
			default:
				in.Verdict, in.Detail = status.StateDown, t.String()+": "+st.Reason
			}
			if st.Last != "" && st.Last != st.Reason {
				in.Detail += " (last probe: " + st.Last + ")"
			}
		}
		out = append(out, in)
	}
	if fromKube {
		out = append(out, h.apiInput(r.Member.Site, probed))
	}
	return append(out, h.quorumInputs(r)...)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// apiInput is the API server reachability input of a member of site.
func (h *memberHealth) apiInput(site string, probed bool) status.HealthInput {
	in := status.HealthInput{Input: "api server", Verdict: status.StateUp, Detail: "reachable"}
	for _, s := range h.sites {
		if s.Site() != site {
			continue
		}
		since := s.DisconnectedSince()
		if since.IsZero() {
			return in
		}
		in.Since = since
		h.mu.Lock()
		stale := h.stale[site]
		h.mu.Unlock()
		switch {
		case probed:
			in.Verdict, in.Detail = "unknown", "unreachable; the member is probed, so its probe decides"
		case stale:
			in.Verdict, in.Detail = status.StateDown, fmt.Sprintf("unreachable for more than the grace period (%s): unprobed members leave the answers", h.grace)
		default:
			in.Detail = fmt.Sprintf("unreachable; unprobed members stay in the answers for the grace period (%s)", h.grace)
		}
		return in
	}
	return in
}

// Zones implements status.Provider.
func (v *statusView) Zones() []status.Zone {
	t := v.g.builder.Table()
	out := make([]status.Zone, 0, len(v.g.zones))
	for _, z := range v.g.zones {
		out = append(out, status.Zone{Name: z, Serial: t.Serial, Built: t.Built})
	}
	return out
}

// Sources implements status.Provider. Nothing here reads credentials or
// kubeconfig contents: sites, contexts and the controller's origin only.
func (v *statusView) Sources() []status.Source {
	var out []status.Source
	conflicts := v.g.owners.Conflicts()
	for _, s := range v.g.sources {
		switch src := s.(type) {
		case clusterSource:
			w := src.Watcher
			connected := w.Connected()
			ss := status.Source{
				Kind: "cluster", Name: fmt.Sprintf("%s (context %s)", w.Site(), w.Context()),
				Connected: &connected, DisconnectedSince: w.DisconnectedSince(),
				Synced: w.HasSynced(), LastEvent: w.LastEvent(),
			}
			for _, p := range w.Problems() {
				ss.Rejected = append(ss.Rejected, status.Problem{Object: objectName(p.Key), Reason: p.Reason})
			}
			for _, c := range conflicts {
				if c.Claim.Site == w.Site() {
					ss.Rejected = append(ss.Rejected, conflictProblem(c))
				}
			}
			out = append(out, ss)
		case aviSource:
			ss := status.Source{Kind: "avi", Name: src.URL(), Synced: src.HasSynced()}
			if p := src.LastPoll(); p != nil {
				ok := p.Result == "ok"
				ss.Connected, ss.LastEvent, ss.Result = &ok, p.Time, p.Result
				ss.Name = p.Controller
				ss.Notes = append(ss.Notes, fmt.Sprintf("%d GSLB services published", p.Services))
			}
			out = append(out, ss)
		case amkoSource:
			ss := status.Source{Kind: "amko", Name: "context " + src.Leader(), Synced: src.HasSynced()}
			for _, vd := range src.Verdicts() {
				if vd.Accepted {
					ss.Accepted = append(ss.Accepted, vd.Key())
				} else {
					ss.Rejected = append(ss.Rejected, status.Problem{Object: vd.Key(), Reason: vd.Reason})
				}
			}
			out = append(out, ss)
		}
	}
	if v.g.hasStatic {
		out = append(out, status.Source{Kind: "static", Name: "Corefile member lines", Synced: true})
	}
	return out
}

// Explain implements status.Provider: the decision ServeDNS makes for the
// query, through the same steps (clientOf, classify, the table's lookup,
// fallsThrough, reply), leaving the name's rotation where it was.
func (v *statusView) Explain(name string, qtype uint16, client netip.Prefix) (*status.Explanation, error) {
	g := v.g
	t := g.builder.Table()
	z := t.Zone(name)
	if z == nil {
		return nil, status.ErrNotServed
	}
	r := explainQuery(name, qtype, client)
	c, ecs, ok := clientOf(nil, r)
	if !ok {
		return nil, fmt.Errorf("client %s: address bits set past the prefix (a query would get FORMERR)", client)
	}
	if ecs == nil {
		return nil, errors.New("internal error: the query for explain carries no client subnet")
	}
	g.classify(&c)
	e := t.Explain(z, name, qtype, c)
	m := reply(r, &e.Answer, ecs)

	out := &status.Explanation{
		Query: status.Query{Name: name, Type: dns.TypeToString[qtype], Client: client.String()},
		Zone:  z.Name,
		Reply: replyOf(m),
	}
	if e.Service.Name != "" {
		sv := v.detail(e.Service, v.conflicts())
		out.Service = &sv
	}
	if e.Picked {
		for _, rr := range e.Candidates {
			out.Candidates = append(out.Candidates, rr.String())
		}
		out.Policy = e.Route.Algorithm.String()
		if e.Route.Algorithm == model.Weighted {
			out.Notes = append(out.Notes, "weighted: each query draws at random in proportion to the weights; this answer is one draw")
		}
		if e.Service.Algorithm == model.Topology {
			out.Route = e.Route.Via.String()
			out.RuleSites, out.ChosenSite = e.Route.Sites, e.Route.Site
			if g.geoRules() {
				out.Notes = append(out.Notes, "country and continent rules need the geoip plugin's data of a real query; /explain has none, so only subnet rules are applied")
			}
		}
		out.PublicAddrs = e.Public
	}
	if e.Answer.Down {
		out.Notes = append(out.Notes, "no member is healthy: the name answers its down response")
	}
	if g.fallsThrough(&e.Answer, name) {
		out.Notes = append(out.Notes, "the name does not exist here and fallthrough is on: the next plugin answers instead")
	}
	return out, nil
}

// geoRules tells whether topology has country or continent rules.
func (g *GSLB) geoRules() bool { return g.topology != nil && g.topology.HasGeo() }

// explainQuery is the query /explain stands for: name and type from client,
// carried as EDNS Client Subnet as a resolver would send it.
func explainQuery(name string, qtype uint16, client netip.Prefix) *dns.Msg {
	r := new(dns.Msg)
	r.SetQuestion(name, qtype)
	r.SetEdns0(dns.DefaultMsgSize, false)
	family := uint16(1)
	if client.Addr().Is6() {
		family = 2
	}
	opt := r.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(client.Bits()),
		Address: client.Addr().AsSlice(),
	})
	return r
}

// replyOf renders a reply for the page.
func replyOf(m *dns.Msg) status.Reply {
	out := status.Reply{Rcode: dns.RcodeToString[m.Rcode], Answer: []string{}, Text: m.String()}
	for _, rr := range m.Answer {
		out.Answer = append(out.Answer, rr.String())
	}
	for _, rr := range m.Ns {
		out.Authority = append(out.Authority, rr.String())
	}
	for _, rr := range m.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			for _, o := range opt.Option {
				if s, ok := o.(*dns.EDNS0_SUBNET); ok {
					out.ECSScope = int(s.SourceScope)
				}
			}
			continue
		}
		out.Additional = append(out.Additional, rr.String())
	}
	return out
}

// startStatus attaches the stanza to its status listener, if it has one.
func (g *GSLB) startStatus() error {
	if g.statusAddr == "" {
		return nil
	}
	return status.Attach(g.statusAddr, g.status)
}

func (g *GSLB) stopStatus() {
	if g.statusAddr != "" {
		status.Detach(g.statusAddr, g.status)
	}
}

var _ status.Provider = (*statusView)(nil)

// quorumInputs are a probed member's per-vantage verdicts when this server
// shares them (a vantage block): this vantage's own, each fresh peer's, and
// the quorum's decision, which is what the answers follow. Without a vantage
// block, or for an unprobed member, there are none.
func (h *memberHealth) quorumInputs(r model.Record) []status.HealthInput {
	ownDown, peers, down, ok := h.vantageViews(r)
	if !ok {
		return nil
	}
	verdict := func(d bool) string {
		if d {
			return status.StateDown
		}
		return status.StateUp
	}
	out := []status.HealthInput{{Input: "vantage " + h.self, Verdict: verdict(ownDown), Detail: "this server's probe"}}
	names := slices.Sorted(maps.Keys(peers))
	votesDown := 0
	if ownDown {
		votesDown++
	}
	for _, n := range names {
		out = append(out, status.HealthInput{Input: "vantage " + n, Verdict: verdict(peers[n]), Detail: "a peer's published verdict"})
		if peers[n] {
			votesDown++
		}
	}
	out = append(out, status.HealthInput{
		Input: "quorum", Verdict: verdict(down),
		Detail: fmt.Sprintf("%d of %d voting vantages see it down (health_quorum %s); stale peers do not vote", votesDown, len(names)+1, h.board.Quorum()),
	})
	return out
}
