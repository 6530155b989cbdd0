// Package workload drives an open-loop load through the router with vegeta and records every
// request as one history operation; FinalReads reads every key back after the faults heal.
//
// The outcome of each request is what the checkers trust, so it is decided in one place
// (settle) from what the client can actually know:
//
//   - 200: ok. The body (api.Response) gives found/value for a get (Op.Found, and the value
//     in both Op.Read and Op.Value) and swapped/value for a cas (Op.Swapped, Op.Read); region
//     and epoch come from the body, else from the X-Geodrill-Region/Epoch headers, on every
//     op that got a response.
//     A 200 whose body cannot be decoded, or that also carries X-Geodrill-Outcome, is
//     unknown: the server may have acted but we cannot say what it returned.
//   - X-Geodrill-Outcome "fail" or "unknown" on any other status: that outcome.
//   - any other 4xx: fail. Any other status (5xx, 3xx, 1xx, non-200 2xx): unknown.
//   - no response, and no connection was ever obtained for the request (connection refused,
//     dial error or dial timeout, bad request URL): fail, since nothing was sent.
//   - no response after a connection was obtained (timeout, reset, EOF after send, a body that
//     breaks off): unknown.
package workload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// DefaultTimeout is the per-request timeout when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// maxInFlight caps the vegeta workers (each holds one request and one connection). Below the
// cap the load stays open-loop even when every request hangs for the full timeout.
const maxInFlight = 10000

// maxBody bounds how much of a response body is read; API responses are tiny.
const maxBody = 1 << 20

// Mix gives the relative weights of the op kinds.
type Mix struct{ Put, Get, CAS int }

// Config of a load run. Run needs all of it; FinalReads uses Router, Agents, Keys, Timeout.
type Config struct {
	Router string // base URL of the router, e.g. http://127.0.0.1:8080
	// Routers, when it has more than one, is every router the load is spread over (ops go
	// to Routers[id % len]); Router is where the final reads go. Empty means Router alone.
	Routers  []string
	Agents   []string
	Keys     []string
	Rate     int           // requests per second, open loop
	Duration time.Duration // how long to send
	Timeout  time.Duration // per request, connect to last body byte; 0 means DefaultTimeout
	Mix      Mix
	Seed     int64 // seeds the op sequence: same seed, same ops in the same id order

	// AgentSkew spreads the random ops over Agents, KeySkew over the keys that are not
	// cold; the zero value is uniform. The first agent (and key) is the hottest.
	AgentSkew Skew
	KeySkew   Skew
	// Cold: the last Cold.Keys of Keys, per agent, written early and read late.
	Cold Cold
	// Burst sends the ops in groups of Burst at once, each group to one register (agent and
	// key), at the same average rate: up to Burst ops contend on a register. 0 or 1: one op
	// at a time, each to its own draw.
	Burst int
	// TLS, when set, is the client configuration the routers are reached with (the stack
	// runs with mutual TLS; Router and Routers are https).
	TLS *tls.Config
	// Record, when set, gets every op of Run as it is settled (a journal in the run
	// directory), in completion order.
	Record func(history.Op)
}

// HottestAgent names the agent with the most random ops: by rule the first of Agents, under
// every distribution (under uniform, as hot as any). Faults that target "the owner of the
// hottest agent" use it.
func (c Config) HottestAgent() string {
	if len(c.Agents) == 0 {
		return ""
	}
	return c.Agents[0]
}

// Stats counts outcomes as they are recorded. Fields are updated atomically while Run runs;
// read them with Load (or atomic.LoadInt64) for a live progress line.
type Stats struct{ OK, Fail, Unknown int64 }

// Load returns a consistent-enough copy of the counters, read atomically one by one.
func (s *Stats) Load() Stats {
	return Stats{
		OK:      atomic.LoadInt64(&s.OK),
		Fail:    atomic.LoadInt64(&s.Fail),
		Unknown: atomic.LoadInt64(&s.Unknown),
	}
}

func (s *Stats) add(o history.Outcome) {
	if s == nil {
		return
	}
	switch o {
	case history.OK:
		atomic.AddInt64(&s.OK, 1)
	case history.Fail:
		atomic.AddInt64(&s.Fail, 1)
	default:
		atomic.AddInt64(&s.Unknown, 1)
	}
}

// Run sends cfg.Rate requests per second for cfg.Duration through cfg.Router, open loop, and
// returns one op per request, ordered by invoke time. Op ids run 1, 2, 3... in the order the
// seeded generator made them.
//
// Timestamps: vegeta stamps Result.Timestamp with began.Add(time.Since(began)) before it asks
// the targeter for the request, so the reading is taken before anything is sent and keeps
// the monotonic clock; Result.Latency is time.Since(Timestamp) taken after the response body
// was read in full (or the request failed). So Invoke = clock.Offset(Timestamp) and
// Complete = Invoke + Latency bracket the whole exchange, on the run's monotonic clock.
//
// When ctx is done, Run stops sending, waits for requests in flight (at most Timeout), and
// returns everything recorded with an error wrapping the context's error.
func Run(ctx context.Context, cfg Config, clock *timeline.Clock, stats *Stats) (history.History, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.validateRun(); err != nil {
		return nil, err
	}
	if clock == nil {
		return nil, errors.New("workload: nil clock")
	}

	workers, maxWorkers := workerCounts(cfg.Rate, cfg.Timeout)
	tracker := newConnTracker()
	client, transport := newClient(cfg.Timeout, maxWorkers, cfg.TLS, tracker)
	defer transport.CloseIdleConnections()

	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Timeout(cfg.Timeout),
		vegeta.Workers(workers),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.MaxBody(maxBody),
	)

	g := newGenerator(cfg)
	var (
		mu      sync.Mutex
		pending = map[int64]history.Op{}
	)
	targeter := func(tgt *vegeta.Target) error {
		mu.Lock()
		op := g.Next()
		op.Invoke = clock.Now() // replaced by the result's timestamp; kept for lost results
		pending[op.ID] = op
		mu.Unlock()
		t, err := target(cfg.routerFor(op.ID), op)
		if err != nil {
			return err
		}
		*tgt = t
		return nil
	}

	results := atk.Attack(targeter, burstPacer{rate: cfg.Rate, burst: max(cfg.Burst, 1)}, cfg.Duration, "")

	var (
		h       history.History
		stopped error
		bugs    []error
		done    = ctx.Done()
	)
	for results != nil {
		select {
		case <-done:
			atk.Stop()
			stopped = context.Cause(ctx)
			done = nil
		case res, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			id, err := opID(res.URL)
			if err != nil {
				// Our targeter always sets the URL; keep draining so the attack can end,
				// and report the bug. The op itself is kept below as unknown.
				bugs = append(bugs, fmt.Errorf("workload: result without op id (%q, %s): %w", res.URL, res.Error, err))
				continue
			}
			mu.Lock()
			op, known := pending[id]
			delete(pending, id)
			mu.Unlock()
			if !known {
				bugs = append(bugs, fmt.Errorf("workload: result for unknown op %d", id))
				continue
			}
			op.Invoke = clock.Offset(res.Timestamp)
			op.Complete = op.Invoke + res.Latency
			settle(&op, reply{
				Status: int(res.Code),
				Header: res.Headers,
				Body:   res.Body,
				Err:    res.Error,
				Conn:   tracker.take(id),
			})
			stats.add(op.Outcome)
			h = append(h, op)
			if cfg.Record != nil {
				cfg.Record(op)
			}
		}
	}

	// vegeta returns a result for every targeter call, so nothing should be left; if a
	// request did vanish it may still have been sent, and a dropped write would hide data
	// loss from the checkers, so keep it as unknown.
	mu.Lock()
	for _, op := range pending {
		op.Complete = clock.Now()
		op.Outcome = history.Unknown
		op.Error = "workload: no result recorded"
		stats.add(op.Outcome)
		h = append(h, op)
	}
	mu.Unlock()

	h.Sort()
	if stopped != nil {
		bugs = append(bugs, fmt.Errorf("workload: stopped after %d ops: %w", len(h), stopped))
	}
	return h, errors.Join(bugs...)
}

// workerCounts sizes vegeta's pool: enough workers to keep the rate when every request hangs
// for the whole timeout (Little's law), so the load stays open-loop through an outage.
func workerCounts(rate int, timeout time.Duration) (workers, maxWorkers uint64) {
	need := math.Ceil(float64(rate)*timeout.Seconds()) + float64(rate)/10 + 16
	maxWorkers = uint64(min(need, maxInFlight))
	workers = min(maxWorkers, uint64(max(16, rate/20)))
	return workers, maxWorkers
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Timeout < 0:
		return c, fmt.Errorf("workload: timeout %s is negative", c.Timeout)
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

// validateTargets checks what both Run and FinalReads need.
func (c Config) validateTargets() error {
	for _, r := range append([]string{c.Router}, c.Routers...) {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("workload: router URL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("workload: router URL %q: want http://host:port", r)
		}
	}
	if len(c.Agents) == 0 {
		return errors.New("workload: no agents")
	}
	if len(c.Keys) == 0 {
		return errors.New("workload: no keys")
	}
	for _, a := range c.Agents {
		if a == "" {
			return errors.New("workload: empty agent name")
		}
	}
	for _, k := range c.Keys {
		if k == "" {
			return errors.New("workload: empty key name")
		}
	}
	return nil
}

func (c Config) validateRun() error {
	if err := c.validateTargets(); err != nil {
		return err
	}
	if c.Rate <= 0 {
		return fmt.Errorf("workload: rate %d: want > 0 requests per second", c.Rate)
	}
	if c.Duration <= 0 {
		return fmt.Errorf("workload: duration %s: want > 0", c.Duration)
	}
	m := c.Mix
	if m.Put < 0 || m.Get < 0 || m.CAS < 0 {
		return fmt.Errorf("workload: mix %+v: weights must not be negative", m)
	}
	if m.Put+m.Get+m.CAS == 0 {
		return errors.New("workload: mix weights are all zero")
	}
	if c.Burst < 0 || c.Burst > MaxBurst {
		return fmt.Errorf("workload: burst %d: want 0 to %d", c.Burst, MaxBurst)
	}
	if err := c.Cold.Check(len(c.Agents), len(c.Keys), c.Rate, c.Duration); err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	if err := c.AgentSkew.Check(len(c.Agents)); err != nil {
		return fmt.Errorf("workload: agents: %w", err)
	}
	if err := c.KeySkew.Check(len(c.Keys) - c.Cold.Keys); err != nil {
		return fmt.Errorf("workload: keys: %w", err)
	}
	return nil
}

// opID reads the op id that travels in the request URL (query param op).
func opID(raw string) (int64, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(u.Query().Get("op"), 10, 64)
}

// routerFor is the router op id is sent to: the load alternates over Routers, so ops on one
// key reach routers whose owner caches may disagree.
func (c Config) routerFor(id int64) string {
	if len(c.Routers) < 2 {
		return c.Router
	}
	return c.Routers[id%int64(len(c.Routers))]
}
