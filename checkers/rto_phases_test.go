package checkers

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// A region outage's recovery is broken into its phases from the stack events on the
// timeline: the controller's first failed probe, the region declared dead, the agent's
// owner gone, its takeover elsewhere, the router showing it, the first ok op; with the
// leaders held at the fault's start. Events before the fault, of other agents or regions,
// and a takeover back into the dead region do not count.
func TestRTOPhases(t *testing.T) {
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
	r := RTO(context.Background(), Input{History: h, Timeline: events})
	d, _ := DataOf[RTOData](r)
	if len(d.Windows) != 1 || d.Windows[0].EtcdLeader != "a" || d.Windows[0].ControllerLeader != "b" {
		t.Fatalf("windows %+v", d.Windows)
	}
	want := map[string]map[string]float64{
		"agent-00": {PhaseDetected: 0.05, PhaseDeclared: 0.7, PhaseOwnerGone: 0.71, PhaseTakenOver: 0.75, PhaseRouted: 0.9, PhaseServed: 0.85},
		"agent-01": {PhaseDetected: 0.05, PhaseDeclared: 0.7, PhaseOwnerGone: 0.72, PhaseTakenOver: 0.76, PhaseServed: 1.2},
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
	if len(d.Phases) != 6 || d.Phases[5].Phase != PhaseServed || d.Phases[5].Max != 1.2 || d.Phases[4].Agents != 1 {
		t.Errorf("phase stats %+v (order %v)", d.Phases, order)
	}
}
