package netns

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"syscall"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/described"
	"github.com/geodrill/geodrill/refstack/api"
)

// System is a described system (package system) on this package's network: each region's
// services run in the region's namespace, listening on its address; the adapter runs beside
// the harness, in the caller's namespace, like the reference stack's router, so it reaches
// every region and no partition cuts it off. Partitions and link degradations are the
// network's, exactly as for the reference stack; region outage, crash and pause act on the
// processes (clusters/described). What acts on the reference stack's insides (clocks,
// object stores, certificates) and on its router's paths (reply loss, slow replies) is not
// here, and the faults that need it say so.
type System struct {
	*network
	procs *described.Cluster
}

// NewSystem checks the spec and the machine; it creates nothing until Up.
func NewSystem(s clusters.Spec) (*System, error) {
	nw, err := newNetwork(s.Regions, nil, "")
	if err != nil {
		return nil, err
	}
	c := &System{network: nw}
	nw.reach = c.firstService
	procs, err := described.NewIn(s, nw.placement())
	if err != nil {
		return nil, err
	}
	c.procs = procs
	return c, nil
}

// firstService is the address of region's first service (its health check's), which
// Reachable dials.
func (c *System) firstService(region string) (string, error) {
	re, ok := c.Endpoints().Regions[region]
	if !ok || len(re.Health) == 0 {
		return "", fmt.Errorf("no region %q", region)
	}
	u, err := url.Parse(re.Health[0])
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

// Up creates the namespaces and links, then starts the system inside them. On failure
// Down (which callers run) removes what was created.
func (c *System) Up(ctx context.Context) error {
	if err := c.wire(ctx); err != nil {
		return err
	}
	return c.procs.Up(ctx)
}

// Down stops every process, then removes every namespace, link and rule.
func (c *System) Down(ctx context.Context) error {
	derr := c.procs.Down(ctx)
	return errors.Join(derr, c.destroyNetwork())
}

// Endpoints is where the system answers (the adapter as the router); valid after Up.
func (c *System) Endpoints() clusters.Endpoints { return c.procs.Endpoints() }

// Owners is the adapter's /status, read as a router's.
func (c *System) Owners(ctx context.Context) (map[string]api.Owner, error) {
	return c.procs.Owners(ctx)
}

// KillRegion SIGKILLs every process of region's services.
func (c *System) KillRegion(ctx context.Context, region string) error {
	return c.procs.KillRegion(ctx, region)
}

// RestoreRegion restarts region's services.
func (c *System) RestoreRegion(ctx context.Context, region string) error {
	return c.procs.RestoreRegion(ctx, region)
}

// Signal sends sig to every process of one service of region.
func (c *System) Signal(region, service string, sig syscall.Signal) error {
	return c.procs.Signal(region, service, sig)
}

// ServiceHealthy checks one service of a region.
func (c *System) ServiceHealthy(ctx context.Context, region, service string) error {
	return c.procs.ServiceHealthy(ctx, region, service)
}

// ServiceUnits is the process faults' note on what they act on.
func (c *System) ServiceUnits() string {
	return c.procs.ServiceUnits() + ", each region's in its network namespace"
}
