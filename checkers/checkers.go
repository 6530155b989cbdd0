// Package checkers judges a drill from what it recorded: the scenario's SLA targets, the
// client history and the fault timeline. Every checker is a pure function of its Input, so a
// saved run directory can be re-checked without a cluster.
//
// Run calls the checkers in a fixed order: linearizability, rpo, rto, availability,
// split-brain, latency. Each
// returns a Result with at least one Verdict; a report-only measurement (no SLA target) is a
// verdict with status pass whose Target says "(no target)". Unknown is never a pass.
package checkers

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// Checker names, as they appear in Result.Checker and Verdict.Checker.
const (
	NameLinearizability = "linearizability"
	NameRPO             = "rpo"
	NameRTO             = "rto"
	NameAvailability    = "availability"
)

// Input is everything a checker may look at.
type Input struct {
	Scenario *scenarios.Scenario // nil: no targets, default limits
	History  history.History
	Timeline []timeline.Event
	// ArtifactDir is where checkers write files (the porcupine visualization); "" = none.
	ArtifactDir string
	// Observations are the post-run facts (etcd keys, checkpoint objects) the drill collected
	// before the cluster went down; nil for runs saved before they existed.
	Observations *Observations
}

// checker is one entry of the fixed checking order.
type checker struct {
	name  string
	check func(context.Context, Input) Result
}

var allCheckers = []checker{
	{NameLinearizability, Linearizability},
	{NameRPO, RPO},
	{NameRTO, RTO},
	{NameAvailability, Availability},
	{NameSplitBrain, SplitBrain},
	{NameLatency, Latency},
	{NameIntegrity, Integrity},
	{NameConvergence, Convergence},
}

// Run runs every checker in a fixed order and returns one Result each, in that order. Once
// ctx is done the remaining checkers are not run and report unknown.
func Run(ctx context.Context, in Input) []Result {
	out := make([]Result, 0, len(allCheckers))
	for _, c := range allCheckers {
		if err := ctx.Err(); err != nil {
			out = append(out, Result{Checker: c.name, Verdicts: []Verdict{{
				Checker: c.name, Target: "checked", Status: Unknown, Measured: "not checked",
				Detail: fmt.Sprintf("not run: %v", err),
			}}})
			continue
		}
		out = append(out, c.check(ctx, in))
	}
	return append(out, scenarioResults(ctx, in)...)
}

// unserved says why a target that needs an optional contract part (conform.Parts) is not
// applicable: the system under test does not serve it; "" when it does.
func (in Input) unserved(part string) string {
	if in.Scenario == nil || in.Scenario.System.Serve(part) {
		return ""
	}
	return "needs the contract's optional part " + part + ", which the system " + in.Scenario.System.Name +
		" does not serve (README, \"The system-under-test contract\")"
}

func (in Input) sla() scenarios.SLA {
	if in.Scenario == nil {
		return scenarios.SLA{}
	}
	return in.Scenario.SLA
}

// keyID names one register: the unit of partitioning for linearizability and of RPO.
type keyID struct{ Agent, Key string }

func (k keyID) String() string { return k.Agent + "/" + k.Key }

func keyOf(op history.Op) keyID { return keyID{op.Agent, op.Key} }

func sortKeys(ks []keyID) {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].Agent != ks[j].Agent {
			return ks[i].Agent < ks[j].Agent
		}
		return ks[i].Key < ks[j].Key
	})
}

// topologyKeys lists every agent/key the scenario's topology declares (the final-reads phase
// reads all of them).
func topologyKeys(s *scenarios.Scenario) []keyID {
	if s == nil || s.Topology.Agents <= 0 || s.Topology.KeysPerAgent <= 0 {
		return nil
	}
	out := make([]keyID, 0, s.Topology.Agents*s.Topology.KeysPerAgent)
	for i := 0; i < s.Topology.Agents; i++ {
		for j := 0; j < s.Topology.KeysPerAgent; j++ {
			out = append(out, keyID{api.AgentID(i), api.KeyName(j)})
		}
	}
	return out
}

// readValue is what an ok get returned. The contract names both Read and Value for it;
// Read wins, Value is the fallback for recorders that follow the Found comment.
func readValue(op history.Op) string {
	if op.Read != "" {
		return op.Read
	}
	return op.Value
}

// complete is the op's completion time, never before its invocation.
func complete(op history.Op) time.Duration {
	if op.Complete < op.Invoke {
		return op.Invoke
	}
	return op.Complete
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// fmtSeconds prints a duration in seconds for Measured strings: "2.31s".
func fmtSeconds(s float64) string {
	if math.IsInf(s, 1) {
		return "∞"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// fmtRatio prints a 0..1 fraction as a percentage.
func fmtRatio(r float64) string { return fmt.Sprintf("%.3f%%", 100*r) }

// listFew joins at most n items and says how many were left out.
func listFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s, … (%d more)", strings.Join(items[:n], ", "), len(items)-n)
}

// nearestRank is the p-th percentile (0 < p <= 100) of sorted values by the nearest-rank
// method: the smallest value with at least p% of values at or below it.
func nearestRank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

// inWindow returns the one of before, during and after that an op invoked at invoke falls
// in, for a fault window from start to end (end 0: never healed, so the window never ends).
func inWindow[T any](invoke, start, end time.Duration, before, during, after *T) *T {
	switch {
	case invoke < start:
		return before
	case end == 0 || invoke < end:
		return during
	default:
		return after
	}
}
