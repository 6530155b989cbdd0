package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxSlowReplies bounds slow-replies' latency: beyond it every request on the path times
// out, which is an outage (partition, reply-loss drop), not a slow path.
const MaxSlowReplies = 10 * time.Second

// SlowReplies delays the replies on one internal path of a region (the same paths as
// reply-loss): requests arrive on time and take effect, and their replies, watch events
// and lease answers come back Latency late, in order. A host whose path to etcd is slow
// rather than cut keeps believing what it last heard: after its lease is revoked it
// learns so only Latency later, while a newer owner already serves its agents. That is
// the window in which a read path that skips the epoch check answers from a deposed
// owner's memory; a cut path closes it (the host's own lease clock drops the agents),
// a slow one keeps it open.
type SlowReplies struct {
	// Path is router-host, host-etcd or host-objectstore.
	Path string
	// Region is a region name or a selector in the scenario; the resolved name once injected.
	Region string
	// Latency is added to every reply on the path, 1ms to MaxSlowReplies.
	Latency time.Duration

	id string
}

// SlowRepliesControl delays replies on the internal paths of a region. id names what one
// fault installed, so overlapping faults heal independently.
type SlowRepliesControl interface {
	// SlowRepliesRealisation says how faithfully the provider delays replies on path.
	SlowRepliesRealisation(path string) (Realisation, string)
	// SlowReplies installs the delay for s (its Region resolved).
	SlowReplies(ctx context.Context, id string, s SlowReplies) error
	// RepliesSlowed returns nil when what id installed is in place where the replies pass.
	RepliesSlowed(ctx context.Context, id string) error
	// RestoreReplies removes what id installed.
	RestoreReplies(ctx context.Context, id string) error
	// PathRoundTrip sends one request over a fresh connection on region's path and returns
	// how long its reply took (the slowest, when the path has several connections).
	PathRoundTrip(ctx context.Context, path, region string) (time.Duration, error)
}

// SlowRepliesParams are a slow-replies's parameters; the region is the one whose path is
// slow.
type SlowRepliesParams struct {
	// Path: router-host, host-etcd or host-objectstore.
	Path string `yaml:"path" fault:"target"`
	// Latency is how late each reply arrives.
	Latency time.Duration `yaml:"latency"`
}

// SlowRepliesName names the kind (for providers that say why they lack it).
const SlowRepliesName = "slow-replies"

var slowRepliesKind = KindOf[SlowRepliesParams]{
	Name: SlowRepliesName,
	Check: func(s Spec, p *SlowRepliesParams, c ParamCheck) {
		c.Region("region", s.Region, true)
		checkPath("slow-replies", p.Path, c)
		if p.Latency <= 0 {
			c.Problem("latency", "set how late each reply arrives, e.g. latency: 1500ms",
				fmt.Sprintf("slow-replies needs a positive latency, got %s", p.Latency))
		}
	},
	Realise: func(cluster any) (Realisation, string) {
		if _, ok := cluster.(SlowRepliesControl); !ok {
			return Unavailable, "the provider cannot delay replies on the paths between the services"
		}
		return Exact, "" // refined per path by (*SlowReplies).Realise
	},
	New: func(s Spec, p *SlowRepliesParams) (Fault, error) {
		switch {
		case !slices.Contains(ReplyLossPaths(), p.Path):
			return nil, fmt.Errorf("slow-replies path %q: use one of %s", p.Path, strings.Join(ReplyLossPaths(), ", "))
		case !(p.Latency >= time.Millisecond && p.Latency <= MaxSlowReplies):
			return nil, fmt.Errorf("slow-replies latency %s: want a delay of 1ms to %s", p.Latency, MaxSlowReplies)
		case s.Region == "":
			return nil, errors.New("slow-replies needs a region (a name or a selector such as \"hottest-owner\")")
		}
		return &SlowReplies{Path: p.Path, Region: s.Region, Latency: p.Latency}, nil
	},
}

// Realise asks the provider about this path.
func (f *SlowReplies) Realise(cluster any) (Realisation, string) {
	sc, ok := cluster.(SlowRepliesControl)
	if !ok {
		return Unavailable, "the provider cannot delay replies on the paths between the services"
	}
	return sc.SlowRepliesRealisation(f.Path)
}

// Inject resolves the region and installs the delay.
func (f *SlowReplies) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	s := *f
	s.Region = r
	f.id = "slow-" + f.Path + "-" + r
	rec := Record{Target: r + ":" + f.Path, Detail: map[string]string{
		"region": r, "path": f.Path, "latency": f.Latency.String(),
	}}
	if err := env.Cluster.(SlowRepliesControl).SlowReplies(ctx, f.id, s); err != nil {
		return rec, fmt.Errorf("slow replies on %s: %w", rec.Target, err)
	}
	f.Region = r
	return rec, nil
}

// Verify checks that the delay is installed and measures it: a fresh request's reply must
// take at least nine tenths of the latency.
func (f *SlowReplies) Verify(ctx context.Context, env Env) error {
	sc := env.Cluster.(SlowRepliesControl)
	if err := sc.RepliesSlowed(ctx, f.id); err != nil {
		return err
	}
	took, err := sc.PathRoundTrip(ctx, f.Path, f.Region)
	if err != nil {
		return fmt.Errorf("round trip on the %s path of region %s: %w", f.Path, f.Region, err)
	}
	if took < f.Latency*9/10 {
		return fmt.Errorf("a reply on the %s path of region %s took %s, not the %s installed", f.Path, f.Region,
			took.Round(time.Millisecond), f.Latency)
	}
	return nil
}

// Recover removes the delay.
func (f *SlowReplies) Recover(ctx context.Context, env Env) error {
	if f.id == "" {
		return nil
	}
	return env.Cluster.(SlowRepliesControl).RestoreReplies(ctx, f.id)
}

// VerifyHealed checks that nothing is installed any more and that a reply comes back in
// well under the latency.
func (f *SlowReplies) VerifyHealed(ctx context.Context, env Env) error {
	sc := env.Cluster.(SlowRepliesControl)
	if err := sc.RepliesSlowed(ctx, f.id); err == nil {
		return fmt.Errorf("replies on %s of region %s are still delayed", f.Path, f.Region)
	}
	took, err := sc.PathRoundTrip(ctx, f.Path, f.Region)
	if err != nil {
		return fmt.Errorf("round trip on the %s path of region %s: %w", f.Path, f.Region, err)
	}
	if took >= f.Latency/2 {
		return fmt.Errorf("a reply on the %s path of region %s still took %s after the %s delay was removed",
			f.Path, f.Region, took.Round(time.Millisecond), f.Latency)
	}
	return nil
}

// CheckTimeout lets one verification attempt wait out the delayed reply.
func (f *SlowReplies) CheckTimeout() time.Duration { return f.Latency + 2*time.Second }
