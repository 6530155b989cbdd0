package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// FinalReadBase is the first op id FinalReads uses; Run numbers its ops from 1, far below.
const FinalReadBase int64 = 1 << 40

// ErrNoFinalRead is wrapped by FinalReads' error when some keys got no ok read by the deadline.
var ErrNoFinalRead = errors.New("workload: keys without an ok final read")

const (
	finalReadWorkers = 8
	finalBackoffMin  = 50 * time.Millisecond
	finalBackoffMax  = time.Second
)

// FinalReads reads every agent/key of cfg through the router once the faults are healed,
// retrying each key until one read is ok or deadline (from the call) has passed; a key is
// tried at least once, and an attempt started before the deadline may run for up to
// cfg.Timeout past it. Every attempt is an op with Final set, failed ones included, with
// ids from FinalReadBase up. The history is returned even with an error: the error wraps
// ErrNoFinalRead when some keys have no ok read, and the context's error when ctx ended.
func FinalReads(ctx context.Context, cfg Config, clock *timeline.Clock, deadline time.Duration) (history.History, error) {
	cfg, err := cfg.forFinal(clock)
	if err != nil {
		return nil, err
	}

	stop := time.Now().Add(deadline)
	tracker := newConnTracker()
	client, transport := newClient(cfg.Timeout, finalReadWorkers, cfg.TLS, tracker)
	defer transport.CloseIdleConnections()
	fr := &finalReader{cfg: cfg, clock: clock, client: client, tracker: tracker, stop: stop}
	fr.nextID.Store(FinalReadBase)

	var (
		mu      sync.Mutex
		h       history.History
		missing []string
		jobs    = make(chan register)
		wg      sync.WaitGroup
	)
	for range finalReadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				ops, ok := fr.readUntilOK(ctx, r)
				mu.Lock()
				h = append(h, ops...)
				if !ok {
					missing = append(missing, r.agent+"/"+r.key)
				}
				mu.Unlock()
			}
		}()
	}
	total := 0
	for _, a := range cfg.Agents {
		for _, k := range cfg.Keys {
			total++
			sent := false
			if ctx.Err() == nil {
				select {
				case jobs <- register{a, k}:
					sent = true
				case <-ctx.Done():
				}
			}
			if !sent {
				mu.Lock()
				missing = append(missing, a+"/"+k)
				mu.Unlock()
			}
		}
	}
	close(jobs)
	wg.Wait()

	h.Sort()
	var errs []error
	if len(missing) > 0 {
		shown := missing
		if len(shown) > 10 {
			shown = append(shown[:10:10], "...")
		}
		errs = append(errs, fmt.Errorf("%w: %d of %d (%s)", ErrNoFinalRead, len(missing), total, strings.Join(shown, ", ")))
	}
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("workload: final reads: %w", context.Cause(ctx)))
	}
	return h, errors.Join(errs...)
}

// forFinal is cfg with its defaults, checked for the final reads and writes.
func (c Config) forFinal(clock *timeline.Clock) (Config, error) {
	c, err := c.withDefaults()
	if err != nil {
		return c, err
	}
	if err := c.validateTargets(); err != nil {
		return c, err
	}
	if clock == nil {
		return c, errors.New("workload: nil clock")
	}
	return c, nil
}

type finalReader struct {
	cfg     Config
	clock   *timeline.Clock
	client  *http.Client
	tracker *connTracker
	stop    time.Time
	nextID  atomic.Int64
}

// readUntilOK reads r until an ok read, the deadline, or ctx ends; it returns every attempt.
func (f *finalReader) readUntilOK(ctx context.Context, r register) (history.History, bool) {
	var ops history.History
	backoff := finalBackoffMin
	for {
		op, retryAfter := f.read(ctx, r)
		ops = append(ops, op)
		if op.Outcome == history.OK {
			return ops, true
		}
		wait := max(backoff, min(retryAfter, finalBackoffMax))
		backoff = min(2*backoff, finalBackoffMax)
		left := time.Until(f.stop)
		if left <= 0 || ctx.Err() != nil {
			return ops, false
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ops, false
		}
	}
}

// read does one GET and returns it as a settled op, with the Retry-After the server asked for.
func (f *finalReader) read(ctx context.Context, r register) (history.Op, time.Duration) {
	op := history.Op{
		ID:    f.nextID.Add(1) - 1,
		Agent: r.agent,
		Key:   r.key,
		Kind:  history.Get,
		Final: true,
	}
	retryAfter := roundTrip(ctx, f.client, f.tracker, f.clock, &op, http.MethodGet, opURL(f.cfg.Router, op), nil)
	return op, retryAfter
}

// roundTrip sends op's request (body nil for a read, op.Value for a write), settles op
// from the answer with the load's outcome rules, and returns the Retry-After the server
// asked for.
func roundTrip(ctx context.Context, client *http.Client, tracker *connTracker, clock *timeline.Clock, op *history.Op, method, url string, body io.Reader) time.Duration {
	var rep reply
	var retryAfter time.Duration
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	op.Invoke = clock.Now()
	if err != nil {
		rep.Err = err.Error()
	} else {
		if body != nil {
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		}
		if resp, err := client.Do(req); err != nil {
			rep.Err = err.Error()
		} else {
			b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			if err != nil {
				rep.Err = err.Error()
			} else {
				rep.Status, rep.Header, rep.Body = resp.StatusCode, resp.Header, b
				if resp.StatusCode < 200 || resp.StatusCode >= 400 {
					rep.Err = resp.Status // as vegeta records it, so both paths read alike
				}
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
					retryAfter = time.Duration(s) * time.Second
				}
			}
		}
	}
	op.Complete = clock.Now()
	rep.Conn = tracker.take(op.ID)
	settle(op, rep)
	return retryAfter
}

// finalWriteBase numbers final writes apart from load ops (from 1) and final reads (from
// FinalReadBase up, one per attempt).
const finalWriteBase = FinalReadBase + 1<<30

// finalWriteAttempts bounds the tries per agent; finalWriteBackoff is the wait between them.
const (
	finalWriteAttempts = 10
	finalWriteBackoff  = 300 * time.Millisecond
)

// FinalWrites puts one value per agent of cfg, to its first key, through the router once
// the final reads are done, retrying an agent until one put is ok or finalWriteAttempts
// have failed: the healed stack must take writes again. It uses the load's client and the
// load's outcome rules (settle), so an answer means the same here as during the load. Every
// attempt is an op with Final set, with ids from finalWriteBase up; the convergence checker
// judges them, and the RPO checker leaves them out (the final reads came before them).
func FinalWrites(ctx context.Context, cfg Config, clock *timeline.Clock) (history.History, error) {
	cfg, err := cfg.forFinal(clock)
	if err != nil {
		return nil, err
	}
	tracker := newConnTracker()
	client, transport := newClient(cfg.Timeout, 1, cfg.TLS, tracker)
	defer transport.CloseIdleConnections()
	var h history.History
	id := finalWriteBase
	for _, agent := range cfg.Agents {
		for attempt := 0; attempt < finalWriteAttempts && ctx.Err() == nil; attempt++ {
			op := history.Op{ID: id, Agent: agent, Key: cfg.Keys[0], Kind: history.Put, Final: true,
				Value: fmt.Sprintf("final-%d-s%d", id, cfg.Seed)}
			id++
			roundTrip(ctx, client, tracker, clock, &op, http.MethodPut, opURL(cfg.Router, op), strings.NewReader(op.Value))
			h = append(h, op)
			if op.Outcome == history.OK {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(finalWriteBackoff):
			}
		}
	}
	if ctx.Err() != nil {
		return h, fmt.Errorf("workload: final writes: %w", context.Cause(ctx))
	}
	return h, nil
}
