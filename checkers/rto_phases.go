package checkers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
)

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
				first(timeline.RecoveryDetected, f.Detected)
			}
			first(timeline.RecoveryDeclared, e.At)
		case f.Agent != ar.Agent:
		case f.What == string(faults.LeaseRevoked) && f.Region == w.Target:
			first(timeline.RecoveryOwnerGone, e.At)
		case f.What == string(faults.OwnershipChange) && f.Region != w.Target:
			first(timeline.RecoveryTakenOver, e.At)
		}
		if o, ok := e.Owner(); ok && o.Agent == ar.Agent && o.Region != w.Target && e.At >= w.Start {
			first(timeline.RecoveryRouted, e.At)
		}
	}
	if ar.Recovered {
		at[timeline.RecoveryServed] = w.Start + time.Duration(ar.Seconds*float64(time.Second))
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
	for _, rp := range timeline.RecoveryPhases() {
		p := rp.Name
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

// phaseVerdicts judge the scenario's per-phase targets (sla.rto_phases_p95), in phase
// order: the phase's p95 over every (fault, agent) pair that reached it. A phase no agent
// reached is unknown, never a pass: the stack did not show it, or no region was lost. Agents
// that never recovered fail the rto verdicts already; here they count only for the phases
// they reached.
func phaseVerdicts(targets map[string]scenarios.Duration, d RTOData, problems []string) []Verdict {
	var out []Verdict
	for _, rp := range timeline.RecoveryPhases() {
		limit, ok := targets[rp.Name]
		if !ok {
			continue
		}
		v := Verdict{Checker: NameRTO, Target: fmt.Sprintf("%s p95 <= %s", rp.Name, limit), Limit: seconds(limit.D())}
		var st *PhaseStat
		for i := range d.Phases {
			if d.Phases[i].Phase == rp.Name {
				st = &d.Phases[i]
			}
		}
		switch {
		case st == nil:
			v.Status, v.Measured = Unknown, "not measured"
			v.Detail = "no agent reached " + rp.Name + " (" + rp.Means + ")"
			if len(d.Windows) == 0 {
				v.Detail = "no fault to measure"
			}
		default:
			v.Value = st.P95
			v.Measured = fmt.Sprintf("%s (p50 %s, max %s over %d agents)", fmtSeconds(st.P95), fmtSeconds(st.P50), fmtSeconds(st.Max), st.Agents)
			switch {
			case st.P95 > v.Limit:
				v.Status = Fail
			case len(problems) > 0:
				v.Status, v.Detail = Unknown, strings.Join(problems, "; ")
			default:
				v.Status = Pass
			}
		}
		out = append(out, v)
	}
	return out
}
