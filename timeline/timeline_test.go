package timeline

import (
	"slices"
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	s := time.Second
	inOrder := []Event{
		{At: 1 * s, Kind: Inject, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
		{At: 2 * s, Kind: Verified, Name: "f1:region-outage"},
		{At: 3 * s, Kind: Inject, Name: "f2:pause", Fault: "pause", Target: "b"},
		{At: 5 * s, Kind: Healed, Name: "f1:region-outage"},
		{At: 9 * s, Kind: Phase, Name: "final-reads"},
	}
	want := []Window{
		{Name: "f1:region-outage", Fault: "region-outage", Target: "a", Start: 1 * s, End: 5 * s},
		{Name: "f2:pause", Fault: "pause", Target: "b", Start: 3 * s}, // never healed
	}
	reversed := slices.Clone(inOrder)
	slices.Reverse(reversed)
	for name, events := range map[string][]Event{"in order": inOrder, "reversed": reversed} {
		if got := Windows(events); !slices.Equal(got, want) {
			t.Errorf("%s: Windows = %+v, want %+v", name, got, want)
		}
	}
	if got := Sorted(reversed); !slices.EqualFunc(got, inOrder, func(a, b Event) bool { return a.At == b.At && a.Name == b.Name }) {
		t.Errorf("Sorted = %+v", got)
	}
}

// An owner sighting and a fault's agents go through the timeline's Detail strings, as saved
// runs hold them, and come back typed; other events and older spellings decode as before.
func TestOwnerAndAgentsRoundTrip(t *testing.T) {
	o := Owner{Agent: "agent-03", Region: "b", Epoch: 7}
	if got, ok := OwnerSeen(o).Owner(); !ok || got != o {
		t.Errorf("owner round trip: %+v %v, want %+v", got, ok, o)
	}
	old := Event{Kind: Observe, Name: OwnerName, Target: "c", Detail: map[string]string{"agent": "agent-01", "epoch": "x"}}
	if got, ok := old.Owner(); !ok || got != (Owner{Agent: "agent-01", Region: "c"}) {
		t.Errorf("owner without region, bad epoch: %+v %v", got, ok)
	}
	if _, ok := (Event{Kind: Observe, Name: "leaders"}).Owner(); ok {
		t.Error("a leaders observation decoded as an owner")
	}

	var e Event
	if _, ok := e.Agents(); ok {
		t.Error("an event without agents says it has some")
	}
	e.WithAgents([]string{"agent-02", "agent-00"})
	if got, ok := e.Agents(); !ok || len(got) != 2 || got[0] != "agent-00" || got[1] != "agent-02" {
		t.Errorf("agents: %v %v", got, ok)
	}
	e.WithAgents([]string{})
	if got, ok := e.Agents(); !ok || len(got) != 0 {
		t.Errorf("no agents, said: %v %v", got, ok)
	}
}

// A fault's loss is what it recorded; runs saved before faults recorded it read as the
// checkers read them then.
func TestLoss(t *testing.T) {
	var e Event
	e.WithLoss(LossRegion)
	if e.Loss() != LossRegion {
		t.Errorf("recorded region loss read as %q", e.Loss())
	}
	for _, tt := range []struct {
		e    Event
		want Loss
	}{
		{Event{Kind: Inject, Fault: "region-outage"}, LossRegion},
		{Event{Kind: Inject, Name: "f1:region-outage"}, LossRegion},
		{Event{Kind: Inject, Fault: "partition", Detail: map[string]string{"shape": "isolate"}}, LossRegion},
		{Event{Kind: Inject, Fault: "partition", Detail: map[string]string{"shape": "pair"}}, LossNone},
		{Event{Kind: Inject, Fault: "pause"}, LossNone},
		{Event{Kind: Inject, Fault: "region-outage", Detail: map[string]string{"loses": ""}}, LossNone},
	} {
		if got := tt.e.Loss(); got != tt.want {
			t.Errorf("%+v: loss %q, want %q", tt.e, got, tt.want)
		}
	}
}
