package cluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/geodrill/geodrill/clusters/kind"
	"github.com/geodrill/geodrill/clusters/kind/chaosmesh"
	"github.com/geodrill/geodrill/faults"
)

// orphanHold is how long a resource holds by itself: the harness deletes each when its
// fault ends; Chaos Mesh ends it on its own only when the harness is gone.
const orphanHold = 10 * time.Minute

// confirmWithin bounds waiting for Chaos Mesh's AllInjected and AllRecovered.
const confirmWithin = 30 * time.Second

// apply puts a fault's resources in place and waits until Chaos Mesh says they act.
func (c *Cluster) apply(ctx context.Context, id string, cs []chaosmesh.Chaos) error {
	c.mu.Lock()
	applier := c.applier
	c.mu.Unlock()
	if applier == nil {
		return fmt.Errorf("kind provider: the clusters are not up")
	}
	if err := applier.Apply(ctx, cs); err != nil {
		return fmt.Errorf("%w (is Chaos Mesh %s installed in every region's cluster? see fixtures/README.md)", err, kind.ChaosMeshVersion)
	}
	c.mu.Lock()
	c.applied[id] = append(c.applied[id], cs...)
	c.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, confirmWithin)
	defer cancel()
	return applier.WaitInjected(wctx, cs)
}

// remove deletes what id applied and waits for Chaos Mesh's AllRecovered (or the
// resources gone).
func (c *Cluster) remove(ctx context.Context, id string) error {
	c.mu.Lock()
	applier, cs := c.applier, c.applied[id]
	delete(c.applied, id)
	c.mu.Unlock()
	if applier == nil || len(cs) == 0 {
		return nil
	}
	if err := applier.Delete(ctx, cs); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, confirmWithin)
	defer cancel()
	return applier.WaitRecovered(wctx, cs)
}

// injected checks that what id applied is in place (AllInjected).
func (c *Cluster) injected(ctx context.Context, id string) error {
	c.mu.Lock()
	applier, cs := c.applier, c.applied[id]
	c.mu.Unlock()
	if len(cs) == 0 {
		return fmt.Errorf("nothing applied for %s", id)
	}
	wctx, cancel := context.WithTimeout(ctx, confirmWithin)
	defer cancel()
	return applier.WaitInjected(wctx, cs)
}

func (c *Cluster) nodeMap() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.nodes))
	for r, ip := range c.nodes {
		out[r] = ip
	}
	return out
}

// PartitionHow describes how partitions are realised, for the report.
func (c *Cluster) PartitionHow() string { return chaosmesh.Realisations["partition"].Why }

// Partition applies a NetworkChaos partition per cut and waits for AllInjected.
func (c *Cluster) Partition(ctx context.Context, id string, cuts []faults.Cut) error {
	cs, err := chaosmesh.PartitionChaos(id, cuts, c.nodeMap(), orphanHold)
	if err != nil {
		return err
	}
	return c.apply(ctx, id, cs)
}

// Heal deletes the partition's resources and waits for AllRecovered.
func (c *Cluster) Heal(ctx context.Context, id string) error { return c.remove(ctx, id) }

// Reachable says whether region from's pods may reach region to: an error while a
// partition resource applied by this cluster cuts from→to (Chaos Mesh's AllInjected is
// the evidence: the harness cannot dial from inside a node without root), nil otherwise.
func (c *Cluster) Reachable(ctx context.Context, from, to string) error {
	c.mu.Lock()
	applier := c.applier
	var cutting []chaosmesh.Chaos
	for _, cs := range c.applied {
		for _, ch := range cs {
			if chaosmesh.Cuts(ch, from, c.nodes[to]) {
				cutting = append(cutting, ch)
			}
		}
	}
	c.mu.Unlock()
	if len(cutting) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, confirmWithin)
	defer cancel()
	if err := applier.WaitInjected(wctx, cutting); err != nil {
		return nil // applied but not acting: reachable, as far as anyone can tell
	}
	return fmt.Errorf("%s → %s cut by %s (AllInjected)", from, to, cutting[0].Object.GetName())
}

// LinkRealisation: Chaos Mesh's tc netem (delay, jitter, loss) and bandwidth.
func (c *Cluster) LinkRealisation(faults.Link) (faults.Realisation, string) {
	r := chaosmesh.Realisations["wan-degradation"]
	return r.How, r.Why
}

// Degrade applies the link's NetworkChaos resources, both ways.
func (c *Cluster) Degrade(ctx context.Context, id string, l faults.Link) error {
	cs, err := chaosmesh.LinkChaos(id, l, c.nodeMap(), orphanHold)
	if err != nil {
		return err
	}
	return c.apply(ctx, id, cs)
}

// Restore deletes the degradation.
func (c *Cluster) Restore(ctx context.Context, id string) error { return c.remove(ctx, id) }

// Degraded confirms the degradation acts (AllInjected).
func (c *Cluster) Degraded(ctx context.Context, id string) error { return c.injected(ctx, id) }

// SetClockOffset shifts region's host's CLOCK_REALTIME by offset with a TimeChaos (0: the
// TimeChaos deleted).
func (c *Cluster) SetClockOffset(ctx context.Context, region string, offset time.Duration) error {
	id := "clock-" + region
	if err := c.remove(ctx, id); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.clocks, region)
	c.mu.Unlock()
	if offset == 0 {
		return nil
	}
	if err := c.apply(ctx, id, []chaosmesh.Chaos{chaosmesh.ClockSkew(id, region, offset, orphanHold)}); err != nil {
		return err
	}
	c.mu.Lock()
	c.clocks[region] = offset
	c.mu.Unlock()
	return nil
}

// ClockOffset is the offset of region's TimeChaos while Chaos Mesh says it acts, else 0.
func (c *Cluster) ClockOffset(ctx context.Context, region string) (time.Duration, error) {
	c.mu.Lock()
	offset := c.clocks[region]
	c.mu.Unlock()
	if offset == 0 {
		return 0, nil
	}
	if err := c.injected(ctx, "clock-"+region); err != nil {
		return 0, err
	}
	return offset, nil
}

// SlowRepliesRealisation: router-host only (a delay NetworkChaos on the host towards the
// router); the others have no way to be measured from here.
func (c *Cluster) SlowRepliesRealisation(path string) (faults.Realisation, string) {
	if path != faults.PathRouterHost {
		return faults.Unavailable, "on kind only router-host: " + chaosmesh.Realisations["slow-replies"].Why
	}
	return faults.Exact, "NetworkChaos delay on the region's host pod towards the router (this machine's address on the kind network)"
}

// SlowReplies applies the delay NetworkChaos of s.
func (c *Cluster) SlowReplies(ctx context.Context, id string, s faults.SlowReplies) error {
	if how, why := c.SlowRepliesRealisation(s.Path); how == faults.Unavailable {
		return fmt.Errorf("slow-replies on %s: %s", s.Path, why)
	}
	routerAddr, err := c.hereOn(s.Region)
	if err != nil {
		return err
	}
	cs, err := chaosmesh.SlowReplies(id, s, c.nodeMap(), routerAddr, orphanHold)
	if err != nil {
		return err
	}
	return c.apply(ctx, id, cs)
}

// RepliesSlowed confirms the delay acts (AllInjected).
func (c *Cluster) RepliesSlowed(ctx context.Context, id string) error { return c.injected(ctx, id) }

// RestoreReplies deletes the delay.
func (c *Cluster) RestoreReplies(ctx context.Context, id string) error { return c.remove(ctx, id) }

// PathRoundTrip times a TCP handshake from this machine (where the router runs) to
// region's host: the SYN-ACK is what the delay holds.
func (c *Cluster) PathRoundTrip(ctx context.Context, path, region string) (time.Duration, error) {
	if path != faults.PathRouterHost {
		return 0, fmt.Errorf("path %s: not measurable on kind", path)
	}
	re, ok := c.Endpoints().Regions[region]
	if !ok {
		return 0, fmt.Errorf("no region %q", region)
	}
	u, err := url.Parse(re.Host)
	if err != nil {
		return 0, err
	}
	began := time.Now()
	conn, err := (&net.Dialer{Timeout: faults.MaxSlowReplies + 5*time.Second}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return 0, err
	}
	took := time.Since(began)
	conn.Close()
	return took, nil
}

// hereOn is this machine's address towards region's node (the router's, as the node sees
// it): the source address the kernel picks for a datagram socket, which sends nothing.
func (c *Cluster) hereOn(region string) (string, error) {
	ip, ok := c.nodeMap()[region]
	if !ok {
		return "", fmt.Errorf("no region %q", region)
	}
	conn, err := net.Dial("udp", net.JoinHostPort(ip, "9"))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String(), nil
}
