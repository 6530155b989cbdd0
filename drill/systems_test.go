package drill_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/drill"
	"github.com/geodrill/geodrill/reports"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/scenarios"
)

// haScenario loads a scenario of scenarios/ that drills a real HA stack; the test skips
// without the stack's programs (make ha-tools installs them), unless integration is
// required.
func haScenario(t *testing.T, name string, tools ...string) *scenarios.Scenario {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("GEODRILL_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s not on PATH: make ha-tools installs it", tool)
			}
			t.Skipf("%s not on PATH: make ha-tools", tool)
		}
	}
	sc, err := scenarios.Load("../scenarios/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func redisScenario(t *testing.T) *scenarios.Scenario {
	return haScenario(t, "redis-sentinel-region-outage", "redis-server", "redis-sentinel")
}

func verdict(run *reports.Run, checker, target string) checkers.Verdict {
	for _, r := range run.Results {
		for _, v := range r.Verdicts {
			if v.Checker == checker && strings.HasPrefix(v.Target, target) {
				return v
			}
		}
	}
	return checkers.Verdict{Checker: checker, Target: target, Status: checkers.Unknown, Measured: "no such verdict"}
}

// Redis with Sentinel, drilled through its adapter: the primary's region is killed, the
// Sentinels elect a replica, writes come back within the RTO target; the checkers that
// judge the reference stack's insides say not applicable, never pass. What the scenario
// expects of rpo and linearizability: pass (over 8 drills here, no acknowledged write was
// lost), and when a drill does lose one (asynchronous replication allows it), the lost
// writes are the evidence in results.json.
func TestRedisSentinelRegionOutage(t *testing.T) {
	sc := redisScenario(t)
	run, err := drill.Run(context.Background(), drill.Options{Scenario: sc, OutBase: t.TempDir(), BinDir: binDir(t, "adapter")})
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	for _, r := range run.Results {
		for _, v := range r.Verdicts {
			t.Logf("%s %s: %s (%s)", v.Checker, v.Target, v.Measured, v.Status)
		}
	}
	for _, want := range []struct{ checker, target string }{
		{"rto", "rto_p95"}, {"availability", "availability"}, {"convergence", "final writes"},
		{"split-brain", "stale-epoch"}, {"rpo", "corrupt_final_values"},
	} {
		if v := verdict(run, want.checker, want.target); v.Status != checkers.Pass {
			t.Errorf("%s %s: %s %s, want pass: %s", v.Checker, v.Target, v.Status, v.Measured, v.Detail)
		}
	}
	for _, na := range []struct{ checker, target string }{{"integrity", "checkpoints"}, {"convergence", "regions agree"}, {"convergence", "agents rebuilt"}} {
		if v := verdict(run, na.checker, na.target); v.Status != checkers.NotApplicable || !strings.Contains(v.Detail, "redis-sentinel") {
			t.Errorf("%s %s: %s (%s), want not applicable, naming the system", v.Checker, v.Target, v.Status, v.Detail)
		}
	}
	if lost := verdict(run, "rpo", "lost_acked_writes"); lost.Status == checkers.Fail {
		// A finding, not a test failure: the evidence must be there.
		b, _ := os.ReadFile(filepath.Join(run.Dir, rundir.ResultsFile))
		if !strings.Contains(string(b), `"lost_writes"`) {
			t.Errorf("rpo failed (%s) but results.json lists no lost writes", lost.Measured)
		}
		t.Logf("finding: %s", lost.Measured)
	} else if lost.Status != checkers.Pass {
		t.Errorf("rpo: %s (%s), want a verdict", lost.Status, lost.Detail)
	}
	if v := verdict(run, "linearizability", "linearizable"); v.Status == checkers.Unknown {
		t.Errorf("linearizability unknown: %s", v.Detail)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, rundir.HistoryFile)); err != nil {
		t.Error(err)
	}
}

// A planted adapter bug the drill must catch: an adapter that asks the Sentinels once and
// keeps that primary (--unsafe-cache-primary) sends everything to the dead primary's
// address, then to the restarted, empty old primary. Linearizability (reads of values
// that vanished, with the illegal partitions drawn in linearizability.html) and rto fail.
func TestRedisAdapterThatCachesThePrimaryIsCaught(t *testing.T) {
	sc := redisScenario(t)
	sc.System.Adapter.Args = append(slices.Clone(sc.System.Adapter.Args), "--unsafe-cache-primary")
	run, err := drill.Run(context.Background(), drill.Options{Scenario: sc, OutBase: t.TempDir(), BinDir: binDir(t, "adapter")})
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if run.Status != checkers.Fail {
		t.Errorf("verdict %s, want fail", run.Status)
	}
	for _, want := range []struct{ checker, target string }{{"linearizability", "linearizable"}, {"rto", "rto_p95"}} {
		if v := verdict(run, want.checker, want.target); v.Status != checkers.Fail {
			t.Errorf("%s %s: %s %s, want fail", v.Checker, v.Target, v.Status, v.Measured)
		}
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "linearizability.html")); err != nil {
		t.Errorf("the illegal history's picture: %v", err)
	}
}

// PostgreSQL with Patroni in synchronous_mode, its leader's region killed past the leader
// key's TTL: Patroni promises no acknowledged transaction is lost, and the drill holds it
// to that (rpo, linearizability) as to the RTO target; the reference stack's checkpoint
// verdicts are not applicable.
func TestPatroniSyncRegionOutage(t *testing.T) {
	sc := haScenario(t, "patroni-sync-region-outage", "patroni", "/usr/lib/postgresql/15/bin/postgres")
	// PostgreSQL runs as postgres, which must reach the run directory (t.TempDir's are 0700).
	out := t.TempDir()
	for d := out; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run, err := drill.Run(context.Background(), drill.Options{Scenario: sc, OutBase: out, BinDir: binDir(t, "adapter")})
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	for _, r := range run.Results {
		for _, v := range r.Verdicts {
			t.Logf("%s %s: %s (%s)", v.Checker, v.Target, v.Measured, v.Status)
		}
	}
	for _, want := range []struct{ checker, target string }{
		{"rpo", "lost_acked_writes"}, {"linearizability", "linearizable"}, {"rto", "rto_p95"},
		{"split-brain", "stale-epoch"}, {"convergence", "final writes"},
	} {
		if v := verdict(run, want.checker, want.target); v.Status != checkers.Pass {
			t.Errorf("%s %s: %s %s, want pass: %s", v.Checker, v.Target, v.Status, v.Measured, v.Detail)
		}
	}
	if v := verdict(run, "integrity", "checkpoints"); v.Status != checkers.NotApplicable {
		t.Errorf("integrity: %s, want not applicable", v.Status)
	}
}
