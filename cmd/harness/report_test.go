package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/reports"
)

// savedCopy copies a saved run from reports/testdata into dir/name (report writes
// report.html into runs that lack one, and testdata must stay as it is).
func savedCopy(t *testing.T, dir, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "reports", "testdata", "saved", name)
	dst := filepath.Join(dir, name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"scenario.yaml", "timeline.jsonl", "history.jsonl", "results.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestReportAggregatesAndCompares(t *testing.T) {
	tmp := t.TempDir()
	pass := savedCopy(t, tmp, "pass")
	unsafe := savedCopy(t, filepath.Join(tmp, "many"), "unsafe")
	savedCopy(t, filepath.Join(tmp, "many"), "pass")

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"one passing run", []string{"report", pass}, exitPass,
			[]string{"1 drills: 1 passed (pass rate 100%)", "RTO over 8 recoveries: p50 2.51s  p95 2.59s  max 2.59s"}},
		{"a directory of runs", []string{"report", filepath.Join(tmp, "many")}, exitCheck,
			[]string{"2 drills: 1 passed (pass rate 50%)", "linearizability: linearizable: 1 pass, 1 fail"}},
		{"same as baseline", []string{"report", "--baseline", pass, pass}, exitPass,
			[]string{"no regression against the baseline (threshold 20%)"}},
		{"newly failing target", []string{"report", unsafe, "--baseline", pass}, exitCheck,
			[]string{"target linearizability: linearizable: 1/1 pass → 0/1 pass (newly failing)", "REGRESSION"}},
		{"RTO p95 over a tight threshold", []string{"report", "--threshold", "5", "--baseline", pass, unsafe}, exitCheck,
			[]string{"RTO p95: 2.59s → 2.74s (+5.5%)"}},
		{"failing baseline, passing now", []string{"report", "--baseline", unsafe, pass}, exitPass,
			[]string{"no regression"}},
		{"no dirs", []string{"report"}, exitUsage, nil},
		{"negative threshold", []string{"report", "--threshold", "-1", pass}, exitUsage, nil},
		{"not a run", []string{"report", t.TempDir()}, exitHarness, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out.String(), errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(pass, "report.html")); err != nil {
		t.Errorf("report did not write the missing report.html: %v", err)
	}
}

func TestReportJSON(t *testing.T) {
	tmp := t.TempDir()
	pass := savedCopy(t, tmp, "pass")
	unsafe := savedCopy(t, tmp, "unsafe")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"report", "--json", "--baseline", pass, unsafe}, &out, &errOut)
	var doc struct {
		Aggregate  struct{ Runs, Passed int }
		Baseline   *struct{ Runs int }
		Comparison *struct{ Regressions []string }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if code != exitCheck || doc.Aggregate.Runs != 1 || doc.Aggregate.Passed != 0 || doc.Baseline == nil ||
		doc.Comparison == nil || len(doc.Comparison.Regressions) != 2 {
		t.Errorf("exit %d, doc %+v", code, doc)
	}
}

func TestRunFlagErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	scenario := filepath.Join("..", "..", "scenarios", "region-outage.yaml")
	if code := run(context.Background(), []string{"run", "--repeat", "0", scenario}, &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "--repeat 0: must be at least 1") {
		t.Errorf("--repeat 0: exit %d\n%s", code, errOut.String())
	}
	for _, tc := range []struct{ unsafe, want string }{
		{"skip-checksum,no-fencin", `unknown unsafe switch "no-fencin" (known: ack-before-commit, `},
		{"no-replication", "applies to durability async only"}, // region-outage.yaml is sync-geo
	} {
		errOut.Reset()
		if code := run(context.Background(), []string{"run", "--unsafe", tc.unsafe, scenario}, &out, &errOut); code != exitUsage ||
			!strings.Contains(errOut.String(), tc.want) {
			t.Errorf("--unsafe %s: exit %d, want %d and %q\n%s", tc.unsafe, code, exitUsage, tc.want, errOut.String())
		}
	}
}

// TestPrintJSON: one drill prints its results object; several print runs and aggregates.
func TestPrintJSON(t *testing.T) {
	tmp := t.TempDir()
	runs, err := reports.LoadRuns(savedCopy(t, tmp, "pass"), savedCopy(t, tmp, "unsafe"))
	if err != nil {
		t.Fatal(err)
	}
	var one bytes.Buffer
	if err := printJSON(&one, runs[:1], nil); err != nil {
		t.Fatal(err)
	}
	var single struct{ Dir, Report, Status string }
	if err := json.Unmarshal(one.Bytes(), &single); err != nil || single.Status != "pass" || single.Dir != runs[0].Dir {
		t.Errorf("one drill: %+v %v\n%s", single, err, one.String())
	}
	var many bytes.Buffer
	if err := printJSON(&many, runs, []reports.Aggregate{reports.AggregateRuns(runs)}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Runs       []struct{ Status string }
		Aggregates []struct{ Runs, Passed int }
	}
	if err := json.Unmarshal(many.Bytes(), &doc); err != nil || len(doc.Runs) != 2 || doc.Runs[1].Status != "fail" ||
		len(doc.Aggregates) != 1 || doc.Aggregates[0].Runs != 2 || doc.Aggregates[0].Passed != 1 {
		t.Errorf("several drills: %+v %v", doc, err)
	}
}
