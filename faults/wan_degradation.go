package faults

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WANDegradation degrades the link between two regions, in both directions: added latency
// with jitter, packet loss, a bandwidth cap.
type WANDegradation struct {
	Link Link

	id string
}

// WANParams are a wan-degradation's parameters: the link and what it suffers.
type WANParams struct {
	From string `yaml:"from" fault:"target"`
	To   string `yaml:"to" fault:"target"`
	// Latency and Jitter are added one way, From to To.
	Latency time.Duration `yaml:"latency"`
	Jitter  time.Duration `yaml:"jitter"`
	// Loss is the fraction of packets dropped, 0..1.
	Loss float64 `yaml:"loss"`
	// BandwidthKbit caps the rate, in kilobits per second; 0 is no cap.
	BandwidthKbit int `yaml:"bandwidth_kbit"`
}

// Link is the parameters as the providers take them.
func (p WANParams) Link() Link { return Link(p) }

var wanDegradationKind = KindOf[WANParams]{
	Name: "wan-degradation",
	Draw: func(s *Spec, p *WANParams, d Draws) {
		p.From, p.To = d.TwoRegions()
		// Loss and bandwidth only: they are exact wherever links can be degraded at all,
		// while latency needs netem, which some kernels lack.
		p.Loss, p.BandwidthKbit = float64(5+d.IntN(26))/100, 1000*(1+d.IntN(20))
	},
	Check: func(s Spec, p *WANParams, c ParamCheck) {
		c.Region("from", p.From, false)
		c.Region("to", p.To, false)
		if !(p.Loss >= 0 && p.Loss <= 1) {
			c.Problem("loss", "write a ratio, e.g. loss: 0.1 for 10%", fmt.Sprintf("loss is a ratio in 0..1, got %g", p.Loss))
		}
	},
	Realise: func(cluster any) (Realisation, string) {
		if _, ok := cluster.(LinkControl); !ok {
			return Unavailable, "the provider cannot degrade links between regions; run it with provider: netns (root)"
		}
		return Exact, "" // refined per link by (*WANDegradation).Realise
	},
	New: func(s Spec, p *WANParams) (Fault, error) {
		l := p.Link()
		switch {
		case l.From == "" || l.To == "" || l.From == l.To:
			return nil, errors.New("wan-degradation needs two different regions in from and to")
		case l.Latency < 0 || l.Jitter < 0 || l.BandwidthKbit < 0:
			return nil, errors.New("wan-degradation latency, jitter and bandwidth must not be negative")
		case !(l.Loss >= 0 && l.Loss <= 1):
			return nil, fmt.Errorf("wan-degradation loss is a ratio in 0..1, got %g", l.Loss)
		case l.Latency == 0 && l.Jitter == 0 && l.Loss == 0 && l.BandwidthKbit == 0:
			return nil, errors.New("wan-degradation needs at least one of latency, jitter, loss, bandwidth_kbit")
		case l.Jitter > 0 && l.Latency == 0:
			return nil, errors.New("wan-degradation jitter needs a latency to vary around")
		}
		return &WANDegradation{Link: l}, nil
	},
}

// Realise asks the provider about this link's parameters (latency needs netem, ...).
func (f *WANDegradation) Realise(cluster any) (Realisation, string) {
	lc, ok := cluster.(LinkControl)
	if !ok {
		return Unavailable, "the provider cannot degrade links between regions"
	}
	return lc.LinkRealisation(f.Link)
}

// Inject installs the degradation.
func (f *WANDegradation) Inject(ctx context.Context, env Env) (Record, error) {
	f.id = "wan-" + f.Link.From + "-" + f.Link.To
	l := f.Link
	rec := Record{Target: l.From + "<->" + l.To, Detail: map[string]string{
		"latency": l.Latency.String(), "jitter": l.Jitter.String(),
		"loss": fmt.Sprint(l.Loss), "bandwidth_kbit": fmt.Sprint(l.BandwidthKbit),
	}}
	if err := env.Cluster.(LinkControl).Degrade(ctx, f.id, l); err != nil {
		return rec, fmt.Errorf("degrade %s: %w", rec.Target, err)
	}
	return rec, nil
}

// Verify asks the provider whether the degradation is installed where the packets pass
// (it reads the rules back from the kernel, not from its own bookkeeping).
func (f *WANDegradation) Verify(ctx context.Context, env Env) error {
	return env.Cluster.(LinkControl).Degraded(ctx, f.id)
}

// Recover removes the degradation.
func (f *WANDegradation) Recover(ctx context.Context, env Env) error {
	if f.id == "" {
		return nil
	}
	return env.Cluster.(LinkControl).Restore(ctx, f.id)
}

// VerifyHealed checks that the provider reports nothing installed for the link.
func (f *WANDegradation) VerifyHealed(ctx context.Context, env Env) error {
	if err := env.Cluster.(LinkControl).Degraded(ctx, f.id); err == nil {
		return fmt.Errorf("link %s-%s is still degraded", f.Link.From, f.Link.To)
	}
	return nil
}
