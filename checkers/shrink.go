package checkers

import (
	"github.com/anishathalye/porcupine"

	"github.com/geodrill/geodrill/workload/history"
)

// shrink narrows one partition's search before it starts, the way etcd's robustness tests
// patch histories; it relies on every write of the partition writing a value no other
// write of it writes (the workload's values are unique per op), and leaves a partition
// where that does not hold as it is.
//
//   - An unknown write whose value some completed op saw (an ok get or a failed cas that
//     read it, an ok cas that swapped it out) did take effect, and before the first such op
//     completed: its return time becomes that completion instead of "never returned".
//   - An unknown write whose value no op saw and no unknown cas expects cannot be told
//     apart from one that never happened: it is dropped —
//     unless the partition has an ok cas that did not swap and did not say what it read,
//     whose refusal could hinge on the write's value being there.
//
// Both keep the verdict: a linearization of the shrunk partition is one of the original
// (a dropped write placed after everything), and the converse holds by the rules above.
// It returns the kept ops and how many were dropped and patched.
func shrink(ops []porcupine.Operation) (kept []porcupine.Operation, dropped, patched int) {
	writers := map[string]int{}     // value -> how many writes write it
	firstSeen := map[string]int64{} // value -> earliest completion of an op that saw it
	mentioned := map[string]bool{}  // value -> read or expected by some op
	blindRefusal := false           // an ok cas refused without saying what it read
	for _, op := range ops {
		in, out := op.Input.(kvInput), op.Output.(kvOutput)
		if in.Kind != history.Get {
			writers[in.Value]++
		}
		saw, sawValue := "", false
		switch {
		case in.Kind == history.Get && !in.Unknown:
			saw, sawValue = out.Read, out.Found
		case in.Kind == history.CAS && !in.Unknown && out.Swapped:
			saw, sawValue = in.Expect, true
		case in.Kind == history.CAS && !in.Unknown && out.ReadKnown:
			saw, sawValue = out.Read, out.Found
		case in.Kind == history.CAS && !in.Unknown:
			blindRefusal = true
		}
		if in.Kind == history.CAS && in.Unknown {
			// It may have swapped, which needs Expect in place: a write of that value may
			// be why. (An ok cas that swapped saw its Expect, below; one refused read
			// something else, so no linearization has Expect there at that point.)
			mentioned[in.Expect] = true
		}
		if sawValue {
			mentioned[saw] = true
			if t, ok := firstSeen[saw]; !ok || op.Return < t {
				firstSeen[saw] = op.Return
			}
		}
	}
	for _, n := range writers {
		if n > 1 {
			return ops, 0, 0 // values repeat: which write a read saw is ambiguous
		}
	}
	kept = make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		in := op.Input.(kvInput)
		if !in.Unknown || in.Kind == history.Get {
			kept = append(kept, op)
			continue
		}
		if t, ok := firstSeen[in.Value]; ok {
			op.Return = max(t, op.Call)
			patched++
			kept = append(kept, op)
			continue
		}
		if !mentioned[in.Value] && !blindRefusal {
			dropped++
			continue
		}
		kept = append(kept, op)
	}
	return kept, dropped, patched
}
