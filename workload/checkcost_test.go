package workload_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/workload"
	"github.com/geodrill/geodrill/workload/history"
)

// stallShape is how a synthetic drill goes wrong for the hottest agents: from stallAt, for
// stallFor, every op on agents 0..stalled-1 hangs for the whole timeout and ends unknown,
// as when their owner is paused or cut off; half of those writes took effect.
type stallShape struct {
	stalled            int
	stallAt, stallFor  time.Duration
	timeout, latencyHi time.Duration
}

// contendedHistory runs cfg's op sequence against a correct in-memory register with a
// seeded latency (1ms to latencyHi, a burst sent at once) and the stall above, then reads
// every register back: a linearizable history of the shape a contended drill records.
func contendedHistory(cfg workload.Config, shape stallShape) history.History {
	rng := rand.New(rand.NewPCG(1, 2))
	n := int(cfg.Duration.Seconds() * float64(cfg.Rate))
	ops := workload.Ops(cfg, n)
	burst := max(cfg.Burst, 1)
	stalled := map[string]bool{}
	for i := range shape.stalled {
		stalled[api.AgentID(i)] = true
	}
	type effect struct {
		i  int
		at time.Duration
	}
	var effects []effect
	for i := range ops {
		op := &ops[i]
		group := (op.ID - 1) / int64(burst)
		op.Invoke = time.Duration(float64(group*int64(burst)) / float64(cfg.Rate) * float64(time.Second))
		op.Invoke += time.Duration(rng.IntN(200)) * time.Microsecond
		lat := time.Millisecond + time.Duration(rng.Int64N(int64(shape.latencyHi)))
		op.Outcome = history.OK
		if stalled[op.Agent] && op.Invoke >= shape.stallAt && op.Invoke < shape.stallAt+shape.stallFor {
			lat, op.Outcome = shape.timeout, history.Unknown
		}
		op.Complete = op.Invoke + lat
		if op.Outcome == history.Unknown && (!op.IsWrite() || rng.IntN(2) == 0) {
			continue // did not take effect
		}
		effects = append(effects, effect{i, op.Invoke + time.Duration(rng.Int64N(int64(lat)+1))})
	}
	slices.SortStableFunc(effects, func(a, b effect) int { return int(a.at - b.at) })
	kv := map[[2]string]string{}
	for _, e := range effects {
		op := &ops[e.i]
		r := [2]string{op.Agent, op.Key}
		cur, found := kv[r]
		switch op.Kind {
		case history.Get:
			op.Found, op.Read, op.Value = found, cur, cur
		case history.Put:
			kv[r] = op.Value
		case history.CAS:
			op.Swapped = cur == op.Expect
			if op.Swapped {
				kv[r] = op.Value
			} else {
				// A refused cas says what it read, as the host does.
				op.ReadKnown, op.Found = true, found
			}
			op.Read = kv[r]
		}
		if op.Outcome != history.OK {
			op.Found, op.Read, op.Swapped = false, "", false
			if op.Kind == history.Get {
				op.Value = ""
			}
		}
	}
	h := history.History(ops)
	end := cfg.Duration + shape.timeout + time.Second
	id := workload.FinalReadBase
	for _, a := range cfg.Agents {
		for _, k := range cfg.Keys {
			v, found := kv[[2]string{a, k}]
			h = append(h, history.Op{ID: id, Agent: a, Key: k, Kind: history.Get, Final: true, Invoke: end,
				Complete: end + time.Millisecond, Outcome: history.OK, Found: found, Read: v, Value: v})
			id++
		}
	}
	h.Sort()
	return h
}

// TestContendedHistoryChecksFast: the linearizability check of a 25s drill's worth of
// contended load (bursts, a hot key, cas-heavy, cold keys) stays within seconds, also when
// every op on 8 of the 12 agents hangs for 3s and ends unknown (a paused owner). Unknown
// writes stay pending to the end of the search, so the cost grows with how many of them one
// register collects: that bounds Burst (MaxBurst) and is why skewed agents are not in it.
func TestContendedHistoryChecksFast(t *testing.T) {
	var agents, keys []string
	for i := range 12 {
		agents = append(agents, api.AgentID(i))
	}
	for j := range 4 {
		keys = append(keys, api.KeyName(j))
	}
	base := workload.Config{Agents: agents, Keys: keys, Rate: 150, Duration: 25 * time.Second, Seed: 7,
		Mix:     workload.Mix{Put: 3, Get: 4, CAS: 3},
		KeySkew: workload.Skew{Distribution: workload.HotSet, Hot: 1, HotShare: 0.5},
		Cold:    workload.Cold{Keys: 1, Writes: 2, WriteBy: 8 * time.Second, Reads: 2, ReadFrom: 20 * time.Second},
	}
	healthy := stallShape{timeout: 2 * time.Second, latencyHi: 10 * time.Millisecond}
	stall := stallShape{stalled: 8, stallAt: 8 * time.Second, stallFor: 3 * time.Second, timeout: 2 * time.Second, latencyHi: 10 * time.Millisecond}
	for _, tc := range []struct {
		name  string
		burst int
		shape stallShape
	}{
		{"burst 4", 4, healthy},
		{"burst 4, 8 agents stalled 3s", 4, stall},
		{"burst 8, 8 agents stalled 3s", workload.MaxBurst, stall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.Burst = tc.burst
			h := contendedHistory(cfg, tc.shape)
			start := time.Now()
			r := checkers.Linearizability(context.Background(), checkers.Input{History: h})
			took := time.Since(start)
			d, ok := checkers.DataOf[checkers.LinearizabilityData](r)
			if !ok {
				t.Fatalf("no linearizability data in %+v", r)
			}
			t.Logf("%d ops, %d unknown writes, %d partitions: checked in %s", d.Ops, d.UnknownWrites, d.Partitions, took.Round(time.Millisecond))
			if r.Status() != checkers.Pass {
				t.Fatalf("status %v: %+v", r.Status(), r.Verdicts)
			}
			if limit := 10 * time.Second; took > limit {
				t.Errorf("check took %s, want under %s", took, limit)
			}
		})
	}
}
