package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/geodrill/geodrill/refstack/api"
)

// region returns the region's services if the cluster is up.
func (c *Cluster) region(region string) ([]*service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != up {
		return nil, errors.New("local cluster is not up")
	}
	var out []*service
	for _, s := range c.services {
		if s.region == region {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no region %q (regions: %s)", region, strings.Join(c.spec.Regions, ", "))
	}
	return out, nil
}

// regionOp begins an operation on region: one at a time per region, bounded by the
// cluster's operation timeout. It returns the region's services, the operation's context
// and done, which ends it.
func (c *Cluster) regionOp(ctx context.Context, region string) ([]*service, context.Context, func(), error) {
	unlock := func() {}
	if l, ok := c.regionOps[region]; ok {
		l.Lock()
		unlock = l.Unlock
	}
	ctx, cancel := c.opContext(ctx)
	done := func() { cancel(); unlock() }
	svcs, err := c.region(region)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return svcs, ctx, done, nil
}

// KillRegion SIGKILLs the region's etcd member, MinIO and host all at once, as a power
// loss would, and returns once every one of them has exited and been reaped. Region ""
// is the router.
func (c *Cluster) KillRegion(ctx context.Context, region string) error {
	svcs, ctx, done, err := c.regionOp(ctx, region)
	if err != nil {
		return fmt.Errorf("kill region: %w", err)
	}
	defer done()
	var victims []Proc
	c.mu.Lock()
	for _, s := range svcs {
		if s.cur != nil && s.cur.Running() {
			victims = append(victims, s.cur)
		}
	}
	c.mu.Unlock()
	c.progress("killing region " + region)
	for _, ch := range victims {
		if err := ch.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, ErrFinished) {
			return fmt.Errorf("kill region %s: %w", region, err)
		}
	}
	for _, ch := range victims {
		select {
		case <-ch.Done():
		case <-ctx.Done():
			return fmt.Errorf("kill region %s: pid %d still not gone: %w", region, ch.PID(), context.Cause(ctx))
		}
	}
	c.progress(fmt.Sprintf("region %s killed (%d processes)", region, len(victims)))
	return nil
}

// RestoreRegion restarts whatever of the region is not running, on the same ports and data
// directories (the etcd member rejoins with --initial-cluster-state existing), and returns
// once etcd, MinIO and the host answer their health checks. It also brings back a single
// service that crashed or was SIGKILLed through Signal. Region "" is the router.
func (c *Cluster) RestoreRegion(ctx context.Context, region string) error {
	svcs, ctx, done, err := c.regionOp(ctx, region)
	if err != nil {
		return fmt.Errorf("restore region: %w", err)
	}
	defer done()
	var storage, hosts []*service
	for _, s := range svcs {
		if s.name == api.ServiceHost {
			hosts = append(hosts, s)
		} else {
			storage = append(storage, s)
		}
	}
	c.progress("restoring region " + region)
	if err := c.startAndAwait(ctx, storage, svcs, true); err != nil {
		return fmt.Errorf("restore region %s: %w", region, err)
	}
	if err := c.startAndAwait(ctx, hosts, svcs, true); err != nil {
		return fmt.Errorf("restore region %s: %w", region, err)
	}
	c.progress("region " + region + " restored")
	return nil
}

// Signal sends sig to the process group of one service: api.ServiceEtcd, ServiceMinIO or
// ServiceHost of region, or ServiceRouter with region "". SIGSTOP/SIGCONT make a grey
// failure; a process killed this way comes back with RestoreRegion.
func (c *Cluster) Signal(region, name string, sig syscall.Signal) error {
	c.mu.Lock()
	var target *service
	for _, s := range c.services {
		if s.region == region && s.name == name {
			target = s
		}
	}
	var ch Proc
	if target != nil {
		ch = target.cur
	}
	running := c.state == up
	c.mu.Unlock()
	switch {
	case !running:
		return errors.New("signal: local cluster is not up")
	case target == nil:
		return fmt.Errorf("signal: no service %q in region %q", name, region)
	case ch == nil || !ch.Running():
		return fmt.Errorf("signal %v: %s is not running", sig, target)
	}
	if err := ch.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, target, err)
	}
	return nil
}
