package workload

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// TestFinalReadsRetry: each key answers fail, then unknown, then ok; FinalReads keeps every
// attempt and stops at the ok read.
func TestFinalReadsRetry(t *testing.T) {
	t.Parallel()
	clock := timeline.NewClock()
	kv, hs := newKVServer(t, clock)
	kv.kv["agent-01/k1"] = "v7-s1"
	var mu sync.Mutex
	attempts := map[string]int{}
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg := r.PathValue("agent") + "/" + r.PathValue("key")
		mu.Lock()
		attempts[reg]++
		n := attempts[reg]
		mu.Unlock()
		switch n {
		case 1:
			respond(503, `{"error":"no owner"}`, api.HeaderOutcome, "fail")(w, r)
		case 2:
			respond(500, "")(w, r)
		default:
			kv.get(w, r)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /agents/{agent}/kv/{key}", flaky)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_ = hs

	cfg := testConfig(srv.URL)
	h, err := FinalReads(context.Background(), cfg, clock, 5*time.Second)
	if err != nil {
		t.Fatalf("FinalReads: %v", err)
	}
	per := map[register][]history.Op{}
	ids := map[int64]bool{}
	for i, op := range h {
		if i > 0 && op.Invoke < h[i-1].Invoke {
			t.Errorf("not ordered by invoke at %d", i)
		}
		if !op.Final || op.Kind != history.Get || op.ID < FinalReadBase || ids[op.ID] {
			t.Errorf("op %+v: want a unique final get with id >= %d", op, FinalReadBase)
		}
		ids[op.ID] = true
		r := register{op.Agent, op.Key}
		per[r] = append(per[r], op)
	}
	if len(per) != len(cfg.Agents)*len(cfg.Keys) {
		t.Fatalf("read %d keys, want %d", len(per), len(cfg.Agents)*len(cfg.Keys))
	}
	for r, ops := range per {
		want := []history.Outcome{history.Fail, history.Unknown, history.OK}
		if len(ops) != len(want) {
			t.Errorf("%v: %d attempts, want 3", r, len(ops))
			continue
		}
		for i, op := range ops {
			if op.Outcome != want[i] {
				t.Errorf("%v attempt %d: %s (%d %s), want %s", r, i, op.Outcome, op.Status, op.Error, want[i])
			}
		}
		okRead := ops[2]
		wantFound := r == register{"agent-01", "k1"}
		if okRead.Found != wantFound || (wantFound && okRead.Read != "v7-s1") || okRead.Region != "r1" {
			t.Errorf("%v: ok read %+v", r, okRead)
		}
		if ops[1].Invoke-ops[0].Complete < finalBackoffMin/2 {
			t.Errorf("%v: retried after %s, want a backoff", r, ops[1].Invoke-ops[0].Complete)
		}
	}
}

// TestFinalReadsDeadline: a key that never reads ok is retried until the deadline and named.
func TestFinalReadsDeadline(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(respond(503, "", api.HeaderOutcome, "fail"))
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.Agents = cfg.Agents[:1]
	start := time.Now()
	h, err := FinalReads(context.Background(), cfg, timeline.NewClock(), 400*time.Millisecond)
	took := time.Since(start)
	if !errors.Is(err, ErrNoFinalRead) {
		t.Fatalf("err %v, want ErrNoFinalRead", err)
	}
	if took < 400*time.Millisecond || took > 2*time.Second {
		t.Errorf("took %s with a 400ms deadline", took)
	}
	count := map[string]int{}
	for _, op := range h {
		if op.Outcome != history.Fail || !op.Final || op.Status != 503 {
			t.Errorf("op %+v", op)
		}
		count[op.Key]++
	}
	for _, k := range cfg.Keys {
		if count[k] < 3 {
			t.Errorf("key %s tried %d times in 400ms", k, count[k])
		}
	}
}

// TestFinalReadsClosedPort: nothing listening, zero deadline: one attempt per key, fail.
func TestFinalReadsClosedPort(t *testing.T) {
	t.Parallel()
	cfg := testConfig("http://" + closedAddr(t))
	h, err := FinalReads(context.Background(), cfg, timeline.NewClock(), 0)
	if !errors.Is(err, ErrNoFinalRead) {
		t.Fatalf("err %v, want ErrNoFinalRead", err)
	}
	if len(h) != len(cfg.Agents)*len(cfg.Keys) {
		t.Errorf("%d ops, want one per key", len(h))
	}
	for _, op := range h {
		if op.Outcome != history.Fail || op.Error == "" {
			t.Errorf("op %+v: want fail with the dial error", op)
		}
	}
}

// Final writes judge an answer exactly as the load does (settle), where the drill's own
// oracle used to disagree: a 200 that carries X-Geodrill-Outcome is unknown, not ok (so the
// agent is tried again), and a request that never got a connection is a definite fail,
// not unknown.
func TestFinalWritesJudgeLikeTheLoad(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	attempts := map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /agents/{agent}/kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts[r.PathValue("agent")]++
		n := attempts[r.PathValue("agent")]
		mu.Unlock()
		if n == 1 {
			respond(200, `{"agent":"x"}`, api.HeaderOutcome, "unknown")(w, r)
			return
		}
		respond(200, `{"agent":"`+r.PathValue("agent")+`","region":"a","epoch":1}`)(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.Agents = cfg.Agents[:2]
	h, err := FinalWrites(context.Background(), cfg, timeline.NewClock())
	if err != nil {
		t.Fatal(err)
	}
	var got []history.Outcome
	for _, op := range h {
		if !op.Final || op.Kind != history.Put || op.Key != cfg.Keys[0] || op.ID < finalWriteBase {
			t.Errorf("op %+v: want a final put of %s numbered from %d", op, cfg.Keys[0], finalWriteBase)
		}
		got = append(got, op.Outcome)
	}
	want := []history.Outcome{history.Unknown, history.OK, history.Unknown, history.OK}
	if len(got) != len(want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("outcomes %v, want %v", got, want)
		}
	}

	// Nothing listens: every attempt is refused before anything is sent.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cfg = testConfig(closed.URL)
	cfg.Agents = cfg.Agents[:1]
	h, _ = FinalWrites(context.Background(), cfg, timeline.NewClock())
	if len(h) != finalWriteAttempts {
		t.Errorf("%d attempts against a refusing router, want %d", len(h), finalWriteAttempts)
	}
	for _, op := range h {
		if op.Outcome != history.Fail {
			t.Errorf("refused connection: outcome %s (%s), want fail", op.Outcome, op.Error)
		}
	}
}
