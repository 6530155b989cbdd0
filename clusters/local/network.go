package local

import (
	"net"
	"strconv"

	"github.com/geodrill/geodrill/clusters"
)

// Network places each region's services in a network of its own; clusters/netns provides
// one (a network namespace per region). The router and every probe stay in the caller's
// namespace and reach the regions at their IPs.
type Network struct {
	// IP is the address region's services listen on.
	IP func(region string) string
	// Command wraps a service's command line so it runs inside region's network, e.g.
	// ip netns exec NAME path args... (which execs, keeping the pid the supervisor
	// signals).
	Command func(region, path string, args []string) (string, []string)
	// TLSDefault: the stack runs with mutual TLS unless its configuration says otherwise.
	TLSDefault bool
	// Start, when set, starts every service (the router too, with Region "") instead of a
	// child process of the harness: the docker provider runs each in a container. Command
	// is then not used.
	Start func(svc Service) (Proc, error)
}

// Service is one start of one service, as Network.Start gets it: its binary and arguments
// (paths on this machine: the run directory and the binaries directory), the environment
// it adds, and the log file its output goes to.
type Service struct {
	Region, Name string // Region "" for the router
	Path         string
	Args, Env    []string
	Dir, Log     string
}

// NewIn is New with each region's services placed by n.
func NewIn(s clusters.Spec, n Network) (*Cluster, error) {
	c, err := New(s)
	if err != nil {
		return nil, err
	}
	c.net = n
	return c, nil
}

// addrIn returns how to form host:port for region's services.
func (c *Cluster) addrIn(region string) func(port int) string {
	ip := "127.0.0.1"
	if c.net.IP != nil {
		ip = c.net.IP(region)
	}
	return func(port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
}

// command is the command line that starts s (inside its region's network, if any).
func (c *Cluster) command(s *service, restart bool) (string, []string) {
	if c.net.Command == nil || s.region == "" {
		return s.path, s.args(restart)
	}
	return c.net.Command(s.region, s.path, s.args(restart))
}
