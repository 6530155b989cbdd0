package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

// maxValueBytes bounds a request body.
const maxValueBytes = 64 << 10

// result is the outcome of one API operation.
type result struct {
	status  int
	outcome string // "", "fail" or "unknown"
	resp    api.Response
}

func ok(r api.Response) result { return result{status: http.StatusOK, resp: r} }

func failed(status int, outcome string, r api.Response, msg string) result {
	r.Error = msg
	return result{status: status, outcome: outcome, resp: r}
}

// Commit errors. errUnknown: the transaction may or may not have been applied.
var (
	errFenced   = errors.New("fenced: the agent's epoch moved on")
	errDiverged = errors.New("log entry already exists: memory is behind etcd")
	errUnknown  = errors.New("commit outcome unknown")
)

func (h *Host) handleGet(w http.ResponseWriter, r *http.Request) {
	name, key := r.PathValue("agent"), r.PathValue("key")
	h.respond(w, h.withAgent(r.Context(), name, key, func(a *agent, base api.Response) result {
		return h.getLocked(a, key, base)
	}))
}

func (h *Host) handlePut(w http.ResponseWriter, r *http.Request) {
	name, key := r.PathValue("agent"), r.PathValue("key")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxValueBytes))
	if err != nil {
		h.respond(w, failed(http.StatusBadRequest, "fail", api.Response{Agent: name, Key: key, Region: h.cfg.Region}, "read body: "+err.Error()))
		return
	}
	h.respond(w, h.withAgent(r.Context(), name, key, func(a *agent, base api.Response) result {
		return h.writeLocked(a, key, string(body), base)
	}))
}

func (h *Host) handleCAS(w http.ResponseWriter, r *http.Request) {
	name, key := r.PathValue("agent"), r.PathValue("key")
	var req api.CASRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxValueBytes)).Decode(&req); err != nil {
		h.respond(w, failed(http.StatusBadRequest, "fail", api.Response{Agent: name, Key: key, Region: h.cfg.Region},
			`body must be JSON {"expect": "...", "value": "..."}: `+err.Error()))
		return
	}
	if h.cfg.Bugs.On(bugs.CASNotAtomic) {
		h.respond(w, h.casTwoSteps(r.Context(), name, key, req))
		return
	}
	h.respond(w, h.withAgent(r.Context(), name, key, func(a *agent, base api.Response) result {
		return h.casLocked(a, key, req, base)
	}))
}

// casTwoSteps is compare-and-swap as the cas-not-atomic switch does it. BUG: the compare and
// the write each take the agent's lock, so another op can run between them and two cas
// with the same expected value can both swap.
func (h *Host) casTwoSteps(ctx context.Context, name, key string, req api.CASRequest) result {
	cur := h.withAgent(ctx, name, key, func(a *agent, base api.Response) result { return h.getLocked(a, key, base) })
	if cur.status != http.StatusOK || cur.resp.Value != req.Expect {
		return cur
	}
	return h.withAgent(ctx, name, key, func(a *agent, base api.Response) result {
		r := h.writeLocked(a, key, req.Value, base)
		r.resp.Swapped = r.status == http.StatusOK
		return r
	})
}

// withAgent runs op under the agent's mutex if this host serves the agent.
func (h *Host) withAgent(ctx context.Context, name, key string, op func(*agent, api.Response) result) result {
	base := api.Response{Agent: name, Key: key, Region: h.cfg.Region}
	a := h.owned(name)
	if a == nil {
		return failed(http.StatusConflict, "fail", base, "not the owner of "+name+" in region "+h.cfg.Region)
	}
	base.Epoch = a.epoch
	if err := a.lock(ctx); err != nil {
		// The client gave up while waiting; nothing was done.
		return failed(http.StatusServiceUnavailable, "fail", base, "request cancelled before it ran")
	}
	defer a.unlock()
	switch {
	case a.dropped.Load():
		return failed(http.StatusConflict, "fail", base, "not the owner any more (fenced or dropped)")
	case !a.ready:
		return failed(http.StatusConflict, "fail", base, "taking over: state not restored yet")
	}
	return op(a, base)
}

// getLocked serves a read from memory after checking, linearizably, that the epoch is
// still ours: if a newer owner existed it might have taken writes we do not have.
func (h *Host) getLocked(a *agent, key string, base api.Response) result {
	// BUG (unfenced-reads) skips the epoch read on gets: "writes are fenced, so reads are safe".
	if !h.cfg.Bugs.On(bugs.UnfencedReads) {
		if r, ok := h.checkEpochLocked(a, base); !ok {
			return r
		}
	}
	if v, hit := h.cachedLocked(a, key); hit {
		base.Value, base.Found = v, true
		return ok(base)
	}
	base.Value, base.Found = a.data[key]
	return ok(base)
}

// cachedLocked and cacheLocked are the stale-read-cache switch's host-wide read cache. BUG:
// it is keyed by agent and key only and never cleared when an incarnation ends, so a host
// that serves an agent again answers from what it cached the last time.
func (h *Host) cachedLocked(a *agent, key string) (string, bool) {
	if !h.cfg.Bugs.On(bugs.StaleReadCache) {
		return "", false
	}
	v, hit := h.readCache.Load(a.name + "/" + key)
	if !hit {
		return "", false
	}
	return v.(string), true
}

func (h *Host) cacheLocked(a *agent, key, value string) {
	if h.cfg.Bugs.On(bugs.StaleReadCache) {
		h.readCache.Store(a.name+"/"+key, value)
	}
}

// casLocked compares in memory. A match is written like a put; a mismatch is a read.
// A key that was never written compares equal to "".
func (h *Host) casLocked(a *agent, key string, req api.CASRequest, base api.Response) result {
	if cur := a.data[key]; cur != req.Expect {
		if r, ok := h.checkEpochLocked(a, base); !ok {
			return r
		}
		base.Value, base.Found = a.data[key]
		if h.cfg.Bugs.On(bugs.CASFailReturnsNew) {
			base.Value, base.Found = req.Value, true // BUG (cas-fail-returns-new): filled like the write branch
		}
		return ok(base)
	}
	r := h.writeLocked(a, key, req.Value, base)
	if r.status == http.StatusOK {
		r.resp.Swapped = true
	}
	return r
}

func (h *Host) checkEpochLocked(a *agent, base api.Response) (result, bool) {
	if h.cfg.Bugs.On(bugs.NoFencing) {
		return result{}, true // UNSAFE: no epoch check on reads
	}
	if h.cfg.Bugs.On(bugs.AckBeforeCommit) {
		return result{}, true // unsafe mode serves memory as is
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.OpTimeout)
	defer cancel()
	resp, err := h.cli.Get(ctx, api.EpochKey(a.name))
	if err != nil {
		return failed(http.StatusInternalServerError, "unknown", base, "epoch check: "+err.Error()), false
	}
	if cur := currentEpoch(resp.Kvs); cur != a.epoch {
		h.drop(a, fmt.Sprintf("fenced on read: epoch is %d", cur))
		return failed(http.StatusConflict, "fail", base, fmt.Sprintf("fenced: epoch %d, this owner holds %d", cur, a.epoch)), false
	}
	return result{}, true
}

// writeLocked appends one log entry guarded by the epoch and applies it once committed.
// Memory only changes after a known commit; when the outcome is unknown the incarnation is
// released so the next one restores whatever etcd actually holds.
func (h *Host) writeLocked(a *agent, key, value string, base api.Response) result {
	e := api.LogEntry{Seq: a.seq + 1, Epoch: a.epoch, Key: key, Value: value}
	base.Value = value
	if h.async() {
		// Acknowledged from memory; the checkpoint loop makes it durable later, if the
		// region lives that long.
		a.apply(e)
		h.cacheLocked(a, key, value)
		return ok(base)
	}
	if h.cfg.Bugs.On(bugs.AckBeforeCommit) {
		a.apply(e)
		a.pending = append(a.pending, e)
		h.cacheLocked(a, key, value)
		return ok(base)
	}
	err := h.commit(a.name, a.epoch, []api.LogEntry{e})
	switch {
	case err == nil:
		a.apply(e)
		a.committed = e.Seq
		a.sinceCkpt++
		h.maybeCheckpointLocked(a)
		h.cacheLocked(a, key, value)
		return ok(base)
	case errors.Is(err, errFenced):
		h.drop(a, err.Error())
		return failed(http.StatusConflict, "fail", base, err.Error())
	case errors.Is(err, errDiverged):
		// Stop serving before the mutex is released: memory misses a committed entry.
		h.drop(a, err.Error())
		h.wg.Go(func() { h.releaseOwnerKey(a) })
		return failed(http.StatusConflict, "fail", base, err.Error())
	default:
		// The entry may be committed; a later read from this memory could miss it. Stop
		// serving before the mutex is released, and let a fresh takeover restore from etcd.
		h.drop(a, "write outcome unknown")
		h.wg.Go(func() { h.releaseOwnerKey(a) })
		return failed(http.StatusInternalServerError, "unknown", base, err.Error())
	}
}

// commit writes consecutive log entries in one transaction that only applies while the
// agent's epoch is epoch and none of the entries exists yet.
func (h *Host) commit(name string, epoch int64, entries []api.LogEntry) error {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.Value(api.EpochKey(name)), "=", epochString(epoch))}
	ops := make([]clientv3.Op, 0, len(entries))
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode log entry: %w", err)
		}
		k := api.LogKey(name, e.Seq)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		ops = append(ops, clientv3.OpPut(k, string(b)))
	}
	if h.cfg.Bugs.On(bugs.NoFencing) {
		cmps = nil // UNSAFE: a deposed owner's entries overwrite the log
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.OpTimeout)
	defer cancel()
	resp, err := h.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(api.EpochKey(name))).Commit()
	if err != nil {
		return fmt.Errorf("%w: %v", errUnknown, err)
	}
	if resp.Succeeded {
		return nil
	}
	if cur := currentEpoch(resp.Responses[0].GetResponseRange().Kvs); cur != epoch {
		return fmt.Errorf("%w: epoch is %d, this owner holds %d", errFenced, cur, epoch)
	}
	return errDiverged
}

func currentEpoch(kvs []*mvccpb.KeyValue) int64 {
	if len(kvs) == 0 {
		return 0
	}
	e, _ := strconv.ParseInt(string(kvs[0].Value), 10, 64)
	return e
}

func (h *Host) respond(w http.ResponseWriter, r result) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(api.HeaderRegion, h.cfg.Region)
	w.Header().Set(api.HeaderEpoch, strconv.FormatInt(r.resp.Epoch, 10))
	if r.outcome != "" {
		w.Header().Set(api.HeaderOutcome, r.outcome)
	}
	w.WriteHeader(r.status)
	_ = json.NewEncoder(w).Encode(r.resp)
}
