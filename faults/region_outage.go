package faults

import (
	"context"
	"errors"
	"fmt"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
)

// RegionOutage kills every process of a region (etcd member, object store, agent host) and
// restores them on recovery: a datacenter losing power.
type RegionOutage struct {
	// Region is a region name or a selector (Selectors), resolved at injection.
	Region string

	resolved string
}

// RegionControl is what a cluster must offer to run a region outage.
type RegionControl interface {
	KillRegion(ctx context.Context, region string) error
	RestoreRegion(ctx context.Context, region string) error
}

var regionOutageKind = KindOf[NoParams]{
	Name: "region-outage",
	Draw: func(s *Spec, _ *NoParams, d Draws) {
		s.Region = d.Pick(d.Regions())
	},
	Check: func(s Spec, _ *NoParams, c ParamCheck) {
		c.Region("region", s.Region, true)
		if len(s.Topology) == 1 {
			c.Problem("region", "add a region to fail over to",
				"region-outage in a 1-region topology leaves nowhere to fail over to", "topology.regions")
		}
	},
	Realise: func(cluster any) (Realisation, string) {
		if _, ok := cluster.(RegionControl); !ok {
			return Unavailable, "the provider cannot kill and restore a region's processes"
		}
		return Exact, processHow(cluster, "SIGKILL of every process of the region; restart with the same data")
	},
	New: func(s Spec, _ *NoParams) (Fault, error) {
		if s.Region == "" {
			return nil, errors.New("region-outage needs a region (a name or \"busiest\")")
		}
		return &RegionOutage{Region: s.Region}, nil
	},
}

// Inject resolves the target and kills the region.
func (f *RegionOutage) Inject(ctx context.Context, env Env) (Record, error) {
	rc, ok := env.Cluster.(RegionControl)
	if !ok {
		return Record{}, errors.New("cluster cannot kill regions")
	}
	owners, err := env.Owners(ctx)
	if err != nil {
		return Record{}, fmt.Errorf("read owners before outage: %w", err)
	}
	if f.resolved, err = resolveRegion(ctx, env, f.Region); err != nil {
		return Record{}, err
	}
	agents := agentsOf(owners, f.resolved)
	if err := rc.KillRegion(ctx, f.resolved); err != nil {
		return Record{Target: f.resolved}, fmt.Errorf("kill region %s: %w", f.resolved, err)
	}
	return Record{Target: f.resolved, Agents: agents, Loses: timeline.LossRegion, Detail: map[string]string{
		"region": f.resolved, "requested": f.Region,
	}}, nil
}

// Verify checks that no service of the region answers.
func (f *RegionOutage) Verify(ctx context.Context, env Env) error {
	return env.Probe.RegionDown(ctx, f.resolved)
}

// Recover restarts the region's processes.
func (f *RegionOutage) Recover(ctx context.Context, env Env) error {
	rc, ok := env.Cluster.(RegionControl)
	if !ok {
		return errors.New("cluster cannot restore regions")
	}
	return rc.RestoreRegion(ctx, f.resolved)
}

// VerifyHealed checks that every service of the region answers again.
func (f *RegionOutage) VerifyHealed(ctx context.Context, env Env) error {
	return env.Probe.RegionUp(ctx, f.resolved)
}

// busiest is the region owning most agents; ties go to the alphabetically first region so
// the choice is deterministic.
func busiest(owners map[string]api.Owner) string {
	count := map[string]int{}
	for _, o := range owners {
		count[o.Region]++
	}
	best, n := "", 0
	for r, c := range count {
		if c > n || (c == n && r < best) {
			best, n = r, c
		}
	}
	return best
}
