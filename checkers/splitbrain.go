package checkers

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/geodrill/geodrill/system"
	"github.com/geodrill/geodrill/workload/history"
)

// NameSplitBrain is the split-brain checker's name.
const NameSplitBrain = "split-brain"

// SplitBrainData is the split-brain Result's Data.
type SplitBrainData struct {
	// Served counts ok ops that carry the epoch that served them (the ones judged).
	Served int `json:"served"`
	// Stale counts ok ops served by an older epoch after a newer one had served the agent.
	Stale   int                `json:"stale"`
	Agents  []string           `json:"agents,omitempty"`
	Windows []SplitBrainWindow `json:"windows,omitempty"`

	// Epochs counts the (agent, epoch) pairs seen in ok ops, owner events and etcd's epoch
	// records; Takeovers how many of them followed an earlier epoch of the same agent.
	Epochs    int `json:"epochs"`
	Takeovers int `json:"takeovers"`
	// OwnerEvents and EpochRecords count the sources beyond the ops that were read.
	OwnerEvents  int `json:"owner_events"`
	EpochRecords int `json:"epoch_records"`
	// SharedEpochs are epochs of one agent that more than one region served or owned.
	SharedEpochs []SharedEpoch `json:"shared_epochs,omitempty"`
	// Regressions are takeovers whose epoch is not above the one before.
	Regressions []EpochRegression `json:"epoch_regressions,omitempty"`
}

// SharedEpoch is one epoch of one agent claimed by several regions, with the evidence.
type SharedEpoch struct {
	Agent  string       `json:"agent"`
	Epoch  int64        `json:"epoch"`
	Claims []EpochClaim `json:"claims"` // one per region, by region
}

// EpochClaim is the evidence that one region held an epoch: ok ops it served at that
// epoch, owner events naming it, and etcd's epoch record.
type EpochClaim struct {
	Region string `json:"region"`
	Ops    int    `json:"ops"`
	// FirstOp is the first ok op (by invoke) the region served at the epoch; 0 if none.
	FirstOp int64 `json:"first_op,omitempty"`
	// OwnerAt is when the router first showed the region as owner at the epoch; nil if never.
	OwnerAt *time.Duration `json:"owner_at_ns,omitempty"`
	// Record: etcd's epoch record (agents/{agent}/epochs/{epoch}) names the region.
	Record bool `json:"etcd_record,omitempty"`
}

// EpochRegression is a takeover (a new region serving or owning an agent) whose epoch is
// not above the epoch it followed, or an epoch above the agent's epoch counter in etcd.
type EpochRegression struct {
	Agent  string `json:"agent"`
	Region string `json:"region"`
	Epoch  int64  `json:"epoch"`
	// After names the earlier holder the takeover followed (region@epoch), or the etcd
	// epoch counter the epoch exceeds.
	After  string `json:"after"`
	Source string `json:"source"` // ops, owner events, etcd epoch
	Detail string `json:"detail"`
}

// SplitBrainWindow is one stale incarnation of one agent serving after a newer one had.
type SplitBrainWindow struct {
	Agent       string `json:"agent"`
	StaleRegion string `json:"stale_region"`
	StaleEpoch  int64  `json:"stale_epoch"`
	// NewerRegion/NewerEpoch/NewerOpID name the first newer-epoch op that completed before
	// the first stale op was invoked: the proof that a newer owner existed.
	NewerRegion string `json:"newer_region"`
	NewerEpoch  int64  `json:"newer_epoch"`
	NewerOpID   int64  `json:"newer_op_id"`
	// From/To span the stale ops (first invoke to last completion).
	From  time.Duration `json:"from_ns"`
	To    time.Duration `json:"to_ns"`
	Ops   []int64       `json:"ops"`
	Acked int           `json:"acked_writes"` // how many of Ops were acknowledged writes
}

// SplitBrain judges the agents' epochs (fencing tokens) with three verdicts:
//
//   - stale-epoch ops: ok ops (acknowledged writes and ok reads) served by an older epoch of
//     an agent after a newer epoch had served that agent, in real time: the stale op was
//     invoked after the newer-epoch op completed. Fencing makes this impossible — a deposed
//     owner can neither publish nor read under its old epoch.
//   - one region per epoch: every (agent, epoch) is held by exactly one region, across the
//     ok ops that carry it, the owners the router showed (timeline owner events) and etcd's
//     epoch records (observations). Two regions with one epoch means two takeovers produced
//     the same token, and fencing cannot tell their writes apart.
//   - takeover epochs grow: each change of owner the router showed has a higher epoch than
//     the owner before; in real time, a region that serves an agent after another region's
//     op at epoch e completed serves above e; and no epoch exceeds the agent's epoch counter
//     in etcd, which only grows.
//
// Ops without an epoch (errors, old recorders) are not judged; with no epoch seen anywhere
// the verdicts are unknown, since nothing could be checked.
func SplitBrain(_ context.Context, in Input) Result {
	if why := in.unserved(system.ServesEpoch); why != "" {
		return Result{Checker: NameSplitBrain, Verdicts: []Verdict{
			NotApplicableTo(NameSplitBrain, "stale-epoch ops == 0", why),
			NotApplicableTo(NameSplitBrain, "one region per agent epoch", why),
			NotApplicableTo(NameSplitBrain, "takeover epochs grow", why)}}
	}
	byAgent := map[string][]history.Op{}
	okOps := 0
	for _, op := range in.History {
		if op.Outcome != history.OK {
			continue
		}
		okOps++
		if op.Epoch <= 0 {
			continue
		}
		byAgent[op.Agent] = append(byAgent[op.Agent], op)
	}
	var d SplitBrainData
	agents := make([]string, 0, len(byAgent))
	for a := range byAgent {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	for _, a := range agents {
		ops := byAgent[a]
		d.Served += len(ops)
		ws := staleWindows(a, ops)
		if len(ws) > 0 {
			d.Agents = append(d.Agents, a)
		}
		for _, w := range ws {
			d.Stale += len(w.Ops)
		}
		d.Windows = append(d.Windows, ws...)
	}

	v := Verdict{Checker: NameSplitBrain, Target: "stale-epoch ops == 0", Value: float64(d.Stale)}
	switch {
	case d.Served == 0 && okOps > 0:
		v.Status, v.Measured = Unknown, "no epochs recorded"
		v.Detail = fmt.Sprintf("none of %d ok ops carries the epoch that served it", okOps)
	case d.Served == 0:
		v.Status, v.Measured = Unknown, "no ok ops"
		v.Detail = "the history has no ok operations to judge"
	case d.Stale == 0:
		v.Status, v.Measured = Pass, fmt.Sprintf("0 of %d ops", d.Served)
	default:
		v.Status = Fail
		v.Measured = fmt.Sprintf("%d ops in %d windows, %d agents", d.Stale, len(d.Windows), len(d.Agents))
		var items []string
		for _, w := range d.Windows {
			items = append(items, fmt.Sprintf("%s: %s@%d served %d ops (%d acked writes) %s–%s after %s@%d (op %d)",
				w.Agent, w.StaleRegion, w.StaleEpoch, len(w.Ops), w.Acked,
				fmtSeconds(seconds(w.From)), fmtSeconds(seconds(w.To)), w.NewerRegion, w.NewerEpoch, w.NewerOpID))
		}
		v.Detail = listFew(items, 3)
	}
	shared, grow := judgeEpochs(in, byAgent, &d)
	return Result{Checker: NameSplitBrain, Verdicts: []Verdict{v, shared, grow}, Data: d}
}

// staleWindows walks one agent's ok ops by invoke time, tracking the newest epoch among ops
// that completed before each invoke; an op with an older epoch is stale. Stale ops are
// grouped by their (region, epoch).
func staleWindows(agent string, ops []history.Op) []SplitBrainWindow {
	byInvoke := append([]history.Op(nil), ops...)
	sort.SliceStable(byInvoke, func(i, j int) bool { return byInvoke[i].Invoke < byInvoke[j].Invoke })
	byComplete := append([]history.Op(nil), ops...)
	sort.SliceStable(byComplete, func(i, j int) bool { return complete(byComplete[i]) < complete(byComplete[j]) })

	var newest *history.Op // newest epoch completed so far (first op to show it)
	next := 0
	type incarnation struct {
		region string
		epoch  int64
	}
	idx := map[incarnation]int{}
	var out []SplitBrainWindow
	for _, op := range byInvoke {
		for next < len(byComplete) && complete(byComplete[next]) < op.Invoke {
			c := byComplete[next]
			if newest == nil || c.Epoch > newest.Epoch {
				newest = &byComplete[next]
			}
			next++
		}
		if newest == nil || op.Epoch >= newest.Epoch {
			continue
		}
		inc := incarnation{op.Region, op.Epoch}
		i, ok := idx[inc]
		if !ok {
			i = len(out)
			idx[inc] = i
			out = append(out, SplitBrainWindow{
				Agent: agent, StaleRegion: op.Region, StaleEpoch: op.Epoch,
				NewerRegion: newest.Region, NewerEpoch: newest.Epoch, NewerOpID: newest.ID,
				From: op.Invoke,
			})
		}
		w := &out[i]
		w.Ops = append(w.Ops, op.ID)
		if c := complete(op); c > w.To {
			w.To = c
		}
		if op.Acked() {
			w.Acked++
		}
	}
	return out
}
