package workload

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/workload/history"
)

// generator makes the op sequence from the seed alone: the same seed and Config give the
// same ops with the same ids, whatever the timing of the run. It is not safe for concurrent
// use; Run calls it under a lock.
//
// A random op draws its agent by Config.AgentSkew, its key among the keys that are not cold
// by Config.KeySkew, and its kind by the mix weights; the ops of one burst (Config.Burst ops
// in a row by id, which the pacer sends at once) share the first one's agent and key. Cold
// ops come from a schedule drawn from the seed when the generator is made (see Cold).
type generator struct {
	rng    *rand.Rand
	agents []string
	keys   []string // the keys of the random stream: Config.Keys without the cold ones
	agentP picker
	keyP   picker
	mix    Mix
	seed   int64
	next   int64
	// last is the last value this generator wrote to each register (put or cas new value),
	// and prev the one before it; a register never written has "", i.e. not found.
	last, prev map[register]string
	cold       []coldOp // by slot; cold[0] is the next one due
	// burst ops in a row (by id, from 1) share the register group, drawn at the first;
	// start is the group's last value at that point.
	burst int64
	group register
	start string
}

type register struct{ agent, key string }

// A random cas draws what it expects, one in four each: the value written before the last
// one (prev), the last value written (last), or, twice, the last value written before the
// current burst began (start; the same as last when Burst is 1). Under contention the last
// write is often still in flight when the cas arrives, so each choice swaps sometimes and
// fails sometimes; two cas ops of one burst expecting the same start value race for one
// swap. Failed cas ops carry the current value for the checkers.
const (
	casExpectsPrev = iota
	casExpectsLast
	casExpectsStart  // and casExpectsStart+1
	casExpectChoices = 4
)

func newGenerator(cfg Config) *generator {
	s := uint64(cfg.Seed)
	g := &generator{
		rng:    rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)),
		agents: cfg.Agents,
		keys:   cfg.Keys[:len(cfg.Keys)-cfg.Cold.Keys],
		mix:    cfg.Mix,
		seed:   cfg.Seed,
		next:   1,
		burst:  int64(max(cfg.Burst, 1)),
		last:   map[register]string{},
		prev:   map[register]string{},
	}
	g.agentP = newPicker(cfg.AgentSkew, len(g.agents))
	g.keyP = newPicker(cfg.KeySkew, len(g.keys))
	// Drawn from its own source so that adding cold keys leaves the random stream's draws
	// where they were.
	g.cold = coldSchedule(rand.New(rand.NewPCG(s^0x243f6a8885a308d3, s)), cfg.Cold, cfg.Agents, cfg.Keys, cfg.Rate, cfg.Duration)
	return g
}

// Next returns the next op: the cold op due at this index if any, else a random one on the
// current burst's register. Invoke, Complete and the outcome are left for the caller.
func (g *generator) Next() history.Op {
	op := history.Op{ID: g.next}
	g.next++
	if (op.ID-1)%g.burst == 0 {
		g.group = register{g.agents[g.agentP.pick(g.rng)], g.keys[g.keyP.pick(g.rng)]}
		g.start = g.last[g.group]
	}
	if len(g.cold) > 0 && g.cold[0].slot <= op.ID {
		c := g.cold[0]
		g.cold = g.cold[1:]
		op.Agent, op.Key = c.reg.agent, c.reg.key
		switch {
		case !c.write:
			op.Kind = history.Get
		case g.last[c.reg] == "":
			op.Kind = history.Put
		default:
			op.Kind = history.CAS
			op.Expect = g.last[c.reg]
		}
		g.wrote(&op)
		return op
	}
	op.Agent, op.Key = g.group.agent, g.group.key
	switch n := g.rng.IntN(g.mix.Put + g.mix.Get + g.mix.CAS); {
	case n < g.mix.Put:
		op.Kind = history.Put
	case n < g.mix.Put+g.mix.Get:
		op.Kind = history.Get
	default:
		op.Kind = history.CAS
		r := register{op.Agent, op.Key}
		switch g.rng.IntN(casExpectChoices) {
		case casExpectsPrev:
			op.Expect = g.prev[r]
		case casExpectsLast:
			op.Expect = g.last[r]
		default:
			op.Expect = g.start
		}
	}
	g.wrote(&op)
	return op
}

// wrote gives a write op its unique value and remembers it as its register's last.
func (g *generator) wrote(op *history.Op) {
	if !op.IsWrite() {
		return
	}
	r := register{op.Agent, op.Key}
	op.Value = writeValue(op.ID, g.seed)
	g.prev[r], g.last[r] = g.last[r], op.Value
}

// writeValue is unique per op id within a run; the seed tells runs apart.
func writeValue(id, seed int64) string { return fmt.Sprintf("v%d-s%d", id, seed) }

// opURL is the API path of op on the router, with the op id as query param op.
func opURL(router string, op history.Op) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(router, "/"))
	b.WriteString("/agents/")
	b.WriteString(url.PathEscape(op.Agent))
	if op.Kind == history.CAS {
		b.WriteString("/cas/")
	} else {
		b.WriteString("/kv/")
	}
	b.WriteString(url.PathEscape(op.Key))
	b.WriteString("?op=")
	b.WriteString(strconv.FormatInt(op.ID, 10))
	return b.String()
}

// target is the vegeta request for op.
func target(router string, op history.Op) (vegeta.Target, error) {
	t := vegeta.Target{URL: opURL(router, op), Header: http.Header{}}
	switch op.Kind {
	case history.Get:
		t.Method = http.MethodGet
	case history.Put:
		t.Method = http.MethodPut
		t.Body = []byte(op.Value)
		t.Header.Set("Content-Type", "text/plain; charset=utf-8")
	case history.CAS:
		body, err := json.Marshal(api.CASRequest{Expect: op.Expect, Value: op.Value})
		if err != nil {
			return t, fmt.Errorf("workload: cas body: %w", err)
		}
		t.Method = http.MethodPost
		t.Body = body
		t.Header.Set("Content-Type", "application/json")
	default:
		return t, fmt.Errorf("workload: op %d: unknown kind %q", op.ID, op.Kind)
	}
	return t, nil
}
