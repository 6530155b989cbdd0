// Package netns is the root-only provider: every region runs in a network namespace of its
// own, wired to a bridge in the caller's namespace by a veth pair. The router and the
// harness stay in the caller's namespace and reach every region at its IP. Partitions are
// exact and pairwise: nftables drops in the receiving region's namespace. Links are
// degraded with nftables (loss, bandwidth policing) and delayed by holding packets in the
// harness (delay.go, nfqueue.go; no sch_netem needed), which also slows one path's replies.
//
// Everything created is named with the geodrill prefix and a per-cluster tag, and removed
// by Down on every exit path; Leftovers and Cleanup find what a killed harness left behind.
package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/local"
)

// Prefix starts the name of every namespace this provider creates; bridges and veths
// start with LinkPrefix (interface names are limited to 15 bytes).
const (
	Prefix     = "geodrill-"
	LinkPrefix = "gd"
)

// Cluster is the netns provider: the stack's processes, started and supervised by the local
// provider's supervisor with each region's inside its own namespace, plus the network this
// provider builds around them. It composes the local cluster rather than embedding it, so
// its method set is exactly what it can do (stack.go forwards the process capabilities;
// faults.go adds the packet-level ones).
type Cluster struct {
	*network
	procs *local.Cluster
}

// network is the regions' namespaces and what faults do inside them: what a Cluster (the
// reference stack) and a System (a described one) share.
type network struct {
	tag     string // 6 hex digits naming this cluster's namespaces and links
	subnet  int    // the third octet of 10.213.<subnet>.0/24
	regions []string
	fabric  Fabric // nil: this package's bridge and veths
	// reach is the address in region that Reachable dials.
	reach func(region string) (string, error)

	ips     map[string]string // region -> its namespace's address, set by Up
	gateway string            // the caller's namespace's address on the regions' network

	mu      sync.Mutex
	created bool
	tables  map[string][]string  // fault id → namespaces holding its nftables table
	delays  map[string][]delayed // fault id → its delay rules and holders
	queues  uint16               // the last netfilter queue number handed out
}

// Fabric builds the regions' network namespaces some other way than this package's bridge
// and veths, and starts the stack's services in them: the docker provider's Docker network
// with one holding container per region, whose namespace the region's service containers
// join. Everything else (partitions, degradations, reply loss, reachability) is this
// package's, done with nftables inside the namespaces the fabric made.
type Fabric interface {
	// Wire makes one network namespace per region, reachable from the caller's namespace
	// and named ns(region) under /run/netns; it returns each region's address and the
	// caller's (gateway) address on their network.
	Wire(ctx context.Context, regions []string, ns func(region string) string) (ips map[string]string, gateway string, err error)
	// Unwire removes everything Wire made. It is idempotent.
	Unwire(ctx context.Context) error
	// Start starts one service of the stack (local.Network.Start).
	Start(svc local.Service) (local.Proc, error)
}

// Available reports whether this process can run the provider, and if not why.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("netns needs root (network namespaces, veths, nftables)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("netns needs %q on PATH (apt-get install iproute2 nftables, or `make netns-tools`): %w", tool, err)
		}
	}
	return nil
}

// New checks the spec and the machine; it creates nothing until Up.
func New(s clusters.Spec) (*Cluster, error) {
	return NewOn(s, nil, "")
}

// NewOn is New with the namespaces built by f (nil: this package's bridge and veths) and
// tag naming them (""; drawn at random).
func NewOn(s clusters.Spec, f Fabric, tag string) (*Cluster, error) {
	nw, err := newNetwork(s.Regions, f, tag)
	if err != nil {
		return nil, err
	}
	c := &Cluster{network: nw}
	nw.reach = func(region string) (string, error) {
		re, ok := c.Endpoints().Regions[region]
		if !ok {
			return "", fmt.Errorf("no region %q", region)
		}
		return re.Etcd, nil
	}
	n := nw.placement()
	// Links between namespaces are links between machines: mutual TLS unless the stack's
	// configuration turns it off (stack.tls: false).
	n.TLSDefault = true
	lc, err := local.NewIn(s, n)
	if err != nil {
		return nil, err
	}
	c.procs = lc
	return c, nil
}

// newNetwork checks the machine and names the network; it creates nothing.
func newNetwork(regions []string, f Fabric, tag string) (*network, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if tag == "" {
		b := make([]byte, 3)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		tag = hex.EncodeToString(b)
	}
	return &network{tag: tag, regions: append([]string(nil), regions...), tables: map[string][]string{},
		delays: map[string][]delayed{}, fabric: f}, nil
}

// placement puts each region's services in its namespace (or starts them on the fabric).
func (c *network) placement() local.Network {
	n := local.Network{
		IP: c.ip,
		Command: func(region, path string, args []string) (string, []string) {
			return "ip", append([]string{"netns", "exec", c.ns(region), path}, args...)
		},
	}
	if c.fabric != nil {
		n.Command, n.Start = nil, c.fabric.Start
	}
	return n
}

// Tag names this cluster's namespaces (and, on a fabric, what it creates).
func (c *network) Tag() string { return c.tag }

func (c *network) ns(region string) string { return Prefix + c.tag + "-" + region }
func (c *network) bridge() string          { return LinkPrefix + c.tag }
func (c *network) ip(region string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ip, ok := c.ips[region]; ok {
		return ip
	}
	return "127.0.0.1" // the router: the caller's namespace
}

// Up creates the namespaces and links, then starts the stack inside them. On failure
// everything created is removed.
func (c *Cluster) Up(ctx context.Context) error {
	if err := c.wire(ctx); err != nil {
		return err
	}
	return c.procs.Up(ctx) // Down (which callers run after a failed Up) removes the network
}

// Down stops every process, then removes every namespace, link and rule. It runs the
// network teardown even when stopping processes failed.
func (c *Cluster) Down(ctx context.Context) error {
	derr := c.procs.Down(ctx)
	return errors.Join(derr, c.destroyNetwork())
}

// wire creates the namespaces and links (on the fabric, if any); on failure it removes what
// it created.
func (c *network) wire(ctx context.Context) error {
	if c.fabric != nil {
		c.mu.Lock()
		c.created = true
		c.mu.Unlock()
		ips, gw, err := c.fabric.Wire(ctx, c.regions, c.ns)
		if err != nil {
			return errors.Join(err, c.destroyNetwork())
		}
		c.mu.Lock()
		c.ips, c.gateway = ips, gw
		c.mu.Unlock()
		return nil
	}
	if err := c.createNetwork(ctx); err != nil {
		return errors.Join(err, c.destroyNetwork())
	}
	return nil
}

// subnetMu serialises subnet choice within this process; across processes a clash shows
// up as `ip addr add` failing, and Up then tries another subnet.
var subnetMu sync.Mutex

func (c *network) createNetwork(ctx context.Context) error {
	subnetMu.Lock()
	defer subnetMu.Unlock()
	used, err := run(ctx, "ip", "-o", "-4", "addr", "show")
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.created = true // from here on, teardown has something to look for
	c.mu.Unlock()
	br := c.bridge()
	if _, err := run(ctx, "ip", "link", "add", br, "type", "bridge"); err != nil {
		return fmt.Errorf("create bridge %s: %w", br, err)
	}
	for n := int(c.tag[0])%200 + 1; ; n++ {
		if n > 250 {
			return errors.New("no free 10.213.N.0/24 subnet for the regions (run `harness down` to remove leftovers)")
		}
		if strings.Contains(used, fmt.Sprintf(" 10.213.%d.", n)) {
			continue
		}
		c.subnet = n
		if _, err := run(ctx, "ip", "addr", "add", fmt.Sprintf("10.213.%d.1/24", n), "dev", br); err == nil {
			break
		}
	}
	c.mu.Lock()
	c.ips, c.gateway = map[string]string{}, fmt.Sprintf("10.213.%d.1", c.subnet)
	for i, r := range c.regions {
		c.ips[r] = fmt.Sprintf("10.213.%d.%d", c.subnet, 10+i)
	}
	c.mu.Unlock()
	if _, err := run(ctx, "ip", "link", "set", br, "up"); err != nil {
		return err
	}
	if err := allowForward(ctx, br); err != nil {
		return fmt.Errorf("let the regions' frames through iptables' FORWARD: %w", err)
	}
	for i, r := range c.regions {
		ns, host, peer := c.ns(r), fmt.Sprintf("%s%dh", br, i), fmt.Sprintf("%s%dn", br, i)
		steps := [][]string{
			{"ip", "netns", "add", ns},
			{"ip", "link", "add", host, "type", "veth", "peer", "name", peer},
			{"ip", "link", "set", peer, "netns", ns},
			{"ip", "link", "set", host, "master", br, "up"},
			{"ip", "-n", ns, "link", "set", "lo", "up"},
			{"ip", "-n", ns, "link", "set", peer, "name", "eth0"},
			{"ip", "-n", ns, "addr", "add", c.ip(r) + "/24", "dev", "eth0"},
			{"ip", "-n", ns, "link", "set", "eth0", "up"},
		}
		for _, s := range steps {
			if _, err := run(ctx, s[0], s[1:]...); err != nil {
				return fmt.Errorf("wire region %s: %w", r, err)
			}
		}
	}
	return nil
}

// destroyNetwork removes this cluster's namespaces (and with them their veth ends and
// nftables tables) and its bridge. It is idempotent and ignores what is already gone.
func (c *network) destroyNetwork() error {
	c.mu.Lock()
	created := c.created
	c.created = false
	c.tables = map[string][]string{}
	c.mu.Unlock()
	if !created {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.fabric != nil {
		return c.fabric.Unwire(ctx)
	}
	return errors.Join(removeMatching(ctx, Prefix+c.tag+"-", c.bridge()), dropForward(ctx, c.bridge()))
}

// Leftovers lists the namespaces and links of any netns cluster on this machine (from this
// process or one that was killed).
func Leftovers(ctx context.Context) (namespaces, links []string, err error) {
	out, err := run(ctx, "ip", "netns", "list")
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], Prefix) {
			namespaces = append(namespaces, f[0])
		}
	}
	out, err = run(ctx, "ip", "-o", "link", "show")
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		// "7: gdab12cd: <BROADCAST,..." or "8: gdab12cd0h@if2: ..."
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if isOurLink(name) {
			links = append(links, name)
		}
	}
	return namespaces, links, nil
}

// isOurLink matches gd + 6 hex digits, optionally + region index + h.
func isOurLink(name string) bool {
	if !strings.HasPrefix(name, LinkPrefix) || len(name) < len(LinkPrefix)+6 {
		return false
	}
	for _, r := range name[len(LinkPrefix) : len(LinkPrefix)+6] {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	rest := name[len(LinkPrefix)+6:]
	return rest == "" || strings.HasSuffix(rest, "h")
}

// Cleanup removes the netns namespaces and links that no running cluster uses: `harness
// down` after a harness was killed (its processes died with it, through Pdeathsig). A
// namespace that still holds processes belongs to a live run and is left alone, with its
// links.
func Cleanup(ctx context.Context) (removed []string, err error) {
	nss, links, err := Leftovers(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	busy := map[string]bool{} // tags of live clusters
	for _, ns := range nss {
		tag := strings.SplitN(strings.TrimPrefix(ns, Prefix), "-", 2)[0]
		if pids, err := run(ctx, "ip", "netns", "pids", ns); err == nil && strings.TrimSpace(pids) != "" {
			busy[tag] = true
			continue
		}
		if _, err := run(ctx, "ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, ns)
	}
	for _, br := range forwardLeftovers(ctx) {
		if len(br) < len(LinkPrefix)+6 || busy[br[len(LinkPrefix):len(LinkPrefix)+6]] {
			continue
		}
		if err := dropForward(ctx, br); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "iptables FORWARD accept for "+br)
	}
	for _, l := range links {
		if busy[l[len(LinkPrefix):len(LinkPrefix)+6]] {
			continue
		}
		if _, err := run(ctx, "ip", "link", "del", l); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, l)
	}
	return removed, errors.Join(errs...)
}

// removeMatching deletes the namespaces starting with nsPrefix, then every link whose name
// starts with bridge: the bridge and the host ends of the veths. The host ends are deleted
// explicitly because a deleted namespace is torn down by the kernel asynchronously, and
// its veth pairs with it.
func removeMatching(ctx context.Context, nsPrefix, bridge string) error {
	nss, links, err := Leftovers(ctx)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		if strings.HasPrefix(ns, nsPrefix) {
			if _, err := run(ctx, "ip", "netns", "del", ns); err != nil {
				errs = append(errs, fmt.Errorf("remove namespace %s: %w", ns, err))
			}
		}
	}
	for _, l := range links {
		if !strings.HasPrefix(l, bridge) {
			continue
		}
		if _, err := run(ctx, "ip", "link", "del", l); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, fmt.Errorf("remove link %s: %w", l, err))
		}
	}
	return errors.Join(errs...)
}

// run runs a command and returns its stdout; the error carries stderr.
func run(ctx context.Context, name string, args ...string) (string, error) {
	return runIn(ctx, nil, name, args...)
}

func runIn(ctx context.Context, stdin []byte, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Names are the namespaces and the bridge this cluster creates.
func (c *network) Names() (namespaces []string, bridge string) {
	for _, r := range c.regions {
		namespaces = append(namespaces, c.ns(r))
	}
	return namespaces, c.bridge()
}
