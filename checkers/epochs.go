package checkers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// incarnation is one region holding one epoch of an agent.
type incarnation struct {
	region string
	epoch  int64
}

func (i incarnation) String() string { return fmt.Sprintf("%s@%d", i.region, i.epoch) }

// epochClaims gathers, per agent and epoch, every region that held it and the evidence.
type epochClaims map[string]map[int64]map[string]*EpochClaim

func (c epochClaims) claim(agent string, epoch int64, region string) *EpochClaim {
	if c[agent] == nil {
		c[agent] = map[int64]map[string]*EpochClaim{}
	}
	if c[agent][epoch] == nil {
		c[agent][epoch] = map[string]*EpochClaim{}
	}
	cl := c[agent][epoch][region]
	if cl == nil {
		cl = &EpochClaim{Region: region}
		c[agent][epoch][region] = cl
	}
	return cl
}

// ownerSeen is one owner event: the router showed region as the owner at epoch.
type ownerSeen struct {
	at  time.Duration
	inc incarnation
}

// judgeEpochs returns the one-region-per-epoch and takeover-epochs-grow verdicts (see
// SplitBrain) from the ok ops that carry an epoch (byAgent), the timeline's owner events and
// the observed etcd epoch records and counters, filling d.
func judgeEpochs(in Input, byAgent map[string][]history.Op, d *SplitBrainData) (Verdict, Verdict) {
	claims := epochClaims{}
	for agent, ops := range byAgent {
		for _, op := range ops {
			cl := claims.claim(agent, op.Epoch, op.Region)
			cl.Ops++
			if cl.FirstOp == 0 {
				cl.FirstOp = op.ID
			}
		}
	}
	owners := map[string][]ownerSeen{}
	for _, e := range timeline.Sorted(in.Timeline) {
		o, ok := e.Owner()
		if !ok || o.Region == "" || o.Epoch <= 0 {
			continue
		}
		agent, region, epoch := o.Agent, o.Region, o.Epoch
		d.OwnerEvents++
		if cl := claims.claim(agent, epoch, region); cl.OwnerAt == nil {
			at := e.At
			cl.OwnerAt = &at
		}
		owners[agent] = append(owners[agent], ownerSeen{e.At, incarnation{region, epoch}})
	}
	var facts map[string]*agentFacts
	if in.Observations != nil {
		facts = in.Observations.byAgent()
		for agent, f := range facts {
			for epoch, region := range f.epochRecords {
				d.EpochRecords++
				claims.claim(agent, epoch, region).Record = true
			}
		}
	}

	agents := make([]string, 0, len(claims))
	for a := range claims {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	for _, agent := range agents {
		epochs := make([]int64, 0, len(claims[agent]))
		for e := range claims[agent] {
			epochs = append(epochs, e)
		}
		sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })
		d.Epochs += len(epochs)
		d.Takeovers += len(epochs) - 1
		for _, e := range epochs {
			if len(claims[agent][e]) < 2 {
				continue
			}
			se := SharedEpoch{Agent: agent, Epoch: e}
			for _, cl := range claims[agent][e] {
				se.Claims = append(se.Claims, *cl)
			}
			sort.Slice(se.Claims, func(i, j int) bool { return se.Claims[i].Region < se.Claims[j].Region })
			d.SharedEpochs = append(d.SharedEpochs, se)
		}
		d.Regressions = append(d.Regressions, ownerRegressions(agent, owners[agent])...)
		d.Regressions = append(d.Regressions, opRegressions(agent, byAgent[agent])...)
		if f := facts[agent]; f != nil && f.hasEpoch && len(epochs) > 0 && epochs[len(epochs)-1] > f.epoch {
			top := epochs[len(epochs)-1]
			for region := range claims[agent][top] {
				d.Regressions = append(d.Regressions, EpochRegression{Agent: agent, Region: region, Epoch: top,
					After: fmt.Sprintf("etcd epoch counter %d", f.epoch), Source: "etcd epoch",
					Detail: fmt.Sprintf("%s@%d held an epoch above the agent's epoch counter in etcd (%d), which only grows", region, top, f.epoch)})
			}
		}
	}

	shared := Verdict{Checker: NameSplitBrain, Target: "one region per agent epoch", Value: float64(len(d.SharedEpochs))}
	grow := Verdict{Checker: NameSplitBrain, Target: "takeover epochs grow", Value: float64(len(d.Regressions))}
	switch {
	case d.Epochs == 0:
		for _, v := range []*Verdict{&shared, &grow} {
			v.Status, v.Measured = Unknown, "no epochs recorded"
			v.Detail = "no ok op, owner event or etcd epoch record carries an epoch"
		}
		return shared, grow
	case len(d.SharedEpochs) > 0:
		shared.Status = Fail
		shared.Measured = fmt.Sprintf("%d of %d epochs held by 2+ regions", len(d.SharedEpochs), d.Epochs)
		items := make([]string, len(d.SharedEpochs))
		for i, se := range d.SharedEpochs {
			parts := make([]string, len(se.Claims))
			for j, cl := range se.Claims {
				parts[j] = cl.Region + " (" + claimEvidence(cl) + ")"
			}
			items[i] = fmt.Sprintf("%s epoch %d: %s", se.Agent, se.Epoch, strings.Join(parts, ", "))
		}
		shared.Detail = listFew(items, 3)
	default:
		shared.Status = Pass
		shared.Measured = fmt.Sprintf("%d epochs of %d agents, one region each", d.Epochs, len(agents))
	}
	if len(d.Regressions) > 0 {
		grow.Status = Fail
		grow.Measured = fmt.Sprintf("%d takeovers without a higher epoch", len(d.Regressions))
		items := make([]string, len(d.Regressions))
		for i, r := range d.Regressions {
			items[i] = fmt.Sprintf("%s (%s): %s", r.Agent, r.Source, r.Detail)
		}
		grow.Detail = listFew(items, 3)
	} else {
		grow.Status = Pass
		grow.Measured = fmt.Sprintf("0 of %d takeovers", d.Takeovers)
	}
	return shared, grow
}

func claimEvidence(cl EpochClaim) string {
	var ev []string
	if cl.Ops > 0 {
		ev = append(ev, fmt.Sprintf("%d ok ops from op %d", cl.Ops, cl.FirstOp))
	}
	if cl.OwnerAt != nil {
		ev = append(ev, "router owner at "+fmtSeconds(seconds(*cl.OwnerAt)))
	}
	if cl.Record {
		ev = append(ev, "etcd epoch record")
	}
	return strings.Join(ev, "; ")
}

// ownerRegressions walks the owners the router showed for one agent in time order: every
// change of owner must carry a higher epoch than the highest shown before it. (An equal
// epoch under another region is a shared epoch, reported as such.)
func ownerRegressions(agent string, seen []ownerSeen) []EpochRegression {
	var out []EpochRegression
	var top ownerSeen
	for i, s := range seen {
		if i > 0 && s.inc.epoch < top.inc.epoch {
			out = append(out, EpochRegression{Agent: agent, Region: s.inc.region, Epoch: s.inc.epoch,
				After: top.inc.String(), Source: "owner events",
				Detail: fmt.Sprintf("the router showed owner %s at %s after %s at %s", s.inc, fmtSeconds(seconds(s.at)), top.inc, fmtSeconds(seconds(top.at)))})
		}
		if i == 0 || s.inc.epoch > top.inc.epoch {
			top = s
		}
	}
	return out
}

// opRegressions finds, for one agent's ok ops, a region that served at a lower epoch after
// another region's op at a higher epoch had completed (real-time order: invoke order alone
// would flag ops that merely overlapped). Each pair of incarnations is reported once, with
// the first op of each that proves the order.
func opRegressions(agent string, ops []history.Op) []EpochRegression {
	type span struct {
		firstDone   history.Op // the op that completed first
		lastInvoked history.Op // the op invoked last
	}
	spans := map[incarnation]*span{}
	var incs []incarnation
	for _, op := range ops {
		inc := incarnation{op.Region, op.Epoch}
		sp := spans[inc]
		if sp == nil {
			sp = &span{firstDone: op, lastInvoked: op}
			spans[inc] = sp
			incs = append(incs, inc)
			continue
		}
		if complete(op) < complete(sp.firstDone) {
			sp.firstDone = op
		}
		if op.Invoke > sp.lastInvoked.Invoke {
			sp.lastInvoked = op
		}
	}
	sort.Slice(incs, func(i, j int) bool {
		if incs[i].epoch != incs[j].epoch {
			return incs[i].epoch < incs[j].epoch
		}
		return incs[i].region < incs[j].region
	})
	var out []EpochRegression
	for _, later := range incs {
		for _, earlier := range incs {
			if later.region == earlier.region || later.epoch >= earlier.epoch {
				continue
			}
			x, y := spans[earlier].firstDone, spans[later].lastInvoked
			if y.Invoke <= complete(x) {
				continue
			}
			out = append(out, EpochRegression{Agent: agent, Region: later.region, Epoch: later.epoch,
				After: earlier.String(), Source: "ops",
				Detail: fmt.Sprintf("%s served op %d (invoked %s) after %s's op %d completed (%s)",
					later, y.ID, fmtSeconds(seconds(y.Invoke)), earlier, x.ID, fmtSeconds(seconds(complete(x))))})
		}
	}
	return out
}
