package faults

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ClockSkew moves a region's agent host clock by Offset (through the runtime hook in
// refstack/clock) and back on recovery. Ownership rests on etcd leases, whose TTLs are
// measured by the etcd leader, so a skewed host must change nothing that matters.
type ClockSkew struct {
	// Region is a region name or "busiest".
	Region string
	// Offset is added to the host's clock; negative puts it behind.
	Offset time.Duration

	resolved string
}

// ClockSkewParams are a clock-skew's parameters.
type ClockSkewParams struct {
	// Offset is added to the agent host's clock.
	Offset time.Duration `yaml:"offset"`
}

var clockSkewKind = KindOf[ClockSkewParams]{
	Name: "clock-skew",
	Draw: func(s *Spec, p *ClockSkewParams, d Draws) {
		s.Region = d.Pick(d.Regions())
		p.Offset = time.Duration(d.IntN(120)-60) * time.Second
		if p.Offset == 0 {
			p.Offset = time.Second
		}
	},
	Check: func(s Spec, _ *ClockSkewParams, c ParamCheck) {
		c.Region("region", s.Region, true)
	},
	Realise: func(cluster any) (Realisation, string) {
		if _, ok := cluster.(ClockControl); !ok {
			return Unavailable, "the provider cannot set an agent host's clock offset"
		}
		return Exact, "the agent host reads time through a clock whose offset is set at runtime (PUT /clock)"
	},
	New: func(s Spec, p *ClockSkewParams) (Fault, error) {
		if s.Region == "" {
			return nil, errors.New("clock-skew needs a region (a name or \"busiest\")")
		}
		if p.Offset == 0 {
			return nil, errors.New("clock-skew needs a non-zero offset, e.g. offset: 30s")
		}
		return &ClockSkew{Region: s.Region, Offset: p.Offset}, nil
	},
}

// Inject resolves the target and sets the offset.
func (f *ClockSkew) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	f.resolved = r
	rec := Record{Target: r, Detail: map[string]string{"region": r, "offset": f.Offset.String()}}
	if err := env.Cluster.(ClockControl).SetClockOffset(ctx, r, f.Offset); err != nil {
		return rec, fmt.Errorf("skew host %s: %w", r, err)
	}
	return rec, nil
}

// Verify reads the offset back from the host.
func (f *ClockSkew) Verify(ctx context.Context, env Env) error {
	return f.offsetIs(ctx, env, f.Offset)
}

// Recover sets the offset back to zero.
func (f *ClockSkew) Recover(ctx context.Context, env Env) error {
	return env.Cluster.(ClockControl).SetClockOffset(ctx, f.resolved, 0)
}

// VerifyHealed reads a zero offset back from the host.
func (f *ClockSkew) VerifyHealed(ctx context.Context, env Env) error { return f.offsetIs(ctx, env, 0) }

func (f *ClockSkew) offsetIs(ctx context.Context, env Env, want time.Duration) error {
	got, err := env.Cluster.(ClockControl).ClockOffset(ctx, f.resolved)
	if err != nil {
		return fmt.Errorf("read clock offset of host %s: %w", f.resolved, err)
	}
	if got != want {
		return fmt.Errorf("host %s clock offset is %s, want %s", f.resolved, got, want)
	}
	return nil
}
