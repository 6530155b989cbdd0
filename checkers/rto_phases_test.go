package checkers

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// A region outage's recovery is broken into its phases from the stack events on the
// timeline: the controller's first failed probe, the region declared dead, the agent's
// owner gone, its takeover elsewhere, the router showing it, the first ok op; with the
// leaders held at the fault's start. Events before the fault, of other agents or regions,
// and a takeover back into the dead region do not count.
func TestRTOPhases(t *testing.T) {
	events, h := phaseFixture()
	r := RTO(context.Background(), Input{History: h, Timeline: events})
	d, _ := DataOf[RTOData](r)
	if len(d.Windows) != 1 || d.Windows[0].EtcdLeader != "a" || d.Windows[0].ControllerLeader != "b" {
		t.Fatalf("windows %+v", d.Windows)
	}
	want := map[string]map[string]float64{
		"agent-00": {timeline.RecoveryDetected: 0.05, timeline.RecoveryDeclared: 0.7, timeline.RecoveryOwnerGone: 0.71, timeline.RecoveryTakenOver: 0.75, timeline.RecoveryRouted: 0.9, timeline.RecoveryServed: 0.85},
		"agent-01": {timeline.RecoveryDetected: 0.05, timeline.RecoveryDeclared: 0.7, timeline.RecoveryOwnerGone: 0.72, timeline.RecoveryTakenOver: 0.76, timeline.RecoveryServed: 1.2},
	}
	for _, a := range d.Windows[0].Agents {
		w := want[a.Agent]
		if len(a.Phases) != len(w) {
			t.Errorf("%s phases %v, want %v", a.Agent, a.Phases, w)
			continue
		}
		for p, v := range w {
			if math.Abs(a.Phases[p]-v) > 1e-9 {
				t.Errorf("%s %s = %g, want %g", a.Agent, p, a.Phases[p], v)
			}
		}
	}
	var order []string
	for _, s := range d.Phases {
		order = append(order, s.Phase)
	}
	if len(d.Phases) != 6 || d.Phases[5].Phase != timeline.RecoveryServed || d.Phases[5].Max != 1.2 || d.Phases[4].Agents != 1 {
		t.Errorf("phase stats %+v (order %v)", d.Phases, order)
	}
}

// phaseFixture is one region outage of region a with two affected agents and every stack
// event of their recovery.
func phaseFixture() ([]timeline.Event, history.History) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	inject := timeline.Event{At: ms(10000), Kind: timeline.Inject, Name: "f1:region-outage", Fault: "region-outage", Target: "a"}
	inject.WithAgents([]string{"agent-00", "agent-01"})
	inject.WithLoss(timeline.LossRegion)
	stack := func(at int, f timeline.StackFact) timeline.Event { return timeline.StackSeen(f, ms(at)) }
	events := []timeline.Event{
		{At: ms(100), Kind: timeline.Phase, Name: timeline.PhaseLoad},
		{At: ms(9000), Kind: timeline.Observe, Name: timeline.LeadersName,
			Detail: map[string]string{faults.FactEtcdLeader: "a", faults.FactControllerLeader: "b"}},
		stack(5000, timeline.StackFact{What: string(faults.LeaseRevoked), Agent: "agent-00", Region: "a"}), // before the fault
		inject,
		stack(10700, timeline.StackFact{What: string(faults.RegionDead), Region: "a", Detected: ms(10050)}),
		stack(10710, timeline.StackFact{What: string(faults.LeaseRevoked), Agent: "agent-00", Region: "a"}),
		stack(10720, timeline.StackFact{What: string(faults.LeaseRevoked), Agent: "agent-01", Region: "a"}),
		stack(10750, timeline.StackFact{What: string(faults.OwnershipChange), Agent: "agent-00", Region: "b", From: "a", Epoch: 2}),
		stack(10760, timeline.StackFact{What: string(faults.OwnershipChange), Agent: "agent-01", Region: "c", From: "a", Epoch: 2}),
		timeline.Event{At: ms(10900), Kind: timeline.Observe, Name: timeline.OwnerName, Target: "b",
			Detail: map[string]string{"agent": "agent-00", "region": "b", "epoch": "2"}},
		{At: ms(25000), Kind: timeline.Recover, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
		{At: ms(30000), Kind: timeline.Phase, Name: timeline.PhaseHeal},
	}
	h := history.History{
		{ID: 1, Agent: "agent-00", Key: "k0", Kind: history.Get, Invoke: ms(10800), Complete: ms(10850), Outcome: history.OK, Region: "b", Epoch: 2},
		{ID: 2, Agent: "agent-01", Key: "k0", Kind: history.Get, Invoke: ms(10800), Complete: ms(11200), Outcome: history.OK, Region: "c", Epoch: 2},
	}
	return events, h
}

// A scenario's per-phase targets (sla.rto_phases_p95) are judged on the phase's p95 over the
// agents that reached it: met, missed, and a phase nobody reached or no fault at all unknown,
// never a pass.
func TestRTOPhaseTargets(t *testing.T) {
	events, h := phaseFixture()
	d := func(s string) scenarios.Duration { v, _ := time.ParseDuration(s); return scenarios.Duration(v) }
	judge := func(targets map[string]scenarios.Duration, events []timeline.Event) map[string]Status {
		sc := &scenarios.Scenario{SLA: scenarios.SLA{RTOPhasesP95: targets}}
		out := map[string]Status{}
		for _, v := range RTO(context.Background(), Input{History: h, Timeline: events, Scenario: sc}).Verdicts {
			out[v.Target] = v.Status
		}
		return out
	}
	got := judge(map[string]scenarios.Duration{"declared": d("1s"), "served": d("1s"), "routed": d("2s")}, events)
	for target, want := range map[string]Status{"declared p95 <= 1s": Pass, "served p95 <= 1s": Fail, "routed p95 <= 2s": Pass} {
		if got[target] != want {
			t.Errorf("%s: %s, want %s (all: %v)", target, got[target], want, got)
		}
	}
	// served's p95 over two agents is the slower one, 1.2s.
	if got := judge(map[string]scenarios.Duration{"served": d("1.2s")}, events); got["served p95 <= 1.2s"] != Pass {
		t.Errorf("served at its p95: %v", got)
	}
	var noDetect []timeline.Event
	for _, e := range events {
		if f, ok := e.StackFact(); ok && f.What == string(faults.RegionDead) {
			continue
		}
		noDetect = append(noDetect, e)
	}
	if got := judge(map[string]scenarios.Duration{"declared": d("1s")}, noDetect); got["declared p95 <= 1s"] != Unknown {
		t.Errorf("declared never seen: %v", got)
	}
	if got := judge(map[string]scenarios.Duration{"declared": d("1s")}, events[:1]); got["declared p95 <= 1s"] != Unknown || len(got) != 1 {
		t.Errorf("no fault: %v", got)
	}
}
