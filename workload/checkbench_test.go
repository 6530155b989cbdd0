package workload_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/workload"
)

// BenchmarkCheck measures the linearizability check on the histories issue 12 names, with
// its wall time per check and the peak heap while it ran (peak-MiB):
//
//   - 100k ops over 1k keys (250 agents, 4 keys each), healthy: goal 2s or less;
//   - 60k ops over 48 keys where 40% of all ops are unknown writes (every agent stalled for
//     two thirds of the load, half of the stalled writes taking effect): goal 10s and 1 GiB.
func BenchmarkCheck(b *testing.B) {
	keys := []string{api.KeyName(0), api.KeyName(1), api.KeyName(2), api.KeyName(3)}
	agents := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, api.AgentID(i))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		cfg   workload.Config
		shape stallShape
	}{
		{"100k ops 1k keys", workload.Config{Agents: agents(250), Keys: keys, Rate: 2000, Duration: 50 * time.Second, Seed: 7,
			Mix: workload.Mix{Put: 5, Get: 4, CAS: 1}, Burst: 1},
			stallShape{timeout: 2 * time.Second, latencyHi: 10 * time.Millisecond}},
		{"60k ops 40pct unknown writes", workload.Config{Agents: agents(12), Keys: keys, Rate: 2000, Duration: 30 * time.Second, Seed: 7,
			Mix: workload.Mix{Put: 3, Get: 4, CAS: 3}, Burst: 1},
			stallShape{stalled: 12, stallAt: 5 * time.Second, stallFor: 20 * time.Second, timeout: 2 * time.Second, latencyHi: 10 * time.Millisecond}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := contendedHistory(tc.cfg, tc.shape)
			var peak uint64
			for b.Loop() {
				runtime.GC()
				stop := watchPeak(&peak)
				r := checkers.Linearizability(context.Background(), checkers.Input{History: h})
				stop()
				d, _ := checkers.DataOf[checkers.LinearizabilityData](r)
				switch r.Status() {
				case checkers.Pass:
				case checkers.Unknown: // a bound was reached: a goal missed, kept in the table
					b.ReportMetric(1, "unknown")
					b.Logf("%s: %s (%s)", tc.name, r.Verdicts[0].Measured, r.Verdicts[0].Detail)
				default: // the history is linearizable by construction: any other verdict is a bug
					b.Fatalf("%s: %s: %s (%d ops, %d unknown writes; %d dropped, %d patched)", tc.name, r.Status(),
						r.Verdicts[0].Measured, d.Ops, d.UnknownWrites, d.UnknownDropped, d.UnknownPatched)
				}
				b.ReportMetric(float64(d.Ops), "ops")
				b.ReportMetric(float64(d.UnknownWrites), "unknown-writes")
				b.ReportMetric(float64(d.UnknownDropped), "dropped")
				b.ReportMetric(float64(d.UnknownPatched), "patched")
			}
			b.ReportMetric(float64(atomic.LoadUint64(&peak))/(1<<20), "peak-MiB")
		})
	}
}

// watchPeak records the largest heap seen every 10ms until stopped.
func watchPeak(peak *uint64) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > atomic.LoadUint64(peak) {
				atomic.StoreUint64(peak, v)
			}
			select {
			case <-quit:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() { close(quit); <-done }
}
