package checkers

import (
	"fmt"
	"math"
)

// Compare tells whether re-running the checkers on a saved run (now) gave the verdicts the
// run saved (saved). Verdicts match on checker, target, status, measured text, value and
// limit; Detail is free text and may hold search-time diagnostics, so it is not compared.
// Checkers present on one side only (a run saved by an older or newer geodrill) are listed
// in onlyOne, not counted as differences.
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
		if len(s.Verdicts) != len(n.Verdicts) {
			diffs = append(diffs, fmt.Sprintf("%s: %d verdicts saved, %d now", n.Checker, len(s.Verdicts), len(n.Verdicts)))
			continue
		}
		for i := range n.Verdicts {
			a, b := s.Verdicts[i], n.Verdicts[i]
			if a.Checker != b.Checker || a.Target != b.Target || a.Status != b.Status ||
				a.Measured != b.Measured || !sameFloat(a.Value, b.Value) || !sameFloat(a.Limit, b.Limit) {
				diffs = append(diffs, fmt.Sprintf("%s %q: saved %s %q (value %g), now %s %q (value %g)",
					n.Checker, a.Target, a.Status, a.Measured, a.Value, b.Status, b.Measured, b.Value))
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
