package checkers

import (
	"context"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/timeline"
)

func TestTolerance(t *testing.T) {
	s := time.Second
	inject := timeline.Event{At: 5 * s, Kind: timeline.Inject, Name: "f1:brief-pause", Fault: "brief-pause", Target: "host a",
		Detail: map[string]string{"region": "a", "service": "host", "expect": faults.ExpectNoFailover}}
	healed := timeline.Event{At: 7 * s, Kind: timeline.Healed, Name: "f1:brief-pause", Target: "host a"}
	start := []timeline.Event{owner(1*s, "agent-00", "a"), owner(1*s, "agent-01", "a"), owner(1*s, "agent-02", "b")}
	cases := []struct {
		name   string
		events []timeline.Event
		want   Status
	}{
		{"ridden out", append(append([]timeline.Event{}, start...), inject, healed), Pass},
		// The planted bug's history: one failed probe declared the paused region dead.
		{"failed over during the pause", append(append([]timeline.Event{}, start...), inject, owner(6*s, "agent-00", "b"), healed), Fail},
		{"failed over just after it healed", append(append([]timeline.Event{}, start...), inject, healed, owner(8*s, "agent-01", "c")), Fail},
		{"a later, unrelated move", append(append([]timeline.Event{}, start...), inject, healed, owner(20*s, "agent-00", "b")), Pass},
		{"another region's agent moves", append(append([]timeline.Event{}, start...), inject, owner(6*s, "agent-02", "c"), healed), Pass},
		{"nothing owned there", []timeline.Event{owner(1*s, "agent-02", "b"), inject, healed}, Unknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := Input{Timeline: c.events}
			if !toleranceApplies(in) {
				t.Fatal("a brief pause must make the tolerance checker apply")
			}
			r := Tolerance(context.Background(), in)
			if got := r.Status(); got != c.want {
				t.Errorf("status %s, want %s: %+v", got, c.want, r.Verdicts)
			}
		})
	}
	if toleranceApplies(Input{Timeline: []timeline.Event{owner(1*s, "agent-00", "a")}}) {
		t.Error("a run without a fault to ride out must get no tolerance result (saved runs replay unchanged)")
	}
}
