package scenarios

import (
	"fmt"
	"time"
)

// Limits on what one scenario may ask for, from what a 2-core, 24 GiB machine runs: past
// them a drill takes the machine down (100 regions start 300 processes), measures the load
// driver instead of the stack (a rate of 1e9) or runs out of memory before it reports.
// Each is refused at validation, naming the limit.
const (
	MaxFileSize     = 1 << 20 // bytes of YAML
	MaxRegions      = 7
	MaxAgents       = 1000
	MaxKeysPerAgent = 100
	MaxRate         = 5000 // ops/s; the reference stack saturates near 2,000 on 2 cores
	MaxDuration     = time.Hour
	MaxFaults       = 100 // listed faults
	// maxMessage bounds an error message (and its fix), which may repeat a value from the
	// file.
	maxMessage = 500
)

// validateLimits refuses a scenario bigger than the limits.
func (s *Scenario) validateLimits(v *validator) {
	over := func(field string, got, max int, what string) {
		v.add(field, fmt.Sprintf("use at most %d", max),
			fmt.Sprintf("%s %d is above the limit of %d %s", field, got, max, what))
	}
	if n := len(s.Topology.Regions); n > MaxRegions {
		over("topology.regions", n, MaxRegions, "regions (three processes each)")
	}
	if s.Topology.Agents > MaxAgents {
		over("topology.agents", s.Topology.Agents, MaxAgents, "agents")
	}
	if s.Topology.KeysPerAgent > MaxKeysPerAgent {
		over("topology.keys_per_agent", s.Topology.KeysPerAgent, MaxKeysPerAgent, "keys per agent")
	}
	if s.Workload.Rate > MaxRate {
		over("workload.rate", s.Workload.Rate, MaxRate, "requests per second")
	}
	if d := s.Workload.Duration.D(); d > MaxDuration {
		v.add("workload.duration", fmt.Sprintf("use at most %s; run longer soaks as several drills", MaxDuration),
			fmt.Sprintf("workload.duration %s is above the limit of %s", d, MaxDuration))
	}
	if n := len(s.Faults); n > MaxFaults {
		over("faults", n, MaxFaults, "faults")
	}
}

// validateOverlaps refuses two faults of one kind on one target whose holds overlap: the
// second's recovery would end the first early (a region brought back while the timeline
// still says it is down). Faults of different kinds on one target compose and are allowed.
// A triggered fault may fire any time from its at: to the end of the load.
func (s *Scenario) validateOverlaps(v *validator) {
	type hold struct {
		i        int
		from, to time.Duration
	}
	byTarget := map[string][]hold{}
	load := s.Workload.Duration.D()
	for i, f := range s.Faults {
		from, to := f.At.D(), f.At.D()+f.Duration.D()
		if f.Trigger != nil {
			to = max(to, load+f.Duration.D())
		}
		key := f.Spec(s.Topology.Regions, s.Services()).Target()
		for _, h := range byTarget[key] {
			if from < h.to && h.from < to { // one message per fault, naming the first it overlaps
				v.add(fmt.Sprintf("faults[%d].at", i),
					fmt.Sprintf("start it after faults[%d] ends (%s), or target something else", h.i, h.to),
					fmt.Sprintf("faults[%d] and faults[%d] are both %s of the same target and their holds overlap: "+
						"the later recovery would end the earlier fault early", h.i, i, f.Kind),
					fmt.Sprintf("faults[%d]", h.i))
				break
			}
		}
		byTarget[key] = append(byTarget[key], hold{i, from, to})
	}
}

// validateHolds refuses a listed fault held past the end of the load: the part after it
// would go unmeasured.
func (s *Scenario) validateHolds(v *validator) {
	load := s.Workload.Duration.D()
	if load <= 0 {
		return
	}
	for i, f := range s.Faults {
		if f.Trigger != nil || f.At < 0 || f.Duration <= 0 || f.At.D() >= load {
			continue // reported elsewhere, or held from an event
		}
		if end := f.At.D() + f.Duration.D(); end > load {
			v.add(fmt.Sprintf("faults[%d].duration", i),
				fmt.Sprintf("hold it at most %s, or lengthen workload.duration to %s", load-f.At.D(), end),
				fmt.Sprintf("faults[%d] is held until %s, past the end of the load at %s", i, end, load),
				"workload.duration")
		}
	}
}
