package checkers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/workload/history"
)

func loadObservations(t *testing.T, name string) *Observations {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "observations", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var o Observations
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &o
}

func TestIntegrity(t *testing.T) {
	tests := []struct {
		obs      string
		want     Status
		problems []string // issue kinds
	}{
		{"good", Pass, nil},
		{"corrupt-checkpoint", Fail, []string{"corrupt", "under-replicated"}},
		{"log-gap", Fail, []string{"log-gap"}},
		{"missing-copy", Fail, []string{"missing", "under-replicated"}},
		// Checkpoint without replicating: metadata and the one copy agree, but one region's
		// death loses it.
		{"under-replicated", Fail, []string{"under-replicated"}},
		// A copy in a region no metadata lists is convergence's business, not integrity's.
		{"divergent-regions", Pass, nil},
		{"unreadable-region", Unknown, nil},
		{"good-chain", Pass, nil},
		// The newest chain's last delta is based on seq 17; the link before it is at 15.
		{"chain-gap", Fail, []string{"chain-gap"}},
		{"corrupt-chain-link", Fail, []string{"corrupt"}},
		// The metadata lists an older chain (what a restore falls back to); only its
		// copies are bad, the newest chain is intact.
		{"two-chains", Pass, nil},
		{"older-chain-corrupt", Fail, []string{"corrupt"}},
		{"older-chain-missing", Fail, []string{"missing"}},
		// The older chain's delta is based on seq 6; its full is at seq 4.
		{"older-chain-gap", Fail, []string{"chain-gap"}},
	}
	for _, tc := range tests {
		t.Run(tc.obs, func(t *testing.T) {
			r := Integrity(context.Background(), Input{Observations: loadObservations(t, tc.obs)})
			d := decode[IntegrityData](t, r)
			var kinds []string
			for _, p := range d.Problems {
				kinds = append(kinds, p.Kind)
			}
			if r.Verdicts[0].Status != tc.want || len(kinds) != len(tc.problems) || (len(kinds) > 0 && kinds[0] != tc.problems[0]) {
				t.Fatalf("status %v problems %v, want %v %v: %+v", r.Verdicts[0].Status, kinds, tc.want, tc.problems, r.Verdicts[0])
			}
		})
	}
	r := Integrity(context.Background(), Input{Observations: loadObservations(t, "good")})
	d := decode[IntegrityData](t, r)
	if d.Checkpoints != 1 || d.Verified != 2 || d.LagMax == nil || !near(*d.LagMax, 0.25) {
		t.Fatalf("good: %+v", d)
	}
	if d := decode[IntegrityData](t, Integrity(context.Background(), Input{Observations: loadObservations(t, "good-chain")})); d.Verified != 2 || d.LinksVerified != 4 {
		t.Fatalf("good-chain: %+v", d)
	}
	if d := decode[IntegrityData](t, Integrity(context.Background(), Input{Observations: loadObservations(t, "two-chains")})); d.LinksVerified != 4 || d.OlderVerified != 4 {
		t.Fatalf("two-chains: %+v, want 4 newest-chain and 4 older-chain copies verified", d)
	}
	r = Integrity(context.Background(), Input{Observations: loadObservations(t, "older-chain-corrupt")})
	if d := decode[IntegrityData](t, r); len(d.Problems) != 1 || d.Problems[0].Region != "b" || !strings.Contains(d.Problems[0].Detail, "agent-00/d8-e1.ckpt") {
		t.Fatalf("older-chain-corrupt: %+v", d.Problems)
	}
	if r := Integrity(context.Background(), Input{}); r.Status() != Unknown {
		t.Fatalf("no observations: %v, want unknown", r.Status())
	}
}

func TestLogGap(t *testing.T) {
	for _, tc := range []struct {
		from int64
		seqs []int64
		gap  bool
	}{
		{0, nil, false},
		{0, []int64{1, 2, 3}, false},
		{0, []int64{2, 3}, true},
		{20, []int64{19, 20, 21, 22}, false}, // not truncated yet: ignored
		{20, []int64{21, 23}, true},
		{20, []int64{22}, true},
	} {
		if got := logGap(tc.from, tc.seqs) != ""; got != tc.gap {
			t.Errorf("logGap(%d, %v) gap = %v, want %v", tc.from, tc.seqs, got, tc.gap)
		}
	}
}

func TestConvergence(t *testing.T) {
	tests := []struct {
		history, obs string
		writes       Status
		agree        Status
	}{
		{"final-writes-ok", "good", Pass, Pass},
		{"final-writes-fail", "good", Fail, Pass},
		{"final-writes-ok", "divergent-regions", Pass, Fail},
		{"final-writes-ok", "unreadable-region", Pass, Unknown},
		{"good", "good", Unknown, Pass}, // no final writes recorded
		// Everything was read and nothing is checkpointed yet (a short run): nothing diverges.
		{"final-writes-ok", "no-checkpoints", Pass, Pass},
	}
	for _, tc := range tests {
		t.Run(tc.history+"+"+tc.obs, func(t *testing.T) {
			h, err := history.Load(filepath.Join("testdata", tc.history+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			r := Convergence(context.Background(), Input{History: h, Observations: loadObservations(t, tc.obs)})
			if len(r.Verdicts) != 3 || r.Verdicts[0].Status != tc.writes || r.Verdicts[1].Status != tc.agree {
				t.Fatalf("verdicts %+v, want writes %v agree %v", r.Verdicts, tc.writes, tc.agree)
			}
		})
	}
	d := decode[ConvergenceData](t, Convergence(context.Background(), Input{Observations: loadObservations(t, "divergent-regions")}))
	if len(d.Divergent) != 1 || d.Divergent[0].Agent != "agent-00" || len(d.Divergent[0].SHA256) != 3 {
		t.Fatalf("divergent: %+v", d.Divergent)
	}
}

// TestConvergenceRebuild: each agent rebuilt from its newest chain plus the log tail must
// hold what the final reads returned (or what a final write after them wrote).
func TestConvergenceRebuild(t *testing.T) {
	h, err := history.Load(filepath.Join("testdata", "rebuild.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		obs    string
		want   Status
		detail string
	}{
		// full{k0:v1,k1:w1} + delta{k0:v2} + log 16 k1=w2, 17 k0=v3, 18 k0=final write; and
		// agent-01 from its log alone.
		{"rebuild-good", Pass, ""},
		// The log ends at seq 16: the acknowledged v3 and the final write are nowhere a
		// restore would find them.
		{"rebuild-lost-tail", Fail, `agent-00/k0: rebuilt "v2" (checkpoint agents/agent-00/delta-00000000000000000015-e2.v2.json), final read "v3"`},
		// No copy of the delta matches its sha256: the agent cannot be rebuilt.
		{"rebuild-corrupt-delta", Unknown, "matches its metadata's sha256"},
		// Observations from before contents were collected: unknown, never a pass.
		{"good", Unknown, "collected by an older geodrill"},
	}
	for _, tc := range tests {
		t.Run(tc.obs, func(t *testing.T) {
			r := Convergence(context.Background(), Input{History: h, Observations: loadObservations(t, tc.obs)})
			v := verdictFor(t, r, "agents rebuilt from chain + log")
			if v.Status != tc.want || !strings.Contains(v.Detail, tc.detail) {
				t.Fatalf("rebuild verdict %+v, want %s with detail %q", v, tc.want, tc.detail)
			}
		})
	}
	d := decode[ConvergenceData](t, Convergence(context.Background(), Input{History: h, Observations: loadObservations(t, "rebuild-good")}))
	if d.RebuiltAgents != 2 || d.RebuiltKeys != 4 || len(d.Mismatches) != 0 {
		t.Fatalf("rebuild-good: %+v, want 4 keys of 2 agents matched", d)
	}
	if r := Integrity(context.Background(), Input{Observations: loadObservations(t, "rebuild-good")}); r.Verdicts[0].Status != Pass {
		t.Fatalf("integrity of rebuild-good: %+v", r.Verdicts[0])
	}
}
