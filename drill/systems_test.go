package drill_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/clusters/netns"
	"github.com/geodrill/geodrill/drill"
	"github.com/geodrill/geodrill/internal/testbin"
	"github.com/geodrill/geodrill/reports"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/scenarios"
)

// haScenario loads a scenario of scenarios/ that drills a real HA stack; the test skips
// without the stack's programs (make ha-tools installs them), unless integration is
// required.
func haScenario(t *testing.T, name string, tools ...string) *scenarios.Scenario {
	t.Helper()
	testbin.HATools(t, tools...)
	sc, err := scenarios.Load("../scenarios/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func redisScenario(t *testing.T) *scenarios.Scenario {
	return haScenario(t, "redis-sentinel-region-outage", "redis-server", "redis-sentinel")
}

// drillHA drills sc with the adapter, its run directories under out, and logs every verdict.
func drillHA(t *testing.T, sc *scenarios.Scenario, out string) *reports.Run {
	t.Helper()
	run, err := drill.Run(context.Background(), drill.Options{Scenario: sc, OutBase: out, BinDir: binDir(t, "adapter")})
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	for _, r := range run.Results {
		for _, v := range r.Verdicts {
			t.Logf("%s %s: %s (%s)", v.Checker, v.Target, v.Measured, v.Status)
		}
	}
	return run
}

// wantPass requires each {checker, target prefix} verdict to pass.
func wantPass(t *testing.T, run *reports.Run, targets [][2]string) {
	t.Helper()
	for _, want := range targets {
		if v := verdict(run, want[0], want[1]); v.Status != checkers.Pass {
			t.Errorf("%s %s: %s %s, want pass: %s", v.Checker, v.Target, v.Status, v.Measured, v.Detail)
		}
	}
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
	run := drillHA(t, sc, t.TempDir())
	wantPass(t, run, [][2]string{{"rto", "rto_p95"}, {"availability", "availability"}, {"convergence", "final writes"},
		{"split-brain", "stale-epoch"}, {"rpo", "corrupt_final_values"}})
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
	run := drillHA(t, sc, t.TempDir())
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
	out := t.TempDir()
	reachableByPostgres(t, out)
	run := drillHA(t, sc, out)
	wantPass(t, run, [][2]string{{"rpo", "lost_acked_writes"}, {"linearizability", "linearizable"}, {"rto", "rto_p95"},
		{"split-brain", "stale-epoch"}, {"convergence", "final writes"}})
	if v := verdict(run, "integrity", "checkpoints"); v.Status != checkers.NotApplicable {
		t.Errorf("integrity: %s, want not applicable", v.Status)
	}
}

// netnsOrSkip skips a test that needs the netns provider (root, ip, nft) where it cannot
// run, unless integration is required and this is root.
func netnsOrSkip(t *testing.T) {
	t.Helper()
	if err := netns.Available(); err != nil {
		if os.Getenv("GEODRILL_REQUIRE_INTEGRATION") == "1" && os.Geteuid() == 0 {
			t.Fatalf("netns: %v", err)
		}
		t.Skipf("netns: %v", err)
	}
}

// reachableByPostgres lets PostgreSQL, which runs as postgres, reach a run directory under
// dir (t.TempDir's are 0700).
func reachableByPostgres(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// findingIn requires a failed verdict's evidence in the run directory: the lost writes
// (rpo) or the illegal partitions and their picture (linearizability).
func findingIn(t *testing.T, run *reports.Run, v checkers.Verdict) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run.Dir, rundir.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	switch v.Checker {
	case "rpo":
		if !strings.Contains(string(b), `"lost_writes"`) {
			t.Errorf("rpo failed (%s) but results.json lists no lost writes", v.Measured)
		}
	case "linearizability":
		if !strings.Contains(string(b), `"illegal"`) {
			t.Errorf("linearizability failed (%s) but results.json lists no illegal partitions", v.Measured)
		}
		if _, err := os.Stat(filepath.Join(run.Dir, "linearizability.html")); err != nil {
			t.Errorf("the illegal history's picture: %v", err)
		}
	}
	t.Logf("finding: %s %s: %s", v.Checker, v.Target, v.Measured)
}

// Redis with Sentinel, the primary's region cut off from the others (netns): the majority
// side's Sentinels elect a replica while the adapter, which still reaches the old primary,
// writes to it until it sees the new config-epoch; the old primary, rejoining as a
// replica, drops what it acknowledged alone. The scenario expects that finding: rpo fails
// with the lost writes in results.json, linearizability fails with the illegal history;
// the failover itself is quick (rto, availability pass).
func TestRedisSentinelPartitionOfThePrimary(t *testing.T) {
	netnsOrSkip(t)
	sc := haScenario(t, "redis-sentinel-partition-primary", "redis-server", "redis-sentinel")
	run := drillHA(t, sc, t.TempDir())
	if run.Provider != "netns" {
		t.Errorf("ran on %s, want netns", run.Provider)
	}
	wantPass(t, run, [][2]string{{"rto", "rto_p95"}, {"availability", "availability"}, {"convergence", "final writes"}})
	for _, want := range []struct{ checker, target string }{{"rpo", "lost_acked_writes"}, {"linearizability", "linearizable"}} {
		v := verdict(run, want.checker, want.target)
		if v.Status != checkers.Fail {
			t.Errorf("%s %s: %s %s, want the finding (fail)", v.Checker, v.Target, v.Status, v.Measured)
			continue
		}
		findingIn(t, run, v)
	}
}

// PostgreSQL with Patroni in synchronous_mode, the leader's region cut off from the others
// (netns): no acknowledged commit is lost (Patroni's promise holds: rpo passes), but a
// commit whose wait for the unreachable standby the client gave up on has committed
// locally, is read on the isolated leader, and is gone after the failover. The scenario
// expects that finding: linearizability fails with the illegal history in the run
// directory.
func TestPatroniSyncPartitionOfTheLeader(t *testing.T) {
	netnsOrSkip(t)
	sc := haScenario(t, "patroni-sync-partition-leader", "patroni", "/usr/lib/postgresql/15/bin/postgres")
	out := t.TempDir()
	reachableByPostgres(t, out)
	run := drillHA(t, sc, out)
	wantPass(t, run, [][2]string{{"rpo", "lost_acked_writes"}, {"rto", "rto_p95"}, {"split-brain", "stale-epoch"}, {"convergence", "final writes"}})
	v := verdict(run, "linearizability", "linearizable")
	if v.Status != checkers.Fail {
		t.Fatalf("linearizability %s (%s), want the finding (fail)", v.Status, v.Measured)
	}
	findingIn(t, run, v)
	logs, _ := filepath.Glob(filepath.Join(run.Dir, rundir.LogsDir, "*-patroni.log"))
	warned := 0
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		warned += strings.Count(string(b), "already committed locally")
	}
	t.Logf("PostgreSQL warned %d times that a commit whose wait was cancelled had committed locally", warned)
}
