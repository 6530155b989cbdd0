package workload

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

func testConfig(router string) Config {
	cfg := Config{
		Router:   router,
		Agents:   []string{api.AgentID(0), api.AgentID(1), api.AgentID(2)},
		Keys:     []string{api.KeyName(0), api.KeyName(1)},
		Rate:     100,
		Duration: time.Second,
		Timeout:  2 * time.Second,
		Seed:     42,
	}
	cfg.Mix = Mix{Put: 2, Get: 2, CAS: 1}
	return cfg
}

// TestRun checks rate, count, timestamps against when the server saw each op, outcomes,
// ids, stats and unique write values on one bounded run: 100 req/s for 1s.
func TestRun(t *testing.T) {
	t.Parallel()
	clock := timeline.NewClock()
	srv, hs := newKVServer(t, clock)
	cfg := testConfig(hs.URL)
	var stats Stats
	start := clock.Now()
	h, err := Run(context.Background(), cfg, clock, &stats)
	took := clock.Now() - start
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(h); n < 90 || n > 110 {
		t.Fatalf("got %d ops, want about 100 (100 req/s for 1s)", n)
	}
	if took > 3*time.Second {
		t.Errorf("Run took %s for a 1s load", took)
	}
	last := h[len(h)-1].Invoke - h[0].Invoke
	if last < 900*time.Millisecond || last > 1200*time.Millisecond {
		t.Errorf("invokes span %s, want about 1s", last)
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.reqs != len(h) {
		t.Errorf("server handled %d requests, history has %d ops", srv.reqs, len(h))
	}
	ids := map[int64]bool{}
	values := map[string]int64{}
	var swapped, casOK int
	for i, op := range h {
		if i > 0 && op.Invoke < h[i-1].Invoke {
			t.Errorf("history not ordered by invoke at %d", i)
		}
		if op.ID < 1 || op.ID > int64(len(h)) || ids[op.ID] {
			t.Errorf("op id %d: want unique ids 1..%d", op.ID, len(h))
		}
		ids[op.ID] = true
		if op.Outcome != history.OK {
			t.Errorf("op %d: outcome %s (%s), want ok", op.ID, op.Outcome, op.Error)
		}
		if op.Status != 200 || op.Region != "r1" || op.Epoch != 1 {
			t.Errorf("op %d: status %d region %q epoch %d", op.ID, op.Status, op.Region, op.Epoch)
		}
		seen, ok := srv.seen[op.ID]
		if !ok {
			t.Errorf("op %d never reached the server", op.ID)
		} else if !(op.Invoke <= seen && seen <= op.Complete) {
			t.Errorf("op %d: server handled it at %s, outside [%s, %s]", op.ID, seen, op.Invoke, op.Complete)
		}
		if op.IsWrite() {
			if op.Value == "" {
				t.Errorf("op %d: empty write value", op.ID)
			}
			if prev, dup := values[op.Value]; dup {
				t.Errorf("ops %d and %d both write %q", prev, op.ID, op.Value)
			}
			values[op.Value] = op.ID
		}
		if op.Kind == history.CAS {
			casOK++
			if op.Swapped {
				swapped++
			}
		}
	}
	if casOK > 5 && swapped == 0 {
		t.Errorf("none of %d cas ops swapped; cas should expect the last value written", casOK)
	}
	if got := stats.Load(); got.OK != int64(len(h)) || got.Fail != 0 || got.Unknown != 0 {
		t.Errorf("stats %+v, want %d ok", got, len(h))
	}
}

// TestGeneratorDeterministic: the same seed gives the same op sequence; another seed does
// not. Also with skewed popularity, cold keys and bursts.
func TestGeneratorDeterministic(t *testing.T) {
	t.Parallel()
	burst := contendedConfig()
	burst.Burst = 4
	for _, cfg := range []Config{testConfig("http://127.0.0.1:1"), contendedConfig(), burst} {
		testDeterministic(t, cfg)
	}
}

func testDeterministic(t *testing.T, cfg Config) {
	t.Helper()
	seq := func(seed int64) []history.Op {
		c := cfg
		c.Seed = seed
		g := newGenerator(c)
		out := make([]history.Op, 6000)
		for i := range out {
			out[i] = g.Next()
		}
		return out
	}
	a, b, other := seq(7), seq(7), seq(8)
	differ := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("op %d differs with the same seed: %+v vs %+v", i, a[i], b[i])
		}
		if a[i].Agent != other[i].Agent || a[i].Key != other[i].Key || a[i].Kind != other[i].Kind {
			differ++
		}
	}
	if differ < len(a)/4 {
		t.Errorf("seeds 7 and 8 differ in only %d of %d ops", differ, len(a))
	}
}

// TestGeneratorValues: write values unique; a cas expects the value written before the last
// one, the last, or the last before its burst began ("" if none), in shares 1:1:2; kinds
// follow the mix; a burst's ops share one register.
func TestGeneratorValues(t *testing.T) {
	t.Parallel()
	for _, burst := range []int{1, 4} {
		cfg := testConfig("http://127.0.0.1:1")
		cfg.Mix = Mix{Put: 1, Get: 2, CAS: 1}
		cfg.Burst = burst
		g := newGenerator(cfg)
		last, prev := map[register]string{}, map[register]string{}
		var start string
		var group register
		seen := map[string]bool{}
		kinds := map[history.Kind]int{}
		var expectPrev, casAmbiguous int
		const n = 20000
		for i := 1; i <= n; i++ {
			op := g.Next()
			if op.ID != int64(i) {
				t.Fatalf("op %d has id %d", i, op.ID)
			}
			kinds[op.Kind]++
			r := register{op.Agent, op.Key}
			if (i-1)%burst == 0 {
				group, start = r, last[r]
			} else if r != group {
				t.Fatalf("burst %d: op %d on %v, its burst on %v", burst, i, r, group)
			}
			switch op.Kind {
			case history.Get:
				if op.Value != "" || op.Expect != "" {
					t.Fatalf("get op %d carries value %q expect %q", op.ID, op.Value, op.Expect)
				}
				continue
			case history.CAS:
				switch {
				case prev[r] == last[r] || prev[r] == start:
					casAmbiguous++
				case op.Expect == prev[r]:
					expectPrev++
				case op.Expect != last[r] && op.Expect != start:
					t.Fatalf("cas op %d expects %q; the last writes to %v were %q, %q, and %q before its burst", op.ID, op.Expect, r, prev[r], last[r], start)
				}
			}
			if seen[op.Value] || op.Value == "" {
				t.Fatalf("op %d: write value %q empty or reused", op.ID, op.Value)
			}
			seen[op.Value] = true
			prev[r], last[r] = last[r], op.Value
		}
		for kind, want := range map[history.Kind]float64{history.Put: 0.25, history.Get: 0.5, history.CAS: 0.25} {
			if got := float64(kinds[kind]) / n; got < want-0.02 || got > want+0.02 {
				t.Errorf("burst %d: %s share %.3f, want %.2f", burst, kind, got, want)
			}
		}
		if got, want := float64(expectPrev)/float64(kinds[history.CAS]-casAmbiguous), 1.0/casExpectChoices; got < want-0.03 || got > want+0.03 {
			t.Errorf("burst %d: %.3f of cas ops expect the older value, want %.2f", burst, got, want)
		}
	}
}

// TestRunDeterministic: two runs with the same seed send the same ops under the same ids.
func TestRunDeterministic(t *testing.T) {
	t.Parallel()
	run := func() map[int64]history.Op {
		clock := timeline.NewClock()
		_, hs := newKVServer(t, clock)
		cfg := testConfig(hs.URL)
		cfg.Rate, cfg.Duration = 200, 300*time.Millisecond
		h, err := Run(context.Background(), cfg, clock, nil)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		byID := map[int64]history.Op{}
		for _, op := range h {
			byID[op.ID] = op
		}
		return byID
	}
	a, b := run(), run()
	common := 0
	for id, x := range a {
		y, ok := b[id]
		if !ok {
			continue
		}
		common++
		if x.Agent != y.Agent || x.Key != y.Key || x.Kind != y.Kind || x.Expect != y.Expect || (x.IsWrite() && x.Value != y.Value) {
			t.Errorf("op %d differs between runs with one seed: %+v vs %+v", id, x, y)
		}
	}
	if common < 40 {
		t.Errorf("only %d ops in common", common)
	}
}

// TestRunCancel: cancelling stops the load early and still returns what was recorded.
func TestRunCancel(t *testing.T) {
	t.Parallel()
	clock := timeline.NewClock()
	_, hs := newKVServer(t, clock)
	cfg := testConfig(hs.URL)
	cfg.Duration = 20 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	h, err := Run(ctx, cfg, clock, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run took %s after a cancel at 300ms", took)
	}
	if n := len(h); n < 15 || n > 60 {
		t.Errorf("got %d ops after 300ms at 100 req/s", n)
	}
	for _, op := range h {
		if op.Outcome != history.OK {
			t.Errorf("op %d: outcome %s (%s)", op.ID, op.Outcome, op.Error)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	base := testConfig("http://127.0.0.1:1")
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no router", func(c *Config) { c.Router = "" }},
		{"router without scheme", func(c *Config) { c.Router = "127.0.0.1:80" }},
		{"no agents", func(c *Config) { c.Agents = nil }},
		{"empty key", func(c *Config) { c.Keys = []string{""} }},
		{"zero rate", func(c *Config) { c.Rate = 0 }},
		{"zero duration", func(c *Config) { c.Duration = 0 }},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }},
		{"zero mix", func(c *Config) { c.Mix = Mix{} }},
		{"negative weight", func(c *Config) { c.Mix = Mix{Put: 2, Get: -1} }},
	}
	for _, tt := range tests {
		cfg := base
		tt.edit(&cfg)
		if _, err := Run(context.Background(), cfg, timeline.NewClock(), nil); err == nil {
			t.Errorf("%s: Run accepted %+v", tt.name, cfg)
		}
	}
	if _, err := Run(context.Background(), base, nil, nil); err == nil {
		t.Error("Run accepted a nil clock")
	}
}

// TestRunBurst: with Burst 4 the ops go out in groups of 4 on one register, sent together
// (the server holds each request 50ms, so a group's ops overlap), at the same average rate.
func TestRunBurst(t *testing.T) {
	t.Parallel()
	clock := timeline.NewClock()
	srv, hs := newKVServer(t, clock)
	srv.delay = 50 * time.Millisecond
	cfg := testConfig(hs.URL)
	cfg.Burst = 4
	h, err := Run(context.Background(), cfg, clock, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(h); n < 90 || n > 110 {
		t.Fatalf("got %d ops, want about 100 (100 req/s for 1s)", n)
	}
	groups := map[int64][]history.Op{}
	for _, op := range h {
		groups[(op.ID-1)/4] = append(groups[(op.ID-1)/4], op)
	}
	overlapping := 0
	for g, ops := range groups {
		if len(ops) != 4 {
			continue // the last group may be cut short
		}
		first, lastInvoke, firstComplete := ops[0], ops[0].Invoke, ops[0].Complete
		for _, op := range ops {
			if op.Agent != first.Agent || op.Key != first.Key {
				t.Fatalf("group %d spans registers: %+v and %+v", g, first, op)
			}
			lastInvoke, firstComplete = max(lastInvoke, op.Invoke), min(firstComplete, op.Complete)
		}
		if lastInvoke < firstComplete {
			overlapping++
		}
	}
	if overlapping < len(groups)/2 {
		t.Errorf("%d of %d groups ran all their ops at once", overlapping, len(groups))
	}
}

// With several routers the load alternates over them by op id, so every router gets about
// its share and the ops of a burst on one key reach more than one.
func TestRunSpreadsOverRouters(t *testing.T) {
	t.Parallel()
	clock := timeline.NewClock()
	srv1, hs1 := newKVServer(t, clock)
	srv2, hs2 := newKVServer(t, clock)
	cfg := testConfig(hs1.URL)
	cfg.Routers = []string{hs1.URL, hs2.URL}
	h, err := Run(context.Background(), cfg, clock, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	srv1.mu.Lock()
	srv2.mu.Lock()
	defer srv1.mu.Unlock()
	defer srv2.mu.Unlock()
	if srv1.reqs+srv2.reqs != len(h) || srv1.reqs < len(h)/2-1 || srv2.reqs < len(h)/2-1 {
		t.Errorf("routers handled %d and %d of %d ops, want about half each", srv1.reqs, srv2.reqs, len(h))
	}
	for _, op := range h {
		_, at1 := srv1.seen[op.ID]
		_, at2 := srv2.seen[op.ID]
		if want := op.ID%2 == 1; at2 != want || at1 == want {
			t.Errorf("op %d went to router 1: %v, router 2: %v; want router %d", op.ID, at1, at2, op.ID%2+1)
		}
	}
	if err := (Config{Router: hs1.URL, Routers: []string{"nope"}, Agents: []string{"a"}, Keys: []string{"k"}}).validateTargets(); err == nil {
		t.Error("a bad URL in Routers must be refused")
	}
}
