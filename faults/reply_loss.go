package faults

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// Internal paths on which a reply can be lost. Each is named client-server: the request
// travels from the first to the second, and the reply back.
const (
	PathRouterHost      = "router-host"      // the router forwarding to the region's agent host
	PathHostEtcd        = "host-etcd"        // the region's host to its etcd member
	PathHostObjectStore = "host-objectstore" // the region's host to every region's MinIO
)

// ReplyLossPaths lists the paths.
func ReplyLossPaths() []string {
	return []string{PathRouterHost, PathHostEtcd, PathHostObjectStore}
}

// checkPath checks the path field of a kind that acts on one internal path (reply-loss,
// slow-replies).
func checkPath(kind, path string, c ParamCheck) {
	if path == "" {
		c.Needs("path", ReplyLossPaths())
		return
	}
	c.OneOf("path", kind+" path", path, ReplyLossPaths())
}

// How a lost reply ends its connection.
const (
	ReplyReset = "reset" // the connection is torn down instead of the reply arriving
	ReplyDrop  = "drop"  // the reply never arrives and the connection stays silent
)

// ReplyLossModes lists the modes.
func ReplyLossModes() []string { return []string{ReplyReset, ReplyDrop} }

// ReplyLoss loses replies on one internal path of a region after the request was
// delivered: the server received the request and acted on it (a write committed, a lease
// kept alive, an object stored), then its reply is discarded and the connection reset or
// left silent. The client cannot tell whether its request took effect, which is the case
// retry logic and outcome reporting must get right: a router that turns such an error into
// a definite failure, or a host that reports an etcd commit whose reply it lost as failed,
// is caught by the linearizability check when a later read sees the write.
//
// Region kills fail requests before they are sent and pauses end in timeouts; this is the
// fault where a request is lost after it took effect.
type ReplyLoss struct {
	// Path is router-host, host-etcd or host-objectstore.
	Path string
	// Region is a region name or "busiest" in the scenario; the resolved name once injected.
	Region string
	// Probability that each reply (each read of the server's bytes, usually one whole
	// response) is lost, in (0, 1].
	Probability float64
	// Mode is reset or drop.
	Mode string
	// Seed draws which replies are lost. It fixes the sequence of draws, not which request
	// meets which draw: that depends on the order replies arrive in.
	Seed uint64

	id string
}

// ReplyLossControl loses replies on the internal paths of a region. id names what one
// fault installed, so overlapping faults heal independently.
type ReplyLossControl interface {
	// ReplyLossRealisation says how faithfully the provider loses replies on path in mode.
	ReplyLossRealisation(path, mode string) (Realisation, string)
	// LoseReplies installs the loss for l (its Region resolved).
	LoseReplies(ctx context.Context, id string, l ReplyLoss) error
	// LosingReplies returns nil when what id installed is in place where the replies pass
	// (read back from the proxy or the kernel, not from bookkeeping).
	LosingReplies(ctx context.Context, id string) error
	// RestoreReplies removes what id installed.
	RestoreReplies(ctx context.Context, id string) error
	// PathWorks returns nil when a request on region's path gets its reply.
	PathWorks(ctx context.Context, path, region string) error
}

// ReplyLossParams are a reply-loss's parameters; the region is the one whose path loses
// replies.
type ReplyLossParams struct {
	// Path: router-host, host-etcd or host-objectstore.
	Path string `yaml:"path" fault:"target"`
	// Probability of losing each reply, (0, 1].
	Probability float64 `yaml:"probability"`
	// Mode: reset or drop.
	Mode string `yaml:"mode"`
}

var replyLossKind = KindOf[ReplyLossParams]{
	Name: "reply-loss",
	Check: func(s Spec, p *ReplyLossParams, c ParamCheck) {
		c.Region("region", s.Region, true)
		checkPath("reply-loss", p.Path, c)
		if p.Mode == "" {
			c.Needs("mode", ReplyLossModes())
		} else {
			c.OneOf("mode", "reply-loss mode", p.Mode, ReplyLossModes())
		}
		if !(p.Probability > 0 && p.Probability <= 1) {
			c.Problem("probability", "write a ratio, e.g. probability: 0.3 for 30% of replies",
				fmt.Sprintf("probability is a ratio in (0, 1], got %g", p.Probability))
		}
	},
	Realise: func(cluster any) (Realisation, string) {
		if _, ok := cluster.(ReplyLossControl); !ok {
			return Unavailable, "the provider cannot lose replies on the paths between the services"
		}
		return Exact, "" // refined per path and mode by (*ReplyLoss).Realise
	},
	New: func(s Spec, p *ReplyLossParams) (Fault, error) {
		switch {
		case !slices.Contains(ReplyLossPaths(), p.Path):
			return nil, fmt.Errorf("reply-loss path %q: use one of %s", p.Path, strings.Join(ReplyLossPaths(), ", "))
		case !slices.Contains(ReplyLossModes(), p.Mode):
			return nil, fmt.Errorf("reply-loss mode %q: use one of %s", p.Mode, strings.Join(ReplyLossModes(), ", "))
		case !(p.Probability > 0 && p.Probability <= 1):
			return nil, fmt.Errorf("reply-loss probability is a ratio in (0, 1], got %g", p.Probability)
		case s.Region == "":
			return nil, errors.New("reply-loss needs a region (a name or \"busiest\")")
		}
		// One stream per fault: the scenario seed mixed with what the fault targets.
		h := fnv.New64a()
		fmt.Fprintf(h, "reply-loss/%s/%s/%s/%s", p.Path, s.Region, p.Mode, s.At)
		return &ReplyLoss{Path: p.Path, Region: s.Region, Probability: p.Probability, Mode: p.Mode,
			Seed: uint64(s.Seed) ^ h.Sum64()}, nil
	},
}

// Realise asks the provider about this path and mode.
func (f *ReplyLoss) Realise(cluster any) (Realisation, string) {
	rc, ok := cluster.(ReplyLossControl)
	if !ok {
		return Unavailable, "the provider cannot lose replies on the paths between the services"
	}
	return rc.ReplyLossRealisation(f.Path, f.Mode)
}

// Inject resolves the region and installs the loss.
func (f *ReplyLoss) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	l := *f
	l.Region = r
	f.id = "replyloss-" + f.Path + "-" + r
	rec := Record{Target: r + ":" + f.Path, Detail: map[string]string{
		"region": r, "path": f.Path, "mode": f.Mode, "probability": fmt.Sprint(f.Probability),
	}}
	if err := env.Cluster.(ReplyLossControl).LoseReplies(ctx, f.id, l); err != nil {
		return rec, fmt.Errorf("lose replies on %s: %w", rec.Target, err)
	}
	f.Region = r
	return rec, nil
}

// Verify checks that the loss is installed where the replies pass.
func (f *ReplyLoss) Verify(ctx context.Context, env Env) error {
	return env.Cluster.(ReplyLossControl).LosingReplies(ctx, f.id)
}

// Recover removes the loss.
func (f *ReplyLoss) Recover(ctx context.Context, env Env) error {
	if f.id == "" {
		return nil
	}
	return env.Cluster.(ReplyLossControl).RestoreReplies(ctx, f.id)
}

// VerifyHealed checks that nothing is installed any more and that the path answers.
func (f *ReplyLoss) VerifyHealed(ctx context.Context, env Env) error {
	rc := env.Cluster.(ReplyLossControl)
	if err := rc.LosingReplies(ctx, f.id); err == nil {
		return fmt.Errorf("replies on %s of region %s are still being lost", f.Path, f.Region)
	}
	return rc.PathWorks(ctx, f.Path, f.Region)
}
