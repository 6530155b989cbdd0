package checkers

import (
	"fmt"
	"testing"
	"time"

	"github.com/geodrill/geodrill/workload/history"
)

// BenchmarkRPOSingleKey: 60k ops on one key (36k acknowledged writes, 24k reads), the
// owner failing over every 10k ops, as a long drill on a hot key records. The quadratic
// checker spent 74s of a 139s check on such a key.
func BenchmarkRPOSingleKey(b *testing.B) {
	h := singleKeyHistory()
	for b.Loop() {
		r := RPO(b.Context(), Input{History: h})
		d := r.Data.(RPOData)
		b.ReportMetric(float64(d.Lost), "lost")
	}
}

// BenchmarkRPOSingleKeyQuadratic is the same check by the quadratic reference, side by side.
func BenchmarkRPOSingleKeyQuadratic(b *testing.B) {
	h := singleKeyHistory()
	for b.Loop() {
		d := rpoReference(Input{History: h})
		b.ReportMetric(float64(d.Lost), "lost")
	}
}

func singleKeyHistory() history.History {
	var h history.History
	for i := range 60000 {
		at := time.Duration(i) * time.Millisecond
		op := history.Op{ID: int64(i + 1), Agent: "agent-00", Key: "k0", Invoke: at, Complete: at + 3*time.Millisecond,
			Outcome: history.OK, Epoch: int64(1 + i/10000)}
		if i%5 < 3 {
			op.Kind, op.Value = history.Put, fmt.Sprintf("v%d", i+1)
		} else {
			// A read after each failover returns what the new owner restored: a value from
			// a while back, which proves the writes in between lost.
			back := 3 + (i/10000)*40
			op.Kind, op.Found = history.Get, true
			op.Read = fmt.Sprintf("v%d", max(1, i-back))
			for (max(1, i-back)-1)%5 >= 3 { // a put's value
				back++
				op.Read = fmt.Sprintf("v%d", max(1, i-back))
			}
			op.Value = op.Read
		}
		h = append(h, op)
	}
	h = append(h, history.Op{ID: 70000, Agent: "agent-00", Key: "k0", Kind: history.Get, Final: true, Found: true,
		Read: "v59998", Value: "v59998", Invoke: 61 * time.Second, Complete: 61*time.Second + time.Millisecond, Outcome: history.OK, Epoch: 6})
	return h
}
