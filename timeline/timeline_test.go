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
