package host

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/clock"
	"github.com/geodrill/geodrill/refstack/registry"
)

// unowned is when this host first saw an agent without owner, and at which epoch.
type unowned struct {
	since time.Time
	epoch int64
}

// view is what etcd says about one agent's ownership at one revision.
type view = registry.Ownership

// reconcileLoop runs a pass every ReconcileEvery and whenever something kicks it (an owner
// key was deleted, a lease was granted, a claim delay ran out). Only this goroutine starts
// claims, so one agent is never claimed twice at once by this host.
func (h *Host) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(h.cfg.ReconcileEvery)
	defer t.Stop()
	for {
		if err := h.reconcile(ctx); err != nil && ctx.Err() == nil {
			h.log.Debug("reconcile failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kickc:
		}
	}
}

// watchLoop kicks a reconcile when an owner key is deleted. Missed events only delay a
// takeover until the next periodic pass.
func (h *Host) watchLoop(ctx context.Context) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range h.cli.Watch(wctx, api.AgentsPrefix(), clientv3.WithPrefix(), clientv3.WithFilterPut()) {
			if resp.Err() != nil {
				break
			}
			for _, ev := range resp.Events {
				if strings.HasSuffix(string(ev.Kv.Key), "/owner") {
					h.kick()
					break
				}
			}
		}
		cancel()
		sleep(ctx, h.cfg.ReconcileEvery)
	}
}

// reconcile compares etcd's owners with what this host serves: it drops agents it no
// longer owns, releases owner keys of its region that no incarnation here stands behind,
// and claims unowned agents whose turn has come for this region.
func (h *Host) reconcile(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, h.cfg.OpTimeout)
	defer cancel()
	regs, err := registry.Load(rctx, h.cli)
	if err != nil {
		return err
	}
	views, rev, err := registry.LoadOwnership(rctx, h.cli, regs)
	if err != nil {
		return err
	}

	type stale struct {
		agent  string
		modRev int64
	}
	var releases []stale
	var claims []view
	now := time.Now()
	h.mu.Lock()
	if h.lease == 0 {
		h.mu.Unlock()
		return nil
	}
	lease, gen := h.lease, h.leaseGen
	for _, v := range views {
		name := v.Reg.Agent
		a := h.agents[name]
		if a != nil && rev < a.takeRev {
			continue // the read predates our own takeover
		}
		if v.Owner != nil {
			delete(h.unownedSince, name)
			if a != nil && (v.Owner.Region != h.cfg.Region || v.Owner.Epoch != a.epoch) {
				h.dropLocked(a, fmt.Sprintf("owner is now %s epoch %d", v.Owner.Region, v.Owner.Epoch))
				a = nil
			}
			if a == nil && v.Owner.Region == h.cfg.Region && !h.claiming[name] {
				// Left by an earlier incarnation of this host (a restart, a failed
				// release); nobody serves it, so free it for a fresh takeover.
				releases = append(releases, stale{name, v.OwnerModRev})
			}
			continue
		}
		if a != nil {
			h.dropLocked(a, "owner key gone")
		}
		rank := slices.Index(v.Reg.Order, h.cfg.Region)
		if rank < 0 || h.claiming[name] || now.Before(h.backoff[name]) || h.fullLocked() {
			continue
		}
		// The wait runs from when this host first saw the agent unowned at this epoch; an
		// epoch that moved means someone owned it in between, so the wait starts over.
		u, seen := h.unownedSince[name]
		if !seen || u.epoch != v.Epoch {
			u, seen = unowned{since: now, epoch: v.Epoch}, false
			h.unownedSince[name] = u
		}
		if wait := h.claimWait(v, rank) - now.Sub(u.since); wait > 0 {
			if !seen {
				time.AfterFunc(wait, h.kick)
			}
			continue
		}
		h.claiming[name] = true
		claims = append(claims, v)
	}
	h.mu.Unlock()

	for _, s := range releases {
		resp, err := h.cli.Txn(rctx).
			If(clientv3.Compare(clientv3.ModRevision(api.OwnerKey(s.agent)), "=", s.modRev)).
			Then(clientv3.OpDelete(api.OwnerKey(s.agent))).Commit()
		if err == nil && resp.Succeeded {
			h.log.Info("released stale owner key of this region", "agent", s.agent)
		}
	}
	for _, v := range claims {
		h.wg.Go(func() { h.claim(v, lease, gen) })
	}
	return nil
}

// claim takes an unowned agent in one transaction (bumping its epoch, creating the owner
// key on our lease, recording the epoch), then restores its state before it is served.
func (h *Host) claim(v view, lease clientv3.LeaseID, gen uint64) {
	name := v.Reg.Agent
	defer func() {
		h.mu.Lock()
		delete(h.claiming, name)
		h.mu.Unlock()
	}()
	epoch := v.Epoch + 1
	if h.cfg.Bugs.On(bugs.TakeoverReusesEpoch) && v.Epoch > 0 {
		epoch = v.Epoch // BUG (takeover-reuses-epoch): the epoch is only set for a never-owned agent
	}
	owner, _ := json.Marshal(api.Owner{Region: h.cfg.Region, Epoch: epoch, URL: h.url})
	record, _ := json.Marshal(api.EpochRecord{Epoch: epoch, Region: h.cfg.Region, UnixNs: clock.Now().UnixNano()})
	ctx, cancel := context.WithTimeout(h.bg, h.cfg.OpTimeout)
	resp, err := h.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(api.EpochKey(name)), "=", v.EpochModRev),
		clientv3.Compare(clientv3.CreateRevision(api.OwnerKey(name)), "=", 0),
	).Then(
		clientv3.OpPut(api.EpochKey(name), epochString(epoch)),
		clientv3.OpPut(api.OwnerKey(name), string(owner), clientv3.WithLease(lease)),
		clientv3.OpPut(api.EpochRecordKey(name, epoch), string(record)),
		clientv3.OpDelete(api.TargetKey(name)), // the controller's hint is spent
	).Commit()
	cancel()
	if err != nil {
		h.log.Warn("takeover failed", "agent", name, "epoch", epoch, "err", err)
		return
	}
	if !resp.Succeeded {
		h.log.Debug("takeover lost the race", "agent", name, "epoch", epoch)
		return
	}
	a := newAgent(name, epoch, resp.Header.Revision, gen)
	h.mu.Lock()
	if h.leaseGen != gen {
		h.mu.Unlock()
		// The owner key is on the lost lease and goes with it.
		h.log.Warn("lease lost during takeover; not serving", "agent", name, "epoch", epoch)
		return
	}
	h.agents[name] = a
	h.mu.Unlock()
	if h.cfg.Bugs.On(bugs.ServeBeforeRestore) {
		// BUG (serve-before-restore): serve at once to cut the RTO; the restore fills memory in.
		if a.lock(h.bg) == nil {
			a.ready = true
			a.serving.Store(true)
			a.unlock()
		}
	}
	h.metrics.takeovers.Inc()
	h.log.Info("takeover", "event", "ownership_change", "agent", name, "epoch", epoch, "prev_epoch", v.Epoch,
		"home", v.Reg.Home, "controller_target", v.Target)

	failback := v.Target == h.cfg.Region && v.Reg.Home == h.cfg.Region
	if err := h.restore(a, v.Reg, failback); err != nil {
		h.log.Error("RESTORE FAILED: not serving agent, releasing ownership", "agent", name, "epoch", epoch, "err", err)
		h.mu.Lock()
		h.backoff[name] = time.Now().Add(h.cfg.RestoreBackoff)
		h.mu.Unlock()
		h.release(a, "restore failed")
	}
}

// restore loads the newest checkpoint (own region first, then the failover order) and
// applies every committed log entry after it. Only then does the agent serve. failback says
// the agent is being handed back to its home region.
func (h *Host) restore(a *agent, reg api.Registration, failback bool) error {
	ctx, cancel := context.WithTimeout(h.bg, h.cfg.RestoreTimeout)
	defer cancel()
	ckpt, _, err := h.restoreCheckpoint(ctx, a, reg)
	if err != nil {
		return err
	}
	data, seq, from := ckpt.Data, ckpt.Seq, ckpt.Region()
	ckptSeq := seq
	tail, err := h.cli.Get(ctx, api.LogKey(a.name, seq+1), clientv3.WithRange(clientv3.GetPrefixRangeEnd(api.LogPrefix(a.name))))
	if err != nil {
		return fmt.Errorf("read log tail: %w", err)
	}
	if failback && h.cfg.Bugs.On(bugs.FailbackSkipsLogTail) {
		// BUG (failback-skips-log-tail): "a planned hand-back starts from the checkpoint".
		tail.Kvs = nil
	}
	for _, kv := range tail.Kvs {
		var e api.LogEntry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return fmt.Errorf("%s: %w", kv.Key, err)
		}
		if e.Seq != seq+1 {
			return fmt.Errorf("log gap: after seq %d comes %d (%s)", seq, e.Seq, kv.Key)
		}
		data[e.Key] = e.Value
		seq = e.Seq
	}

	if err := a.lock(ctx); err != nil {
		return err
	}
	a.data, a.seq, a.committed = data, seq, seq
	a.restoredSeq, a.restoredFrom = seq, from
	a.sinceCkpt = len(tail.Kvs)
	a.adoptRestoreLocked(ckpt)
	a.ready = true
	a.serving.Store(true)
	h.maybeCheckpointLocked(a)
	a.unlock()
	h.log.Info("restored", "agent", a.name, "epoch", a.epoch, "checkpoint_seq", ckptSeq,
		"checkpoint_region", from, "log_entries", len(tail.Kvs), "seq", seq)
	return nil
}

// fetchOrder: this region first, then the agent's failover order, then any other region.
func (h *Host) fetchOrder(reg api.Registration) []string {
	out := []string{h.cfg.Region}
	for _, r := range append(slices.Clone(reg.Order), h.store.Regions()...) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// dropLocked stops serving a; h.mu is held.
func (h *Host) dropLocked(a *agent, reason string) {
	if h.agents[a.name] == a {
		delete(h.agents, a.name)
	}
	h.markDropped(a, reason)
}

func (h *Host) drop(a *agent, reason string) {
	h.mu.Lock()
	h.dropLocked(a, reason)
	h.mu.Unlock()
}

func (h *Host) markDropped(a *agent, reason string) {
	if a.dropped.CompareAndSwap(false, true) {
		h.log.Warn("dropped agent", "agent", a.name, "epoch", a.epoch, "reason", reason)
	}
}

// release drops a and deletes its owner key if the epoch is still a's, so the agent is
// retaken (by a reconcile pass here or elsewhere) with a fresh restore. If the delete fails,
// the next reconcile pass finds the key and releases it.
func (h *Host) release(a *agent, reason string) {
	h.drop(a, reason)
	h.releaseOwnerKey(a)
}

// releaseOwnerKey deletes a's owner key if a's epoch is still current. a is dropped.
func (h *Host) releaseOwnerKey(a *agent) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.OpTimeout)
	defer cancel()
	_, err := h.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(api.EpochKey(a.name)), "=", epochString(a.epoch))).
		Then(clientv3.OpDelete(api.OwnerKey(a.name))).Commit()
	if err != nil {
		h.log.Warn("releasing owner key failed; reconcile retries", "agent", a.name, "epoch", a.epoch, "err", err)
		return
	}
	h.kick()
}

// claimWait is how long this host lets an unowned agent wait before claiming it. The region
// the controller chose claims at once; without a choice, the failover rank orders the hosts
// (ClaimStep apart); a host that was not chosen waits until every rank had its turn, so the
// choice wins unless the chosen host never comes.
func (h *Host) claimWait(v view, rank int) time.Duration {
	switch {
	case v.Target == h.cfg.Region:
		return 0
	case v.Target != "":
		return time.Duration(rank+len(v.Reg.Order)) * h.cfg.ClaimStep
	}
	return time.Duration(rank) * h.cfg.ClaimStep
}

// fullLocked: the host serves (or is claiming) MaxAgents agents; h.mu is held.
func (h *Host) fullLocked() bool {
	return h.cfg.MaxAgents > 0 && len(h.agents)+len(h.claiming) >= h.cfg.MaxAgents
}
