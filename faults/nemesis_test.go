package faults

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNemesisSameSeedSameSchedule(t *testing.T) {
	n := Nemesis{Start: 5 * time.Second, End: 2 * time.Minute,
		MinHold: 3 * time.Second, MaxHold: 10 * time.Second, MinGap: 2 * time.Second, MaxGap: 8 * time.Second}
	topo := []string{"a", "b", "c"}
	first, err := n.Schedule(42, topo)
	if err != nil {
		t.Fatal(err)
	}
	again, err := n.Schedule(42, topo)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("same seed gave different schedules:\n%+v\n%+v", first, again)
	}
	other, err := n.Schedule(43, topo)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(first, other) {
		t.Fatalf("seeds 42 and 43 gave the same schedule: the seed is not used")
	}
	if len(first) < 5 {
		t.Fatalf("a 2-minute window with 3-10s holds gave only %d faults", len(first))
	}
	var end time.Duration
	for i, s := range first {
		if s.At < end {
			t.Errorf("fault %d at %s overlaps the previous one (ends %s)", i, s.At, end)
		}
		if s.At+s.Duration > n.End {
			t.Errorf("fault %d ends at %s, past the window end %s", i, s.At+s.Duration, n.End)
		}
		end = s.At + s.Duration
		// Every drawn spec must build into a fault: the nemesis only emits valid params.
		k, err := Lookup(s.Kind)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.New(s); err != nil {
			t.Errorf("fault %d (%+v) does not build: %v", i, s, err)
		}
	}
}

func TestNemesisRejectsBadSettings(t *testing.T) {
	topo := []string{"a", "b", "c"}
	for _, n := range []Nemesis{
		{End: time.Minute}, // no hold
		{End: time.Minute, MinHold: time.Second, MaxHold: time.Millisecond}, // max < min
		{Start: time.Minute, End: time.Second, MinHold: time.Second, MaxHold: time.Second},
		{End: time.Minute, MinHold: time.Second, MaxHold: time.Second, Kinds: []string{"meteor"}},
	} {
		if _, err := n.Schedule(1, topo); err == nil {
			t.Errorf("%+v: want an error", n)
		}
	}
}

func TestPartitionShapes(t *testing.T) {
	topo := []string{"a", "b", "c"}
	tests := []struct {
		shape, region, from, to string
		want                    []Cut
	}{
		{ShapeIsolate, "a", "", "", []Cut{{"a", "b"}, {"b", "a"}, {"a", "c"}, {"c", "a"}}},
		{ShapePair, "", "a", "b", []Cut{{"a", "b"}, {"b", "a"}}},
		{ShapeOneWay, "", "a", "b", []Cut{{"a", "b"}}},
		{ShapeBridge, "b", "", "", []Cut{{"a", "c"}, {"c", "a"}}},
		{ShapeMajorityMinority, "c", "", "", []Cut{{"c", "a"}, {"a", "c"}, {"c", "b"}, {"b", "c"}}},
	}
	for _, tc := range tests {
		f, err := partitionKind.New(Spec{Region: tc.region, Topology: topo}, &PartitionParams{Shape: tc.shape, From: tc.from, To: tc.to})
		if err != nil {
			t.Fatalf("%s: %v", tc.shape, err)
		}
		region := tc.region
		if got := f.(*Partition).Cuts(region); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: cuts %v, want %v", tc.shape, got, tc.want)
		}
	}
}

func TestPlanNamesProviderForUnavailableFault(t *testing.T) {
	// A cluster with no capabilities: every kind is unavailable and says why.
	_, err := Plan([]Spec{{Kind: "partition", Params: &PartitionParams{Shape: ShapeIsolate}, Region: "a", Topology: []string{"a", "b", "c"},
		Duration: time.Second}}, struct{}{}, "local")
	if err == nil {
		t.Fatal("want an error for a partition on a provider without network control")
	}
	for _, want := range []string{`provider "local"`, "provider: netns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
