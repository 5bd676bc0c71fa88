package avisim

import (
	"net/netip"
	"strconv"

	"github.com/vmware/alb-sdk/go/models"
)

// Builders for tests: the shapes AMKO creates (see the README's AMKO section), with Avi's field
// names. Change the returned models for anything they do not cover.

// Service is an enabled GslbService in the admin tenant with one domain
// name, priority pools, ttl unset (Avi's DNS profile default applies) and
// down_response NONE.
func Service(uuid, fqdn string, pools ...*models.GslbPool) *models.GslbService {
	return &models.GslbService{
		UUID:          Str(uuid),
		Name:          Str(fqdn),
		DomainNames:   []string{fqdn},
		Enabled:       Bool(true),
		IsFederated:   Bool(true),
		PoolAlgorithm: Str("GSLB_SERVICE_ALGORITHM_PRIORITY"),
		DownResponse:  &models.GslbServiceDownResponse{Type: Str("GSLB_SERVICE_DOWN_RESPONSE_NONE")},
		Groups:        pools,
	}
}

// Pool is an enabled round-robin pool named amko-gs-group-<priority>.
func Pool(priority uint32, members ...*models.GslbPoolMember) *models.GslbPool {
	return &models.GslbPool{
		Name:      Str("amko-gs-group-" + strconv.FormatUint(uint64(priority), 10)),
		Priority:  U32(priority),
		Enabled:   Bool(true),
		Algorithm: Str("GSLB_ALGORITHM_ROUND_ROBIN"),
		Members:   members,
	}
}

// Member is an enabled member with ratio 1 at the site of clusterUUID ("" for
// a VIP-only member).
func Member(ip, clusterUUID string) *models.GslbPoolMember {
	m := &models.GslbPoolMember{IP: IP(ip), Ratio: U32(1), Enabled: Bool(true)}
	if clusterUUID != "" {
		m.ClusterUUID = Str(clusterUUID)
	}
	return m
}

// IP is an IPAddr of the right type.
func IP(s string) *models.IPAddr {
	t := "V4"
	if a, err := netip.ParseAddr(s); err == nil && a.Is6() && !a.Is4In6() {
		t = "V6"
	}
	return &models.IPAddr{Addr: Str(s), Type: Str(t)}
}
