package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/checkpoint"
)

// minCheckpointRegions: in sync-geo mode a checkpoint is only published (and the log behind
// it deleted) once this many regions hold the object, so losing one region never loses it.
const minCheckpointRegions = 2

// maybeCheckpointLocked starts a sync-geo checkpoint of the committed state when enough
// entries have accumulated and none is running. The state is cut under the mutex; the
// upload and publish run outside it.
func (h *Host) maybeCheckpointLocked(a *agent) {
	if h.async() || a.sinceCkpt < h.cfg.CheckpointEvery || a.ckptRunning || a.seq != a.committed {
		return
	}
	if o, ok := h.cutLocked(a); ok {
		h.startCheckpointLocked(a, o)
	}
}

func (h *Host) startCheckpointLocked(a *agent, o checkpoint.Object) {
	a.ckptRunning = true
	a.sinceCkpt = 0
	h.wg.Go(func() { h.checkpoint(a, o, time.Now()) })
}

// cutLocked returns the next link of a's chain at the current seq: a full when a new chain
// is due, else a delta of the keys changed since the last published object. ok is false
// when nothing changed.
func (h *Host) cutLocked(a *agent) (o checkpoint.Object, ok bool) {
	o = checkpoint.Object{Agent: a.name, Epoch: a.epoch, Seq: a.seq}
	if a.needFull || a.base == nil || a.chainDeltas >= h.cfg.ChainLength {
		o.Kind, o.Data = checkpoint.KindFull, maps.Clone(a.data)
		return o, true
	}
	if a.seq == a.baseSeq {
		return o, false
	}
	changed := map[string]string{}
	skipNew := h.cfg.Bugs.On(bugs.DeltaSkipsNewKeys)
	for k, v := range a.data {
		bv, had := a.base[k]
		if !had && skipNew {
			continue // BUG (delta-skips-new-keys): only keys whose value changed count
		}
		if !had || bv != v {
			changed[k] = v
		}
	}
	o.Kind, o.BaseSeq, o.Data = checkpoint.KindDelta, a.baseSeq, changed
	return o, true
}

// advanceBaseLocked records that o is published: the next delta is relative to it.
func (a *agent) advanceBaseLocked(o checkpoint.Object) {
	if o.Kind == checkpoint.KindFull {
		a.base, a.chainDeltas, a.needFull = maps.Clone(o.Data), 0, false
	} else {
		maps.Copy(a.base, o.Data)
		a.chainDeltas++
	}
	a.baseSeq = o.Seq
}

func objectMeta(o checkpoint.Object, key, sum string, size int, held []string, cut time.Time) checkpoint.ObjectMeta {
	return checkpoint.ObjectMeta{
		Object: key, Kind: o.Kind, Seq: o.Seq, BaseSeq: o.BaseSeq, Epoch: o.Epoch, SHA256: sum,
		Size: int64(size), Schema: checkpoint.Schema, Regions: held, UnixNs: cut.UnixNano(),
	}
}

// checkpoint (sync-geo) writes o to this region's store, copies it to the others, and
// publishes it in a transaction guarded by the epoch that also deletes the log entries the
// chain now covers.
func (h *Host) checkpoint(a *agent, o checkpoint.Object, cut time.Time) {
	defer func() {
		if a.lock(context.Background()) == nil {
			a.ckptRunning = false
			a.unlock()
		}
	}()
	log := h.log.With("agent", a.name, "epoch", a.epoch, "seq", o.Seq, "kind", o.Kind)
	body, sum, err := checkpoint.Encode(o)
	if err != nil {
		log.Error("checkpoint encode failed", "err", err)
		return
	}
	key := checkpoint.ChainObjectKey(a.name, o.Kind, o.Seq, a.epoch)
	held, errs := h.store.Replicate(h.bg, h.cfg.Region, key, body)
	for r, err := range errs {
		log.Warn("checkpoint copy failed", "store_region", r, "err", err)
	}
	if len(held) < minCheckpointRegions {
		log.Warn("checkpoint not published: too few regions hold it; keeping the log", "object", key, "regions", held)
		return
	}
	err = h.publish(a, objectMeta(o, key, sum, len(body), held, cut), true)
	switch {
	case errors.Is(err, errFenced):
		h.drop(a, "fenced at checkpoint publish")
	case err != nil:
		log.Warn("checkpoint publish failed; the log is kept", "err", err)
	default:
		if a.lock(context.Background()) == nil {
			a.advanceBaseLocked(o)
			a.unlock()
		}
		log.Info("checkpoint published", "object", key, "sha256", sum, "bytes", len(body), "regions", held)
	}
}

// publish appends om to a's checkpoint metadata in etcd, guarded by a's epoch; truncate
// also deletes the log entries up to om.Seq in the same transaction (sync-geo).
func (h *Host) publish(a *agent, om checkpoint.ObjectMeta, truncate bool) error {
	a.metaMu.Lock()
	defer a.metaMu.Unlock()
	next := a.meta.Append(om)
	var extra []clientv3.Op
	if truncate {
		extra = append(extra, clientv3.OpDelete(api.LogKey(a.name, 0), clientv3.WithRange(api.LogKey(a.name, om.Seq+1))))
	}
	if err := h.putMetaLocked(a, next, extra...); err != nil {
		h.observePublish(a, om, err)
		return err
	}
	if dropped := a.meta.Dropped(next); len(dropped) > 0 {
		h.wg.Go(func() { h.removeObjects(a, dropped) })
	}
	a.meta = next
	h.observePublish(a, om, nil)
	return nil
}

// removeObjects deletes objects the published metadata no longer references (a chain that
// fell off the end), so the buckets stay bounded too. Best effort: a failure leaves garbage,
// never a referenced object gone, because only objects of an already-published metadata
// are removed and no restore reads them after that.
func (h *Host) removeObjects(a *agent, objs []checkpoint.ObjectMeta) {
	ctx, cancel := context.WithTimeout(h.bg, 10*time.Second)
	defer cancel()
	for _, om := range objs {
		for _, r := range om.Regions {
			if err := h.store.Remove(ctx, r, om.Object); err != nil {
				h.log.Debug("removing an unreferenced checkpoint object failed", "agent", a.name, "object", om.Object, "store_region", r, "err", err)
			}
		}
	}
}

// putMetaLocked writes m as a's checkpoint metadata if a's epoch is still current; a.metaMu
// is held.
func (h *Host) putMetaLocked(a *agent, m checkpoint.Meta, extra ...clientv3.Op) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode checkpoint metadata: %w", err)
	}
	ctx, cancel := context.WithTimeout(h.bg, h.cfg.OpTimeout)
	defer cancel()
	resp, err := h.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(api.EpochKey(a.name)), "=", epochString(a.epoch))).
		Then(append([]clientv3.Op{clientv3.OpPut(api.CheckpointKey(a.name), string(b))}, extra...)...).
		Commit()
	switch {
	case err != nil:
		return fmt.Errorf("publish checkpoint metadata of %s: %w", a.name, err)
	case !resp.Succeeded:
		return fmt.Errorf("%w: checkpoint metadata of %s not published at epoch %d", errFenced, a.name, a.epoch)
	}
	return nil
}

// restoreCheckpoint reads a's checkpoint metadata and restores the newest chain that
// verifies (this region first, then the agent's failover order). In sync-geo mode the
// chain must reach the metadata's seq: the log before it is gone, so a shorter prefix
// would silently lose committed writes.
func (h *Host) restoreCheckpoint(ctx context.Context, a *agent, reg api.Registration) (checkpoint.Restored, checkpoint.Meta, error) {
	resp, err := h.cli.Get(ctx, api.CheckpointKey(a.name))
	if err != nil {
		return checkpoint.Restored{}, checkpoint.Meta{}, fmt.Errorf("read checkpoint metadata: %w", err)
	}
	var meta checkpoint.Meta
	if len(resp.Kvs) > 0 {
		if meta, err = checkpoint.ParseMeta(resp.Kvs[0].Value); err != nil {
			return checkpoint.Restored{}, checkpoint.Meta{}, fmt.Errorf("%s: %w", resp.Kvs[0].Key, err)
		}
	}
	r, err := h.store.Restore(ctx, a.name, meta, h.fetchOrder(reg))
	if err != nil && h.async() && ctx.Err() == nil {
		// Async failover promotes whatever the surviving regions hold, as a DR failover
		// does; waiting for the dead region would trade the RTO for what async gave up.
		h.log.Error("RESTORE FOUND NO CHAIN: async durability starts the agent empty; its acknowledged writes are lost",
			"agent", a.name, "epoch", a.epoch, "newest_seq", meta.Seq, "err", err)
		return checkpoint.Restored{Data: map[string]string{}}, meta, nil
	}
	if err != nil {
		return checkpoint.Restored{}, checkpoint.Meta{}, err
	}
	if !h.async() && r.Seq < meta.Seq {
		return checkpoint.Restored{}, checkpoint.Meta{}, fmt.Errorf(
			"checkpoint chain restores only up to seq %d but the metadata's newest object is at seq %d and the log before it is truncated: %v",
			r.Seq, meta.Seq, r.Skipped)
	}
	if len(r.Skipped) > 0 {
		h.log.Warn("restore skipped checkpoint objects", "agent", a.name, "epoch", a.epoch,
			"restored_seq", r.Seq, "newest_seq", meta.Seq, "skipped", r.Skipped)
	}
	return r, meta, nil
}

// adoptRestoreLocked sets a's chain state after a restore: the restored prefix becomes the
// metadata's previous chain and the next checkpoint starts a new chain of a's epoch, so no
// delta of this incarnation ever extends a chain that may hold writes it never saw.
func (a *agent) adoptRestoreLocked(r checkpoint.Restored) {
	a.metaMu.Lock()
	a.meta = checkpoint.WithChain(r.Chain)
	a.metaMu.Unlock()
	a.base, a.baseSeq, a.chainDeltas, a.needFull = nil, r.Seq, 0, true
}
