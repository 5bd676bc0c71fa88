// Package amko reads AMKO's policy objects — GlobalDeploymentPolicy
// (amko.vmware.com/v1alpha2) and GSLBHostRule (amko.vmware.com/v1alpha1) —
// from the leader cluster, so that AMKO users can point gslb at the YAML
// they already have. It decides which Kubernetes objects are GSLB services
// and which settings apply to them (kube.Policy), and publishes the host
// rules' third-party members into the store.
//
// The objects are read with the dynamic client into the plain Go structs
// below (runtime.DefaultUnstructuredConverter): no generated clientset.
package amko

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is AMKO's API group.
const Group = "amko.vmware.com"

// The resources read, at the versions AMKO serves today.
var (
	GDPResource      = schema.GroupVersionResource{Group: Group, Version: "v1alpha2", Resource: "globaldeploymentpolicies"}
	HostRuleResource = schema.GroupVersionResource{Group: Group, Version: "v1alpha1", Resource: "gslbhostrules"}
	ConfigResource   = schema.GroupVersionResource{Group: Group, Version: "v1alpha1", Resource: "gslbconfigs"}
)

// Kinds, as they appear in logs, metrics and status.
const (
	KindGDP      = "GlobalDeploymentPolicy"
	KindHostRule = "GSLBHostRule"
	KindConfig   = "GSLBConfig"
)

// GSLBConfig is AMKO's own configuration. gslb reads memberClusters, the
// kubeconfig contexts AMKO watches; its other fields have Corefile
// counterparts (see the README's AMKO section).
type GSLBConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GSLBConfigSpec `json:"spec"`
}

// GSLBConfigSpec is the spec of a GSLBConfig.
type GSLBConfigSpec struct {
	GSLBLeader          *GSLBLeader     `json:"gslbLeader,omitempty"`
	MemberClusters      []MemberCluster `json:"memberClusters,omitempty"`
	RefreshInterval     *int            `json:"refreshInterval,omitempty"`
	LogLevel            string          `json:"logLevel,omitempty"`
	UseCustomGlobalFqdn *bool           `json:"useCustomGlobalFqdn,omitempty"`
}

// GSLBLeader names the Avi GSLB leader AMKO programs.
type GSLBLeader struct {
	ControllerIP      string `json:"controllerIP,omitempty"`
	ControllerVersion string `json:"controllerVersion,omitempty"`
	Credentials       string `json:"credentials,omitempty"`
	Tenant            string `json:"tenant,omitempty"`
}

// MemberCluster is one kubeconfig context AMKO watches.
type MemberCluster struct {
	ClusterContext string `json:"clusterContext"`
}

// GlobalDeploymentPolicy selects the objects that are GSLB services and
// gives their default settings.
type GlobalDeploymentPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GDPSpec   `json:"spec"`
	Status            GDPStatus `json:"status,omitempty"`
}

// GDPSpec is the spec of a GlobalDeploymentPolicy.
type GDPSpec struct {
	MatchRules            MatchRules             `json:"matchRules,omitempty"`
	MatchClusters         []MatchCluster         `json:"matchClusters,omitempty"`
	TrafficSplit          []TrafficSplit         `json:"trafficSplit,omitempty"`
	TTL                   *int                   `json:"ttl,omitempty"`
	ControlPlaneHmOnly    *bool                  `json:"controlPlaneHmOnly,omitempty"`
	HealthMonitorRefs     []string               `json:"healthMonitorRefs,omitempty"`
	HealthMonitorTemplate *string                `json:"healthMonitorTemplate,omitempty"`
	SitePersistenceRef    *string                `json:"sitePersistenceRef,omitempty"`
	PKIProfileRef         *string                `json:"pkiProfileRef,omitempty"`
	DefaultDomain         string                 `json:"defaultDomain,omitempty"`
	PoolAlgorithmSettings *PoolAlgorithmSettings `json:"poolAlgorithmSettings,omitempty"`
	DownResponse          *DownResponse          `json:"downResponse,omitempty"`
}

// MatchRules select by the object's labels and its namespace's labels.
type MatchRules struct {
	AppSelector       LabelSelector `json:"appSelector,omitempty"`
	NamespaceSelector LabelSelector `json:"namespaceSelector,omitempty"`
}

// LabelSelector is AMKO's selector: every label must match.
type LabelSelector struct {
	Label map[string]string `json:"label,omitempty"`
}

// MatchCluster names a member cluster by its kubeconfig context.
type MatchCluster struct {
	Cluster     string `json:"cluster"`
	SyncVipOnly bool   `json:"syncVipOnly,omitempty"`
}

// TrafficSplit gives a cluster's weight and priority.
type TrafficSplit struct {
	Cluster  string `json:"cluster"`
	Weight   *int   `json:"weight,omitempty"`
	Priority *int   `json:"priority,omitempty"`
}

// PoolAlgorithmSettings is the GSLB service's load-balancing algorithm.
type PoolAlgorithmSettings struct {
	LBAlgorithm string       `json:"lbAlgorithm,omitempty"`
	HashMask    *int         `json:"hashMask,omitempty"`
	GeoFallback *GeoFallback `json:"geoFallback,omitempty"`
}

// GeoFallback is the algorithm for clients no geo (topology) rule matches.
type GeoFallback struct {
	LBAlgorithm string `json:"lbAlgorithm,omitempty"`
	HashMask    *int   `json:"hashMask,omitempty"`
}

// DownResponse is the answer while no member is healthy.
type DownResponse struct {
	Type       string `json:"type"`
	FallbackIP string `json:"fallbackIP,omitempty"`
}

// GDPStatus is what AMKO writes back: "success" or the rejection reason.
type GDPStatus struct {
	ErrorStatus string `json:"errorStatus,omitempty"`
}

// GSLBHostRule overrides the settings of one GSLB service (FQDN).
type GSLBHostRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GSLBHostRuleSpec   `json:"spec"`
	Status            GSLBHostRuleStatus `json:"status,omitempty"`
}

// GSLBHostRuleSpec is the spec of a GSLBHostRule.
type GSLBHostRuleSpec struct {
	Fqdn                  string                 `json:"fqdn"`
	TTL                   *int                   `json:"ttl,omitempty"`
	SitePersistence       *SitePersistence       `json:"sitePersistence,omitempty"`
	ThirdPartyMembers     []ThirdPartyMember     `json:"thirdPartyMembers,omitempty"`
	ControlPlaneHmOnly    *bool                  `json:"controlPlaneHmOnly,omitempty"`
	HealthMonitorRefs     []string               `json:"healthMonitorRefs,omitempty"`
	HealthMonitorTemplate *string                `json:"healthMonitorTemplate,omitempty"`
	PoolAlgorithmSettings *PoolAlgorithmSettings `json:"poolAlgorithmSettings,omitempty"`
	TrafficSplit          []TrafficSplit         `json:"trafficSplit,omitempty"`
	PublicIP              []PublicIP             `json:"publicIP,omitempty"`
	DownResponse          *DownResponse          `json:"downResponse,omitempty"`
}

// SitePersistence is an Avi application persistence profile: not modelled.
type SitePersistence struct {
	Enabled       bool    `json:"enabled"`
	ProfileRef    string  `json:"profileRef,omitempty"`
	PKIProfileRef *string `json:"pkiProfileRef,omitempty"`
}

// ThirdPartyMember is a member outside Kubernetes, at a named site.
type ThirdPartyMember struct {
	VIP      string `json:"vip"`
	Site     string `json:"site"`
	PublicIP string `json:"publicIP,omitempty"`
}

// PublicIP is the address answered for a cluster's member (NAT).
type PublicIP struct {
	Cluster string `json:"cluster"`
	IP      string `json:"ip"`
}

// GSLBHostRuleStatus is what AMKO writes back: Accepted or Rejected, with
// the reason.
type GSLBHostRuleStatus struct {
	Error  string `json:"error,omitempty"`
	Status string `json:"status,omitempty"`
}

// Host rule status values, as AMKO writes them.
const (
	StatusAccepted = "Accepted"
	StatusRejected = "Rejected"
	// GDPSuccess is AMKO's errorStatus of an accepted GDP.
	GDPSuccess = "success"
)

// fromUnstructured converts an informer object into one of the structs.
func fromUnstructured(obj map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into)
}
