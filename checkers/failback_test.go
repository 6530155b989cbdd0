package checkers

import (
	"context"
	"testing"
	"time"

	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
)

func failbackScenario(mode string) *scenarios.Scenario {
	sc := &scenarios.Scenario{}
	sc.Topology.Regions = []string{"a", "b"}
	sc.Topology.Agents = 2
	sc.Topology.Placement = map[string]int{"a": 2}
	sc.Stack.Failback.Mode = mode
	sc.Stack.Failback.Hold = 5 * time.Second
	return sc
}

func owner(at time.Duration, agent, region string) timeline.Event {
	return timeline.Event{At: at, Kind: timeline.Observe, Name: "owner", Target: region,
		Detail: map[string]string{"agent": agent, "region": region, "epoch": "1"}}
}

func TestFailback(t *testing.T) {
	s := time.Second
	healed := timeline.Event{At: 20 * s, Kind: timeline.Healed, Name: "f1:region-outage", Target: "a"}
	cases := []struct {
		name      string
		events    []timeline.Event
		want      Status
		wantDelay time.Duration
	}{
		{"both back", []timeline.Event{
			owner(1*s, "agent-00", "a"), owner(1*s, "agent-01", "a"),
			owner(11*s, "agent-00", "b"), owner(11*s, "agent-01", "b"), healed,
			owner(26*s, "agent-00", "a"), owner(27*s, "agent-01", "a"),
		}, Pass, 7 * s},
		{"one stays away", []timeline.Event{
			owner(1*s, "agent-00", "a"), owner(1*s, "agent-01", "a"),
			owner(11*s, "agent-00", "b"), owner(11*s, "agent-01", "b"), healed,
			owner(26*s, "agent-00", "a"),
		}, Fail, 6 * s},
		{"back then away again", []timeline.Event{
			owner(1*s, "agent-00", "a"), owner(11*s, "agent-00", "b"), healed,
			owner(26*s, "agent-00", "a"), owner(28*s, "agent-00", "b"),
		}, Fail, 0},
		{"never moved", []timeline.Event{owner(1*s, "agent-00", "a"), owner(1*s, "agent-01", "a")}, Unknown, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := Run(context.Background(), Input{Scenario: failbackScenario("auto"), Timeline: tc.events})
			var got *Result
			for i := range rs {
				if rs[i].Checker == NameFailback {
					got = &rs[i]
				}
			}
			if got == nil {
				t.Fatal("no failback result for an auto fail-back scenario")
			}
			if got.Verdicts[0].Status != tc.want {
				t.Errorf("status %s (%s), want %s", got.Verdicts[0].Status, got.Verdicts[0].Measured, tc.want)
			}
			if tc.wantDelay > 0 && got.Verdicts[1].Value != tc.wantDelay.Seconds() {
				t.Errorf("delay %gs, want %s", got.Verdicts[1].Value, tc.wantDelay)
			}
		})
	}
}

// Scenarios without automatic fail-back get no failback result, so their saved runs replay
// to the same results.
func TestFailbackOnlyForAutoScenarios(t *testing.T) {
	for _, sc := range []*scenarios.Scenario{nil, failbackScenario(""), failbackScenario("manual")} {
		for _, r := range Run(context.Background(), Input{Scenario: sc}) {
			if r.Checker == NameFailback {
				t.Errorf("failback result for a scenario without auto fail-back (%v)", sc)
			}
		}
	}
}
