package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
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

// NemesisKinds are the kinds the nemesis can draw targets for: those with a Draw, in table
// order.
func NemesisKinds() []string {
	var out []string
	for _, k := range Kinds {
		if k.Draw != nil {
			out = append(out, k.Name)
		}
	}
	return out
}

// Draws is the nemesis's seeded randomness, handed to a kind's Draw to pick its target and
// parameters. Every draw comes from the one stream, so the same seed gives the same
// schedule.
type Draws struct {
	rng      *rand.Rand
	Topology []string
}

// Pick draws one of xs.
func (d Draws) Pick(xs []string) string { return xs[d.rng.IntN(len(xs))] }

// Regions is every region plus the busiest selector, what most kinds pick a target from.
func (d Draws) Regions() []string { return append(slices.Clone(d.Topology), SelectBusiest) }

// Perm draws a permutation of 0..n-1.
func (d Draws) Perm(n int) []int { return d.rng.Perm(n) }

// IntN draws from 0..n-1.
func (d Draws) IntN(n int) int { return d.rng.IntN(n) }

// TwoRegions draws an ordered pair of different regions.
func (d Draws) TwoRegions() (from, to string) {
	perm := d.rng.Perm(len(d.Topology))
	return d.Topology[perm[0]], d.Topology[perm[1]]
}

// Schedule draws the fault specs for topology from seed.
func (n Nemesis) Schedule(seed int64, topology []string) ([]Spec, error) {
	kinds := n.Kinds
	if len(kinds) == 0 {
		kinds = NemesisKinds()
	}
	for _, k := range kinds {
		if !slices.Contains(NemesisKinds(), k) { // a kind without a Draw
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
		k, _ := Lookup(s.Kind) // every kind in kinds has a Draw: checked above
		k.Draw(&s, Draws{rng: rng, Topology: topology})
		out = append(out, s)
		at += hold + between(n.MinGap, n.MaxGap)
	}
}
