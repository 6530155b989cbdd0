package checkers

import (
	"context"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/system"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// loadRun reads testdata/<name>.jsonl and, if present, testdata/<name>.timeline.jsonl: the
// same files a saved run directory holds, so this is also the re-check path.
func loadRun(t *testing.T, name string) (history.History, []timeline.Event) {
	t.Helper()
	h, err := history.Load(filepath.Join("testdata", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var events []timeline.Event
	tl := filepath.Join("testdata", name+".timeline.jsonl")
	if _, err := os.Stat(tl); err == nil {
		if events, err = timeline.Load(tl); err != nil {
			t.Fatal(err)
		}
	}
	return h, events
}

func ptr[T any](v T) *T { return &v }

func dur(d time.Duration) *scenarios.Duration { return ptr(scenarios.Duration(d)) }

func byName(t *testing.T, rs []Result, name string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Checker == name {
			return r
		}
	}
	t.Fatalf("no %s result in %v", name, rs)
	return Result{}
}

func verdictFor(t *testing.T, r Result, targetPrefix string) Verdict {
	t.Helper()
	for _, v := range r.Verdicts {
		if strings.HasPrefix(v.Target, targetPrefix) {
			return v
		}
	}
	t.Fatalf("%s: no verdict with target %q in %+v", r.Checker, targetPrefix, r.Verdicts)
	return Verdict{}
}

func decode[T any](t *testing.T, r Result) T {
	t.Helper()
	// Through JSON, as a saved run holds it, and back.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("%s: %v", r.Checker, err)
	}
	var saved Result
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatalf("%s: %v", r.Checker, err)
	}
	d, ok := DataOf[T](saved)
	if !ok {
		t.Fatalf("%s data: not a %T in %s", r.Checker, d, b)
	}
	direct, ok := DataOf[T](r)
	b1, _ := json.Marshal(direct)
	b2, _ := json.Marshal(d)
	if !ok || string(b1) != string(b2) {
		t.Fatalf("%s data: %s in process, %s saved", r.Checker, b1, b2)
	}
	return d
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// fullSLA sets every target.
func fullSLA() scenarios.SLA {
	return scenarios.SLA{
		MaxLostWrites:   ptr(0),
		MaxLossWindow:   dur(time.Second),
		Linearizable:    ptr(true),
		RTOP95:          dur(time.Second),
		RTOMax:          dur(2 * time.Second),
		MinAvailability: ptr(0.8),
	}
}

func TestCheckers(t *testing.T) {
	tests := []struct {
		name     string
		data     string // testdata file stem
		noEvents bool   // check without the timeline
		sla      scenarios.SLA
		want     map[string]Status // by checker; absent: not asserted here
		check    func(t *testing.T, rs []Result)
	}{
		{
			name: "good failover passes every target", data: "good", sla: fullSLA(),
			want: map[string]Status{NameLinearizability: Pass, NameRPO: Pass, NameRTO: Pass, NameAvailability: Pass},
			check: func(t *testing.T, rs []Result) {
				rto := decode[RTOData](t, byName(t, rs, NameRTO))
				if len(rto.Windows) != 1 || rto.Windows[0].AgentsFrom != "inject" || len(rto.Windows[0].Agents) != 1 {
					t.Fatalf("rto windows = %+v", rto.Windows)
				}
				a := rto.Windows[0].Agents[0]
				if a.Agent != "agent-00" || !a.Recovered || !near(a.Seconds, 0.52) || a.OpID != 7 || a.Region != "b" {
					t.Errorf("agent-00 rto = %+v, want 0.52s via op 7 on b", a)
				}
				if rto.P95 == nil || !near(*rto.P95, 0.52) {
					t.Errorf("p95 = %v, want 0.52", rto.P95)
				}
				av := decode[AvailabilityData](t, byName(t, rs, NameAvailability))
				if av.Overall.Ops != 13 || av.Overall.OK != 11 || av.Overall.Failed != 1 || av.Overall.Unknown != 1 {
					t.Errorf("overall = %+v, want 11 of 13 ok, 1 fail, 1 unknown", av.Overall)
				}
				w := av.Windows[0]
				if w.Before.Ops != 4 || w.Before.OK != 4 || w.During.Ops != 9 || w.During.OK != 7 ||
					w.After.Ops != 0 || w.After.Availability != nil {
					t.Errorf("window breakdown = %+v", w)
				}
				lin := decode[LinearizabilityData](t, byName(t, rs, NameLinearizability))
				if lin.Partitions != 3 || lin.UnknownWrites != 1 || lin.DroppedFailed != 1 {
					t.Errorf("linearizability data = %+v", lin)
				}
			},
		},
		{
			name: "lost acknowledged writes fail rpo and linearizability", data: "lost-write",
			sla:  scenarios.SLA{MaxLossWindow: dur(100 * time.Millisecond)},
			want: map[string]Status{NameLinearizability: Fail, NameRPO: Fail},
			check: func(t *testing.T, rs []Result) {
				r := byName(t, rs, NameRPO)
				d := decode[RPOData](t, r)
				if d.Lost != 3 || !near(d.LossWindowSeconds, 0.2) {
					t.Errorf("lost = %d window = %v, want 3 and 0.2s", d.Lost, d.LossWindowSeconds)
				}
				var ids []int64
				for _, w := range d.LostWrites {
					ids = append(ids, w.ID)
				}
				if !slices.Equal(ids, []int64{2, 3, 5}) {
					t.Errorf("lost ids = %v, want [2 3 5]", ids)
				}
				if v := verdictFor(t, r, "lost_acked_writes"); v.Status != Fail || v.Value != 3 || v.Limit != 0 {
					t.Errorf("lost verdict = %+v", v)
				}
				if v := verdictFor(t, r, "loss_window"); v.Status != Fail || !near(v.Value, 0.2) {
					t.Errorf("window verdict = %+v", v)
				}
				lin := decode[LinearizabilityData](t, byName(t, rs, NameLinearizability))
				if len(lin.Illegal) != 2 || !slices.Contains(lin.Illegal[0].OpIDs, 4) || !slices.Contains(lin.Illegal[1].OpIDs, 6) {
					t.Errorf("illegal = %+v, want agent-00/k0 naming op 4 and agent-00/k1 naming op 6", lin.Illegal)
				}
			},
		},
		{
			name: "an explicit allowance tolerates lost writes", data: "lost-write",
			sla: scenarios.SLA{MaxLostWrites: ptr(3)},
			check: func(t *testing.T, rs []Result) {
				if v := verdictFor(t, byName(t, rs, NameRPO), "lost_acked_writes <= 3"); v.Status != Pass {
					t.Errorf("lost verdict = %+v, want pass", v)
				}
			},
		},
		{
			name: "stale read is not linearizable", data: "stale-read",
			want: map[string]Status{NameLinearizability: Fail, NameRPO: Pass},
			check: func(t *testing.T, rs []Result) {
				r := byName(t, rs, NameLinearizability)
				d := decode[LinearizabilityData](t, r)
				if len(d.Illegal) != 1 || d.Illegal[0].Agent != "agent-00" || d.Illegal[0].Key != "k0" ||
					len(d.Illegal[0].OpIDs) == 0 || d.Illegal[0].OpIDs[0] != 3 {
					t.Errorf("illegal = %+v, want agent-00/k0 starting at op 3", d.Illegal)
				}
				if v := r.Verdicts[0]; v.Value != 1 || !strings.Contains(v.Detail, "agent-00/k0") {
					t.Errorf("verdict = %+v", v)
				}
			},
		},
		{
			name: "overlapping owners are not linearizable", data: "overlapping-owners",
			want: map[string]Status{NameLinearizability: Fail},
			check: func(t *testing.T, rs []Result) {
				d := decode[LinearizabilityData](t, byName(t, rs, NameLinearizability))
				if len(d.Illegal) != 1 || !slices.Contains(d.Illegal[0].OpIDs, 3) {
					t.Errorf("illegal = %+v, want op 3 (old owner's read) named", d.Illegal)
				}
			},
		},
		{
			// put v1, put v2, then a cas whose compare failed returns v1: the same stale read
			// as a get, caught the same way.
			name: "a failed cas that saw an overwritten value is not linearizable", data: "cas-stale-read",
			want: map[string]Status{NameLinearizability: Fail},
			check: func(t *testing.T, rs []Result) {
				d := decode[LinearizabilityData](t, byName(t, rs, NameLinearizability))
				if len(d.Illegal) != 1 || len(d.Illegal[0].OpIDs) == 0 || d.Illegal[0].OpIDs[0] != 3 {
					t.Errorf("illegal = %+v, want agent-00/k0 starting at op 3", d.Illegal)
				}
			},
		},
		{
			name: "a failed cas that saw no value where one was written is not linearizable", data: "cas-read-absent",
			want: map[string]Status{NameLinearizability: Fail},
		},
		{
			name: "a failed cas that saw the current value is linearizable", data: "cas-read",
			want: map[string]Status{NameLinearizability: Pass},
		},
		{
			// Recorders before read_known did not record found for cas: their value is not
			// judged, so an old history keeps its verdict.
			name: "a failed cas from an older recorder is judged on swapped only", data: "cas-stale-read-old-recorder",
			want: map[string]Status{NameLinearizability: Pass},
		},
		{
			name: "a non-linearizable history is reported, not judged, when not required", data: "stale-read",
			sla:  scenarios.SLA{Linearizable: ptr(false)},
			want: map[string]Status{NameLinearizability: Pass},
			check: func(t *testing.T, rs []Result) {
				v := byName(t, rs, NameLinearizability).Verdicts[0]
				if v.Value != 1 || !strings.Contains(v.Measured, "not linearizable") {
					t.Errorf("verdict = %+v, want the violation measured", v)
				}
			},
		},
		{
			name: "unknown writes that took effect pass", data: "unknown-took-effect",
			want: map[string]Status{NameLinearizability: Pass, NameRPO: Pass},
			check: func(t *testing.T, rs []Result) {
				d := decode[RPOData](t, byName(t, rs, NameRPO))
				if !slices.Equal(d.Unprovable, []string{"agent-00/k0"}) {
					t.Errorf("unprovable = %v", d.Unprovable)
				}
			},
		},
		{
			name: "unknown writes that did not take effect pass", data: "unknown-not-effect",
			want: map[string]Status{NameLinearizability: Pass, NameRPO: Pass},
		},
		{
			name: "a failed write that took effect fails", data: "failed-write-visible",
			want: map[string]Status{NameLinearizability: Fail, NameRPO: Fail},
			check: func(t *testing.T, rs []Result) {
				d := decode[RPOData](t, byName(t, rs, NameRPO))
				if len(d.Corrupt) != 1 || !strings.Contains(d.Corrupt[0].Reason, "op 2") {
					t.Errorf("corrupt = %+v", d.Corrupt)
				}
			},
		},
		{
			name: "a final value nobody wrote is corruption", data: "corrupt",
			want: map[string]Status{NameRPO: Fail},
			check: func(t *testing.T, rs []Result) {
				r := byName(t, rs, NameRPO)
				if v := verdictFor(t, r, "corrupt_final_values"); v.Status != Fail || v.Value != 1 {
					t.Errorf("corruption verdict = %+v", v)
				}
				if v := verdictFor(t, r, "lost_acked_writes"); v.Status != Pass {
					t.Errorf("lost verdict = %+v, want pass (corruption is counted apart)", v)
				}
			},
		},
		{
			name: "a key without a final read makes rpo unknown", data: "no-final-read",
			want: map[string]Status{NameRPO: Unknown, NameLinearizability: Pass},
			check: func(t *testing.T, rs []Result) {
				v := verdictFor(t, byName(t, rs, NameRPO), "lost_acked_writes")
				if v.Status != Unknown || !strings.Contains(v.Detail, "agent-00/k1") {
					t.Errorf("verdict = %+v, want unknown naming agent-00/k1", v)
				}
			},
		},
		{
			name: "an agent never recovered fails rto", data: "rto-never",
			sla:  scenarios.SLA{RTOP95: dur(2 * time.Second), RTOMax: dur(3 * time.Second)},
			want: map[string]Status{NameRTO: Fail, NameLinearizability: Pass, NameRPO: Pass},
			check: func(t *testing.T, rs []Result) {
				r := byName(t, rs, NameRTO)
				d := decode[RTOData](t, r)
				if d.NotRecovered != 1 || d.Measured != 2 || d.P50 == nil || !near(*d.P50, 1.1) || d.P95 != nil || d.Max != nil {
					t.Errorf("data = %+v, want 1 of 2 not recovered, p50 1.1s, p95/max infinite", d)
				}
				a := d.Windows[0].Agents[1]
				if a.Agent != "agent-01" || a.Recovered || !near(a.Seconds, 3) {
					t.Errorf("agent-01 = %+v, want not recovered, > 3s", a)
				}
				for _, target := range []string{"every affected agent", "rto_p95", "rto_max"} {
					if v := verdictFor(t, r, target); v.Status != Fail || !strings.Contains(v.Detail, "agent-01") {
						t.Errorf("%s verdict = %+v, want fail naming agent-01", target, v)
					}
				}
			},
		},
		{
			name: "never recovered fails even without rto targets", data: "rto-never",
			want: map[string]Status{NameRTO: Fail},
		},
		{
			name: "affected agents are inferred without an agent list", data: "rto-inferred",
			sla:  scenarios.SLA{RTOP95: dur(time.Second)},
			want: map[string]Status{NameRTO: Pass, NameLinearizability: Pass, NameRPO: Pass},
			check: func(t *testing.T, rs []Result) {
				d := decode[RTOData](t, byName(t, rs, NameRTO))
				w := d.Windows[0]
				// op 4 was invoked first but op 5 completed first: the earliest proof counts.
				if w.AgentsFrom != "inferred" || len(w.Agents) != 1 || w.Agents[0].Agent != "agent-00" ||
					!near(w.Agents[0].Seconds, 0.6) || w.Agents[0].OpID != 5 {
					t.Errorf("window = %+v, want only agent-00 inferred, 0.6s via op 5", w)
				}
			},
		},
		{
			// The harness saw region c own no agent when it killed it: nothing to recover there,
			// and no reason to leave the verdict undecided.
			name: "an outage of a region that owned no agent measures nothing and doubts nothing", data: "rto-idle-region",
			sla:  scenarios.SLA{RTOP95: dur(time.Second)},
			want: map[string]Status{NameRTO: Pass, NameLinearizability: Pass, NameRPO: Pass},
			check: func(t *testing.T, rs []Result) {
				d := decode[RTOData](t, byName(t, rs, NameRTO))
				if len(d.Windows) != 2 || len(d.Windows[1].Agents) != 0 || d.Windows[1].Problem != "" {
					t.Errorf("windows = %+v, want the isolate measured and c's outage empty without a problem", d.Windows)
				}
			},
		},
		{
			name: "an isolate partition is measured like a region outage; a pair cut is not", data: "rto-isolate",
			sla:  scenarios.SLA{RTOP95: dur(time.Second), RTOMax: dur(time.Second)},
			want: map[string]Status{NameRTO: Pass, NameLinearizability: Pass, NameRPO: Pass},
			check: func(t *testing.T, rs []Result) {
				d := decode[RTOData](t, byName(t, rs, NameRTO))
				if len(d.Windows) != 1 {
					t.Fatalf("windows = %+v, want only the isolate partition", d.Windows)
				}
				w := d.Windows[0]
				if w.Name != "f1:partition" || w.Region != "a" || w.AgentsFrom != "inject" || len(w.Agents) != 2 ||
					!near(w.Agents[0].Seconds, 0.6) || !near(w.Agents[1].Seconds, 0.8) || w.Agents[1].Region != "c" {
					t.Errorf("window = %+v, want agent-00 0.6s and agent-01 0.8s (on c) from the inject detail", w)
				}
				if d.P95 == nil || !near(*d.P95, 0.8) {
					t.Errorf("p95 = %v, want 0.8s", d.P95)
				}
			},
		},
		{
			name: "an isolated owner that keeps serving an agent fails rto", data: "rto-isolate-never",
			sla:  scenarios.SLA{RTOP95: dur(5 * time.Second)},
			want: map[string]Status{NameRTO: Fail},
			check: func(t *testing.T, rs []Result) {
				r := byName(t, rs, NameRTO)
				if d := decode[RTOData](t, r); d.NotRecovered != 1 || d.Measured != 2 {
					t.Errorf("data = %+v, want 1 of 2 not recovered", d)
				}
				if v := verdictFor(t, r, "rto_p95"); v.Status != Fail || !strings.Contains(v.Detail, "agent-01") {
					t.Errorf("rto_p95 verdict = %+v, want fail naming agent-01", v)
				}
			},
		},
		{
			name: "rto targets without a fault are unknown", data: "good", noEvents: true,
			sla:  scenarios.SLA{RTOP95: dur(time.Second)},
			want: map[string]Status{NameRTO: Unknown, NameAvailability: Pass},
			check: func(t *testing.T, rs []Result) {
				if v := byName(t, rs, NameRTO).Verdicts[0]; v.Detail != "no fault to measure" {
					t.Errorf("verdict = %+v", v)
				}
			},
		},
		{
			name: "no fault and no rto target passes as a report", data: "good", noEvents: true,
			want: map[string]Status{NameRTO: Pass},
		},
		{
			name: "availability below target fails", data: "good",
			sla:  scenarios.SLA{MinAvailability: ptr(0.9)},
			want: map[string]Status{NameAvailability: Fail},
			check: func(t *testing.T, rs []Result) {
				v := byName(t, rs, NameAvailability).Verdicts[0]
				if !near(v.Value, 11.0/13) || v.Limit != 0.9 {
					t.Errorf("verdict = %+v", v)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, events := loadRun(t, tc.data)
			if tc.noEvents {
				events = nil
			}
			sla := tc.sla
			rs := Run(context.Background(), Input{Scenario: &scenarios.Scenario{SLA: sla}, History: h, Timeline: events})
			names := make([]string, len(rs))
			for i, r := range rs {
				names[i] = r.Checker
				if len(r.Verdicts) == 0 {
					t.Errorf("%s: no verdicts", r.Checker)
				}
				for _, v := range r.Verdicts {
					if v.Checker != r.Checker {
						t.Errorf("%s: verdict %q names checker %q", r.Checker, v.Target, v.Checker)
					}
				}
			}
			if want := []string{NameLinearizability, NameRPO, NameRTO, NameAvailability, NameSplitBrain, NameLatency, NameIntegrity, NameConvergence}; !slices.Equal(names, want) {
				t.Fatalf("order = %v, want %v", names, want)
			}
			if _, err := json.Marshal(rs); err != nil {
				t.Fatalf("results do not encode: %v", err)
			}
			for name, want := range tc.want {
				if got := byName(t, rs, name); got.Status() != want {
					t.Errorf("%s = %v, want %v; verdicts %+v", name, got.Status(), want, got.Verdicts)
				}
			}
			if tc.check != nil {
				tc.check(t, rs)
			}
		})
	}
}

func TestLinearizabilityVisualization(t *testing.T) {
	tests := []struct {
		data     string
		wantFile bool
	}{
		{"lost-write", true},
		{"good", false}, // only failing partitions are drawn
	}
	for _, tc := range tests {
		t.Run(tc.data, func(t *testing.T) {
			h, events := loadRun(t, tc.data)
			dir := filepath.Join(t.TempDir(), "run")
			r := Linearizability(context.Background(), Input{History: h, Timeline: events, ArtifactDir: dir})
			d := decode[LinearizabilityData](t, r)
			path := filepath.Join(dir, VisualizationFile)
			b, err := os.ReadFile(path)
			if !tc.wantFile {
				if err == nil || d.Visualization != "" {
					t.Fatalf("visualization written for a passing history (%q)", d.Visualization)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Visualization != VisualizationFile || d.VisualizationError != "" {
				t.Errorf("data = %+v", d)
			}
			// Both failing partitions are in the one file, described by the model.
			for _, want := range []string{"<html", `put(\"v2\")`, `get() → ∅`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("visualization lacks %q", want)
				}
			}
		})
	}
}

// genHistory builds a linearizable history: per agent/key, clients issue overlapping ops
// whose effects are applied at a linearization point inside each op's interval; some writes
// have unknown outcomes (half of those took effect), some ops failed.
func genHistory(parts, opsPerPart, clients int) history.History {
	rnd := rand.New(rand.NewSource(42))
	var h history.History
	var id int64
	type pending struct {
		op history.Op
		lp time.Duration
		ok bool // takes effect
	}
	for p := 0; p < parts; p++ {
		agent, key := "agent-"+string(rune('a'+p/26))+string(rune('a'+p%26)), "k0"
		var ops []pending
		clock := make([]time.Duration, clients)
		for i := 0; i < opsPerPart; i++ {
			c := i % clients
			inv := clock[c] + time.Duration(rnd.Intn(3)+1)*time.Millisecond
			comp := inv + time.Duration(rnd.Intn(20)+1)*time.Millisecond
			clock[c] = comp
			id++
			op := history.Op{ID: id, Agent: agent, Key: key, Invoke: inv, Complete: comp, Region: "a", Epoch: 1}
			switch r := rnd.Intn(10); {
			case r < 4:
				op.Kind, op.Value = history.Put, "v"+itoa(id)
			case r < 8:
				op.Kind = history.Get
			default:
				op.Kind, op.Value = history.CAS, "v"+itoa(id)
			}
			pd := pending{op: op, lp: inv + time.Duration(rnd.Int63n(int64(comp-inv)+1)), ok: true}
			switch r := rnd.Intn(20); {
			case r == 0 && op.IsWrite():
				pd.op.Outcome, pd.ok = history.Unknown, rnd.Intn(2) == 0
			case r == 1:
				pd.op.Outcome, pd.ok = history.Fail, false
			default:
				pd.op.Outcome = history.OK
			}
			ops = append(ops, pd)
		}
		slices.SortStableFunc(ops, func(a, b pending) int { return int(a.lp - b.lp) })
		var cur kvState
		var last string
		for i := range ops {
			op := &ops[i].op
			switch op.Kind {
			case history.Get:
				op.Found, op.Read = cur.Found, cur.Value
				if !cur.Found {
					op.Read = ""
				}
			case history.Put:
				if ops[i].ok {
					cur, last = kvState{Value: op.Value, Found: true}, op.Value
				}
			case history.CAS:
				op.Expect = last // usually the current value; sometimes a stale one
				if rnd.Intn(4) == 0 {
					op.Expect = "stale"
				}
				if ops[i].ok && casMatches(cur, op.Expect) {
					op.Swapped = true
					cur, last = kvState{Value: op.Value, Found: true}, op.Value
				} else {
					op.Found, op.Read, op.ReadKnown = cur.Found, cur.Value, true // what the compare saw
				}
			}
			if op.Outcome != history.OK {
				op.Found, op.Read, op.Swapped, op.ReadKnown = false, "", false, false
			}
			h = append(h, *op)
		}
	}
	h.Sort()
	return h
}

// hardIllegal is one register where n puts run concurrently and later reads see v0, v1, v0:
// illegal, but porcupine must try the orders of the puts to find that out.
func hardIllegal(n int) history.History {
	var h history.History
	for i := 0; i < n; i++ {
		h = append(h, history.Op{ID: int64(i + 1), Agent: "agent-00", Key: "k0", Kind: history.Put,
			Value: "v" + itoa(int64(i)), Invoke: 0, Complete: time.Second, Outcome: history.OK})
	}
	for i, v := range []string{"v0", "v1", "v0"} {
		at := time.Duration(2+i) * time.Second
		h = append(h, history.Op{ID: int64(n + i + 1), Agent: "agent-00", Key: "k0", Kind: history.Get,
			Invoke: at, Complete: at + time.Millisecond, Outcome: history.OK, Found: true, Read: v})
	}
	return h
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestGeneratedHistoryIsLinearizable(t *testing.T) {
	// Guards the generator the timeout test relies on: with time enough, it passes.
	h := genHistory(4, 200, 6)
	r := Linearizability(context.Background(), Input{History: h})
	if r.Status() != Pass {
		t.Fatalf("status = %v, verdicts %+v", r.Status(), r.Verdicts)
	}
	if rpo := RPO(context.Background(), Input{History: h}); rpo.Status() == Fail {
		t.Fatalf("rpo = %+v", rpo.Verdicts)
	}
}

func TestLinearizabilityTimeoutIsUnknown(t *testing.T) {
	tests := []struct {
		name    string
		history history.History
		timeout time.Duration
	}{
		{"large linearizable history, tiny limit", genHistory(64, 400, 8), time.Millisecond},
		{"hard illegal history, short limit", hardIllegal(22), 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Scenario: &scenarios.Scenario{SLA: scenarios.SLA{
				CheckTimeout: scenarios.Duration(tc.timeout), Linearizable: ptr(true)}}, History: tc.history}
			start := time.Now()
			r := Linearizability(context.Background(), in)
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("took %v with a %v limit", el, tc.timeout)
			}
			d := decode[LinearizabilityData](t, r)
			if r.Status() != Unknown || len(d.Unchecked) == 0 || len(d.Illegal) != 0 {
				t.Fatalf("status = %v, unchecked %d, illegal %d; want unknown: %+v", r.Status(), len(d.Unchecked), len(d.Illegal), r.Verdicts)
			}
			if !strings.Contains(r.Verdicts[0].Detail, "timeout") {
				t.Errorf("detail = %q, want the timeout named", r.Verdicts[0].Detail)
			}
		})
	}
}

func TestLinearizabilityCanceledIsUnknown(t *testing.T) {
	// A cancellation stops the search by refusing steps; that must read as unknown, never
	// as the illegal the refusals look like, nor as a pass.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := Linearizability(ctx, Input{History: hardIllegal(22)})
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %v after cancellation", el)
	}
	d := decode[LinearizabilityData](t, r)
	if r.Status() != Unknown || len(d.Illegal) != 0 || len(d.Unchecked) != 1 || d.Unchecked[0].Reason != "canceled" {
		t.Fatalf("status = %v, data %+v", r.Status(), d)
	}
}

func TestHardIllegalIsIllegal(t *testing.T) {
	// The same shape, small enough to finish: it is a fail, so the unknowns above come
	// from the limits, not from the history.
	r := Linearizability(context.Background(), Input{History: hardIllegal(6)})
	if r.Status() != Fail {
		t.Fatalf("status = %v: %+v", r.Status(), r.Verdicts)
	}
}

func TestRunCanceled(t *testing.T) {
	h, events := loadRun(t, "good")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rs := Run(ctx, Input{History: h, Timeline: events})
	if len(rs) != len(allCheckers) {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		if r.Status() != Unknown {
			t.Errorf("%s = %v, want unknown after cancellation", r.Checker, r.Status())
		}
	}
}

func TestRPOTopologyKeysMustBeRead(t *testing.T) {
	// The topology declares agent-01/k0 and agent-00/k1 too; nothing read them.
	h, _ := loadRun(t, "stale-read")
	s := &scenarios.Scenario{Topology: scenarios.Topology{Agents: 2, KeysPerAgent: 2}}
	r := RPO(context.Background(), Input{Scenario: s, History: h})
	d := decode[RPOData](t, r)
	if r.Status() != Unknown || d.Keys != 4 || len(d.Unread) != 3 {
		t.Fatalf("status = %v, data %+v", r.Status(), d)
	}
}

func TestEmptyHistoryIsNotAPass(t *testing.T) {
	s := &scenarios.Scenario{SLA: scenarios.SLA{MinAvailability: ptr(0.99), ErrorBudget: ptr(0.05)}}
	for _, r := range Run(context.Background(), Input{Scenario: s}) {
		if r.Checker == NameRTO {
			continue // no fault and no rto target: a report, checked elsewhere
		}
		if r.Status() == Pass {
			t.Errorf("%s passes an empty history: %+v", r.Checker, r.Verdicts)
		}
	}
}

func TestNearestRank(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		values []float64
		p      float64
		want   float64
	}{
		{[]float64{1}, 95, 1},
		{[]float64{1, 2}, 50, 1},
		{[]float64{1, 2}, 95, 2},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, 5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95, 10},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
		{append(make([]float64, 19), inf), 95, 0}, // 19 of 20 recovered at 0: p95 is rank 19
		{append(make([]float64, 18), inf, inf), 95, inf},
	}
	for _, tc := range tests {
		if got := nearestRank(tc.values, tc.p); got != tc.want {
			t.Errorf("nearestRank(%v, %v) = %v, want %v", tc.values, tc.p, got, tc.want)
		}
	}
}

// Not applicable counts for nothing: it neither passes a run nor hides a failure, and a
// result of only not-applicable targets says so.
func TestNotApplicable(t *testing.T) {
	if Worst(Pass, NotApplicable) != Pass || Worst(Fail, NotApplicable) != Fail || Worst(NotApplicable, Unknown) != Unknown {
		t.Error("Worst does not ignore not applicable")
	}
	if Worst(NotApplicable, NotApplicable) != NotApplicable || Worst() != Unknown {
		t.Error("only not-applicable statuses, or none")
	}
	var s Status
	if b, _ := NotApplicable.MarshalText(); string(b) != "n/a" || s.UnmarshalText(b) != nil || s != NotApplicable {
		t.Errorf("round trip: %q %v", b, s)
	}
}

// A system that serves no epochs is not judged for split-brain (not applicable, naming
// why); one that does, with a stale-epoch history, fails.
func TestSplitBrainNeedsTheEpoch(t *testing.T) {
	stale := history.History{
		{ID: 1, Agent: "agent-00", Key: "k0", Kind: history.Put, Value: "a", Outcome: history.OK, Invoke: 0, Complete: 10, Region: "b", Epoch: 2},
		{ID: 2, Agent: "agent-00", Key: "k0", Kind: history.Put, Value: "b", Outcome: history.OK, Invoke: 20, Complete: 30, Region: "a", Epoch: 1},
	}
	d := &system.Described{Name: "kv", Serves: []string{system.ServesRegion}}
	r := SplitBrain(context.Background(), Input{Scenario: &scenarios.Scenario{System: d}, History: stale})
	if r.Status() != NotApplicable || !strings.Contains(r.Verdicts[0].Detail, "epoch") {
		t.Errorf("no epochs served: %v %+v", r.Status(), r.Verdicts[0])
	}
	d.Serves = append(d.Serves, system.ServesEpoch)
	if r := SplitBrain(context.Background(), Input{Scenario: &scenarios.Scenario{System: d}, History: stale}); r.Status() != Fail {
		t.Errorf("epochs served, a stale one: %v", r.Status())
	}
	if r := Integrity(context.Background(), Input{Scenario: &scenarios.Scenario{System: d}}); r.Status() != NotApplicable {
		t.Errorf("integrity of a described system: %v", r.Status())
	}
}

// Ownership that goes back to an older epoch and stays there loses what the newer epoch
// acknowledged (Patroni 3.0.2's woken leader overwriting the leader key): the reads served
// by the older epoch after it, and the final reads, show the state without it. The same
// stale reads while the key settles on the newer epoch are not a loss (the newer owner
// kept the write; a stale read is split-brain's and linearizability's business).
func TestRPOJudgesAnEpochThatWentBack(t *testing.T) {
	s := func(n int) time.Duration { return time.Duration(n) * time.Second }
	op := func(id int64, kind history.Kind, v string, at int, epoch int64, final bool) history.Op {
		o := history.Op{ID: id, Agent: "agent-00", Key: "k0", Kind: kind, Invoke: s(at), Complete: s(at) + time.Millisecond,
			Outcome: history.OK, Epoch: epoch, Final: final}
		if kind == history.Get {
			o.Found, o.Read, o.Value = true, v, v
		} else {
			o.Value = v
		}
		return o
	}
	base := history.History{
		op(1, history.Put, "v1", 1, 1, false), // the old owner
		op(2, history.Put, "v2", 3, 2, false), // the new owner, after a takeover
		op(3, history.Get, "v1", 5, 1, false), // the old owner serves again, without v2
	}
	// The older owner writes on, so the final state is newer than v2 and hides the loss:
	// only the read between proves it.
	back := append(slices.Clone(base), op(4, history.Put, "v3", 7, 1, false), op(5, history.Get, "v3", 9, 1, true))
	r := RPO(context.Background(), Input{History: back})
	d := decode[RPOData](t, r)
	if r.Status() != Fail || d.Lost != 1 || d.LostWrites[0].Value != "v2" {
		t.Fatalf("the epoch went back for good: status %v, lost %d %+v; want v2 lost", r.Status(), d.Lost, d.LostWrites)
	}
	forward := append(slices.Clone(base), op(4, history.Get, "v2", 9, 2, true))
	if r := RPO(context.Background(), Input{History: forward}); r.Status() != Pass {
		t.Fatalf("a stale read while the newer owner kept v2: %v %+v, want pass", r.Status(), r.Verdicts)
	}
}
