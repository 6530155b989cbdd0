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

// generator makes the op sequence from the seed alone: the same seed, agents, keys and mix
// give the same ops with the same ids, whatever the timing of the run. It is not safe for
// concurrent use; Run calls it under a lock.
type generator struct {
	rng    *rand.Rand
	agents []string
	keys   []string
	mix    Mix
	seed   int64
	next   int64
	// last is the last value this generator wrote to each register (put or cas new value),
	// what the next cas expects. A register never written expects "", i.e. not found.
	last map[register]string
}

type register struct{ agent, key string }

func newGenerator(cfg Config) *generator {
	s := uint64(cfg.Seed)
	return &generator{
		rng:    rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)),
		agents: cfg.Agents,
		keys:   cfg.Keys,
		mix:    cfg.Mix,
		seed:   cfg.Seed,
		next:   1,
		last:   map[register]string{},
	}
}

// Next returns the next op: agent, key and kind drawn from the seeded source, kind by the
// mix weights. Invoke, Complete and the outcome are left for the caller.
func (g *generator) Next() history.Op {
	op := history.Op{
		ID:    g.next,
		Agent: g.agents[g.rng.IntN(len(g.agents))],
		Key:   g.keys[g.rng.IntN(len(g.keys))],
	}
	g.next++
	switch n := g.rng.IntN(g.mix.Put + g.mix.Get + g.mix.CAS); {
	case n < g.mix.Put:
		op.Kind = history.Put
	case n < g.mix.Put+g.mix.Get:
		op.Kind = history.Get
	default:
		op.Kind = history.CAS
	}
	r := register{op.Agent, op.Key}
	switch op.Kind {
	case history.Put:
		op.Value = writeValue(op.ID, g.seed)
		g.last[r] = op.Value
	case history.CAS:
		op.Expect = g.last[r]
		op.Value = writeValue(op.ID, g.seed)
		g.last[r] = op.Value
	}
	return op
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
