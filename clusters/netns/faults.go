package netns

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/geodrill/geodrill/faults"
)

// PartitionHow describes how partitions are realised, for the report.
func (c *network) PartitionHow() string {
	return "nftables drop of the cut regions' packets in each receiving region's network namespace (exact, pairwise)"
}

// table is the nftables table name of a fault in a namespace.
func table(id string) string {
	return "geodrill_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, strings.ToLower(id))
}

// Partition drops every packet of each cut's From at its To, in To's namespace, so a cut
// is one direction and leaves every other pair alone. The router and the harness are not
// regions and are never cut.
func (c *network) Partition(ctx context.Context, id string, cuts []faults.Cut) error {
	from := map[string][]string{} // receiving region → source IPs to drop
	for _, cut := range cuts {
		if c.ip(cut.From) == "127.0.0.1" || c.ip(cut.To) == "127.0.0.1" {
			return fmt.Errorf("cut %s->%s: not a region of this cluster (%s)", cut.From, cut.To, strings.Join(c.regions, ", "))
		}
		from[cut.To] = append(from[cut.To], c.ip(cut.From))
	}
	rules := map[string]string{}
	for to, ips := range from {
		rules[to] = fmt.Sprintf("ip saddr { %s } drop", strings.Join(ips, ", "))
	}
	return c.install(ctx, id, rules)
}

// Heal removes the cuts installed under id.
func (c *network) Heal(ctx context.Context, id string) error { return c.uninstall(ctx, id) }

// Reachable opens a TCP connection from inside region from's namespace to a service of
// region to (the reference stack's etcd client port, a described system's first service):
// nil when it connects within a second.
func (c *network) Reachable(ctx context.Context, from, to string) error {
	addr, err := c.reach(to)
	if err != nil {
		return err
	}
	return dialIn(ctx, "/run/netns/"+c.ns(from), addr, time.Second)
}

// LinkRealisation says how a link's degradation is produced here.
func (c *network) LinkRealisation(l faults.Link) (faults.Realisation, string) {
	var hows []string
	if l.Latency > 0 || l.Jitter > 0 {
		if err := delayAvailable(); err != nil {
			return faults.Unavailable, "latency and jitter: " + err.Error() + "; use loss and bandwidth_kbit here"
		}
		hows = append(hows, "latency: every packet between the two regions, both ways, "+delayHow+
			" in the receiving region's namespace (with jitter: each delay drawn in latency±jitter, "+
			"seeded by the fault's id rather than the scenario seed, never reordered)")
	}
	if l.Loss > 0 {
		hows = append(hows, "loss: nftables numgen random drop in both regions' namespaces (exact)")
	}
	if l.BandwidthKbit > 0 {
		hows = append(hows, "bandwidth: nftables limit policing (drops above the rate, no queueing as a real link would)")
		return faults.Approximate, strings.Join(hows, "; ")
	}
	return faults.Exact, strings.Join(hows, "; ")
}

// Degrade installs loss, a rate cap and a delay on both directions of the link.
func (c *network) Degrade(ctx context.Context, id string, l faults.Link) error {
	if how, why := c.LinkRealisation(l); how == faults.Unavailable {
		return errors.New(why)
	}
	rules := map[string]string{}
	for _, dir := range [][2]string{{l.From, l.To}, {l.To, l.From}} {
		src, dst := dir[0], dir[1]
		var rs []string
		if l.Loss > 0 {
			// numgen counts in permille so a 0.5% loss is expressible.
			rs = append(rs, fmt.Sprintf("ip saddr %s numgen random mod 1000 < %d drop", c.ip(src), int(l.Loss*1000+0.5)))
		}
		if l.BandwidthKbit > 0 {
			rs = append(rs, fmt.Sprintf("ip saddr %s limit rate over %d kbytes/second burst %d kbytes drop",
				c.ip(src), max(1, l.BandwidthKbit/8), max(16, l.BandwidthKbit/64)))
		}
		if len(rs) > 0 {
			rules[dst] = strings.Join(rs, "\n\t\t")
		}
	}
	if err := c.install(ctx, id, rules); err != nil {
		return err
	}
	if l.Latency == 0 && l.Jitter == 0 {
		return nil
	}
	return c.delay(ctx, id, "INPUT", map[string][][]string{
		l.To:   {{"-s", c.ip(l.From), "-d", c.ip(l.To)}},
		l.From: {{"-s", c.ip(l.To), "-d", c.ip(l.From)}},
	}, l.Latency, l.Jitter)
}

// Restore removes the degradation installed under id.
func (c *network) Restore(ctx context.Context, id string) error { return c.uninstall(ctx, id) }

// Degraded reads the degradation's tables and delay rules back from the kernel.
func (c *network) Degraded(ctx context.Context, id string) error {
	c.mu.Lock()
	nss := append([]string(nil), c.tables[id]...)
	c.mu.Unlock()
	held, err := c.delaysInstalled(ctx, id)
	if err != nil {
		return err
	}
	if len(nss) == 0 && !held {
		return fmt.Errorf("nothing installed for %s", id)
	}
	for _, ns := range nss {
		if _, err := run(ctx, "ip", "netns", "exec", ns, "nft", "list", "table", "inet", table(id)); err != nil {
			return fmt.Errorf("%s in %s: %w", id, ns, err)
		}
	}
	return nil
}

// install adds one nftables table named after id to each region's namespace, with rules
// on its input hook. A table per fault keeps overlapping faults independent: healing one
// deletes its table and nothing else.
func (c *network) install(ctx context.Context, id string, rules map[string]string) error {
	return c.installOn(ctx, id, "input", rules)
}

// installOn is install on the given hook (input, or output for what a namespace sends).
func (c *network) installOn(ctx context.Context, id, hook string, rules map[string]string) error {
	for region, rs := range rules {
		ns := c.ns(region)
		// Record before installing so that a half-done install is still removed.
		c.mu.Lock()
		c.tables[id] = append(c.tables[id], ns)
		c.mu.Unlock()
		script := fmt.Sprintf("table inet %s {\n\tchain %s {\n\t\ttype filter hook %s priority -10; policy accept;\n\t\t%s\n\t}\n}\n",
			table(id), hook, hook, rs)
		if _, err := runIn(ctx, []byte(script), "ip", "netns", "exec", ns, "nft", "-f", "-"); err != nil {
			return fmt.Errorf("install %s in region %s: %w", id, region, err)
		}
	}
	return nil
}

func (c *network) uninstall(ctx context.Context, id string) error {
	c.mu.Lock()
	nss := c.tables[id]
	delete(c.tables, id)
	c.mu.Unlock()
	errs := []error{c.undelay(ctx, id)}
	for _, ns := range nss {
		if err := removeIn(ctx, ns, "nft", "delete", "table", "inet", table(id)); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", id, ns, err))
		}
	}
	return errors.Join(errs...)
}

// removeIn runs a removal command inside namespace ns; what is already gone (the table,
// chain or rule, or the namespace itself) is not an error.
func removeIn(ctx context.Context, ns string, args ...string) error {
	_, err := run(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	if err == nil {
		return nil
	}
	for _, gone := range []string{"No such file", "No chain", "does not exist"} {
		if strings.Contains(err.Error(), gone) {
			return nil
		}
	}
	return err
}

// dialIn connects to addr from inside the network namespace at nsPath, and closes the
// connection.
func dialIn(ctx context.Context, nsPath, addr string, timeout time.Duration) error {
	conn, err := connIn(ctx, nsPath, addr, timeout)
	if conn != nil {
		conn.Close()
	}
	return err
}

// connIn connects to addr from inside the network namespace at nsPath.
func connIn(ctx context.Context, nsPath, addr string, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	var derr error
	if err := inNamespace(nsPath, func() {
		d := net.Dialer{Timeout: timeout}
		conn, derr = d.DialContext(ctx, "tcp", addr)
	}); err != nil {
		return nil, err
	}
	return conn, derr
}

// inNamespace runs f on a thread switched into the network namespace at nsPath: a socket
// f creates belongs to that namespace for good, wherever it is used later. The thread is
// switched back before it is released, or, if that fails, left locked so the runtime
// retires it.
func inNamespace(nsPath string, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer home.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open namespace: %w", err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", nsPath, err)
			return
		}
		f()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- nil
	}()
	return <-errc
}

// replyLossPaths says, per path, whose replies the rules match, for the report.
var replyLossPaths = map[string]string{
	faults.PathRouterHost: "in the region's namespace, replies from its host's API port to the caller's namespace " +
		"(the router, and also the harness's own probes of that host, which share the address)",
	faults.PathHostEtcd: "in the region's namespace, replies from its etcd member's client port to the region's own " +
		"address (its host; the router and the harness reach the member from outside and are untouched)",
	faults.PathHostObjectStore: "in every region's namespace, replies from its MinIO to the region's host (checkpoint " +
		"writes to its own store, copies to the others, restores)",
}

// ReplyLossRealisation says how reply loss on path is produced here.
func (c *Cluster) ReplyLossRealisation(path, mode string) (faults.Realisation, string) {
	where, ok := replyLossPaths[path]
	if !ok {
		return faults.Unavailable, fmt.Sprintf("no path %q", path)
	}
	how := "nftables output rules " + where + ": each reply segment that ends a write (PSH), usually a " +
		"whole response, is chosen with the probability (nftables numgen: the kernel's random numbers, not the " +
		"scenario seed), after the request was delivered; "
	switch mode {
	case faults.ReplyReset:
		how += "it is rewritten into an RST (tcp flags set rst), so the client's connection is reset without the " +
			"reply, and so is every later reply on that connection (conntrack mark)"
	case faults.ReplyDrop:
		how += "it and every later reply on that connection (conntrack mark) are dropped; TCP retransmits them " +
			"once the fault ends, if the client still waits"
	default:
		return faults.Unavailable, fmt.Sprintf("no mode %q", mode)
	}
	if c.procs.TLSOn() {
		return faults.Approximate, how + "; but the stack runs with TLS, so the chosen segment may be a handshake's, " +
			"which fails the request before it is sent instead of losing the answer to one that took effect " +
			"(set stack.tls: false for the exact fault)"
	}
	return faults.Exact, how
}

// replyMark is the conntrack mark of the connections fault id chose.
func replyMark(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32() | 1 // never 0, the mark of every other connection
}

// server is a namespace (region) whose replies to client leave from port.
type server struct{ region, port, client string }

// replyServers are the servers of region's path: whose replies reply-loss and slow-replies
// act on.
func (c *Cluster) replyServers(path, region string) ([]server, error) {
	eps := c.Endpoints()
	re, ok := eps.Regions[region]
	if !ok {
		return nil, fmt.Errorf("no region %q", region)
	}
	port := func(addr string) (string, error) {
		_, p, err := net.SplitHostPort(hostPort(addr))
		return p, err
	}
	var servers []server
	switch path {
	case faults.PathRouterHost:
		p, err := port(re.Host)
		if err != nil {
			return nil, err
		}
		servers = append(servers, server{region, p, c.gateway})
	case faults.PathHostEtcd:
		p, err := port(re.Etcd)
		if err != nil {
			return nil, err
		}
		servers = append(servers, server{region, p, c.ip(region)})
	case faults.PathHostObjectStore:
		for _, r := range c.regions {
			p, err := port(eps.Regions[r].MinIO)
			if err != nil {
				return nil, err
			}
			servers = append(servers, server{r, p, c.ip(region)})
		}
	default:
		return nil, fmt.Errorf("no path %q", path)
	}
	return servers, nil
}

// LoseReplies installs, in each namespace that serves l's path, output rules that reset or
// drop a share of the replies to the path's clients.
func (c *Cluster) LoseReplies(ctx context.Context, id string, l faults.ReplyLoss) error {
	if how, why := c.ReplyLossRealisation(l.Path, l.Mode); how == faults.Unavailable {
		return errors.New(why)
	}
	servers, err := c.replyServers(l.Path, l.Region)
	if err != nil {
		return err
	}
	verdict := "drop"
	if l.Mode == faults.ReplyReset {
		verdict = "tcp flags set rst"
	}
	chance := ""
	if permille := int(l.Probability*1000 + 0.5); permille < 1000 {
		chance = fmt.Sprintf(" numgen random mod 1000 < %d", max(1, permille))
	}
	mark := replyMark(id)
	rules := map[string]string{}
	for _, s := range servers {
		match := fmt.Sprintf("ip daddr %s tcp sport %s", s.client, s.port)
		rules[s.region] = fmt.Sprintf("%s ct mark %#x %s\n\t\t%s ct state established tcp flags & psh == psh%s ct mark set %#x %s",
			match, mark, verdict, match, chance, mark, verdict)
	}
	return c.installOn(ctx, id, "output", rules)
}

// LosingReplies reads the fault's tables back from the kernel.
func (c *Cluster) LosingReplies(ctx context.Context, id string) error { return c.Degraded(ctx, id) }

// RestoreReplies removes the fault's tables.
func (c *Cluster) RestoreReplies(ctx context.Context, id string) error { return c.uninstall(ctx, id) }

// PathWorks sends one health request along path from where its client runs: the router's
// namespace for router-host, the region's namespace for its host's paths.
func (c *Cluster) PathWorks(ctx context.Context, path, region string) error {
	eps := c.Endpoints()
	re, ok := eps.Regions[region]
	if !ok {
		return fmt.Errorf("no region %q", region)
	}
	switch path {
	case faults.PathRouterHost:
		return c.ServiceHealthy(ctx, region, "host")
	case faults.PathHostEtcd:
		return c.getIn(ctx, region, eps.Scheme()+"://"+re.Etcd+"/health")
	case faults.PathHostObjectStore:
		var errs []error
		for _, r := range c.regions {
			errs = append(errs, c.getIn(ctx, region, eps.Scheme()+"://"+eps.Regions[r].MinIO+"/minio/health/live"))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("no path %q", path)
}

// getIn GETs url from inside region's namespace over a fresh connection and wants a 200.
func (c *Cluster) getIn(ctx context.Context, region, url string) error {
	ns := "/run/netns/" + c.ns(region)
	tlsCfg, err := c.Endpoints().ClientTLS()
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		Proxy: nil, DisableKeepAlives: true, TLSClientConfig: tlsCfg,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return connIn(ctx, ns, addr, time.Second)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s from region %s: %w", url, region, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s from region %s: status %d", url, region, resp.StatusCode)
	}
	return nil
}
