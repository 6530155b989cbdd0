package checkers

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/geodrill/geodrill/workload/history"
)

// rpoReference is the RPO checker as it was before its per-key index: every read tested
// against every acknowledged write, every producer found by a scan. Kept as the oracle the
// indexed checker must agree with.
func rpoReference(in Input) RPOData {
	type keyOps struct {
		ops    []history.Op
		final  *history.Op  // the last ok final read: the final state
		finals []history.Op // every ok final read
	}
	byKey := map[keyID]*keyOps{}
	get := func(k keyID) *keyOps {
		ko := byKey[k]
		if ko == nil {
			ko = &keyOps{}
			byKey[k] = ko
		}
		return ko
	}
	for _, k := range topologyKeys(in.Scenario) {
		get(k)
	}
	for i := range in.History {
		op := &in.History[i]
		ko := get(keyOf(*op))
		if op.Final {
			if op.Kind == history.Get && op.Outcome == history.OK {
				ko.finals = append(ko.finals, *op)
			}
			if op.Kind == history.Get && op.Outcome == history.OK &&
				(ko.final == nil || complete(*op) > complete(*ko.final) ||
					(complete(*op) == complete(*ko.final) && op.ID > ko.final.ID)) {
				ko.final = op
			}
			continue
		}
		ko.ops = append(ko.ops, *op)
	}
	keys := make([]keyID, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sortKeys(keys)

	d := RPOData{Keys: len(keys)}
	losses := map[string]*agentLoss{}
	for _, k := range keys {
		ko := byKey[k]
		if ko.final == nil {
			d.Unread = append(d.Unread, k.String())
			continue
		}
		d.KeysRead++
		final := *ko.final
		finalValue := readValue(final)
		if !final.Found {
			finalValue = ""
		}

		var acked []history.Op
		for _, op := range ko.ops {
			if op.Acked() {
				acked = append(acked, op)
			}
		}
		d.AckedWrites += len(acked)

		if final.Found {
			producer, why := refFindProducer(ko.ops, finalValue)
			switch {
			case producer == nil:
				d.Corrupt = append(d.Corrupt, CorruptKey{Agent: k.Agent, Key: k.Key, Value: finalValue, Reason: why})
				continue
			case producer.Outcome != history.OK:
				d.Unprovable = append(d.Unprovable, k.String())
			}
		}

		// Every ok read of the key, the final reads included, can prove a loss.
		reads := append([]history.Op(nil), ko.finals...)
		for _, op := range ko.ops {
			if op.Kind == history.Get && op.Outcome == history.OK {
				reads = append(reads, op)
			}
		}
		lostByID := map[int64]history.Op{}
		kl := KeyLoss{Agent: k.Agent, Key: k.Key}
		al := losses[k.Agent]
		if al == nil {
			al = &agentLoss{}
			losses[k.Agent] = al
		}
		var settled int64
		for _, r := range ko.finals {
			settled = max(settled, r.Epoch)
		}
		for _, r := range reads {
			var p *history.Op
			if r.Found {
				prod, _ := refFindProducer(ko.ops, readValue(r))
				if prod == nil || prod.Outcome != history.OK {
					continue // corrupt (judged on the final read) or effect time unknown
				}
				p = prod
			}
			proved := false
			for _, w := range acked {
				if !refLostBy(w, p, r, settled) {
					continue
				}
				proved = true
				if _, seen := lostByID[w.ID]; !seen {
					lostByID[w.ID] = w
					al.lastLost = max(al.lastLost, complete(w))
					if p == nil {
						al.noteEmpty(w.Invoke)
					}
				}
			}
			if proved && p != nil {
				al.point = max(al.point, complete(*p))
				if kl.ProducerID == 0 || complete(*p) > complete(*refProducerOf(ko.ops, kl.ProducerID)) {
					kl.ProducerID = p.ID
				}
			}
		}
		if len(lostByID) == 0 {
			continue
		}
		lost := make([]history.Op, 0, len(lostByID))
		for _, w := range lostByID {
			lost = append(lost, w)
		}
		sort.Slice(lost, func(i, j int) bool { return lost[i].ID < lost[j].ID })
		kl.Lost = len(lost)
		d.LossByKey = append(d.LossByKey, kl)
		d.Lost += len(lost)
		for _, w := range lost {
			if len(d.LostWrites) == maxListed {
				d.LostTruncated = true
				break
			}
			d.LostWrites = append(d.LostWrites, LostWrite{
				ID: w.ID, Agent: w.Agent, Key: w.Key, Value: w.Value, Invoke: w.Invoke,
				Complete: w.Complete, Region: w.Region, Epoch: w.Epoch,
				FinalValue: finalValue, FinalFound: final.Found,
			})
		}
	}
	// The agent is what a failover restores, so the loss window is measured per agent: from
	// its recovery point (the newest surviving write that proved a loss, or the first lost
	// write when only empty reads proved them) to its newest lost acknowledgement.
	var window time.Duration
	for i := range d.LossByKey {
		al := losses[d.LossByKey[i].Agent]
		d.LossByKey[i].WindowSeconds = seconds(al.window())
		window = max(window, al.window())
	}
	d.LossWindowSeconds = seconds(window)
	sort.Slice(d.LostWrites, func(i, j int) bool { return d.LostWrites[i].ID < d.LostWrites[j].ID })

	return d
}

func refProducerOf(ops []history.Op, id int64) *history.Op {
	for i := range ops {
		if ops[i].ID == id {
			return &ops[i]
		}
	}
	return nil
}

func refFindProducer(ops []history.Op, value string) (*history.Op, string) {
	var refuted *history.Op
	for i := range ops {
		op := &ops[i]
		if !op.IsWrite() || op.Value != value {
			continue
		}
		didNotWrite := op.Outcome == history.Fail || (op.Kind == history.CAS && op.Outcome == history.OK && !op.Swapped)
		if !didNotWrite {
			return op, ""
		}
		refuted = op
	}
	if refuted != nil {
		return nil, fmt.Sprintf("written only by op %d, which reported it did not take effect", refuted.ID)
	}
	return nil, "no write wrote this value"
}

// The indexed RPO checker finds exactly what the quadratic one found: on 2000 random
// histories of a few keys with failovers (epochs), lost and stale reads, unknown and failed
// writes, empty reads and final reads, both give the same Data.
func TestRPOIndexAgreesWithTheReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	lossy := 0
	for n := range 2000 {
		h := randomRPOHistory(rng)
		in := Input{History: h}
		want := rpoReference(in)
		got := RPO(t.Context(), in).Data.(RPOData)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("history %d:\n got %+v\nwant %+v", n, got, want)
		}
		if want.Lost > 0 {
			lossy++
		}
	}
	if lossy < 300 {
		t.Errorf("only %d of 2000 histories lost writes: the generator says too little", lossy)
	}
}

// randomRPOHistory: 1-3 keys of one or two agents; writes at random times with epochs that
// grow with time (failovers), some acknowledged, unknown or failed; reads that return a
// random earlier write's value or nothing (as after a lossy failover) or the latest; one
// final read per key.
func randomRPOHistory(rng *rand.Rand) history.History {
	var h history.History
	id := int64(1)
	ms := func(n int) time.Duration { return time.Duration(n+1) * time.Millisecond }
	for a := range 1 + rng.IntN(2) {
		for k := range 1 + rng.IntN(2) {
			agent, key := fmt.Sprintf("agent-%02d", a), fmt.Sprintf("k%d", k)
			var writes []history.Op
			for range 2 + rng.IntN(10) {
				at := rng.IntN(200) // a coarse clock: ties between completions and invocations
				op := history.Op{ID: id, Agent: agent, Key: key, Kind: history.Put, Value: fmt.Sprintf("v%d", id),
					Invoke: ms(at), Complete: ms(at + rng.IntN(10)), Outcome: history.OK, Epoch: int64(1 + at/50)}
				if rng.IntN(4) == 0 {
					op.Kind, op.Expect, op.Swapped = history.CAS, "x", rng.IntN(3) > 0
				}
				switch rng.IntN(8) {
				case 0:
					op.Outcome = history.Unknown
				case 1:
					op.Outcome = history.Fail
				}
				if rng.IntN(10) == 0 {
					op.Epoch = 0 // an op that carried no epoch
				}
				id++
				writes = append(writes, op)
				h = append(h, op)
			}
			for range rng.IntN(12) {
				at := rng.IntN(220)
				r := history.Op{ID: id, Agent: agent, Key: key, Kind: history.Get, Invoke: ms(at), Complete: ms(at + rng.IntN(5)),
					Outcome: history.OK, Epoch: int64(1 + at/50)}
				if rng.IntN(3) > 0 {
					w := writes[rng.IntN(len(writes))]
					r.Found, r.Read, r.Value = true, w.Value, w.Value
				}
				if rng.IntN(10) == 0 {
					r.Epoch = 0
				}
				id++
				h = append(h, r)
			}
			f := history.Op{ID: id, Agent: agent, Key: key, Kind: history.Get, Final: true, Invoke: ms(300), Complete: ms(301),
				Outcome: history.OK, Epoch: int64(rng.IntN(6))} // 0: no epoch; others may be older than some writes
			if rng.IntN(4) > 0 {
				w := writes[rng.IntN(len(writes))]
				f.Found, f.Read, f.Value = true, w.Value, w.Value
			}
			id++
			h = append(h, f)
		}
	}
	sort.SliceStable(h, func(i, j int) bool { return h[i].Invoke < h[j].Invoke })
	return h
}

// refLostBy reports whether read r proves acknowledged write w lost: w completed before r was
// invoked, yet r returned the value of p, a write that completed before w was invoked (or
// the empty initial state when p is nil). In a linearizable history r must reflect w or
// something later. A final read is the healed state, whatever epoch serves it. A read
// during the load proves a loss across an ownership change forward (served by a newer
// epoch than w's), or back (the key settled, in its final reads, on an epoch older than
// w's, and r was served by that one or an older one); otherwise an old value is a stale
// read, which linearizability and split-brain judge.
func refLostBy(w history.Op, p *history.Op, r history.Op, settled int64) bool {
	if p != nil && w.ID == p.ID {
		return false
	}
	if complete(w) >= r.Invoke {
		return false
	}
	if !r.Final {
		forward := r.Epoch != 0 && w.Epoch != 0 && r.Epoch > w.Epoch
		back := r.Epoch != 0 && w.Epoch != 0 && settled != 0 && settled < w.Epoch && r.Epoch <= settled
		if !forward && !back {
			return false
		}
	}
	return p == nil || complete(*p) < w.Invoke
}
