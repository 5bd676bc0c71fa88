// Package gslb is a CoreDNS plugin that answers, authoritatively, for GSLB
// service names of applications that run in several Kubernetes clusters. It
// watches every member cluster, compiles the VIPs of all sites into an answer
// table off the hot path, and serves DNS from that table.
package gslb

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/coredns/coredns/request"
	"github.com/gslb/gslb/plugin/model"
	"github.com/gslb/gslb/plugin/owner"
	"github.com/gslb/gslb/plugin/policy"
	"github.com/gslb/gslb/plugin/table"
	"github.com/miekg/dns"
)

var log = clog.NewWithPlugin(pluginName)

// GSLB is the plugin handler.
type GSLB struct {
	Next plugin.Handler
	Fall fall.F

	zones   []string
	builder *table.Builder
	store   *model.Store
	// owners filters the store by name ownership for the builder; its
	// Conflicts are the objects whose records are not answered.
	owners  *owner.Judge
	sources []source // started, stopped and awaited together
	// private are the networks whose clients get members' own addresses
	// rather than their public ones (private_networks).
	private []netip.Prefix
	health  *memberHealth
	timeout time.Duration
	// xfer is the server block's transfer plugin, set at startup when
	// there is one: it tells the secondaries about new serials.
	xfer     *transfer.Transfer
	notifyCh chan struct{}
	// statusAddr is the status listener's address ("" when off); status
	// is what the stanza shows there.
	statusAddr string
	status     *statusView
	hasStatic  bool
	topology   *policy.Topology

	ready    atomic.Bool
	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

// start runs the watchers and the table builder; called from OnStartup.
func (g *GSLB) start() error {
	// First: a status address in use fails the start before anything runs.
	if err := g.startStatus(); err != nil {
		return err
	}
	g.builder.ClaimMetrics()
	g.takeOver()
	g.wg.Add(4)
	go func() {
		defer g.wg.Done()
		g.builder.Run(g.stopCh)
	}()
	go func() {
		defer g.wg.Done()
		g.health.checker.Run(g.stopCh)
	}()
	go func() {
		defer g.wg.Done()
		g.health.run(g.stopCh, g.builder.Touch)
	}()
	if g.health.publisher != nil {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.health.publisher.Run(g.stopCh)
		}()
	}
	if g.xfer != nil {
		// Like the file plugin, tell the secondaries at startup: a
		// restart brings a new serial.
		g.requestNotify()
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.notifyLoop(g.xfer.Notify, notifyInterval)
		}()
	}
	for _, s := range g.sources {
		s.Start()
	}
	go func() {
		defer g.wg.Done()
		g.waitReady()
	}()
	return nil
}

// waitReady flips Ready once every cluster has synced, or when the startup
// timeout passes: then we serve what is known rather than nothing, and say
// which clusters are missing.
func (g *GSLB) waitReady() {
	if !g.waitSynced() {
		return // stopped
	}
	// Ready means answering what the sources hold, not only holding it:
	// the table build is debounced.
	g.builder.Flush(g.stopCh)
	g.ready.Store(true)
}

// waitSynced returns true once every source has synced or the startup
// timeout passed (logging the sources still missing), false when stopped.
func (g *GSLB) waitSynced() bool {
	deadline := time.NewTimer(g.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !g.synced() {
		select {
		case <-g.stopCh:
			return false
		case <-deadline.C:
			for _, s := range g.sources {
				if !s.HasSynced() {
					log.Warning(s.NotSynced(g.timeout))
				}
			}
			return true
		case <-tick.C:
		}
	}
	return true
}

func (g *GSLB) synced() bool {
	for _, s := range g.sources {
		if !s.HasSynced() {
			return false
		}
	}
	return true
}

// stop ends everything start began; a reload must not leak watches.
func (g *GSLB) stop() error {
	g.stopOnce.Do(func() {
		g.handBack()
		g.stopStatus()
		close(g.stopCh)
		for _, s := range g.sources {
			s.Stop()
		}
		g.wg.Wait()
		g.builder.Close()
		g.owners.Close()
	})
	return nil
}

// CacheBypassZones implements cache.ZoneBypasser: CoreDNS's cache passes
// queries for our zones straight through. Its key (name, type, class, DO/CD)
// ignores the client subnet and its writer drops the EDNS options we echo,
// so behind it a per-query pick, a consistent hash or a topology answer
// would be frozen for everybody and ECS-aware resolvers would cache them as
// valid for all clients. Our answers come from memory anyway.
func (g *GSLB) CacheBypassZones() []string { return g.zones }

// Ready implements ready.Readiness.
func (g *GSLB) Ready() bool { return g.ready.Load() }

// Name implements plugin.Handler.
func (g *GSLB) Name() string { return pluginName }

// ServeDNS implements plugin.Handler. It is a lookup in the published table:
// no I/O, no lock, no scan; the per-query pick (rotation, weights, hash,
// topology) works on sets compiled off the hot path.
func (g *GSLB) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	qname := state.Name()

	t := g.builder.Table()
	z := t.Zone(qname)
	if z == nil {
		if g.Next == nil {
			return dns.RcodeRefused, nil
		}
		return plugin.NextOrFailure(g.Name(), g.Next, ctx, w, r)
	}
	client, ecs, ok := clientOf(w, r)
	if !ok {
		formErr(w, r)
		return dns.RcodeSuccess, nil
	}
	client.Ctx = ctx
	g.classify(&client)
	a := t.Lookup(z, qname, state.QType(), client)
	if g.fallsThrough(&a, qname) {
		return plugin.NextOrFailure(g.Name(), g.Next, ctx, w, r)
	}
	z.Count(a.Result)
	m := reply(r, &a, ecs)
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
}

// ServeDNS and /explain (status.go) take the same steps: clientOf,
// classify, the table's lookup, fallsThrough, reply.

// classify marks a client inside the private networks.
func (g *GSLB) classify(c *policy.Client) {
	if len(g.private) > 0 {
		c.Private, c.PrivateScope = classifyPrivate(*c, g.private)
	}
}

// fallsThrough tells whether an answer goes to the next plugin instead.
func (g *GSLB) fallsThrough(a *table.Answer, qname string) bool {
	return a.Result == table.NXDomain && g.Fall.Through(qname)
}

// reply is the message ServeDNS writes for answer a to query r.
func reply(r *dns.Msg, a *table.Answer, ecs *dns.EDNS0_SUBNET) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Answer, m.Ns, m.Extra = a.Answer, a.Ns, a.Extra
	switch a.Result {
	case table.NXDomain:
		m.Rcode = dns.RcodeNameError
	case table.ServFail:
		m.Rcode = dns.RcodeServerFailure
	}
	if ecs != nil {
		echoECS(m, r, ecs, a.Scope)
	}
	return m
}

// formErr answers FORMERR to a query whose EDNS Client Subnet option is
// malformed (RFC 7871 section 6). The reply carries an OPT record without
// options, as RFC 6891 6.1.1 asks of a reply to a query with one: the
// client learns its EDNS was understood and the option was not.
func formErr(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeFormatError)
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(dns.MinMsgSize)
	if ro := r.IsEdns0(); ro != nil {
		opt.SetUDPSize(max(ro.UDPSize(), dns.MinMsgSize))
	}
	m.Extra = []dns.RR{opt}
	w.WriteMsg(m)
}
