package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
)

// Nemesis draws a random fault schedule from a seed: which kinds, which targets, when each
// starts, how long it is held and the gaps between. Faults follow one another without
// overlapping, so every fault's effect is attributable. The same seed and settings give the
// same schedule; the seed is recorded in the report.
type Nemesis struct {
	// Kinds to draw from; empty means every kind the schedule can target.
	Kinds []string
	// Start and End bound the window (offsets from the start of load); no fault is held
	// past End.
	Start, End time.Duration
	// MinHold..MaxHold is how long each fault is held; MinGap..MaxGap separates faults.
	MinHold, MaxHold time.Duration
	MinGap, MaxGap   time.Duration
}

// NemesisKinds are the kinds the nemesis can draw targets for.
func NemesisKinds() []string {
	return []string{"region-outage", "process-crash", "pause", "partition", "wan-degradation",
		"object-store-outage", "etcd-member-loss", "etcd-quorum-loss", "clock-skew"}
}

// Schedule draws the fault specs for topology from seed.
func (n Nemesis) Schedule(seed int64, topology []string) ([]Spec, error) {
	kinds := n.Kinds
	if len(kinds) == 0 {
		kinds = NemesisKinds()
	}
	for _, k := range kinds {
		if !slices.Contains(NemesisKinds(), k) {
			return nil, fmt.Errorf("nemesis cannot schedule kind %q (use %v)", k, NemesisKinds())
		}
	}
	switch {
	case len(topology) < 3:
		return nil, errors.New("the nemesis needs at least 3 regions")
	case n.MinHold <= 0 || n.MaxHold < n.MinHold:
		return nil, fmt.Errorf("nemesis hold %s..%s: need 0 < min_hold <= max_hold", n.MinHold, n.MaxHold)
	case n.MinGap < 0 || n.MaxGap < n.MinGap:
		return nil, fmt.Errorf("nemesis gap %s..%s: need 0 <= min_gap <= max_gap", n.MinGap, n.MaxGap)
	case n.End <= n.Start:
		return nil, fmt.Errorf("nemesis window %s..%s is empty", n.Start, n.End)
	}
	// The stream is split from the workload's (which uses the seed itself) so that changing
	// the load does not change the schedule.
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6e656d65736973)) // "nemesis"
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		// Whole 100ms steps keep the schedule readable in reports.
		steps := int64((hi - lo) / (100 * time.Millisecond))
		return lo + time.Duration(rng.Int64N(steps+1))*100*time.Millisecond
	}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }

	var out []Spec
	at := n.Start + between(n.MinGap, n.MaxGap)
	for {
		hold := between(n.MinHold, n.MaxHold)
		if at+hold > n.End {
			return out, nil
		}
		s := Spec{Kind: pick(kinds), At: at, Duration: hold, Topology: slices.Clone(topology)}
		regions := append(slices.Clone(topology), "busiest")
		switch s.Kind {
		case "region-outage", "object-store-outage", "etcd-member-loss":
			s.Region = pick(regions)
		case "process-crash", "pause":
			s.Service = pick(api.Services())
			if s.Service != "router" {
				s.Region = pick(regions)
			}
		case "partition":
			s.Shape = pick(Shapes())
			switch s.Shape {
			case ShapeIsolate, ShapeMajorityMinority:
				s.Region = pick(regions)
			case ShapeBridge:
				s.Region = pick(topology)
			case ShapePair, ShapeOneWay:
				perm := rng.Perm(len(topology))
				s.From, s.To = topology[perm[0]], topology[perm[1]]
			}
		case "wan-degradation":
			perm := rng.Perm(len(topology))
			s.From, s.To = topology[perm[0]], topology[perm[1]]
			// Loss and bandwidth only: they are exact wherever links can be degraded at
			// all, while latency needs netem, which some kernels lack.
			s.Link = Link{Loss: float64(5+rng.IntN(26)) / 100, BandwidthKbit: 1000 * (1 + rng.IntN(20))}
		case "etcd-quorum-loss":
			perm := rng.Perm(len(topology))
			for _, i := range perm[:majority(len(topology))] {
				s.Regions = append(s.Regions, topology[i])
			}
		case "clock-skew":
			s.Region = pick(regions)
			s.Offset = time.Duration(rng.IntN(120)-60) * time.Second
			if s.Offset == 0 {
				s.Offset = time.Second
			}
		}
		out = append(out, s)
		at += hold + between(n.MinGap, n.MaxGap)
	}
}
