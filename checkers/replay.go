package checkers

import (
	"fmt"
	"math"
)

// Compare tells whether re-running the checkers on a saved run (now) gave the verdicts the
// run saved (saved). Verdicts are paired by checker and target (the n-th verdict with a
// target on one side with the n-th on the other) and must match on status, measured text,
// value and limit; Detail is free text and may hold search-time diagnostics, so it is not
// compared. Checkers and verdicts present on one side only (a run saved by an older or newer
// geodrill) are listed in onlyOne, not counted as differences.
func Compare(saved, now []Result) (diffs, onlyOne []string) {
	savedBy := map[string]Result{}
	for _, r := range saved {
		savedBy[r.Checker] = r
	}
	seen := map[string]bool{}
	for _, n := range now {
		seen[n.Checker] = true
		s, ok := savedBy[n.Checker]
		if !ok {
			onlyOne = append(onlyOne, n.Checker+" (not in the saved results)")
			continue
		}
		type slot struct {
			target string
			n      int
		}
		savedVerdicts := map[slot]Verdict{}
		count := map[string]int{}
		for _, v := range s.Verdicts {
			savedVerdicts[slot{v.Target, count[v.Target]}] = v
			count[v.Target]++
		}
		paired := map[slot]bool{}
		count = map[string]int{}
		for _, b := range n.Verdicts {
			k := slot{b.Target, count[b.Target]}
			count[b.Target]++
			a, ok := savedVerdicts[k]
			if !ok {
				onlyOne = append(onlyOne, fmt.Sprintf("%s %q (not in the saved results)", n.Checker, b.Target))
				continue
			}
			paired[k] = true
			if a.Checker != b.Checker || a.Status != b.Status ||
				a.Measured != b.Measured || !sameFloat(a.Value, b.Value) || !sameFloat(a.Limit, b.Limit) {
				diffs = append(diffs, fmt.Sprintf("%s %q: saved %s %q (value %g), now %s %q (value %g)",
					n.Checker, a.Target, a.Status, a.Measured, a.Value, b.Status, b.Measured, b.Value))
			}
		}
		count = map[string]int{}
		for _, a := range s.Verdicts {
			k := slot{a.Target, count[a.Target]}
			count[a.Target]++
			if !paired[k] {
				onlyOne = append(onlyOne, fmt.Sprintf("%s %q (saved, not judged now)", n.Checker, a.Target))
			}
		}
	}
	for _, s := range saved {
		if !seen[s.Checker] {
			onlyOne = append(onlyOne, s.Checker+" (saved, not run now)")
		}
	}
	return diffs, onlyOne
}

// sameFloat compares values that went through JSON: results.json writes NaN/Inf as 0.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return true // not representable in the saved file; the status and text decide
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a))
}
