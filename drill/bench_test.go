package drill_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/drill"
	"github.com/geodrill/geodrill/reports"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// The drill-level figures of make bench. Each benchmark runs whole drills on the local
// provider (real etcd, MinIO and refstack processes, built by make build), so it runs once
// (-benchtime 1x) and reports its own medians and percentiles over the drills it ran.

// benchSeeds is how many seeds BenchmarkDrillRegionOutage runs (GEODRILL_BENCH_SEEDS,
// default 3).
func benchSeeds(b *testing.B) int {
	n := 3
	if s := os.Getenv("GEODRILL_BENCH_SEEDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("GEODRILL_BENCH_SEEDS=%q: want a positive number of seeds", s)
		}
		n = v
	}
	return n
}

func benchDrill(b *testing.B, sc *scenarios.Scenario, seed int64) *reports.Run {
	b.Helper()
	run, err := drill.Run(context.Background(), drill.Options{
		Scenario: sc, Seed: &seed, OutBase: b.TempDir(), BinDir: benchBin(b),
	})
	if err != nil {
		b.Fatalf("%s seed %d: %v", sc.Name, seed, err)
	}
	return run
}

func benchBin(b *testing.B) string {
	bin, err := filepath.Abs("../bin")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bin, "refstack")); err != nil {
		b.Fatalf("the drill benchmarks need the stack's binaries: run make build (%v)", err)
	}
	return bin
}

// loadStart is when the load phase began: the bring-up time.
func loadStart(run *reports.Run) time.Duration {
	for _, e := range run.Timeline {
		if e.Kind == timeline.Phase && e.Name == timeline.PhaseLoad {
			return e.At
		}
	}
	return 0
}

// peakMiB is the peak resident set of this process (the harness: drills run in-process) and
// of the largest child process it waited for (a stack process: etcd, MinIO, host, router).
func peakMiB() (self, children float64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self = float64(ru.Maxrss) / 1024
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return self, float64(ru.Maxrss) / 1024
}

// nearestRank is the q-quantile of sorted vs (nearest rank), NaN for none.
func nearestRank(vs []float64, q float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(vs)))) - 1
	return vs[max(0, min(i, len(vs)-1))]
}

// BenchmarkDrillRegionOutage runs scenarios/region-outage.yaml over seeds 1..N: bring-up
// and drill wall time (medians), the RTO over every recovery of every drill (p50, p95,
// max; a recovery that never came counts as infinite), each recovery phase's median, the
// leader-loss share, and peak memory of the harness and of the largest stack process.
func BenchmarkDrillRegionOutage(b *testing.B) {
	sc, err := scenarios.Load("../scenarios/region-outage.yaml")
	if err != nil {
		b.Fatal(err)
	}
	seeds := benchSeeds(b)
	var walls, bringups, rtos []float64
	phases := map[string][]float64{}
	failed, leaderLoss, windows := 0, 0, 0
	for range b.N {
		for seed := int64(1); seed <= int64(seeds); seed++ {
			run := benchDrill(b, sc, seed)
			if run.Overall() != checkers.Pass {
				failed++
			}
			walls = append(walls, run.Duration.Seconds())
			bringups = append(bringups, loadStart(run).Seconds())
			for _, r := range run.Results {
				d, ok := checkers.DataOf[checkers.RTOData](r)
				if !ok || r.Checker != "rto" {
					continue
				}
				for _, w := range d.Windows {
					windows++
					if w.EtcdLeader == w.Region || w.ControllerLeader == w.Region {
						leaderLoss++
					}
					for _, a := range w.Agents {
						v := a.Seconds
						if !a.Recovered {
							v = math.Inf(1)
						}
						rtos = append(rtos, v)
						for p, s := range a.Phases {
							phases[p] = append(phases[p], s)
						}
					}
				}
			}
		}
	}
	slices.Sort(walls)
	slices.Sort(bringups)
	slices.Sort(rtos)
	b.ReportMetric(float64(seeds), "drills")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(nearestRank(walls, 0.5), "drill-s")
	b.ReportMetric(nearestRank(bringups, 0.5), "bringup-s")
	b.ReportMetric(nearestRank(rtos, 0.5), "rto-p50-s")
	b.ReportMetric(nearestRank(rtos, 0.95), "rto-p95-s")
	b.ReportMetric(nearestRank(rtos, 1), "rto-max-s")
	b.ReportMetric(float64(leaderLoss), "leader-loss-faults")
	b.ReportMetric(float64(windows), "faults")
	for _, rp := range timeline.RecoveryPhases() {
		p := rp.Name
		vs := phases[p]
		slices.Sort(vs)
		if len(vs) > 0 {
			b.ReportMetric(nearestRank(vs, 0.5), p+"-p50-s")
		}
	}
	self, child := peakMiB()
	b.ReportMetric(self, "harness-peak-MiB")
	b.ReportMetric(child, "stack-peak-MiB")
}

// BenchmarkStackThroughput drives the reference stack (sync-geo, three regions, the local
// provider) with no fault at each offered rate for scenarios/bench/steady-load.yaml's
// duration: the ok operations per second it sustained, the share of operations that were
// ok, and the latency p50 and p99 of the ok ones. Where ok-share falls below 1 and p99
// climbs, the stack is past its ceiling.
func BenchmarkStackThroughput(b *testing.B) {
	for _, rate := range []int{500, 1000, 2000} {
		b.Run(fmt.Sprintf("rate_%d", rate), func(b *testing.B) {
			sc, err := scenarios.Load("../scenarios/bench/steady-load.yaml")
			if err != nil {
				b.Fatal(err)
			}
			sc.Workload.Rate = rate
			if err := sc.Validate(); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				run := benchDrill(b, sc, 1)
				var ok, all int
				for _, op := range run.History {
					if op.Final {
						continue
					}
					all++
					if op.Outcome == history.OK {
						ok++
					}
				}
				load := sc.Workload.Duration.D().Seconds()
				b.ReportMetric(float64(ok)/load, "ok-ops/s")
				b.ReportMetric(float64(ok)/float64(max(all, 1)), "ok-share")
				for _, r := range run.Results {
					if d, isLat := checkers.DataOf[checkers.LatencyData](r); isLat && r.Checker == "latency" {
						if d.Overall.P50 != nil {
							b.ReportMetric(*d.Overall.P50*1000, "p50-ms")
						}
						if d.Overall.P99 != nil {
							b.ReportMetric(*d.Overall.P99*1000, "p99-ms")
						}
					}
				}
			}
		})
	}
}
