package checkers

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/workload/history"
)

// maxListed bounds the per-write lists kept in Data; counts stay exact.
const maxListed = 200

// RPOData is the rpo Result's Data.
type RPOData struct {
	Keys        int `json:"keys"`         // agent/keys judged (history ∪ topology)
	KeysRead    int `json:"keys_read"`    // with an ok final read
	AckedWrites int `json:"acked_writes"` // on keys with an ok final read
	Lost        int `json:"lost"`
	// LossWindowSeconds is the largest per-key data-loss window (see RPO).
	LossWindowSeconds float64     `json:"loss_window_s"`
	LostWrites        []LostWrite `json:"lost_writes,omitempty"` // at most 200
	LostTruncated     bool        `json:"lost_truncated,omitempty"`
	// LossByKey lists the keys that lost writes.
	LossByKey []KeyLoss `json:"loss_by_key,omitempty"`
	// Corrupt keys: the final value was not written by any op that could have written it.
	Corrupt []CorruptKey `json:"corrupt,omitempty"`
	// Unread keys: no ok final read, so what they lost is unknown.
	Unread []string `json:"unread,omitempty"`
	// Unprovable keys: the final value came from a write with an unknown outcome, whose
	// effect time is unknown, so no later acknowledged write is provably lost.
	Unprovable []string `json:"unprovable,omitempty"`
}

// LostWrite is an acknowledged write missing from the final state.
type LostWrite struct {
	ID         int64         `json:"id"`
	Agent      string        `json:"agent"`
	Key        string        `json:"key"`
	Value      string        `json:"value"`
	Invoke     time.Duration `json:"invoke_ns"`
	Complete   time.Duration `json:"complete_ns"`
	Region     string        `json:"region,omitempty"`
	Epoch      int64         `json:"epoch,omitempty"`
	FinalValue string        `json:"final_value,omitempty"`
	FinalFound bool          `json:"final_found"`
}

// KeyLoss is one key's loss.
type KeyLoss struct {
	Agent         string  `json:"agent"`
	Key           string  `json:"key"`
	Lost          int     `json:"lost"`
	WindowSeconds float64 `json:"window_s"`
	// ProducerID is the write whose value survived; 0 when the key read empty.
	ProducerID int64 `json:"producer_id,omitempty"`
}

// CorruptKey is a final value no legitimate write produced.
type CorruptKey struct {
	Agent  string `json:"agent"`
	Key    string `json:"key"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// RPO finds acknowledged writes missing from the recovered state.
//
// Every ok read of a key — during the load and the final reads — is evidence: the write that
// produced the value it returned is found by value (write values are unique; "not found" is
// the initial state). An acknowledged write w is lost when some read r invoked after w
// completed returned the value of a write p that completed before w was invoked (or the
// empty state), and r may judge w's epoch (a final read always; a read during the load
// across an ownership change, forward or back: epochOK in rpo_index.go). Looking at
// every read, not only the final one, matters: after a failover the load keeps writing each
// key, so the final state is a newer write and hides what the failover lost; the first reads
// served by the new owner show it. The loss window is per agent (see agentLoss.window) and
// the measured window is the maximum over agents.
//
// A final value no write wrote — or one written only by an op that reported it did not take
// effect (outcome fail, or cas not swapped) — is corruption: counted apart and always a
// fail; its key's writes are not also counted as lost. When p's outcome is unknown its
// effect time is unknown (it may have landed after later writes), so nothing on that key is
// provably lost; such keys are listed. Keys without an ok final read make the verdicts
// unknown unless something already fails.
//
// SLA.MaxLostWrites nil means no allowance: one lost acknowledged write fails.
// SLA.MaxLossWindow nil reports the window (in the lost-writes verdict and Data) without
// judging it.
func RPO(_ context.Context, in Input) Result {
	sla := in.sla()
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

		producers := newProducers(ko.ops)
		if final.Found {
			producer, why := producers.of(finalValue)
			switch {
			case producer == nil:
				d.Corrupt = append(d.Corrupt, CorruptKey{Agent: k.Agent, Key: k.Key, Value: finalValue, Reason: why})
				continue
			case producer.Outcome != history.OK:
				d.Unprovable = append(d.Unprovable, k.String())
			}
		}

		// Every ok read of the key, the final reads included, can prove a loss.
		var evs []evidence
		for _, r := range ko.finals {
			if e, ok := producers.evidence(r); ok {
				evs = append(evs, e)
			}
		}
		for _, op := range ko.ops {
			if op.Kind == history.Get && op.Outcome == history.OK {
				if e, ok := producers.evidence(op); ok {
					evs = append(evs, e)
				}
			}
		}
		kl := KeyLoss{Agent: k.Agent, Key: k.Key}
		al := losses[k.Agent]
		if al == nil {
			al = &agentLoss{}
			losses[k.Agent] = al
		}
		idx := newLossIndex(acked, settledEpoch(ko.finals))
		var producerDone time.Duration
		for _, e := range evs {
			if e.producer == nil || !idx.proves(e) {
				continue
			}
			p := e.producer
			al.point = max(al.point, complete(*p))
			if kl.ProducerID == 0 || complete(*p) > producerDone {
				kl.ProducerID, producerDone = p.ID, complete(*p)
			}
		}
		lostWrites, emptyFrom, empty := idx.lost(evs)
		lostByID := map[int64]history.Op{}
		for _, w := range lostWrites {
			lostByID[w.ID] = w
			al.lastLost = max(al.lastLost, complete(w))
		}
		if empty {
			al.noteEmpty(emptyFrom)
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

	verdicts := []Verdict{lostWritesVerdict(sla.MaxLostWrites, d), corruptionVerdict(d)}
	if sla.MaxLossWindow != nil {
		verdicts = append(verdicts, lossWindowVerdict(*sla.MaxLossWindow, d))
	}
	return Result{Checker: NameRPO, Verdicts: verdicts, Data: d}
}

// agentLoss collects one agent's loss evidence for its loss window.
type agentLoss struct {
	lastLost  time.Duration // newest completion among lost acknowledged writes
	point     time.Duration // newest completion among surviving writes that proved a loss
	emptyFrom time.Duration // earliest invocation among writes proved lost by an empty read
	hasEmpty  bool
}

func (a *agentLoss) noteEmpty(invoke time.Duration) {
	if !a.hasEmpty || invoke < a.emptyFrom {
		a.emptyFrom, a.hasEmpty = invoke, true
	}
}

func (a *agentLoss) window() time.Duration {
	from := a.point
	if a.point == 0 && a.hasEmpty {
		from = a.emptyFrom
	}
	if a.lastLost <= from {
		return 0
	}
	return a.lastLost - from
}

// producers finds, by value, the write that put a value in place: write values are unique,
// so the first write of a value that did not refute itself is its producer.
type producers struct {
	by      map[string]*history.Op // value -> its producer
	refuted map[string]int64       // value -> the last op that wrote it but reported it did not take effect
}

func newProducers(ops []history.Op) producers {
	p := producers{by: map[string]*history.Op{}, refuted: map[string]int64{}}
	for i := range ops {
		op := &ops[i]
		if !op.IsWrite() {
			continue
		}
		if _, found := p.by[op.Value]; found {
			continue
		}
		if op.Outcome == history.Fail || (op.Kind == history.CAS && op.Outcome == history.OK && !op.Swapped) {
			p.refuted[op.Value] = op.ID
			continue
		}
		p.by[op.Value] = op
	}
	return p
}

// of returns the write that put value in place, or nil and why none did.
func (p producers) of(value string) (*history.Op, string) {
	if op, ok := p.by[value]; ok {
		return op, ""
	}
	if id, ok := p.refuted[value]; ok {
		return nil, fmt.Sprintf("written only by op %d, which reported it did not take effect", id)
	}
	return nil, "no write wrote this value"
}

// evidence pairs an ok read with its producer; ok is false for a read that proves nothing:
// its value is corrupt (judged on the final read) or came from a write whose effect time is
// unknown.
func (p producers) evidence(r history.Op) (evidence, bool) {
	if !r.Found {
		return evidence{read: r}, true
	}
	prod, _ := p.of(readValue(r))
	if prod == nil || prod.Outcome != history.OK {
		return evidence{}, false
	}
	return evidence{read: r, producer: prod}, true
}

// unreadStatus is the status of a target that was not broken by what was read: unknown if
// some keys were not read (they may hide a violation), pass otherwise.
func unreadStatus(d RPOData) (Status, string) {
	if d.Keys == 0 {
		return Unknown, "no keys in the history or topology"
	}
	if len(d.Unread) > 0 {
		return Unknown, fmt.Sprintf("%d keys without an ok final read: %s", len(d.Unread), listFew(d.Unread, 5))
	}
	return Pass, ""
}

func lostWritesVerdict(limit *int, d RPOData) Verdict {
	allowed := 0
	target := "lost_acked_writes <= 0"
	if limit != nil {
		allowed = *limit
		target = fmt.Sprintf("lost_acked_writes <= %d", allowed)
	}
	v := Verdict{
		Checker: NameRPO, Target: target, Value: float64(d.Lost), Limit: float64(allowed),
		Measured: fmt.Sprintf("%d lost of %d acked writes (loss window %s)", d.Lost, d.AckedWrites, fmtSeconds(d.LossWindowSeconds)),
	}
	if d.Lost > allowed {
		v.Status = Fail
		var keys []string
		for _, kl := range d.LossByKey {
			keys = append(keys, fmt.Sprintf("%s/%s: %d", kl.Agent, kl.Key, kl.Lost))
		}
		var ids []string
		for _, w := range d.LostWrites {
			ids = append(ids, fmt.Sprint(w.ID))
		}
		v.Detail = fmt.Sprintf("lost on %s; ops %s", listFew(keys, 5), listFew(ids, 8))
	} else {
		v.Status, v.Detail = unreadStatus(d)
	}
	if limit == nil {
		v.Detail = joinDetail(v.Detail, "no max_lost_writes set: no allowance")
	}
	if len(d.Unprovable) > 0 {
		v.Detail = joinDetail(v.Detail, fmt.Sprintf("final value from an unknown-outcome write on %s: losses there not provable", listFew(d.Unprovable, 3)))
	}
	return v
}

func corruptionVerdict(d RPOData) Verdict {
	v := Verdict{
		Checker: NameRPO, Target: "corrupt_final_values == 0", Value: float64(len(d.Corrupt)),
		Measured: fmt.Sprintf("%d corrupt of %d keys read", len(d.Corrupt), d.KeysRead),
	}
	if len(d.Corrupt) > 0 {
		v.Status = Fail
		var keys []string
		for _, c := range d.Corrupt {
			keys = append(keys, fmt.Sprintf("%s/%s=%q (%s)", c.Agent, c.Key, c.Value, c.Reason))
		}
		v.Detail = listFew(keys, 3)
		return v
	}
	v.Status, v.Detail = unreadStatus(d)
	return v
}

func lossWindowVerdict(limit scenarios.Duration, d RPOData) Verdict {
	v := Verdict{
		Checker: NameRPO, Value: d.LossWindowSeconds,
		Measured: fmtSeconds(d.LossWindowSeconds),
	}
	v.Limit = seconds(limit.D())
	v.Target = "loss_window <= " + limit.String()
	if d.LossWindowSeconds > v.Limit {
		v.Status = Fail
		return v
	}
	v.Status, v.Detail = unreadStatus(d)
	return v
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}
