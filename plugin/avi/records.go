package avi

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/gslb/gslb/plugin/model"
	"github.com/vmware/alb-sdk/go/models"
)

// Avi's defaults for fields a controller may leave out.
const (
	aviDefaultPriority = 10 // GslbPool.priority
	aviDefaultRatio    = 1  // GslbPoolMember.ratio
	aviDefaultNumDNSIP = 1  // GslbService.num_dns_ip
	// UnknownSite names members that belong to no Avi site: VIP-only
	// (third-party, AMKO syncVipOnly) members without a cluster_uuid for
	// which the runtime names no site either.
	UnknownSite = "avi"
	operUp      = "OPER_UP"
)

// SiteNamer turns a member's cluster uuid (and the site name the runtime
// reports for it, if any) into the site name used in answers and metrics.
type SiteNamer func(clusterUUID, runtimeSite string) string

// Extracted is what one GslbService contributes.
type Extracted struct {
	Records []model.Record
	// Ignored counts domain names outside every served zone, wildcard or
	// invalid names, and members without a usable address.
	Ignored int
}

// FromService maps one GslbService and its runtime (nil when none is known
// yet) to records; see the package documentation for the rules.
//
// check, when set, is the probe every member with an address gets (the
// Corefile's forced health_check); Avi's verdict stays an input beside it.
func FromService(gs *models.GslbService, rt *models.GslbServiceRuntime, site SiteNamer, inZone func(string) bool, check model.Check) Extracted {
	var out Extracted
	if gs == nil || !isTrue(gs.Enabled, true) {
		return out
	}
	// SRV services answer SRV records, which this plugin does not serve.
	if t := str(gs.RecordType); t != "" && !strings.EqualFold(t, "GSLB_SERVICE_RECORD_TYPE_A_AAAA_CNAME") {
		return out
	}
	var names []string
	seen := map[string]bool{}
	for _, d := range gs.DomainNames {
		fqdn, ok := model.HostName(d)
		if !ok || !inZone(fqdn) {
			out.Ignored++
			continue
		}
		if !seen[fqdn] {
			seen[fqdn] = true
			names = append(names, fqdn)
		}
	}
	if len(names) == 0 {
		return out
	}
	ov := serviceOverrides(gs)
	status := runtimeStatus(rt)

	type member struct {
		m        model.Member
		public   netip.Addr
		weight   int
		priority int
		down     bool
	}
	var members []member
	for _, g := range gs.Groups {
		if g == nil || !isTrue(g.Enabled, true) {
			continue
		}
		prio := min(int(num(g.Priority, aviDefaultPriority)), model.MaxPriority)
		for _, pm := range g.Members {
			if pm == nil || !isTrue(pm.Enabled, true) {
				continue
			}
			m, public, key, ok := memberOf(pm)
			if !ok {
				out.Ignored++
				continue
			}
			state, rtSite := status.lookup(str(g.Name), key)
			m.Site = site(str(pm.ClusterUUID), rtSite)
			members = append(members, member{
				m:        m,
				public:   public,
				weight:   min(max(int(num(pm.Ratio, aviDefaultRatio)), 1), model.MaxWeight),
				priority: prio,
				// No runtime entry yet (a new service, or runtime
				// not readable): Avi has no verdict, so up.
				down: state != "" && state != operUp,
			})
		}
	}
	for _, fqdn := range names {
		for _, m := range members {
			o := ov
			o.Weight, o.Priority = model.Some(m.weight), model.Some(m.priority)
			r := model.Record{FQDN: fqdn, Member: m.m, Public: m.public, Overrides: o, SourceDown: m.down}
			if !m.m.IsAlias() {
				r.Check = check
			}
			out.Records = append(out.Records, r)
		}
	}
	return out
}

// serviceOverrides are the settings every record of the service carries.
func serviceOverrides(gs *models.GslbService) model.Overrides {
	var o model.Overrides
	if gs.TTL != nil {
		o.TTL = model.Some(min(int(*gs.TTL), model.MaxTTL))
	}
	// Avi's DNS profile answers one address per query unless num_dns_ip
	// says otherwise (0 = all), and AMKO leaves it unset: so does the
	// walkthrough's dig, alternating between the sites.
	o.Answers = model.Some(min(int(num(gs.NumDNSIP, aviDefaultNumDNSIP)), model.MaxAnswers))
	o.Down = downResponse(gs.DownResponse)
	if g := leadingGroup(gs.Groups); g != nil {
		o.Algorithm, o.Fallback, o.HashMask4, o.HashMask6 = groupAlgorithm(g)
	}
	return o
}

// leadingGroup is the enabled group with the highest priority that has an
// enabled member: our model has one algorithm per name, and this is the
// pool that answers while it is up. Ties go to the first listed.
func leadingGroup(groups []*models.GslbPool) *models.GslbPool {
	var best *models.GslbPool
	for _, g := range groups {
		if g == nil || !isTrue(g.Enabled, true) || !slices.ContainsFunc(g.Members, func(m *models.GslbPoolMember) bool { return m != nil && isTrue(m.Enabled, true) }) {
			continue
		}
		if best == nil || num(g.Priority, aviDefaultPriority) > num(best.Priority, aviDefaultPriority) {
			best = g
		}
	}
	return best
}

// groupAlgorithm maps a pool's algorithm. Avi's round robin honours member
// ratios, so a round-robin pool whose enabled members have different ratios
// becomes a weighted pick; with equal ratios it stays a rotation of all.
func groupAlgorithm(g *models.GslbPool) (alg, fallback model.Algorithm, m4, m6 model.Opt) {
	switch strings.ToUpper(str(g.Algorithm)) {
	case "GSLB_ALGORITHM_ROUND_ROBIN", "":
		alg = model.RoundRobin
		ratio := -1
		for _, m := range g.Members {
			if m == nil || !isTrue(m.Enabled, true) {
				continue
			}
			r := int(num(m.Ratio, aviDefaultRatio))
			if ratio >= 0 && r != ratio {
				alg = model.Weighted
			}
			ratio = r
		}
	case "GSLB_ALGORITHM_CONSISTENT_HASH":
		alg = model.ConsistentHash
	case "GSLB_ALGORITHM_GEO", "GSLB_ALGORITHM_TOPOLOGY":
		// Avi's geo database and topology policies are not read: the
		// Corefile's topology rules decide, else the fallback.
		alg = model.Topology
		switch strings.ToUpper(str(g.FallbackAlgorithm)) {
		case "GSLB_ALGORITHM_CONSISTENT_HASH":
			fallback = model.ConsistentHash
		case "GSLB_ALGORITHM_ROUND_ROBIN":
			fallback = model.RoundRobin
		}
	case "GSLB_ALGORITHM_PREFERENCE_ORDER":
		// preference_order is not modelled: all members rotate.
		alg = model.RoundRobin
	default:
		return model.AlgorithmUnset, model.AlgorithmUnset, m4, m6 // the Corefile's policy
	}
	if alg == model.ConsistentHash || fallback == model.ConsistentHash {
		if n := num(g.ConsistentHashMask, 0); n >= 1 && n <= 32 {
			m4 = model.Some(int(n))
		}
		if n := num(g.ConsistentHashMask6, 0); n >= 1 && n <= 128 {
			m6 = model.Some(int(n))
		}
	}
	return alg, fallback, m4, m6
}

// downResponse maps GslbServiceDownResponse. Public fallback addresses win
// over private ones, as public_ip does for members. An unknown or
// incomplete response leaves the Corefile's down_response in force.
func downResponse(d *models.GslbServiceDownResponse) model.Down {
	if d == nil {
		return model.Down{}
	}
	switch strings.ToUpper(str(d.Type)) {
	case "GSLB_SERVICE_DOWN_RESPONSE_NONE":
		return model.Down{Kind: model.DownNone}
	case "GSLB_SERVICE_DOWN_RESPONSE_ALL_RECORDS":
		return model.Down{Kind: model.DownAllRecords}
	case "GSLB_SERVICE_DOWN_RESPONSE_EMPTY":
		return model.Down{Kind: model.DownEmpty}
	case "GSLB_SERVICE_DOWN_RESPONSE_CNAME":
		if t, ok := model.HostName(str(d.FallbackCname)); ok {
			return model.Down{Kind: model.DownCNAME, Target: t}
		}
	case "GSLB_SERVICE_DOWN_RESPONSE_FALLBACK_IP":
		out := model.Down{Kind: model.DownFallback}
		for _, ip := range []*models.IPAddr{d.PublicFallbackIP, d.PublicFallbackIp6, d.FallbackIP, d.FallbackIp6} {
			a, ok := addr(ip)
			switch {
			case !ok:
			case a.Is4() && !out.V4.IsValid():
				out.V4 = a
			case a.Is6() && !out.V6.IsValid():
				out.V6 = a
			}
		}
		if out.V4.IsValid() || out.V6.IsValid() {
			return out
		}
	}
	return model.Down{}
}

// memberOf returns the member's answer (public_ip, else ip, else fqdn as a
// CNAME target) and the key its runtime entry is found by (ip, else fqdn).
//
// A member behind NAT (public_ip) is its ip, answered inside the private
// networks and probed, with the public address answered outside them, as
// Avi does; one with a public_ip but no ip of that family is the public
// address alone.
func memberOf(pm *models.GslbPoolMember) (m model.Member, public netip.Addr, key string, ok bool) {
	ip, hasIP := addr(pm.IP)
	if hasIP {
		key = ip.String()
	} else if f, ok := model.HostName(str(pm.Fqdn)); ok {
		key = f
	}
	if pm.PublicIP != nil {
		if a, ok := addr(pm.PublicIP.IP); ok {
			if hasIP && ip.Is4() == a.Is4() {
				return model.Member{Addr: ip}, a, key, true
			}
			return model.Member{Addr: a}, netip.Addr{}, key, key != ""
		}
	}
	if hasIP {
		return model.Member{Addr: ip}, netip.Addr{}, key, true
	}
	if key != "" {
		return model.Member{Target: key}, netip.Addr{}, key, true
	}
	return model.Member{}, netip.Addr{}, "", false
}

func addr(ip *models.IPAddr) (netip.Addr, bool) {
	if ip == nil || ip.Addr == nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(strings.TrimSpace(*ip.Addr))
	if err != nil || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// memberStatus is a service's runtime, indexed for lookups.
type memberStatus struct {
	byGroup map[string]map[string]memberState
	byKey   map[string]memberState
}

type memberState struct{ state, site string }

func runtimeStatus(rt *models.GslbServiceRuntime) memberStatus {
	st := memberStatus{byGroup: map[string]map[string]memberState{}, byKey: map[string]memberState{}}
	if rt == nil {
		return st
	}
	for _, g := range rt.Groups {
		if g == nil {
			continue
		}
		name := str(g.Name)
		for _, m := range g.Members {
			if m == nil || m.OperStatus == nil || str(m.OperStatus.State) == "" {
				continue
			}
			key := ""
			if a, ok := addr(m.IP); ok {
				key = a.String()
			} else if f, ok := model.HostName(str(m.Fqdn)); ok {
				key = f
			}
			if key == "" {
				continue
			}
			s := memberState{state: strings.ToUpper(str(m.OperStatus.State)), site: str(m.SiteName)}
			if st.byGroup[name] == nil {
				st.byGroup[name] = map[string]memberState{}
			}
			st.byGroup[name][key] = s
			if _, dup := st.byKey[key]; !dup {
				st.byKey[key] = s
			}
		}
	}
	return st
}

// lookup finds a member's runtime state by group and key, or by key alone
// when the runtime's group names differ from the configuration's.
func (st memberStatus) lookup(group, key string) (state, site string) {
	if s, ok := st.byGroup[group][key]; ok {
		return s.state, s.site
	}
	s := st.byKey[key]
	return s.state, s.site
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func num(p *uint32, def uint32) uint32 {
	if p == nil {
		return def
	}
	return *p
}

func isTrue(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
