package checkers

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// losesRegion says whether the window's fault takes its target region away from its peers,
// so that the region's agents must move (the fault says so on its Inject event: a region
// outage, an isolated region). Other faults leave every region a majority side to join and
// are not measured.
func losesRegion(w timeline.Window, events []timeline.Event) bool {
	e, ok := injectEvent(w, events)
	return ok && e.Loss() == timeline.LossRegion
}

// injectEvent is the Inject event that opened the window.
func injectEvent(w timeline.Window, events []timeline.Event) (timeline.Event, bool) {
	for _, e := range events {
		if e.Kind == timeline.Inject && e.Name == w.Name && e.At == w.Start {
			return e, true
		}
	}
	return timeline.Event{}, false
}

// RTOData is the rto Result's Data.
type RTOData struct {
	Windows []RTOWindow `json:"windows"`
	// LoadEnd is the end of the load phase: the next phase's start, else the last load op.
	LoadEnd      time.Duration `json:"load_end_ns"`
	Measured     int           `json:"measured"` // (fault, agent) pairs
	NotRecovered int           `json:"not_recovered"`
	// P50, P95 and Max are nearest-rank over every (fault, agent) pair, in seconds; null when
	// nothing was measured or the rank falls on an agent that never recovered.
	P50 *float64 `json:"p50_s"`
	P95 *float64 `json:"p95_s"`
	Max *float64 `json:"max_s"`
	// Phases summarise the agents' recovery phases, in order (see timeline.RecoveryPhases).
	Phases []PhaseStat `json:"phases,omitempty"`
}

// RTOWindow is one region fault and its affected agents.
type RTOWindow struct {
	Name   string        `json:"name"`
	Fault  string        `json:"fault"`
	Region string        `json:"region"`
	Start  time.Duration `json:"start_ns"`
	End    time.Duration `json:"end_ns"` // 0: never healed
	// AgentsFrom says where the affected agents came from: "inject" (the inject event's
	// detail) or "inferred" (last ok op before the fault was served by the region).
	AgentsFrom string     `json:"agents_from"`
	Agents     []AgentRTO `json:"agents"`
	Problem    string     `json:"problem,omitempty"` // why this fault could not be measured
	// EtcdLeader and ControllerLeader are the regions holding the etcd leader and the
	// controller leader when the fault started ("" when not observed): a dead region that
	// held one costs an election.
	EtcdLeader       string `json:"etcd_leader,omitempty"`
	ControllerLeader string `json:"controller_leader,omitempty"`
}

// AgentRTO is one affected agent's recovery.
type AgentRTO struct {
	Agent     string `json:"agent"`
	Recovered bool   `json:"recovered"`
	// Seconds from fault start to the completion of the first ok op served elsewhere; when
	// not recovered, the time to the end of the load phase (a lower bound).
	Seconds float64 `json:"seconds"`
	OpID    int64   `json:"op_id,omitempty"`
	Region  string  `json:"region,omitempty"` // the new owner
	Epoch   int64   `json:"epoch,omitempty"`
	// Phases: seconds from the fault's start to each phase of the recovery the harness saw
	// (timeline.RecoveryPhases); absent in runs recorded before the stack events were.
	Phases map[string]float64 `json:"phases,omitempty"`
}

// RTO measures, per region fault (a region outage, or a partition isolating one region) and
// per affected agent, the time from the fault's start to the completion of the agent's
// first ok op (any kind, not a final read) invoked after the start and served by another
// region — the earliest completion among such ops, which is the earliest proof that a new
// owner serves. Affected agents come from the inject event's
// "agents" detail, else they are inferred: agents whose last ok op completed before the start
// was served by the faulted region. An agent with no such op before the load phase ends
// never recovered: infinite, and a fail whatever the targets. p50/p95/max are nearest-rank
// over all (fault, agent) pairs, judged against SLA.RTOP95 and SLA.RTOMax. With no region
// fault in the timeline the targets are unknown ("no fault to measure"); with no targets
// either, that is reported as a pass.
func RTO(_ context.Context, in Input) Result {
	sla := in.sla()
	events := timeline.Sorted(in.Timeline)
	d := RTOData{LoadEnd: loadEnd(events, in.History)}

	var values, bounds []float64 // per measured pair; bounds only for the not recovered
	var problems []string
	for _, w := range timeline.Windows(events) {
		if !losesRegion(w, events) {
			continue
		}
		rw := RTOWindow{Name: w.Name, Fault: faultKind(w), Region: w.Target, Start: w.Start, End: w.End}
		rw.EtcdLeader, rw.ControllerLeader = leadersAt(w.Start, events)
		if w.Target == "" {
			rw.Problem = "fault has no target region"
			problems = append(problems, w.Name+": "+rw.Problem)
			d.Windows = append(d.Windows, rw)
			continue
		}
		var agents []string
		agents, rw.AgentsFrom = affectedAgents(w, events, in.History)
		// A region the harness saw own no agent at injection had nothing to recover: that
		// window measures nothing but is no reason for doubt. An inferred empty list may just
		// be a history that is too thin, so it leaves the verdict undecided.
		if len(agents) == 0 && rw.AgentsFrom != "inject" {
			rw.Problem = "no affected agents"
			problems = append(problems, w.Name+": "+rw.Problem)
		}
		for _, a := range agents {
			ar := recovery(a, w, d.LoadEnd, in.History)
			phasesOf(&ar, w, events)
			rw.Agents = append(rw.Agents, ar)
			if ar.Recovered {
				values = append(values, ar.Seconds)
			} else {
				values = append(values, math.Inf(1))
				bounds = append(bounds, ar.Seconds)
				d.NotRecovered++
			}
		}
		d.Windows = append(d.Windows, rw)
	}
	d.Measured = len(values)
	d.Phases = phaseStats(d)
	sort.Float64s(values)
	var p50, p95, pmax float64
	if len(values) > 0 {
		p50, p95, pmax = nearestRank(values, 50), nearestRank(values, 95), values[len(values)-1]
		d.P50, d.P95, d.Max = finite(p50), finite(p95), finite(pmax)
	}

	if len(d.Windows) == 0 {
		return Result{Checker: NameRTO, Verdicts: noFaultVerdicts(sla, d), Data: d}
	}
	summary := fmt.Sprintf("p50 %s, p95 %s, max %s over %d agents in %d faults",
		fmtSeconds(p50), fmtSeconds(p95), fmtSeconds(pmax), len(values), len(d.Windows))
	if len(values) == 0 {
		summary = "no agent measured"
	}
	worstBound := 0.0
	for _, b := range bounds {
		worstBound = max(worstBound, b)
	}

	recovered := Verdict{
		Checker: NameRTO, Target: "every affected agent recovers before the load phase ends",
		Value: float64(d.NotRecovered), Measured: summary,
	}
	switch {
	case d.NotRecovered > 0:
		recovered.Status = Fail
		recovered.Detail = "never recovered: " + listFew(notRecovered(d), 5)
	case len(values) == 0 || len(problems) > 0:
		recovered.Status = Unknown
		recovered.Detail = strings.Join(problems, "; ")
	default:
		recovered.Status = Pass
	}
	verdicts := []Verdict{recovered}
	judge := func(name string, limit *scenarios.Duration, v float64) {
		if limit == nil {
			return
		}
		vd := Verdict{Checker: NameRTO, Target: fmt.Sprintf("%s <= %s", name, limit), Limit: seconds(limit.D())}
		switch {
		case len(values) == 0:
			vd.Status, vd.Measured = Unknown, "not measured"
			vd.Detail = strings.Join(problems, "; ")
		case math.IsInf(v, 1):
			vd.Status, vd.Value = Fail, worstBound
			vd.Measured = fmt.Sprintf("∞ (%d agents never recovered; > %s)", d.NotRecovered, fmtSeconds(worstBound))
			vd.Detail = "never recovered: " + listFew(notRecovered(d), 5)
		case v > vd.Limit:
			vd.Status, vd.Value, vd.Measured = Fail, v, fmtSeconds(v)
			vd.Detail = summary
		case len(problems) > 0:
			vd.Status, vd.Value, vd.Measured = Unknown, v, fmtSeconds(v)
			vd.Detail = strings.Join(problems, "; ")
		default:
			vd.Status, vd.Value, vd.Measured = Pass, v, fmtSeconds(v)
		}
		verdicts = append(verdicts, vd)
	}
	judge("rto_p95", sla.RTOP95, p95)
	judge("rto_max", sla.RTOMax, pmax)
	verdicts = append(verdicts, phaseVerdicts(sla.RTOPhasesP95, d, problems)...)
	return Result{Checker: NameRTO, Verdicts: verdicts, Data: d}
}

func noFaultVerdicts(sla scenarios.SLA, d RTOData) []Verdict {
	var out []Verdict
	for _, t := range []struct {
		name  string
		limit *scenarios.Duration
	}{{"rto_p95", sla.RTOP95}, {"rto_max", sla.RTOMax}} {
		if t.limit != nil {
			out = append(out, Verdict{
				Checker: NameRTO, Target: fmt.Sprintf("%s <= %s", t.name, t.limit), Status: Unknown,
				Limit: seconds(t.limit.D()), Measured: "not measured", Detail: "no fault to measure",
			})
		}
	}
	out = append(out, phaseVerdicts(sla.RTOPhasesP95, d, nil)...)
	if len(out) == 0 {
		out = append(out, Verdict{
			Checker: NameRTO, Target: "rto (no target)", Status: Pass,
			Measured: "not measured", Detail: "no fault to measure",
		})
	}
	return out
}

// faultKind is the window's fault kind, or the part of its name after "id:".
func faultKind(w timeline.Window) string {
	if w.Fault != "" {
		return w.Fault
	}
	if _, kind, ok := strings.Cut(w.Name, ":"); ok {
		return kind
	}
	return ""
}

// loadEnd is where the load phase ends: the start of the phase after "load"; without phase
// events, the last completion of a non-final op.
func loadEnd(events []timeline.Event, h history.History) time.Duration {
	for i, e := range events {
		if e.Kind != timeline.Phase || e.Name != timeline.PhaseLoad {
			continue
		}
		for _, next := range events[i+1:] {
			if next.Kind == timeline.Phase {
				return next.At
			}
		}
		break
	}
	var end time.Duration
	for _, op := range h {
		if !op.Final {
			end = max(end, complete(op))
		}
	}
	return end
}

// affectedAgents are the agents the faulted region owned at injection.
func affectedAgents(w timeline.Window, events []timeline.Event, h history.History) ([]string, string) {
	if e, ok := injectEvent(w, events); ok {
		if agents, ok := e.Agents(); ok {
			return agents, "inject"
		}
	}
	last := map[string]history.Op{}
	for _, op := range h {
		if op.Final || op.Outcome != history.OK || complete(op) > w.Start {
			continue
		}
		if prev, ok := last[op.Agent]; !ok || complete(op) > complete(prev) {
			last[op.Agent] = op
		}
	}
	var agents []string
	for a, op := range last {
		if op.Region == w.Target {
			agents = append(agents, a)
		}
	}
	sort.Strings(agents)
	return agents, "inferred"
}

// recovery finds the agent's first proof of service by a new owner.
func recovery(agent string, w timeline.Window, end time.Duration, h history.History) AgentRTO {
	ar := AgentRTO{Agent: agent}
	var best *history.Op
	for i := range h {
		op := &h[i]
		if op.Agent != agent || op.Final || op.Outcome != history.OK ||
			op.Invoke < w.Start || op.Invoke >= end || op.Region == "" || op.Region == w.Target {
			continue
		}
		if best == nil || complete(*op) < complete(*best) {
			best = op
		}
	}
	if best == nil {
		ar.Seconds = seconds(max(end-w.Start, 0))
		return ar
	}
	ar.Recovered = true
	ar.Seconds = seconds(complete(*best) - w.Start)
	ar.OpID, ar.Region, ar.Epoch = best.ID, best.Region, best.Epoch
	return ar
}

func notRecovered(d RTOData) []string {
	var out []string
	for _, w := range d.Windows {
		for _, a := range w.Agents {
			if !a.Recovered {
				out = append(out, fmt.Sprintf("%s (%s, > %s)", a.Agent, w.Name, fmtSeconds(a.Seconds)))
			}
		}
	}
	return out
}

func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}
