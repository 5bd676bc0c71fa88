package lab

import (
	"fmt"
	"net"
	"strconv"
)

// EnvBasePort is the variable the gslb-lab command reads as the default for
// -base-port; error messages name it so a user knows what to change.
const EnvBasePort = "GSLB_LAB_BASE_PORT"

// portsPerCluster: kube-apiserver, etcd client, etcd peer.
const portsPerCluster = 3

// clusterPorts are one cluster's loopback ports. They stay fixed for the
// cluster's life so a restart comes back at the same URL.
type clusterPorts struct {
	apiserver, etcdClient, etcdPeer int
}

// freePorts asks the kernel for n distinct free loopback ports. All
// listeners stay open until every port is chosen, so no port is handed out
// twice; the small window between closing and the child binding is covered
// by retrying the start (see startWithRetry).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// fixedPorts lays out cluster i at base+3i (apiserver), +1 (etcd client),
// +2 (etcd peer), so a demo's URLs are predictable.
func fixedPorts(base, i int) clusterPorts {
	p := base + portsPerCluster*i
	return clusterPorts{apiserver: p, etcdClient: p + 1, etcdPeer: p + 2}
}

// checkPortFree fails with a message that names the port, its role and how
// to pick another range.
func checkPortFree(port int, role string) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return &portInUseError{msg: fmt.Sprintf("port 127.0.0.1:%d (%s) is in use: %v; stop whatever holds it or choose another base port (Options.BasePort, gslb-lab -base-port or %s; 0 picks free ports)",
			port, role, err, EnvBasePort)}
	}
	return l.Close()
}
