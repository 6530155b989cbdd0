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
//   - An unknown write whose value no op saw and no kept unknown cas expects cannot be told
//     apart from one that never happened: it is dropped —
//     unless the partition has an ok cas that did not swap and did not say what it read,
//     whose refusal could hinge on the write's value being there. Dropping runs to a fixed
//     point: an unknown cas dropped for writing a value nobody saw no longer keeps the
//     value it expects, so a chain of unknown cas whose last value was never seen goes
//     whole, with the unknown write it started from.
//   - Of the ok gets that returned the same result, only the one invoked last and the one
//     that returned first are kept. With unique values the register holds that result for
//     one stretch of any linearization (from the write of the value to the next write; an
//     absent key, from the start to the first write), and a get fits iff its interval
//     meets that stretch: it must return after the stretch begins and be invoked before it
//     ends, which those two decide for every other. This is what keeps a burst of reads
//     that piled up behind a stall (an etcd election) from blowing up the search.
//
// All keep the verdict: a linearization of the shrunk partition is one of the original (a
// dropped write placed after everything, a dropped get placed beside a kept one or between
// the two), and the converse holds by the rules above. It returns the kept ops, how many
// unknown writes were dropped and patched, and how many gets were merged away.
func shrink(ops []porcupine.Operation) (kept []porcupine.Operation, dropped, patched, merged int) {
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
		if sawValue {
			mentioned[saw] = true
			if t, ok := firstSeen[saw]; !ok || op.Return < t {
				firstSeen[saw] = op.Return
			}
		}
	}
	for _, n := range writers {
		if n > 1 {
			return ops, 0, 0, 0 // values repeat: which write a read saw is ambiguous
		}
	}
	drop := droppable(ops, firstSeen, mentioned, blindRefusal)
	// The gets to keep, per result: the last invoked and the first returned.
	type extremes struct{ lastCall, firstReturn int }
	reads := map[kvOutput]*extremes{}
	for i, op := range ops {
		if in := op.Input.(kvInput); in.Kind != history.Get || in.Unknown {
			continue
		}
		out := op.Output.(kvOutput)
		e := reads[out]
		if e == nil {
			reads[out] = &extremes{i, i}
			continue
		}
		if op.Call > ops[e.lastCall].Call {
			e.lastCall = i
		}
		if op.Return < ops[e.firstReturn].Return {
			e.firstReturn = i
		}
	}
	kept = make([]porcupine.Operation, 0, len(ops))
	for i, op := range ops {
		in := op.Input.(kvInput)
		if in.Kind == history.Get && !in.Unknown {
			if e := reads[op.Output.(kvOutput)]; i != e.lastCall && i != e.firstReturn {
				merged++
				continue
			}
		}
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
		if drop[i] {
			dropped++
			continue
		}
		kept = append(kept, op)
	}
	return kept, dropped, patched, merged
}

// droppable marks the unknown writes (puts and cas) that can go: their value was not seen
// nor mentioned by a completed op, and no unknown cas that stays expects it. An unknown cas
// may have swapped, which needs its Expect in place (an ok cas that swapped saw its Expect;
// one refused read something else), so while it stays the write of its Expect stays too;
// once it goes, that write is looked at again (a worklist: a chain of n cas costs O(n)).
// With a blind refusal nothing goes.
func droppable(ops []porcupine.Operation, firstSeen map[string]int64, mentioned map[string]bool, blindRefusal bool) map[int]bool {
	drop := map[int]bool{}
	if blindRefusal {
		return drop
	}
	writer := map[string]int{}  // value -> index of the unknown write writing it
	expects := map[string]int{} // value -> unknown cas expecting it, not yet dropped
	for i, op := range ops {
		in := op.Input.(kvInput)
		if !in.Unknown || in.Kind == history.Get {
			continue
		}
		writer[in.Value] = i
		if in.Kind == history.CAS {
			expects[in.Expect]++
		}
	}
	candidate := func(i int) bool {
		v := ops[i].Input.(kvInput).Value
		_, seen := firstSeen[v]
		return !drop[i] && !seen && !mentioned[v] && expects[v] == 0
	}
	var work []int
	for _, i := range writer {
		if candidate(i) {
			work = append(work, i)
		}
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		if !candidate(i) {
			continue
		}
		drop[i] = true
		if in := ops[i].Input.(kvInput); in.Kind == history.CAS {
			expects[in.Expect]--
			if j, ok := writer[in.Expect]; ok && candidate(j) {
				work = append(work, j)
			}
		}
	}
	return drop
}
