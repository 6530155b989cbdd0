package reports

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
)

func savedRuns(t *testing.T, names ...string) []*Run {
	t.Helper()
	var runs []*Run
	for _, n := range names {
		r, err := Load(filepath.Join("testdata", "saved", n))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	return runs
}

func near(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-6 }

func TestAggregateSavedRuns(t *testing.T) {
	a := AggregateRuns(savedRuns(t, "pass", "unsafe"))
	if a.Runs != 2 || a.Passed != 1 || a.PassRate != 0.5 {
		t.Errorf("runs %d passed %d rate %v, want 2, 1, 0.5", a.Runs, a.Passed, a.PassRate)
	}
	// 8 agents recovered in each drill; nearest rank over the 16 pooled recoveries.
	if a.RTOSamples != 16 || a.RTONotRecovered != 0 || !near(a.RTOP50, 2.580273407) ||
		!near(a.RTOP95, 2.735332941) || !near(a.RTOMax, 2.735332941) {
		t.Errorf("RTO samples %d not recovered %d p50 %v p95 %v max %v", a.RTOSamples, a.RTONotRecovered,
			deref(a.RTOP50), deref(a.RTOP95), deref(a.RTOMax))
	}
	if a.RPOWorstLost != 0 || a.RPOUnmeasured != 0 || !near(a.MinAvailable, 0.9445) {
		t.Errorf("RPO worst %d unmeasured %d availability %v", a.RPOWorstLost, a.RPOUnmeasured, deref(a.MinAvailable))
	}
	var lin VerdictTally
	for _, v := range a.Verdicts {
		if v.Name == "linearizability: linearizable" {
			lin = v
		}
	}
	if lin.Pass != 1 || lin.Fail != 1 {
		t.Errorf("linearizability tally %+v, want 1 pass 1 fail", lin)
	}
	text := a.Text()
	for _, w := range []string{"2 drills: 1 passed (pass rate 50%)", "RTO over 16 recoveries: p50 2.58s  p95 2.74s  max 2.74s",
		"RPO worst case: 0 acknowledged writes lost", "linearizability: linearizable: 1 pass, 1 fail, 0 unknown"} {
		if !strings.Contains(text, w) {
			t.Errorf("aggregate text lacks %q:\n%s", w, text)
		}
	}
	if _, err := json.Marshal(a); err != nil {
		t.Errorf("aggregate does not encode as JSON: %v", err)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestAggregateNotRecoveredAndUnknown(t *testing.T) {
	ds := []Drill{
		{Status: checkers.Pass, RTO: []float64{1, 2}, RPOMeasured: true},
		{Status: checkers.Unknown, RTO: []float64{3}, NotRecovered: 1, RPOMeasured: true, LostWrites: 4, LossWindow: 1.5},
		{Status: checkers.Pass},
	}
	a := AggregateDrills(ds)
	if a.Passed != 2 || a.RTOSamples != 4 || a.RTONotRecovered != 1 {
		t.Errorf("%+v", a)
	}
	// Ranks: p50 is the 2nd of [1 2 3 ∞]; p95 and max land on the agent that never recovered.
	if !near(a.RTOP50, 2) || a.RTOP95 != nil || a.RTOMax != nil {
		t.Errorf("p50 %v p95 %v max %v", deref(a.RTOP50), deref(a.RTOP95), deref(a.RTOMax))
	}
	if a.RPOWorstLost != 4 || a.RPOWorstWindow != 1.5 || a.RPOUnmeasured != 1 {
		t.Errorf("RPO %d %v %d", a.RPOWorstLost, a.RPOWorstWindow, a.RPOUnmeasured)
	}
	if !strings.Contains(a.Text(), "p95 never") {
		t.Errorf("text:\n%s", a.Text())
	}
}

func TestCompare(t *testing.T) {
	pass := AggregateRuns(savedRuns(t, "pass"))
	unsafe := AggregateRuns(savedRuns(t, "unsafe"))

	if c := Compare(pass, pass, DefaultThreshold); len(c.Regressions) != 0 {
		t.Errorf("a run regresses against itself: %v", c.Regressions)
	}

	// RTO p95 2.593s → 2.735s is +5.5%: within 20%, beyond 5%. The unsafe run's
	// linearizability failure is new, and it lowers the pass rate.
	c := Compare(pass, unsafe, DefaultThreshold)
	want := []string{"pass rate: 100.0% → 0.0% (-100 points)", "target linearizability: linearizable: 1/1 pass → 0/1 pass (newly failing)"}
	if strings.Join(c.Regressions, "\n") != strings.Join(want, "\n") {
		t.Errorf("regressions:\n%s\nwant:\n%s", strings.Join(c.Regressions, "\n"), strings.Join(want, "\n"))
	}
	c = Compare(pass, unsafe, 5)
	if !hasPrefix(c.Regressions, "RTO p95: 2.59s → 2.74s (+5.5%)") {
		t.Errorf("5%% threshold: %v", c.Regressions)
	}
	if !strings.Contains(c.Text(), "REGRESSION") {
		t.Errorf("text:\n%s", c.Text())
	}

	// The other way round the failing run is the baseline: nothing newly fails, RTO improved.
	if c := Compare(unsafe, pass, DefaultThreshold); len(c.Regressions) != 0 {
		t.Errorf("improvement flagged: %v", c.Regressions)
	}

	// Lost writes and agents that never recover are regressions whatever the threshold.
	worse := pass
	worse.RPOWorstLost, worse.RPOWorstWindow = 3, 0.4
	worse.RTONotRecovered, worse.RTOP95 = 1, nil
	c = Compare(pass, worse, 1000)
	for _, w := range []string{"RPO worst lost writes", "RPO worst loss window", "RTO p95", "RTO never recovered"} {
		if !hasPrefix(c.Regressions, w+":") {
			t.Errorf("%s not flagged: %v", w, c.Regressions)
		}
	}
}

func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestLoadRunsExpandsParent(t *testing.T) {
	runs, err := LoadRuns(filepath.Join("testdata", "saved"))
	if err != nil || len(runs) != 2 {
		t.Fatalf("LoadRuns(parent) = %d runs, %v", len(runs), err)
	}
	if _, err := LoadRuns(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no run directories") {
		t.Errorf("LoadRuns(empty) = %v", err)
	}
	if _, err := LoadRuns(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadRuns(missing) succeeded")
	}
}

func TestRunJSON(t *testing.T) {
	r := savedRuns(t, "unsafe")[0]
	data, err := json.Marshal(NewRunJSON(r))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Dir, Report, Status string
		Seed                int64
		Results             []checkers.Result
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Dir != r.Dir || got.Report != filepath.Join(r.Dir, rundir.HTMLFile) || got.Status != "fail" || got.Seed != 1 || len(got.Results) != 4 {
		t.Errorf("run JSON = %+v", got)
	}
}
