package checkers

import (
	"sort"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/timeline"
)

// The phases of one agent's recovery from a region fault, in the order a failover goes
// through them. Each is measured from the fault's start; where a phase was not seen (an
// old run, a stack without a controller, a takeover before the harness looked) it is left
// out, never guessed.
const (
	PhaseDetected  = "detected"   // the controller's first failed probe of the region
	PhaseDeclared  = "declared"   // the controller declared the region dead (its host lease about to go)
	PhaseOwnerGone = "owner-gone" // the agent's owner key deleted (lease revoked or expired)
	PhaseTakenOver = "taken-over" // the agent's new owner key created in another region
	PhaseRouted    = "routed"     // the router showed the new owner (polled every 250ms)
	PhaseServed    = "served"     // the first ok op from the new owner: the agent's RTO
)

// RTOPhases lists the phases in order.
func RTOPhases() []string {
	return []string{PhaseDetected, PhaseDeclared, PhaseOwnerGone, PhaseTakenOver, PhaseRouted, PhaseServed}
}

// PhaseStat is one phase over every (fault, agent) pair that reached it: seconds from the
// fault's start, nearest-rank.
type PhaseStat struct {
	Phase  string  `json:"phase"`
	Agents int     `json:"agents"`
	P50    float64 `json:"p50_s"`
	P95    float64 `json:"p95_s"`
	Max    float64 `json:"max_s"`
}

// phasesOf fills ar.Phases for one agent of window w from the stack events on the
// timeline: the first of each after the fault's start (the region-level ones for the
// faulted region; the takeover to another region).
func phasesOf(ar *AgentRTO, w timeline.Window, events []timeline.Event) {
	at := map[string]time.Duration{}
	first := func(phase string, t time.Duration) {
		if _, seen := at[phase]; !seen && t >= w.Start {
			at[phase] = t
		}
	}
	for _, e := range events {
		switch f, ok := e.StackFact(); {
		case !ok || e.At < w.Start:
		case f.What == string(faults.RegionDead) && f.Region == w.Target:
			if f.Detected > 0 {
				first(PhaseDetected, f.Detected)
			}
			first(PhaseDeclared, e.At)
		case f.Agent != ar.Agent:
		case f.What == string(faults.LeaseRevoked) && f.Region == w.Target:
			first(PhaseOwnerGone, e.At)
		case f.What == string(faults.OwnershipChange) && f.Region != w.Target:
			first(PhaseTakenOver, e.At)
		}
		if o, ok := e.Owner(); ok && o.Agent == ar.Agent && o.Region != w.Target && e.At >= w.Start {
			first(PhaseRouted, e.At)
		}
	}
	if ar.Recovered {
		at[PhaseServed] = w.Start + time.Duration(ar.Seconds*float64(time.Second))
	}
	if len(at) == 0 {
		return
	}
	ar.Phases = map[string]float64{}
	for p, t := range at {
		ar.Phases[p] = seconds(t - w.Start)
	}
}

// phaseStats summarises every agent's phases, in phase order; phases nobody reached are
// left out.
func phaseStats(d RTOData) []PhaseStat {
	var out []PhaseStat
	for _, p := range RTOPhases() {
		var vs []float64
		for _, w := range d.Windows {
			for _, a := range w.Agents {
				if v, ok := a.Phases[p]; ok {
					vs = append(vs, v)
				}
			}
		}
		if len(vs) == 0 {
			continue
		}
		sort.Float64s(vs)
		out = append(out, PhaseStat{Phase: p, Agents: len(vs), P50: nearestRank(vs, 50), P95: nearestRank(vs, 95), Max: vs[len(vs)-1]})
	}
	return out
}

// leadersAt says which regions held the etcd leader and the controller leader when the
// fault started: the last leaders observation at or before it.
func leadersAt(start time.Duration, events []timeline.Event) (etcd, controller string) {
	for _, e := range events {
		if e.At > start {
			break
		}
		if e.Kind == timeline.Observe && e.Name == timeline.LeadersName {
			etcd, controller = e.Detail[faults.FactEtcdLeader], e.Detail[faults.FactControllerLeader]
		}
	}
	return etcd, controller
}
