package lab

import (
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes one kubeconfig with a cluster, user and context
// per lab cluster, all credentials embedded (like `kubectl config view
// --flatten`) so the file alone is enough: it is what the plugin reads as
// its member-cluster secret. The first cluster is the current context.
func writeKubeconfig(path string, clusters []*Cluster) error {
	cfg := clientcmdapi.NewConfig()
	for i, c := range clusters {
		cfg.Clusters[c.Name] = &clientcmdapi.Cluster{
			Server:                   c.APIServerURL,
			CertificateAuthorityData: c.pki.caPEM,
		}
		cfg.AuthInfos[c.User] = &clientcmdapi.AuthInfo{
			ClientCertificateData: c.pki.adminCert,
			ClientKeyData:         c.pki.adminKey,
		}
		cfg.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.User}
		if i == 0 {
			cfg.CurrentContext = c.Context
		}
	}
	return clientcmd.WriteToFile(*cfg, path)
}
