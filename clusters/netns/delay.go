package netns

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/geodrill/geodrill/faults"
)

// Delays without sch_netem: an iptables rule in a region's namespace sends the packets a
// fault slows to a netfilter queue, and a holder in the harness gives each back after the
// delay (nfqueue.go). iptables, not nft: this kernel's nftables has no queue expression,
// while iptables-nft reaches the same queue through the xtables NFQUEUE target. The rule
// has --queue-bypass, so if the harness dies the packets pass instead of vanishing.

// delayed is what one fault installed in one namespace.
type delayed struct {
	ns, hook, chain string
	h               *holder
}

// delayHow is how a delay is made, for the reports.
const delayHow = "held in user space for the delay, in order, by the harness (an iptables NFQUEUE rule in the " +
	"namespace hands each packet over; this kernel has no sch_netem)"

// delayAvailable says why delays cannot be made here, or nil.
func delayAvailable() error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return fmt.Errorf("delays need iptables on PATH for its NFQUEUE target (apt-get install iptables, or `make netns-tools`): %w", err)
	}
	return nil
}

// idHash is fault id's hash: its iptables chain's name and its jitter's seed.
func idHash(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()
}

// chainName is the iptables chain of fault id (at most 28 characters).
func chainName(id string) string { return fmt.Sprintf("GEODRILL-%08x", idHash(id)) }

// delay installs, per region, the rules matching what id slows (iptables match arguments,
// one rule each) on hook (INPUT or OUTPUT), and a holder for them.
func (c *network) delay(ctx context.Context, id, hook string, matches map[string][][]string, latency, jitter time.Duration) error {
	if err := delayAvailable(); err != nil {
		return err
	}
	chain := chainName(id)
	for region, ms := range matches {
		ns := c.ns(region)
		c.mu.Lock()
		c.queues++
		queue := c.queues
		c.mu.Unlock()
		// The jitter is drawn from the fault's id (and the queue): the same fault draws the
		// same delays, whatever else runs.
		h, err := openHolder("/run/netns/"+ns, queue, latency, jitter, uint64(idHash(id)))
		if err != nil {
			return fmt.Errorf("install %s in region %s: %w", id, region, err)
		}
		// Record before the rules so that a half-done install is still removed.
		c.mu.Lock()
		c.delays[id] = append(c.delays[id], delayed{ns: ns, hook: hook, chain: chain, h: h})
		c.mu.Unlock()
		ipt := func(args ...string) error {
			_, err := run(ctx, "ip", append([]string{"netns", "exec", ns, "iptables", "-w"}, args...)...)
			return err
		}
		if err := ipt("-N", chain); err != nil {
			return fmt.Errorf("install %s in region %s: %w", id, region, err)
		}
		for _, m := range ms {
			args := append(append([]string{"-A", chain}, m...), "-j", "NFQUEUE", "--queue-num", strconv.Itoa(int(queue)), "--queue-bypass")
			if err := ipt(args...); err != nil {
				return fmt.Errorf("install %s in region %s: %w", id, region, err)
			}
		}
		if err := ipt("-I", hook, "-j", chain); err != nil {
			return fmt.Errorf("install %s in region %s: %w", id, region, err)
		}
	}
	return nil
}

// undelay removes id's rules, then lets what its holders still keep go on.
func (c *network) undelay(ctx context.Context, id string) error {
	c.mu.Lock()
	ds := c.delays[id]
	delete(c.delays, id)
	c.mu.Unlock()
	var errs []error
	for _, d := range ds {
		for _, args := range [][]string{{"-D", d.hook, "-j", d.chain}, {"-F", d.chain}, {"-X", d.chain}} {
			if err := removeIn(ctx, d.ns, append([]string{"iptables", "-w"}, args...)...); err != nil {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", id, d.ns, err))
			}
		}
		d.h.Close()
	}
	return errors.Join(errs...)
}

// delaysInstalled reads id's chains back from the kernel; ok is false when id has none.
func (c *network) delaysInstalled(ctx context.Context, id string) (ok bool, err error) {
	c.mu.Lock()
	ds := append([]delayed(nil), c.delays[id]...)
	c.mu.Unlock()
	for _, d := range ds {
		if _, err := run(ctx, "ip", "netns", "exec", d.ns, "iptables", "-w", "-C", d.hook, "-j", d.chain); err != nil {
			return true, fmt.Errorf("%s in %s: %w", id, d.ns, err)
		}
	}
	return len(ds) > 0, nil
}

// Held is how many packets fault id's holders have delayed so far.
func (c *network) Held(id string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, d := range c.delays[id] {
		n += d.h.Held()
	}
	return n
}

// SlowRepliesRealisation says how replies on path are delayed here: the reply-loss rules'
// packets (the path's server answering its client), held.
func (c *Cluster) SlowRepliesRealisation(path string) (faults.Realisation, string) {
	where, ok := replyLossPaths[path]
	if !ok {
		return faults.Unavailable, fmt.Sprintf("no path %q", path)
	}
	if err := delayAvailable(); err != nil {
		return faults.Unavailable, err.Error()
	}
	return faults.Exact, "every packet " + where + " (the replies and the TCP acknowledgements of the requests, " +
		"as on a link slow one way) is " + delayHow + "; requests pass at once"
}

// SlowReplies holds every packet from the path's servers to its client.
func (c *Cluster) SlowReplies(ctx context.Context, id string, s faults.SlowReplies) error {
	if how, why := c.SlowRepliesRealisation(s.Path); how == faults.Unavailable {
		return errors.New(why)
	}
	servers, err := c.replyServers(s.Path, s.Region)
	if err != nil {
		return err
	}
	matches := map[string][][]string{}
	for _, sv := range servers {
		matches[sv.region] = append(matches[sv.region], []string{"-d", sv.client, "-p", "tcp", "--sport", sv.port})
	}
	return c.delay(ctx, id, "OUTPUT", matches, s.Latency, 0)
}

// RepliesSlowed reads the fault's rules back from the kernel.
func (c *Cluster) RepliesSlowed(ctx context.Context, id string) error { return c.Degraded(ctx, id) }

// PathRoundTrip times one TCP handshake on path from where its client runs: the server's
// SYN-ACK is the first reply on a fresh connection, and the one the rules catch first (a
// request over TLS would wait for three delayed flights). For the object-store path, the
// slowest of its servers.
func (c *Cluster) PathRoundTrip(ctx context.Context, path, region string) (time.Duration, error) {
	eps := c.Endpoints()
	re, ok := eps.Regions[region]
	if !ok {
		return 0, fmt.Errorf("no region %q", region)
	}
	timeout := faults.MaxSlowReplies + 2*time.Second
	handshake := func(nsPath, addr string) (time.Duration, error) {
		start := time.Now()
		var err error
		if nsPath == "" {
			var conn net.Conn
			d := net.Dialer{Timeout: timeout}
			if conn, err = d.DialContext(ctx, "tcp", addr); err == nil {
				conn.Close()
			}
		} else {
			err = dialIn(ctx, nsPath, addr, timeout)
		}
		return time.Since(start), err
	}
	inRegion := "/run/netns/" + c.ns(region)
	switch path {
	case faults.PathRouterHost:
		return handshake("", hostPort(re.Host))
	case faults.PathHostEtcd:
		return handshake(inRegion, hostPort(re.Etcd))
	case faults.PathHostObjectStore:
		var slowest time.Duration
		for _, r := range c.regions {
			took, err := handshake(inRegion, hostPort(eps.Regions[r].MinIO))
			if err != nil {
				return took, err
			}
			slowest = max(slowest, took)
		}
		return slowest, nil
	}
	return 0, fmt.Errorf("no path %q", path)
}

// hostPort strips a scheme from an endpoint.
func hostPort(addr string) string {
	return strings.TrimPrefix(strings.TrimPrefix(addr, "https://"), "http://")
}
