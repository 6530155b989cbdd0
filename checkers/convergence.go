package checkers

import (
	"context"
	"fmt"
	"sort"

	"github.com/geodrill/geodrill/system"
	"github.com/geodrill/geodrill/workload/history"
)

// ConvergenceData is the convergence Result's Data.
type ConvergenceData struct {
	// FinalWrites: agents written after healing, and those whose every attempt failed.
	FinalWrites int      `json:"final_write_agents"`
	NotWritten  []string `json:"not_written,omitempty"`
	// Compared counts agents whose newest checkpoint was found in at least one region.
	Compared  int               `json:"compared"`
	Divergent []DivergentCopies `json:"divergent,omitempty"`
	// RebuiltAgents were rebuilt from their newest chain plus log tail; RebuiltKeys of theirs
	// were compared with a final read; Mismatches disagree; NotRebuilt says, per agent, why
	// it could not be rebuilt.
	RebuiltAgents int               `json:"rebuilt_agents"`
	RebuiltKeys   int               `json:"rebuilt_keys"`
	Mismatches    []RebuildMismatch `json:"rebuild_mismatches,omitempty"`
	NotRebuilt    map[string]string `json:"not_rebuilt,omitempty"`
}

// DivergentCopies is an agent whose regions hold different bytes under one checkpoint key.
type DivergentCopies struct {
	Agent  string            `json:"agent"`
	Object string            `json:"object"`
	SHA256 map[string]string `json:"sha256"` // region -> sha256 of its copy
}

// Convergence judges the healed stack: after the final reads every agent took one more
// write through the router (ops with Final set) and each must have succeeded; every
// region's copy of each agent's newest checkpoint (the object its etcd metadata names)
// holds the same bytes; and each agent rebuilt from what a restore would read — its newest
// chain plus the op-log tail — holds what the final reads returned (see judgeRebuild). No
// final writes, or no observations, is unknown.
func Convergence(_ context.Context, in Input) Result {
	var d ConvergenceData
	attempted := map[string]bool{}
	written := map[string]bool{}
	for _, op := range in.History {
		if !op.Final || op.Kind != history.Put {
			continue
		}
		attempted[op.Agent] = true
		if op.Outcome == history.OK {
			written[op.Agent] = true
		}
	}
	d.FinalWrites = len(attempted)
	for a := range attempted {
		if !written[a] {
			d.NotWritten = append(d.NotWritten, a)
		}
	}
	sort.Strings(d.NotWritten)
	writes := Verdict{Checker: NameConvergence, Target: "final writes succeed after healing", Value: float64(len(d.NotWritten))}
	switch {
	case len(attempted) == 0:
		writes.Status, writes.Measured = Unknown, "no final writes"
		writes.Detail = "the history has no final writes (ops with final=true and kind put)"
	case len(d.NotWritten) > 0:
		writes.Status = Fail
		writes.Measured = fmt.Sprintf("%d of %d agents not writable", len(d.NotWritten), len(attempted))
		writes.Detail = listFew(d.NotWritten, 5)
	default:
		writes.Status, writes.Measured = Pass, fmt.Sprintf("%d of %d agents written", len(written), len(attempted))
	}

	agree := Verdict{Checker: NameConvergence, Target: "regions agree on each agent's newest checkpoint"}
	if why := in.unserved(system.ServesCheckpoints); why != "" {
		return Result{Checker: NameConvergence, Verdicts: []Verdict{writes, NotApplicableTo(NameConvergence, agree.Target, why),
			NotApplicableTo(NameConvergence, "agents rebuilt from chain + log match the final reads", why)}, Data: d}
	}
	obs := in.Observations
	if obs == nil {
		agree.Status, agree.Measured = Unknown, "not observed"
		agree.Detail = "the run has no observations.json"
		rebuilt := judgeRebuild(in, &d)
		return Result{Checker: NameConvergence, Verdicts: []Verdict{writes, agree, rebuilt}, Data: d}
	}
	facts := obs.byAgent()
	for _, a := range sortedAgents(facts) {
		m := facts[a].meta
		if m == nil {
			continue
		}
		shas := map[string]string{}
		for _, r := range obs.Regions {
			if obj, ok := obs.object(r, m.Object); ok {
				shas[r] = obj.SHA256
			}
		}
		if len(shas) == 0 {
			continue
		}
		d.Compared++
		distinct := map[string]bool{}
		for _, s := range shas {
			distinct[s] = true
		}
		if len(distinct) > 1 {
			d.Divergent = append(d.Divergent, DivergentCopies{Agent: a, Object: m.Object, SHA256: shas})
		}
	}
	agree.Value = float64(len(d.Divergent))
	switch {
	case len(d.Divergent) > 0:
		agree.Status = Fail
		agree.Measured = fmt.Sprintf("%d of %d agents diverge", len(d.Divergent), d.Compared)
		items := make([]string, len(d.Divergent))
		for i, dv := range d.Divergent {
			items[i] = fmt.Sprintf("%s %s: %s", dv.Agent, dv.Object, shaSummary(dv.SHA256))
		}
		agree.Detail = listFew(items, 3)
	case len(obs.Errors) > 0:
		agree.Status = Unknown
		agree.Measured = fmt.Sprintf("%d agents agree where readable", d.Compared)
		agree.Detail = observationErrors(obs)
	case d.Compared == 0:
		// etcd and every bucket were read and hold no checkpoint yet (short runs): there is
		// nothing that could diverge, which is known, not unknown.
		agree.Status, agree.Measured = Pass, "no checkpoints yet"
	default:
		agree.Status, agree.Measured = Pass, fmt.Sprintf("%d agents agree", d.Compared)
	}
	rebuilt := judgeRebuild(in, &d)
	return Result{Checker: NameConvergence, Verdicts: []Verdict{writes, agree, rebuilt}, Data: d}
}

func shaSummary(m map[string]string) string {
	regions := make([]string, 0, len(m))
	for r := range m {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	parts := make([]string, len(regions))
	for i, r := range regions {
		parts[i] = fmt.Sprintf("%s=%.8s", r, m[r])
	}
	return fmt.Sprint(parts)
}
