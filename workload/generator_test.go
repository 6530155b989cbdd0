package workload

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/workload/history"
)

// contendedConfig is a skewed load with cold keys: 12 agents, 6 keys of which the last 2 are
// cold, 200 ops/s for 24s.
func contendedConfig() Config {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Agents, cfg.Keys = nil, nil
	for i := range 12 {
		cfg.Agents = append(cfg.Agents, api.AgentID(i))
	}
	for j := range 6 {
		cfg.Keys = append(cfg.Keys, api.KeyName(j))
	}
	cfg.Rate, cfg.Duration = 200, 24*time.Second
	cfg.Mix = Mix{Put: 3, Get: 4, CAS: 3}
	cfg.AgentSkew = Skew{Distribution: Zipf, Exponent: 1}
	cfg.KeySkew = Skew{Distribution: HotSet, Hot: 1, HotShare: 0.7}
	cfg.Cold = Cold{Keys: 2, Writes: 2, WriteBy: 8 * time.Second, Reads: 1, ReadFrom: 20 * time.Second}
	return cfg
}

func TestSkewWeights(t *testing.T) {
	t.Parallel()
	tests := []struct {
		skew Skew
		n    int
		want []float64
	}{
		{Skew{}, 4, []float64{0.25, 0.25, 0.25, 0.25}},
		{Skew{Distribution: Uniform}, 2, []float64{0.5, 0.5}},
		{Skew{Distribution: Zipf, Exponent: 1}, 3, []float64{6.0 / 11, 3.0 / 11, 2.0 / 11}},
		{Skew{Distribution: Zipf, Exponent: 2}, 2, []float64{0.8, 0.2}},
		{Skew{Distribution: HotSet, Hot: 1, HotShare: 0.7}, 4, []float64{0.7, 0.1, 0.1, 0.1}},
		{Skew{Distribution: HotSet, Hot: 2, HotShare: 1}, 3, []float64{0.5, 0.5, 0}},
	}
	for _, tc := range tests {
		if err := tc.skew.Check(tc.n); err != nil {
			t.Fatalf("%+v over %d: %v", tc.skew, tc.n, err)
		}
		got := tc.skew.Weights(tc.n)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-9 {
				t.Errorf("%+v over %d: weights %v, want %v", tc.skew, tc.n, got, tc.want)
				break
			}
		}
	}
	for _, bad := range []struct {
		skew Skew
		n    int
	}{
		{Skew{Distribution: "pareto"}, 4},
		{Skew{Distribution: Zipf}, 4},
		{Skew{Distribution: HotSet, Hot: 4, HotShare: 0.5}, 4},
		{Skew{Distribution: HotSet, Hot: 1, HotShare: 1.5}, 4},
		{Skew{Distribution: HotSet, Hot: 0, HotShare: 0.5}, 4},
	} {
		if bad.skew.Check(bad.n) == nil {
			t.Errorf("%+v over %d: accepted", bad.skew, bad.n)
		}
	}
}

// TestGeneratorSkew: random ops spread over agents and keys by the skews, agent 0 the
// hottest, and never onto a cold key.
func TestGeneratorSkew(t *testing.T) {
	t.Parallel()
	cfg := contendedConfig()
	cfg.Cold.Reads = 0
	g := newGenerator(cfg)
	agents, keys := map[string]int{}, map[string]int{}
	random := 0
	for range 200 * 24 {
		op := g.Next()
		if op.Key == "k4" || op.Key == "k5" {
			continue // cold
		}
		random++
		agents[op.Agent]++
		keys[op.Key]++
	}
	aw, kw := cfg.AgentSkew.Weights(12), cfg.KeySkew.Weights(4)
	for i, a := range cfg.Agents {
		if got := float64(agents[a]) / float64(random); math.Abs(got-aw[i]) > 0.025 {
			t.Errorf("agent %s share %.3f, want %.3f", a, got, aw[i])
		}
		if i > 0 && agents[a] >= agents[cfg.HottestAgent()] {
			t.Errorf("agent %s has %d ops, the hottest agent %s %d", a, agents[a], cfg.HottestAgent(), agents[cfg.HottestAgent()])
		}
	}
	for j, k := range cfg.Keys[:4] {
		if got := float64(keys[k]) / float64(random); math.Abs(got-kw[j]) > 0.025 {
			t.Errorf("key %s share %.3f, want %.3f", k, got, kw[j])
		}
	}
	if cfg.HottestAgent() != api.AgentID(0) {
		t.Errorf("hottest agent %q, want the first, %q", cfg.HottestAgent(), api.AgentID(0))
	}
}

// TestGeneratorCold: every cold register gets its writes before WriteBy (a put, then cas ops
// expecting the previous write) and its reads from ReadFrom, and nothing else.
func TestGeneratorCold(t *testing.T) {
	t.Parallel()
	cfg := contendedConfig()
	g := newGenerator(cfg)
	type coldLog struct {
		writes, reads []history.Op
	}
	cold := map[register]*coldLog{}
	writeBy, readFrom := int64(8*200), int64(20*200)
	n := int64(200 * 24)
	for range n {
		op := g.Next()
		if op.Key != "k4" && op.Key != "k5" {
			continue
		}
		r := register{op.Agent, op.Key}
		if cold[r] == nil {
			cold[r] = &coldLog{}
		}
		if op.IsWrite() {
			cold[r].writes = append(cold[r].writes, op)
		} else {
			cold[r].reads = append(cold[r].reads, op)
		}
	}
	if len(cold) != 12*2 {
		t.Fatalf("%d cold registers touched, want 24", len(cold))
	}
	for r, c := range cold {
		if len(c.writes) != 2 || len(c.reads) != 1 {
			t.Fatalf("%v: %d writes, %d reads, want 2 and 1", r, len(c.writes), len(c.reads))
		}
		w0, w1 := c.writes[0], c.writes[1]
		if w0.Kind != history.Put || w1.Kind != history.CAS || w1.Expect != w0.Value || !strings.HasSuffix(w1.Value, "-s42") {
			t.Errorf("%v: writes %+v, %+v: want a put, then a cas expecting it", r, w0, w1)
		}
		// A collision may push an op a few indexes later, never past the window by much.
		if w1.ID > writeBy+48 {
			t.Errorf("%v: write op %d after write_by (op %d)", r, w1.ID, writeBy)
		}
		if rd := c.reads[0]; rd.ID <= readFrom || rd.ID > n {
			t.Errorf("%v: read op %d outside (%d, %d]", r, rd.ID, readFrom, n)
		}
	}
}

// TestColdCheck refuses cold schedules that leave no random key, fall outside the load, or
// crowd out the random load.
func TestColdCheck(t *testing.T) {
	t.Parallel()
	good := contendedConfig().Cold
	if err := good.Check(12, 6, 200, 24*time.Second); err != nil {
		t.Fatalf("good: %v", err)
	}
	for name, edit := range map[string]func(*Cold){
		"every key cold":         func(c *Cold) { c.Keys = 6 },
		"no writes":              func(c *Cold) { c.Writes = 0 },
		"write_by after the end": func(c *Cold) { c.WriteBy = 30 * time.Second },
		"read_from before write": func(c *Cold) { c.ReadFrom = 4 * time.Second },
		"too many writes":        func(c *Cold) { c.Writes = 40 },
		"too many reads":         func(c *Cold) { c.Reads = 50 },
	} {
		c := good
		edit(&c)
		if err := c.Check(12, 6, 200, 24*time.Second); err == nil {
			t.Errorf("%s: %+v accepted", name, c)
		}
	}
}
