package reports

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

func sampleResults() []checkers.Result {
	return []checkers.Result{
		{Checker: "linearizability", Verdicts: []checkers.Verdict{
			{Checker: "linearizability", Target: "linearizable", Status: checkers.Pass, Measured: "yes", Value: 1, Limit: 1},
		}, Data: json.RawMessage(`{"partitions":48,"html":"linearizability.html"}`)},
		{Checker: "rpo", Verdicts: []checkers.Verdict{
			{Checker: "rpo", Target: "max_lost_writes <= 0", Status: checkers.Pass, Measured: "0", Value: 0, Limit: 0},
		}},
		{Checker: "rto", Verdicts: []checkers.Verdict{
			{Checker: "rto", Target: "rto_p95 <= 5s", Status: checkers.Fail, Measured: "7.31s", Value: 7.31, Limit: 5,
				Detail: "3 of 8 agents waited for lease expiry"},
		}},
		{Checker: "availability", Verdicts: []checkers.Verdict{
			{Checker: "availability", Target: "min_availability >= 0.8", Status: checkers.Unknown, Measured: "n/a",
				Detail: "no ops in the load phase"},
		}},
	}
}

func sampleRun(t testing.TB, dir string) *Run {
	t.Helper()
	s, err := scenarios.Load(filepath.Join("..", "scenarios", "region-outage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Run{
		Dir:      dir,
		Scenario: s,
		Seed:     1,
		Started:  time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		Duration: 41*time.Second + 250*time.Millisecond,
		Provider: "local",
		Timeline: []timeline.Event{
			{At: 0, Kind: timeline.Phase, Name: "up"},
			{At: 2 * time.Second, Kind: timeline.Phase, Name: "load"},
			{At: 12 * time.Second, Kind: timeline.Observe, Name: "ownership", Detail: map[string]string{"a": "8", "b": "2", "c": "2"}},
			{At: 12*time.Second + 3*time.Millisecond, Kind: timeline.Inject, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
			{At: 12*time.Second + 90*time.Millisecond, Kind: timeline.Verified, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
			{At: 27 * time.Second, Kind: timeline.Recover, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
			{At: 29 * time.Second, Kind: timeline.Healed, Name: "f1:region-outage", Fault: "region-outage", Target: "a"},
		},
		History: history.History{
			{ID: 1, Agent: "agent-0", Key: "k0", Kind: history.Put, Value: "v1", Invoke: 2 * time.Second, Complete: 2*time.Second + 4*time.Millisecond, Outcome: history.OK, Region: "a", Epoch: 1, Status: 200},
			{ID: 2, Agent: "agent-0", Key: "k0", Kind: history.Get, Invoke: 3 * time.Second, Complete: 3*time.Second + time.Millisecond, Outcome: history.OK, Found: true, Read: "v1", Region: "a", Epoch: 1, Status: 200},
			{ID: 3, Agent: "agent-1", Key: "k1", Kind: history.CAS, Value: "v3", Expect: "v0", Invoke: 12 * time.Second, Complete: 14 * time.Second, Outcome: history.Unknown, Error: "timeout"},
			{ID: 4, Agent: "agent-1", Key: "k1", Kind: history.Put, Value: "v4", Invoke: 13 * time.Second, Complete: 13*time.Second + time.Millisecond, Outcome: history.Fail, Status: 503},
			{ID: 5, Agent: "agent-0", Key: "k0", Kind: history.Get, Invoke: 35 * time.Second, Complete: 35*time.Second + time.Millisecond, Outcome: history.OK, Found: true, Read: "v1", Region: "b", Epoch: 2, Final: true},
		},
		Results: sampleResults(),
		Notes:   []string{"f1:region-outage realised exactly on local: every process of the region was killed"},
	}
	r.Status = r.Overall()
	return r
}

func TestWriteLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := sampleRun(t, dir)
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{rundir.ScenarioFile, rundir.TimelineFile, rundir.HistoryFile, rundir.ResultsFile, rundir.SummaryFile, rundir.JUnitFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Started.Equal(r.Started) {
		t.Errorf("Started = %v, want %v", got.Started, r.Started)
	}
	got.Started = r.Started
	if !reflect.DeepEqual(got, r) {
		t.Errorf("Load(Write(r)) differs:\n got %+v\nwant %+v", got, r)
	}
	// The loaded run can be written again: re-checking a saved run rewrites its reports.
	if err := Write(got); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRecordsRunSeedAndOverall(t *testing.T) {
	dir := t.TempDir()
	r := sampleRun(t, dir)
	r.Seed = 77
	r.Status = checkers.Pass // inconsistent with the verdicts: Write must not trust it
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seed != 77 || got.Scenario.Seed != 77 {
		t.Errorf("seed = %d, scenario seed = %d, want 77", got.Seed, got.Scenario.Seed)
	}
	if got.Status != checkers.Fail {
		t.Errorf("status = %v, want fail", got.Status)
	}
}

func TestWriteNeedsDirAndScenario(t *testing.T) {
	if err := Write(&Run{Scenario: &scenarios.Scenario{}}); err == nil {
		t.Error("Write without Dir succeeded")
	}
	if err := Write(&Run{Dir: t.TempDir()}); err == nil {
		t.Error("Write without Scenario succeeded")
	}
}

func TestLoadErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Load(empty dir) = %v, want an error naming %s", err, dir)
	}
	r := sampleRun(t, dir)
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.ResultsFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, rundir.ResultsFile)) {
		t.Errorf("Load(corrupt results) = %v, want an error naming results.json", err)
	}
}

func TestNonFiniteValues(t *testing.T) {
	dir := t.TempDir()
	r := sampleRun(t, dir)
	r.Results[2].Verdicts[0].Value = math.Inf(1)
	r.Results[3].Verdicts[0].Value = math.NaN()
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := got.Results[2].Verdicts[0]
	if v.Value != 0 || !strings.Contains(v.Detail, "value +Inf written as 0") {
		t.Errorf("verdict = %+v", v)
	}
	if !math.IsInf(r.Results[2].Verdicts[0].Value, 1) {
		t.Error("Write changed the caller's results")
	}
}

func TestOverall(t *testing.T) {
	pass := []checkers.Result{{Checker: "rpo", Verdicts: []checkers.Verdict{{Status: checkers.Pass}}}}
	tests := []struct {
		name string
		run  Run
		want checkers.Status
	}{
		{"all pass", Run{Results: pass}, checkers.Pass},
		{"fail beats unknown", Run{Results: sampleResults()}, checkers.Fail},
		{"no results is unknown", Run{}, checkers.Unknown},
		{"silent checker is unknown", Run{Results: append(pass, checkers.Result{Checker: "rto"})}, checkers.Unknown},
		{"harness error is not a pass", Run{Results: pass, HarnessError: "etcd did not start"}, checkers.Unknown},
		{"status is respected", Run{Results: pass, Status: checkers.Fail}, checkers.Fail},
	}
	for _, tt := range tests {
		if got := tt.run.Overall(); got != tt.want {
			t.Errorf("%s: Overall = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNewDir(t *testing.T) {
	base := filepath.Join(t.TempDir(), "runs")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		seed int64
		want string
	}{
		{"region-outage", 1, "region-outage-20260102-030405-seed1"},
		{"region-outage", 1, "region-outage-20260102-030405-seed1-2"},
		{"region-outage", 1, "region-outage-20260102-030405-seed1-3"},
		{"region-outage", 9, "region-outage-20260102-030405-seed9"},
		{"../evil name", 1, "evil-name-20260102-030405-seed1"},
		{"", 1, "run-20260102-030405-seed1"},
	}
	for _, tt := range tests {
		dir, err := NewDir(base, tt.name, tt.seed, now)
		if err != nil {
			t.Fatal(err)
		}
		if dir != filepath.Join(base, tt.want) {
			t.Errorf("NewDir(%q, %d) = %s, want %s", tt.name, tt.seed, dir, tt.want)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", dir, err)
		}
	}
}
