package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
)

func TestSummary(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"linearizability.html", filepath.Join(rundir.LogsDir, "etcd-a.log"), filepath.Join(rundir.LogsDir, "host-b.log")} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := sampleRun(t, dir)
	if err := Write(r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, rundir.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	for _, want := range []string{
		"# geodrill: region-outage — FAIL\n",
		"| Seed | 1 |",
		"| Provider | local |",
		"| Started | 2026-03-04 05:06:07 UTC |",
		"| Duration | 41.25s |",
		"| Verdict | **FAIL** — 2 of 4 targets passed, 1 failed, 1 unknown |",
		"## SLA\n\n| Checker | Target | Measured | Verdict |\n|---|---|---|---|\n",
		"| linearizability | linearizable | yes | PASS |",
		"| rpo | max_lost_writes <= 0 | 0 | PASS |",
		"| rto | rto_p95 <= 5s | 7.31s | **FAIL** |",
		"| availability | min_availability >= 0.8 | n/a | **UNKNOWN** |",
		"3 of 8 agents waited for lease expiry",
		"| Time | Event | Fault | Target |",
		"| 0.000s | phase up | - | - |",
		"| 12.000s | observe ownership (a=8, b=2, c=2) | - | - |",
		"| 12.003s | inject | f1:region-outage | a |",
		"| 29.000s | healed | f1:region-outage | a |",
		"| put | 1 | 1 | 0 | 2 |",
		"| cas | 0 | 0 | 1 | 1 |",
		"| final reads | 1 | 0 | 0 | 1 |",
		"| **all** | 3 | 1 | 1 | 5 |",
		"realised exactly on local",
		"- [linearizability visualization (linearizability.html)](linearizability.html)",
		"- [logs/](logs/): process logs",
		"  - [etcd-a.log](logs/etcd-a.log)",
		"- [junit.xml](junit.xml)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("summary.md:\n%s", md)
	}
}

func TestSummaryHarnessErrorAndEscaping(t *testing.T) {
	r := sampleRun(t, t.TempDir())
	r.HarnessError = "cluster up: a|b\nfailed"
	r.Status = checkers.Pass
	r.Results = []checkers.Result{{Checker: "odd", Verdicts: []checkers.Verdict{{Checker: "odd", Target: "x | y", Measured: "1", Status: checkers.Pass}}}}
	md := Summary(r)
	for _, want := range []string{
		"# geodrill: region-outage — UNKNOWN",
		"> **Harness error:** cluster up: a\\|b failed",
		"| odd | x \\| y | 1 | PASS |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "[logs/]") {
		t.Error("summary links logs/ that do not exist")
	}
}
