package checkers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/metrics"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/workload/history"
)

func put(call, ret int64, v string, unknown bool) porcupine.Operation {
	return porcupine.Operation{Call: call, Return: ret, Input: kvInput{Kind: history.Put, Value: v, Unknown: unknown}, Output: kvOutput{}}
}

func get(call, ret int64, v string) porcupine.Operation {
	return porcupine.Operation{Call: call, Return: ret, Input: kvInput{Kind: history.Get}, Output: kvOutput{Found: v != "", Read: v}}
}

const never = 1 << 40 // an unknown op's return: after everything

// The rules one by one: an unknown write nobody saw is dropped, one somebody saw returns
// when its first observer did, and nothing is dropped where a blind cas refusal or a
// repeated value could depend on it.
func TestShrinkRules(t *testing.T) {
	ops := []porcupine.Operation{
		put(0, 10, "a", false),
		put(5, never, "b", true), // never seen: dropped
		put(6, never, "c", true), // seen by the get: returns at 40
		get(30, 40, "c"),
		get(35, 50, "c"),
	}
	kept, dropped, patched, _ := shrink(ops)
	if dropped != 1 || patched != 1 || len(kept) != 4 || kept[1].Return != 40 {
		t.Errorf("kept %v, dropped %d, patched %d", kept, dropped, patched)
	}

	blind := append(append([]porcupine.Operation(nil), ops...), porcupine.Operation{Call: 60, Return: 70,
		Input: kvInput{Kind: history.CAS, Expect: "a", Value: "d"}, Output: kvOutput{Swapped: false}})
	if _, dropped, _, _ := shrink(blind); dropped != 0 {
		t.Errorf("dropped %d beside a cas refused without saying what it read", dropped)
	}

	repeated := append(append([]porcupine.Operation(nil), ops...), put(80, 90, "c", false))
	if kept, dropped, patched, merged := shrink(repeated); dropped != 0 || patched != 0 || merged != 0 || len(kept) != len(repeated) {
		t.Errorf("a partition with a repeated value was shrunk: dropped %d, patched %d", dropped, patched)
	}
}

// Shrinking never changes the verdict: random single-register histories with concurrent
// puts, gets and cas ops, outcomes ok, unknown and fail, some made illegal by a changed
// read, are checked whole and shrunk; both searches must agree on every one.
func TestShrinkKeepsTheVerdict(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	model := kvModel(nil)
	counts := map[porcupine.CheckResult]int{}
	shrunk, mergedHistories := 0, 0
	for i := range 3000 {
		ops := randomRegisterHistory(rng, i)
		kept, dropped, patched, merged := shrink(ops)
		if dropped+patched > 0 {
			shrunk++
		}
		if merged > 0 {
			mergedHistories++
		}
		whole := porcupine.CheckOperationsTimeout(model, ops, 5*time.Second)
		small := porcupine.CheckOperationsTimeout(model, kept, 5*time.Second)
		if whole != small {
			t.Fatalf("history %d: whole %s, shrunk %s (dropped %d, patched %d, merged %d)\n%s", i, whole, small, dropped, patched, merged, describeOps(ops))
		}
		counts[whole]++
	}
	if counts[porcupine.Ok] < 500 || counts[porcupine.Illegal] < 500 || shrunk < 1000 || mergedHistories < 300 {
		t.Errorf("the generator is too tame to say anything: %v verdicts, %d of 3000 shrunk, %d with gets merged", counts, shrunk, mergedHistories)
	}
}

// randomRegisterHistory runs 2-4 clients against one register, each op taking effect at a
// random point of its interval (or not at all, for a failed or some unknown writes), and
// records what the clients saw; every third history has one read changed to another
// written value, which usually makes it illegal.
func randomRegisterHistory(rng *rand.Rand, n int) []porcupine.Operation {
	type ev struct {
		at  int64
		idx int
	}
	nOps := 3 + rng.IntN(6)
	ops := make([]porcupine.Operation, nOps)
	effect := make([]bool, nOps)
	var evs []ev
	for i := range ops {
		call := int64(rng.IntN(100))
		ret := call + 1 + int64(rng.IntN(40))
		in := kvInput{Value: fmt.Sprintf("v%d", i)}
		switch rng.IntN(3) {
		case 0:
			in.Kind = history.Get
		case 1:
			in.Kind = history.Put
		default:
			in.Kind = history.CAS
			in.Expect = fmt.Sprintf("v%d", rng.IntN(nOps)) // often a value no op writes yet
		}
		ops[i] = porcupine.Operation{Call: call, Return: ret, Input: in, Output: kvOutput{}}
		effect[i] = true
		if in.Kind != history.Get && rng.IntN(3) == 0 { // unknown outcome
			ops[i].Input = kvInput{Kind: in.Kind, Value: in.Value, Expect: in.Expect, Unknown: true}
			effect[i] = rng.IntN(2) == 0
		}
		evs = append(evs, ev{call + int64(rng.IntN(int(ret-call))), i})
	}
	sort.Slice(evs, func(a, b int) bool { return evs[a].at < evs[b].at })
	state := kvState{}
	for _, e := range evs {
		op := &ops[e.idx]
		in := op.Input.(kvInput)
		switch in.Kind {
		case history.Get:
			op.Output = kvOutput{Found: state.Found, Read: state.Value}
		case history.Put:
			if effect[e.idx] {
				state = kvState{Value: in.Value, Found: true}
			}
		case history.CAS:
			match := casMatches(state, in.Expect)
			if in.Unknown {
				if effect[e.idx] && match {
					state = kvState{Value: in.Value, Found: true}
				}
				continue
			}
			out := kvOutput{Swapped: match}
			if !match && rng.IntN(2) == 0 { // some refusals say what they read
				out.Found, out.Read, out.ReadKnown = state.Found, state.Value, true
			}
			if match {
				state = kvState{Value: in.Value, Found: true}
			}
			op.Output = out
		}
	}
	for i := range ops {
		if ops[i].Input.(kvInput).Unknown {
			ops[i].Return = never
		}
	}
	if n%3 == 0 {
		for i := range ops {
			if ops[i].Input.(kvInput).Kind == history.Get {
				v := fmt.Sprintf("v%d", rng.IntN(nOps))
				ops[i].Output = kvOutput{Found: true, Read: v}
				break
			}
		}
	}
	sort.SliceStable(ops, func(a, b int) bool { return ops[a].Call < ops[b].Call })
	return ops
}

func describeOps(ops []porcupine.Operation) string {
	s := ""
	for _, op := range ops {
		s += fmt.Sprintf("  [%d, %d] %s\n", op.Call, op.Return, describeOp(op.Input, op.Output))
	}
	return s
}

// A search that would grow past the memory bound stops there with the verdict unknown and
// the reason, instead of the process being killed: an illegal register history whose 24
// concurrent unknown puts cannot be shrunk away (a cas refused them blind) makes porcupine
// try every subset of them before it can say so.
func TestLinearizabilityStopsAtTheMemoryBound(t *testing.T) {
	var h history.History
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	add := func(op history.Op) {
		op.ID, op.Agent, op.Key = int64(len(h)+1), "agent-00", "k0"
		h = append(h, op)
	}
	add(history.Op{Kind: history.Put, Value: "a", Invoke: ms(0), Complete: ms(1), Outcome: history.OK})
	for i := range 24 {
		add(history.Op{Kind: history.Put, Value: fmt.Sprintf("u%d", i), Invoke: ms(2), Complete: ms(2), Outcome: history.Unknown})
	}
	add(history.Op{Kind: history.CAS, Expect: "b", Value: "c", Invoke: ms(3), Complete: ms(4), Outcome: history.OK})
	add(history.Op{Kind: history.Get, Invoke: ms(10), Complete: ms(11), Outcome: history.OK, Found: true, Read: "nobody wrote this"})

	sc := &scenarios.Scenario{}
	sc.SLA.CheckTimeout = scenarios.Duration(60 * time.Second)
	sc.SLA.CheckMemoryMiB = 64
	start := time.Now()
	r := Linearizability(context.Background(), Input{Scenario: sc, History: h})
	d, _ := DataOf[LinearizabilityData](r)
	v := r.Verdicts[0]
	if v.Status != Unknown || len(d.Unchecked) != 1 || !strings.Contains(d.Unchecked[0].Reason, "memory bound reached (64 MiB)") {
		t.Fatalf("verdict %s (%s, %s), data %+v: want unknown, the memory bound named", v.Status, v.Measured, v.Detail, d)
	}
	t.Logf("stopped after %s at the bound; heap now %d MiB", time.Since(start).Round(time.Millisecond), heapBytes()>>20)
}

// heapBytes is the heap's live objects now.
func heapBytes() uint64 {
	sample := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}
