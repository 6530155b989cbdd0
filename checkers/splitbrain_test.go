package checkers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/scenarios"
)

func TestSplitBrain(t *testing.T) {
	tests := []struct {
		history string
		want    Status
		stale   int
	}{
		{"good", Pass, 0},
		// A write (b1, epoch 2) then reads of a1 from the deposed epoch 1: stale read and
		// overlapping owners are both split-brain.
		{"overlapping-owners", Fail, 2},
		{"split-brain", Fail, 2},
		{"no-epochs", Unknown, 0},
	}
	for _, tc := range tests {
		t.Run(tc.history, func(t *testing.T) {
			h, events := loadRun(t, tc.history)
			r := SplitBrain(context.Background(), Input{History: h, Timeline: events})
			d := decode[SplitBrainData](t, r)
			if r.Status() != tc.want || d.Stale != tc.stale {
				t.Fatalf("status %v stale %d, want %v %d: %+v", r.Status(), d.Stale, tc.want, tc.stale, r.Verdicts)
			}
		})
	}
}

func TestSplitBrainWindow(t *testing.T) {
	h, _ := loadRun(t, "split-brain")
	r := SplitBrain(context.Background(), Input{History: h})
	d := decode[SplitBrainData](t, r)
	if len(d.Windows) != 1 || !slices.Equal(d.Agents, []string{"agent-00"}) {
		t.Fatalf("windows %+v agents %v", d.Windows, d.Agents)
	}
	w := d.Windows[0]
	// Op 2 (epoch 1) overlaps op 3 (epoch 2) in real time: not stale. Ops 4 and 6 start after
	// op 3 completed: stale. Op 7 failed: fencing worked, not judged.
	want := SplitBrainWindow{Agent: "agent-00", StaleRegion: "a", StaleEpoch: 1, NewerRegion: "b", NewerEpoch: 2, NewerOpID: 3,
		From: 40 * time.Millisecond, To: 90 * time.Millisecond, Ops: []int64{4, 6}, Acked: 2}
	if w.Agent != want.Agent || w.StaleRegion != want.StaleRegion || w.StaleEpoch != want.StaleEpoch ||
		w.NewerRegion != want.NewerRegion || w.NewerEpoch != want.NewerEpoch || w.NewerOpID != want.NewerOpID ||
		w.From != want.From || w.To != want.To || !slices.Equal(w.Ops, want.Ops) || w.Acked != want.Acked {
		t.Fatalf("window = %+v, want %+v", w, want)
	}
}

func TestLatency(t *testing.T) {
	targets := scenarios.SLA{MaxP99Latency: dur(500 * time.Millisecond), MaxErrorRateDuringFault: ptr(0.2), ErrorBudget: ptr(0.1)}
	tests := []struct {
		name    string
		history string
		sla     scenarios.SLA
		want    map[string]Status // target prefix -> status
	}{
		// good.jsonl has 2 of 9 ops failing during its fault (503s while there is no owner).
		{"good history meets every target", "good",
			scenarios.SLA{MaxP99Latency: dur(500 * time.Millisecond), MaxErrorRateDuringFault: ptr(0.25), ErrorBudget: ptr(0.2)},
			map[string]Status{"latency p99 <=": Pass, "error rate during fault <=": Pass, "error budget <=": Pass}},
		{"slow and failing during the fault", "slow-during-fault", targets,
			map[string]Status{"latency p99 <=": Fail, "error rate during fault <=": Fail, "error budget <=": Fail}},
		{"loose targets pass the same history", "slow-during-fault",
			scenarios.SLA{MaxP99Latency: dur(time.Second), MaxErrorRateDuringFault: ptr(0.3), ErrorBudget: ptr(0.2)},
			map[string]Status{"latency p99 <=": Pass, "error rate during fault <=": Pass, "error budget <=": Pass}},
		{"no targets report only", "slow-during-fault", scenarios.SLA{},
			map[string]Status{"latency p99 (no target)": Pass, "error rate during fault (no target)": Pass, "error budget (no target)": Pass}},
		{"a fault target without a fault is unknown", "stale-read", targets,
			map[string]Status{"error rate during fault <=": Unknown}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, events := loadRun(t, tc.history)
			r := Latency(context.Background(), Input{Scenario: &scenarios.Scenario{SLA: tc.sla}, History: h, Timeline: events})
			for prefix, want := range tc.want {
				if v := verdictFor(t, r, prefix); v.Status != want {
					t.Errorf("%s = %v (%s), want %v", v.Target, v.Status, v.Measured, want)
				}
			}
		})
	}
}

func TestLatencySegments(t *testing.T) {
	h, events := loadRun(t, "slow-during-fault")
	d := decode[LatencyData](t, Latency(context.Background(), Input{History: h, Timeline: events}))
	if len(d.Windows) != 1 {
		t.Fatalf("windows %+v", d.Windows)
	}
	w := d.Windows[0]
	if w.Before.Ops != 50 || w.During.Ops != 100 || w.After.Ops != 50 || w.During.Errors != 25 {
		t.Fatalf("segments before %d during %d (%d errors) after %d", w.Before.Ops, w.During.Ops, w.During.Errors, w.After.Ops)
	}
	if !near(*w.Before.P99, 0.005) || !near(*w.During.P99, 0.9) || !near(*w.After.P99, 0.006) || !near(*w.During.ErrorRate, 0.25) {
		t.Fatalf("p99 before %v during %v after %v, error rate %v", *w.Before.P99, *w.During.P99, *w.After.P99, *w.During.ErrorRate)
	}
	if d.Overall.Ops != 200 || !near(*d.Overall.ErrorRate, 0.125) {
		t.Fatalf("overall %+v", d.Overall)
	}
}

func TestJudgeAtMost(t *testing.T) {
	lim := 1.0
	tests := []struct {
		m     measurement
		limit *float64
		want  Status
	}{
		{measurement{value: 0.5}, &lim, Pass},
		{measurement{value: 1}, &lim, Pass},
		{measurement{value: 1.5}, &lim, Fail},
		{measurement{absent: "nothing"}, &lim, Unknown},
		{measurement{value: 99}, nil, Pass},
		{measurement{absent: "nothing"}, nil, Pass},
	}
	for _, tc := range tests {
		if got := judgeAtMost("x", "m", tc.m, tc.limit, fmtSeconds).Status; got != tc.want {
			t.Errorf("%+v limit %v = %v, want %v", tc.m, tc.limit, got, tc.want)
		}
	}
	if Overall([]Result{{Verdicts: []Verdict{{Status: Pass}}}, {Verdicts: []Verdict{{Status: Unknown}}}}) != Unknown ||
		Overall([]Result{{Verdicts: []Verdict{{Status: Fail}}}, {Verdicts: []Verdict{{Status: Unknown}}}}) != Fail ||
		Overall(nil) != Unknown {
		t.Fatal("Overall must combine fail > unknown > pass, and nothing is unknown")
	}
}

// etcdEpochs builds observations holding one agent's epoch counter and epoch records.
func etcdEpochs(agent string, counter int64, records map[int64]string) *Observations {
	obs := &Observations{Regions: []string{"a", "b"}, Objects: map[string][]Object{}}
	obs.Etcd = append(obs.Etcd, EtcdKey{Key: api.EpochKey(agent), Value: strconv.FormatInt(counter, 10)})
	for e, r := range records {
		obs.Etcd = append(obs.Etcd, EtcdKey{Key: api.EpochRecordKey(agent, e),
			Value: fmt.Sprintf(`{"epoch":%d,"region":%q,"unix_ns":1}`, e, r)})
	}
	return obs
}

// TestSplitBrainEpochs: one region per (agent, epoch) and growing takeover epochs, from the
// ops, the router's owner events and etcd's epoch records and counter.
func TestSplitBrainEpochs(t *testing.T) {
	tests := []struct {
		name        string
		history     string
		obs         *Observations
		stale       Status
		shared      Status
		grow        Status
		wantInValue string // in the failing verdict's detail
	}{
		{"healthy failover", "good", etcdEpochs("agent-00", 2, map[int64]string{1: "a", 2: "b"}), Pass, Pass, Pass, ""},
		// Regions a and b both serve epoch 2: no op is stale, fencing cannot tell them apart.
		{"two regions serve one epoch", "equal-epoch", nil, Pass, Fail, Pass, "agent-00 epoch 2: a (2 ok ops from op 1), b (2 ok ops from op 2)"},
		// The ops look healthy; etcd says epoch 1 was taken by b, yet a served it.
		{"ops disagree with etcd's epoch record", "good", etcdEpochs("agent-00", 2, map[int64]string{1: "b", 2: "b"}), Pass, Fail, Pass, "a (3 ok ops from op 1), b (etcd epoch record)"},
		// The router showed b taking over at epoch 1 after a held epoch 2; b's ops failed.
		{"owner takeover at a lower epoch", "owner-epoch-regression", nil, Pass, Pass, Fail, "the router showed owner b@1 at 2s after a@2"},
		// An epoch was served above the agent's epoch counter, which only grows.
		{"epoch above etcd's counter", "good", etcdEpochs("agent-00", 1, nil), Pass, Pass, Fail, "above the agent's epoch counter in etcd (1)"},
		{"no epochs anywhere", "no-epochs", nil, Unknown, Unknown, Unknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, events := loadRun(t, tc.history)
			r := SplitBrain(context.Background(), Input{History: h, Timeline: events, Observations: tc.obs})
			stale, shared, grow := verdictFor(t, r, "stale-epoch"), verdictFor(t, r, "one region per agent epoch"), verdictFor(t, r, "takeover epochs grow")
			if stale.Status != tc.stale || shared.Status != tc.shared || grow.Status != tc.grow {
				t.Fatalf("stale %s, one region %s, grow %s; want %s %s %s: %+v", stale.Status, shared.Status, grow.Status, tc.stale, tc.shared, tc.grow, r.Verdicts)
			}
			if tc.wantInValue == "" {
				return
			}
			if !strings.Contains(shared.Detail+grow.Detail, tc.wantInValue) {
				t.Errorf("details %q / %q do not say %q", shared.Detail, grow.Detail, tc.wantInValue)
			}
		})
	}
}
