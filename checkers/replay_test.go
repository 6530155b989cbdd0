package checkers_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/reports"
)

// TestReplaySavedRuns re-checks run directories saved by real drills (the bug matrix's
// healthy run and its ack-before-commit run, trimmed to what a re-check reads) and requires
// exactly the verdicts the drill saved, twice over: checkers are pure functions of the run.
// The ack-before-commit run was saved by an older geodrill, before observations kept object
// contents and log values: it must still load, and the verdicts that need those are unknown.
func TestReplaySavedRuns(t *testing.T) {
	tests := []struct {
		dir    string
		want   checkers.Status
		failed []string // checkers that must fail
		// unknown are verdict targets (prefixes) that must be unknown for lack of data
		unknown []string
	}{
		{"healthy", checkers.Pass, nil, nil},
		{"ack-before-commit", checkers.Fail, []string{checkers.NameLinearizability}, []string{"agents rebuilt from chain + log"}},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			run, err := reports.Load(filepath.Join("testdata", "saved", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Results) == 0 || run.Observations == nil {
				t.Fatal("the saved run has no verdicts or no observations.json to compare with")
			}
			in := checkers.Input{Scenario: run.Scenario, History: run.History, Timeline: run.Timeline, Observations: run.Observations}
			first := checkers.Run(context.Background(), in)
			second := checkers.Run(context.Background(), in)
			// Every saved verdict is judged again the same; verdicts added since the run was
			// saved are not compared, and a re-check repeats itself exactly.
			diffs, onlyOne := checkers.Compare(run.Results, first)
			if len(diffs) > 0 {
				t.Errorf("saved vs re-check: differences %q", diffs)
			}
			for _, o := range onlyOne {
				if !strings.HasSuffix(o, "(not in the saved results)") {
					t.Errorf("saved vs re-check: %s", o)
				}
			}
			if diffs, onlyOne := checkers.Compare(first, second); len(diffs) > 0 || len(onlyOne) > 0 {
				t.Errorf("re-check vs re-check: differences %q, unmatched %q", diffs, onlyOne)
			}
			if got := checkers.Overall(first); got != tc.want || got != run.Status {
				t.Errorf("overall %s, saved %s, want %s", got, run.Status, tc.want)
			}
			for _, target := range tc.unknown {
				found := false
				for _, r := range first {
					for _, v := range r.Verdicts {
						if strings.HasPrefix(v.Target, target) {
							found = true
							if v.Status != checkers.Unknown || !strings.Contains(v.Detail, "older geodrill") {
								t.Errorf("%s %q = %s (%s), want unknown for lack of data", r.Checker, v.Target, v.Status, v.Detail)
							}
						}
					}
				}
				if !found {
					t.Errorf("no verdict %q", target)
				}
			}
			for _, name := range tc.failed {
				for _, r := range first {
					if r.Checker == name && r.Status() != checkers.Fail {
						t.Errorf("%s = %s, want fail", name, r.Status())
					}
				}
			}
		})
	}
}

// TestCompareFindsChangedVerdicts: a replay that disagrees in any judged field is reported.
func TestCompareFindsChangedVerdicts(t *testing.T) {
	base := []checkers.Result{{Checker: "rpo", Verdicts: []checkers.Verdict{{Checker: "rpo", Target: "lost writes <= 0", Status: checkers.Pass, Measured: "0", Value: 0}}}}
	changes := map[string]func(*checkers.Verdict){
		"status":   func(v *checkers.Verdict) { v.Status = checkers.Fail },
		"measured": func(v *checkers.Verdict) { v.Measured = "1" },
		"value":    func(v *checkers.Verdict) { v.Value = 1 },
		"limit":    func(v *checkers.Verdict) { v.Limit = 2 },
	}
	for name, change := range changes {
		now := []checkers.Result{{Checker: "rpo", Verdicts: append([]checkers.Verdict(nil), base[0].Verdicts...)}}
		change(&now[0].Verdicts[0])
		if diffs, _ := checkers.Compare(base, now); len(diffs) != 1 {
			t.Errorf("changed %s: diffs %q, want one", name, diffs)
		}
	}
	if diffs, onlyOne := checkers.Compare(base, append(base, checkers.Result{Checker: "new"})); len(diffs) != 0 || len(onlyOne) != 1 {
		t.Errorf("an added checker: diffs %q, unmatched %q", diffs, onlyOne)
	}
	// Verdicts pair by target: another target is one verdict dropped and one added.
	retargeted := []checkers.Result{{Checker: "rpo", Verdicts: []checkers.Verdict{base[0].Verdicts[0]}}}
	retargeted[0].Verdicts[0].Target = "lost writes <= 1"
	if diffs, onlyOne := checkers.Compare(base, retargeted); len(diffs) != 0 || len(onlyOne) != 2 {
		t.Errorf("changed target: diffs %q, unmatched %q, want two unmatched", diffs, onlyOne)
	}
	added := []checkers.Result{{Checker: "rpo", Verdicts: append([]checkers.Verdict{{Checker: "rpo", Target: "new target", Status: checkers.Fail}}, base[0].Verdicts...)}}
	if diffs, onlyOne := checkers.Compare(base, added); len(diffs) != 0 || len(onlyOne) != 1 || !strings.Contains(onlyOne[0], "new target") {
		t.Errorf("an added verdict: diffs %q, unmatched %q", diffs, onlyOne)
	}
	if diffs, onlyOne := checkers.Compare(added, base); len(diffs) != 0 || len(onlyOne) != 1 || !strings.Contains(onlyOne[0], "not judged now") {
		t.Errorf("a dropped verdict: diffs %q, unmatched %q", diffs, onlyOne)
	}
	same := []checkers.Result{{Checker: "rpo", Verdicts: []checkers.Verdict{base[0].Verdicts[0]}}}
	same[0].Verdicts[0].Detail = "free text differs"
	if diffs, onlyOne := checkers.Compare(base, same); len(diffs) != 0 || len(onlyOne) != 0 {
		t.Errorf("only Detail differs: diffs %q, unmatched %q", diffs, onlyOne)
	}
}
