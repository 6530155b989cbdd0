package checkers

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// VisualizationFile is the porcupine HTML written to Input.ArtifactDir for failing partitions.
const VisualizationFile = "linearizability.html"

// maxExplained bounds how many illegal partitions get culprit op ids and a visualization:
// explaining re-runs the search, and a reviewer reads the first few anyway.
const maxExplained = 20

// culpritOps is how many op ids an illegal partition names.
const culpritOps = 5

// LinearizabilityData is the linearizability Result's Data.
type LinearizabilityData struct {
	Partitions         int `json:"partitions"`
	Ops                int `json:"ops"`                  // ops given to the checker
	UnknownWrites      int `json:"unknown_writes"`       // checked as may-or-may-not
	DroppedFailed      int `json:"dropped_failed"`       // outcome fail: did not happen
	DroppedUnknownGets int `json:"dropped_unknown_gets"` // an unknown read constrains nothing
	DroppedMalformed   int `json:"dropped_malformed,omitempty"`
	// UnknownDropped: unknown writes no op mentions, dropped before the search (shrink);
	// UnknownPatched: unknown writes some op saw, given that op's completion time.
	UnknownDropped int `json:"unknown_writes_dropped,omitempty"`
	UnknownPatched int `json:"unknown_writes_patched,omitempty"`
	// GetsMerged: ok gets left out because two others with the same result decide them.
	GetsMerged  int    `json:"gets_merged,omitempty"`
	Timeout     string `json:"timeout"`
	MemoryBound string `json:"memory_bound,omitempty"`
	Elapsed     string `json:"elapsed"`
	// Illegal partitions: no linearization exists.
	Illegal []PartitionReport `json:"illegal,omitempty"`
	// Unchecked partitions: the time limit (or cancellation) stopped the search.
	Unchecked []PartitionReport `json:"unchecked,omitempty"`
	// Visualization is the file name, relative to ArtifactDir, of porcupine's HTML view of
	// the explained illegal partitions (one file, one tab per partition).
	Visualization      string `json:"visualization,omitempty"`
	VisualizationError string `json:"visualization_error,omitempty"`
	// ExplainIncomplete: the re-run that finds culprit ops did not finish; op ids are from
	// the longest linearization found so far.
	ExplainIncomplete bool `json:"explain_incomplete,omitempty"`
}

// PartitionReport names one agent/key register.
type PartitionReport struct {
	Agent string `json:"agent"`
	Key   string `json:"key"`
	Ops   int    `json:"ops"`
	// OpIDs of an illegal partition: the first ops (by invoke time) that the longest
	// linearization found could not place — where the history stops making sense.
	OpIDs  []int64 `json:"op_ids,omitempty"`
	Reason string  `json:"reason,omitempty"`
}

// Linearizability checks the history against a per-agent+key register model with porcupine.
//
// Ops with outcome fail are dropped (they did not happen); unknown gets are dropped (they
// constrain nothing); unknown puts and cas ops are kept with a return time after every other
// op, porcupine's convention for pending ops, so each may be linearized anywhere after its
// invocation — including after everything, which is "did not take effect". Final reads are
// ordinary gets. Before the search, each partition is shrunk (shrink.go): an unknown write
// no op mentions is dropped, one some op saw returns when that op did. The search is bounded
// by SLA.CheckTimeout (default 60s) and by SLA.CheckMemoryMiB of heap (default 4 GiB); a
// partition it could not finish makes the verdict unknown with the reason, never pass. SLA.Linearizable nil or true
// judges; false reports only.
//
// Illegal partitions (the first 20) are then searched again in porcupine's verbose mode,
// bounded by the same time limit, to name the first ops no linearization could place and,
// when ArtifactDir is set, to draw them all in one HTML file (VisualizationFile) with the
// fault windows as annotations. The register compares an absent key as "" in a cas.
func Linearizability(ctx context.Context, in Input) Result {
	sla := in.sla()
	timeout := sla.CheckTimeout.D()
	if timeout <= 0 {
		timeout = scenarios.DefaultCheckTimeout
	}
	memory := sla.CheckMemoryMiB
	if memory <= 0 {
		memory = scenarios.DefaultCheckMemoryMiB
	}
	started := time.Now()
	parts, data := buildPartitions(in.History)
	data.Timeout = timeout.String()
	data.MemoryBound = fmt.Sprintf("%d MiB", memory)

	var canceled, overMemory atomic.Bool
	stopWatching := context.AfterFunc(ctx, func() { canceled.Store(true) })
	defer stopWatching()
	endWatch := watchMemory(uint64(memory)<<20, &overMemory, &canceled)
	results := checkPartitions(ctx, &canceled, parts, started.Add(timeout))
	endWatch()
	if overMemory.Load() {
		for i := range results {
			if results[i].unchecked == "canceled" {
				results[i].unchecked = fmt.Sprintf("memory bound reached (%d MiB)", memory)
			}
		}
	}

	var illegal []*partition
	for i, r := range results {
		p := &parts[i]
		switch {
		case r.illegal:
			illegal = append(illegal, p)
		case r.unchecked != "":
			data.Unchecked = append(data.Unchecked, PartitionReport{
				Agent: p.key.Agent, Key: p.key.Key, Ops: len(p.ops), Reason: r.unchecked})
		}
	}
	if len(illegal) > 0 && overMemory.Load() {
		// No memory left to search again for culprits: the partitions are named without them.
		data.ExplainIncomplete = true
		for _, p := range illegal {
			data.Illegal = append(data.Illegal, PartitionReport{Agent: p.key.Agent, Key: p.key.Key, Ops: len(p.ops)})
		}
	} else if len(illegal) > 0 {
		explained := illegal
		if len(explained) > maxExplained {
			explained = explained[:maxExplained]
		}
		culprits, info, complete := explain(&canceled, explained, timeout)
		data.ExplainIncomplete = !complete
		for i, p := range illegal {
			rep := PartitionReport{Agent: p.key.Agent, Key: p.key.Key, Ops: len(p.ops)}
			if i < len(culprits) {
				rep.OpIDs = culprits[i]
			}
			data.Illegal = append(data.Illegal, rep)
		}
		if in.ArtifactDir != "" {
			if err := writeVisualization(in.ArtifactDir, info, in.Timeline); err != nil {
				data.VisualizationError = err.Error()
			} else {
				data.Visualization = VisualizationFile
			}
		}
	}
	data.Elapsed = time.Since(started).Round(time.Millisecond).String()

	return Result{
		Checker:  NameLinearizability,
		Verdicts: []Verdict{linearizabilityVerdict(sla, data)},
		Data:     data,
	}
}

func linearizabilityVerdict(sla scenarios.SLA, d LinearizabilityData) Verdict {
	required := sla.Linearizable == nil || *sla.Linearizable
	v := Verdict{Checker: NameLinearizability, Target: "linearizable", Value: float64(len(d.Illegal))}
	if !required {
		v.Target = "linearizable (no target)"
	}
	judge := func(s Status) Status {
		if !required {
			return Pass // reported, not judged
		}
		return s
	}
	switch {
	case len(d.Illegal) > 0:
		v.Status = judge(Fail)
		v.Measured = fmt.Sprintf("not linearizable: %d of %d partitions illegal", len(d.Illegal), d.Partitions)
		names := make([]string, len(d.Illegal))
		for i, p := range d.Illegal {
			names[i] = fmt.Sprintf("%s/%s", p.Agent, p.Key)
			if len(p.OpIDs) > 0 {
				ids := make([]string, len(p.OpIDs))
				for j, id := range p.OpIDs {
					ids[j] = fmt.Sprint(id)
				}
				names[i] += " (ops " + listFew(ids, 3) + ")"
			}
		}
		v.Detail = "illegal: " + listFew(names, 5)
		if len(d.Unchecked) > 0 {
			v.Detail += fmt.Sprintf("; %d partitions unchecked", len(d.Unchecked))
		}
	case len(d.Unchecked) > 0:
		v.Status = judge(Unknown)
		v.Measured = fmt.Sprintf("unknown: %d of %d partitions unchecked", len(d.Unchecked), d.Partitions)
		names := make([]string, len(d.Unchecked))
		for i, p := range d.Unchecked {
			names[i] = fmt.Sprintf("%s/%s", p.Agent, p.Key)
		}
		v.Detail = fmt.Sprintf("%s (timeout %s): %s", d.Unchecked[0].Reason, d.Timeout, listFew(names, 5))
	case d.Ops == 0:
		v.Status = judge(Unknown)
		v.Measured = "no operations"
		v.Detail = "nothing to check: the history has no ok or unknown-write operations"
	default:
		v.Status = Pass
		v.Measured = fmt.Sprintf("linearizable: %d partitions, %d ops", d.Partitions, d.Ops)
	}
	return v
}

// The register model. State is one key's value; Found false is "never written".

type kvState struct {
	Value string
	Found bool
}

type kvInput struct {
	Kind    history.Kind
	Value   string // put / cas new value
	Expect  string // cas
	Unknown bool   // write with unknown outcome: may or may not have taken effect
}

type kvOutput struct {
	Found   bool
	Read    string
	Swapped bool
	// ReadKnown: a cas that did not swap saw Found/Read (history.Op.ReadKnown).
	ReadKnown bool
}

// opMeta rides along in porcupine.Operation.Metadata for explanations and the visualization.
type opMeta struct {
	ID     int64
	Part   int // partition index, for the explanation run's Partition function
	Region string
	Epoch  int64
	Final  bool
}

// casMatches: an absent key compares as the empty string.
func casMatches(s kvState, expect string) bool {
	cur := ""
	if s.Found {
		cur = s.Value
	}
	return cur == expect
}

func stepKV(s kvState, in kvInput, out kvOutput) (bool, kvState) {
	switch in.Kind {
	case history.Get:
		return sees(s, out), s
	case history.Put:
		return true, kvState{Value: in.Value, Found: true}
	case history.CAS:
		match := casMatches(s, in.Expect)
		if in.Unknown {
			// Took effect here: it swapped iff it matched. Not taking effect at all is the
			// linearization after every other op, which the pending return time allows.
			if match {
				return true, kvState{Value: in.Value, Found: true}
			}
			return true, s
		}
		if out.Swapped != match {
			return false, s
		}
		if match {
			return true, kvState{Value: in.Value, Found: true}
		}
		// A failed compare read the register: what it returned must be the state.
		return !out.ReadKnown || sees(s, out), s
	}
	return false, s
}

// sees reports whether a read that returned out is a read of state s.
func sees(s kvState, out kvOutput) bool {
	return out.Found == s.Found && (!out.Found || out.Read == s.Value)
}

// kvModel is the register model. stopped, if set, is polled each step so a cancelled
// context stops the search; a step refused that way must never be read as "illegal".
func kvModel(stopped func() bool) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return kvState{} },
		Step: func(state, input, output any) (bool, any) {
			if stopped != nil && stopped() {
				return false, state
			}
			return stepKV(state.(kvState), input.(kvInput), output.(kvOutput))
		},
		Equal: func(a, b any) bool { return a.(kvState) == b.(kvState) },
		Hash: func(state any) uint64 {
			s := state.(kvState)
			h := fnv.New64a()
			h.Write([]byte(s.Value))
			if s.Found {
				h.Write([]byte{1})
			}
			return h.Sum64()
		},
		DescribeOperation: describeOp,
		DescribeState: func(state any) string {
			s := state.(kvState)
			if !s.Found {
				return "∅"
			}
			return fmt.Sprintf("%q", s.Value)
		},
		DescribeOperationMetadata: func(m any) string {
			md, ok := m.(opMeta)
			if !ok {
				return ""
			}
			s := fmt.Sprintf("op %d", md.ID)
			if md.Region != "" {
				s += fmt.Sprintf(" region %s epoch %d", md.Region, md.Epoch)
			}
			if md.Final {
				s += " (final read)"
			}
			return s
		},
	}
}

func describeOp(input, output any) string {
	in, out := input.(kvInput), output.(kvOutput)
	switch in.Kind {
	case history.Get:
		if !out.Found {
			return "get() → ∅"
		}
		return fmt.Sprintf("get() → %q", out.Read)
	case history.Put:
		if in.Unknown {
			return fmt.Sprintf("put(%q) → ?", in.Value)
		}
		return fmt.Sprintf("put(%q)", in.Value)
	case history.CAS:
		res := "not swapped"
		switch {
		case in.Unknown:
			res = "?"
		case out.Swapped:
			res = "swapped"
		case out.ReadKnown && out.Found:
			res = fmt.Sprintf("not swapped, saw %q", out.Read)
		case out.ReadKnown:
			res = "not swapped, saw ∅"
		}
		return fmt.Sprintf("cas(%q → %q) → %s", in.Expect, in.Value, res)
	}
	return string(in.Kind)
}

// partition is one agent/key register's ops in porcupine form, ordered by call time.
type partition struct {
	key keyID
	ops []porcupine.Operation
}

// buildPartitions converts the history, dropping what cannot constrain the check.
func buildPartitions(h history.History) ([]partition, LinearizabilityData) {
	var d LinearizabilityData
	var last time.Duration
	for _, op := range h {
		if c := complete(op); c > last {
			last = c
		}
	}
	pending := int64(last) + 1 // after every other op: porcupine's "never returned"

	index := map[keyID]int{}
	var parts []partition
	for _, op := range h {
		switch op.Kind {
		case history.Get, history.Put, history.CAS:
		default:
			d.DroppedMalformed++
			continue
		}
		in := kvInput{Kind: op.Kind, Value: op.Value, Expect: op.Expect}
		var out kvOutput
		ret := int64(complete(op))
		switch op.Outcome {
		case history.Fail:
			d.DroppedFailed++
			continue
		case history.OK:
			if op.Kind == history.Get {
				out = kvOutput{Found: op.Found, Read: readValue(op)}
				if !op.Found {
					out.Read = ""
				}
			}
			if op.Kind == history.CAS {
				out.Swapped = op.Swapped
				if !op.Swapped && op.ReadKnown {
					out.Found, out.Read, out.ReadKnown = op.Found, op.Read, true
				}
			}
		default: // unknown (the reader rejects any other outcome): may or may not have happened
			if op.Kind == history.Get {
				d.DroppedUnknownGets++
				continue
			}
			in.Unknown = true
			ret = pending
			d.UnknownWrites++
		}
		k := keyOf(op)
		i, ok := index[k]
		if !ok {
			i = len(parts)
			index[k] = i
			parts = append(parts, partition{key: k})
		}
		parts[i].ops = append(parts[i].ops, porcupine.Operation{
			Input: in, Output: out, Call: int64(op.Invoke), Return: ret,
			Metadata: opMeta{ID: op.ID, Region: op.Region, Epoch: op.Epoch, Final: op.Final},
		})
		d.Ops++
	}
	sort.Slice(parts, func(i, j int) bool {
		a, b := parts[i].key, parts[j].key
		if a.Agent != b.Agent {
			return a.Agent < b.Agent
		}
		return a.Key < b.Key
	})
	for i := range parts {
		ops := parts[i].ops
		sort.SliceStable(ops, func(a, b int) bool { return ops[a].Call < ops[b].Call })
		ops, dropped, patched, merged := shrink(ops)
		d.UnknownDropped += dropped
		d.UnknownPatched += patched
		d.GetsMerged += merged
		parts[i].ops = ops
		assignLanes(ops)
		for j := range ops {
			m := ops[j].Metadata.(opMeta)
			m.Part = i
			ops[j].Metadata = m
		}
	}
	d.Partitions = len(parts)
	return parts, d
}

// assignLanes gives ops sorted by call a ClientId such that one client's ops never overlap:
// the history has no client ids, and porcupine's visualization draws one row per client.
func assignLanes(ops []porcupine.Operation) {
	var busyUntil []int64
	for i := range ops {
		lane := -1
		for l, until := range busyUntil {
			if until < ops[i].Call { // intervals are closed
				lane = l
				break
			}
		}
		if lane < 0 {
			lane = len(busyUntil)
			busyUntil = append(busyUntil, 0)
		}
		busyUntil[lane] = ops[i].Return
		ops[i].ClientId = lane
	}
}

type partitionResult struct {
	illegal   bool
	unchecked string // why the search did not finish; "" when it did
}

// checkPartitions checks partitions in parallel (largest first) against one deadline.
func checkPartitions(ctx context.Context, canceled *atomic.Bool, parts []partition, deadline time.Time) []partitionResult {
	results := make([]partitionResult, len(parts))
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(parts[order[a]].ops) > len(parts[order[b]].ops) })

	jobs := make(chan int)
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(parts))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = checkPartition(ctx, canceled, parts[i], deadline)
			}
		}()
	}
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results
}

func checkPartition(ctx context.Context, canceled *atomic.Bool, p partition, deadline time.Time) partitionResult {
	if err := ctx.Err(); err != nil {
		return partitionResult{unchecked: "canceled"}
	}
	remaining := time.Until(deadline)
	if remaining <= 0 {
		return partitionResult{unchecked: "check timeout reached"}
	}
	var interrupted atomic.Bool
	model := kvModel(func() bool {
		if canceled.Load() {
			interrupted.Store(true)
			return true
		}
		return false
	})
	res := porcupine.CheckOperationsTimeout(model, p.ops, remaining)
	switch {
	case interrupted.Load():
		return partitionResult{unchecked: "canceled"}
	case res == porcupine.Unknown:
		return partitionResult{unchecked: "check timeout reached"}
	case res == porcupine.Illegal:
		return partitionResult{illegal: true}
	}
	return partitionResult{}
}

// explain re-runs the search on illegal partitions with porcupine's verbose mode, which
// keeps the longest partial linearizations: the ops they cannot place are the culprits.
// It returns the culprit op ids per partition, the info for the visualization, and whether
// the search finished within budget.
func explain(canceled *atomic.Bool, parts []*partition, budget time.Duration) ([][]int64, porcupine.LinearizationInfo, bool) {
	var all []porcupine.Operation
	for i, p := range parts {
		for _, op := range p.ops {
			m := op.Metadata.(opMeta)
			m.Part = i
			op.Metadata = m
			all = append(all, op)
		}
	}
	model := kvModel(canceled.Load)
	model.Partition = func(ops []porcupine.Operation) [][]porcupine.Operation {
		out := make([][]porcupine.Operation, len(parts))
		for _, op := range ops {
			i := op.Metadata.(opMeta).Part
			out[i] = append(out[i], op)
		}
		return out
	}
	res, info := porcupine.CheckOperationsVerbose(model, all, budget)
	finished := res == porcupine.Illegal && !canceled.Load()

	partials := info.PartialLinearizationsOperations()
	culprits := make([][]int64, len(parts))
	for i, p := range parts {
		if i >= len(partials) {
			break
		}
		var longest []porcupine.Operation
		for _, l := range partials[i] {
			if len(l) > len(longest) {
				longest = l
			}
		}
		placed := map[int64]bool{}
		for _, op := range longest {
			placed[op.Metadata.(opMeta).ID] = true
		}
		for _, op := range p.ops { // sorted by call
			m := op.Metadata.(opMeta)
			if placed[m.ID] || op.Input.(kvInput).Unknown {
				continue // an unknown write can always be placed last
			}
			culprits[i] = append(culprits[i], m.ID)
			if len(culprits[i]) == culpritOps {
				break
			}
		}
	}
	return culprits, info, finished
}

// writeVisualization writes porcupine's HTML with the fault windows as annotations.
func writeVisualization(dir string, info porcupine.LinearizationInfo, events []timeline.Event) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("linearizability: visualization: %w", err)
	}
	var anns []porcupine.Annotation
	var last time.Duration
	for _, e := range events {
		last = max(last, e.At)
	}
	for _, w := range timeline.Windows(events) {
		end := w.End
		if end == 0 {
			end = last
		}
		anns = append(anns, porcupine.Annotation{
			Tag: "faults", Start: int64(w.Start), End: int64(end),
			Description: fmt.Sprintf("%s %s", w.Name, w.Target),
			Details:     fmt.Sprintf("%s on %s from %s to %s", w.Fault, w.Target, w.Start, end),
		})
	}
	info.AddAnnotations(anns)
	// The plain model: replaying a partial linearization must not be refused by a
	// cancellation, or porcupine panics.
	path := filepath.Join(dir, VisualizationFile)
	if err := porcupine.VisualizePath(kvModel(nil), info, path); err != nil {
		return fmt.Errorf("linearizability: visualization: %w", err)
	}
	return nil
}
