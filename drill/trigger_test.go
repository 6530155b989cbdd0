package drill_test

import (
	"testing"
	"time"

	"github.com/geodrill/geodrill/drill"
	"github.com/geodrill/geodrill/scenarios"
)

// The shipped double-fault scenario's trigger delay is drawn from the seed: the same seed
// gives the same delay, within the scenario's 0s..300ms, and other seeds give others.
func TestDoubleFaultDelayFollowsSeed(t *testing.T) {
	sc, err := scenarios.Load("../scenarios/double-fault.yaml")
	if err != nil {
		t.Fatal(err)
	}
	delay := func(seed int64) time.Duration {
		s := *sc
		s.Seed = seed
		specs, err := drill.FaultSpecs(&s)
		if err != nil {
			t.Fatal(err)
		}
		tr := specs[1].Trigger
		if tr == nil {
			t.Fatal("f2 of double-fault has no trigger")
		}
		if tr.After < 0 || tr.After > 300*time.Millisecond {
			t.Fatalf("seed %d: delay %s outside 0s..300ms", seed, tr.After)
		}
		return tr.After
	}
	seen := map[time.Duration]bool{}
	for seed := int64(1); seed <= 10; seed++ {
		d := delay(seed)
		if d != delay(seed) {
			t.Fatalf("seed %d: two delays differ", seed)
		}
		seen[d] = true
	}
	if len(seen) < 5 {
		t.Errorf("10 seeds drew only %d distinct delays", len(seen))
	}
}
