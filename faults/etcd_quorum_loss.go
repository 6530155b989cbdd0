package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// EtcdQuorumLoss kills the etcd members of a majority of regions: no write can commit
// anywhere, so availability is lost by design while correctness must hold (nothing is
// acknowledged that was not committed). The members restart together on recovery, since
// none of them can finish starting until a quorum is back.
type EtcdQuorumLoss struct {
	// Regions lose their member; empty means the first majority of the topology.
	Regions []string
	// Topology is every region, to check that the chosen ones are a majority.
	Topology []string
}

// QuorumLossParams are an etcd-quorum-loss's parameters.
type QuorumLossParams struct {
	// Regions whose members die; empty means the first majority of the topology.
	Regions []string `yaml:"regions" fault:"target"`
}

var etcdQuorumLossKind = KindOf[QuorumLossParams]{
	Name: "etcd-quorum-loss",
	Draw: func(s *Spec, p *QuorumLossParams, d Draws) {
		for _, i := range d.Perm(len(d.Topology))[:majority(len(d.Topology))] {
			p.Regions = append(p.Regions, d.Topology[i])
		}
	},
	Check: func(s Spec, p *QuorumLossParams, c ParamCheck) {
		for i, r := range p.Regions {
			c.OneOf(fmt.Sprintf("regions[%d]", i), "region", r, s.Topology, "topology.regions")
		}
	},
	Realise: func(cluster any) (Realisation, string) {
		if !canSignal(cluster) {
			return Unavailable, "the provider cannot kill and restart etcd members"
		}
		return Exact, processHow(cluster, "SIGKILL of a majority of etcd members; restarted together on recovery")
	},
	New: func(s Spec, p *QuorumLossParams) (Fault, error) {
		regions := slices.Clone(p.Regions)
		if len(regions) == 0 {
			if len(s.Topology) == 0 {
				return nil, errors.New("etcd-quorum-loss needs regions, or a topology to pick a majority from")
			}
			regions = slices.Clone(s.Topology[:majority(len(s.Topology))])
		}
		if len(s.Topology) > 0 && len(regions) < majority(len(s.Topology)) {
			return nil, fmt.Errorf("etcd-quorum-loss of %d of %d members leaves a quorum: list at least %d regions",
				len(regions), len(s.Topology), majority(len(s.Topology)))
		}
		return &EtcdQuorumLoss{Regions: regions, Topology: s.Topology}, nil
	},
}

// Inject kills the members.
func (f *EtcdQuorumLoss) Inject(ctx context.Context, env Env) (Record, error) {
	rec := Record{Target: strings.Join(f.Regions, ","), Detail: map[string]string{"regions": strings.Join(f.Regions, ",")}}
	sc := env.Cluster.(ServiceControl)
	for _, r := range f.Regions {
		if err := sc.Signal(r, "etcd", syscall.SIGKILL); err != nil {
			return rec, fmt.Errorf("kill etcd %s: %w", r, err)
		}
	}
	return rec, nil
}

// Verify checks that the killed members are gone and that no surviving member is healthy
// (etcd's /health fails without a quorum).
func (f *EtcdQuorumLoss) Verify(ctx context.Context, env Env) error {
	for _, r := range f.Topology {
		if err := serviceDown(ctx, env, r, "etcd"); err != nil {
			return fmt.Errorf("quorum not lost: %w", err)
		}
	}
	for _, r := range f.Regions {
		if err := serviceDown(ctx, env, r, "etcd"); err != nil {
			return err
		}
	}
	return nil
}

// Recover restarts every killed member at once.
func (f *EtcdQuorumLoss) Recover(ctx context.Context, env Env) error {
	sc := env.Cluster.(ServiceControl)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, r := range f.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sc.RestoreRegion(ctx, r); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("restore etcd %s: %w", r, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// VerifyHealed checks that every member is healthy again.
func (f *EtcdQuorumLoss) VerifyHealed(ctx context.Context, env Env) error {
	for _, r := range append(slices.Clone(f.Regions), others(f.Topology, f.Regions...)...) {
		if err := env.Cluster.(ServiceHealth).ServiceHealthy(ctx, r, "etcd"); err != nil {
			return err
		}
	}
	return nil
}
