package host

import (
	"context"
	"encoding/json"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/checkpoint"
)

// minCheckpointRegions: a checkpoint is only published (and the log behind it deleted) once
// this many regions hold the object, so losing one region never loses the checkpoint.
const minCheckpointRegions = 2

// maybeCheckpointLocked starts a checkpoint of the committed state when enough entries
// have accumulated and none is running. The state is copied under the mutex; the upload
// and publish run outside it.
func (h *Host) maybeCheckpointLocked(a *agent) {
	if a.sinceCkpt < h.cfg.CheckpointEvery || a.ckptRunning || a.seq != a.committed {
		return
	}
	h.startCheckpointLocked(a, a.snapshotLocked())
}

func (h *Host) startCheckpointLocked(a *agent, snap checkpoint.Snapshot) {
	a.ckptRunning = true
	a.sinceCkpt = 0
	h.wg.Go(func() { h.checkpoint(a, snap) })
}

// checkpoint writes snap to this region's store, copies it to the others, and publishes
// its metadata in a transaction guarded by the epoch that also deletes the log entries the
// snapshot covers.
func (h *Host) checkpoint(a *agent, snap checkpoint.Snapshot) {
	defer func() {
		if a.lock(context.Background()) == nil {
			a.ckptRunning = false
			a.unlock()
		}
	}()
	log := h.log.With("agent", a.name, "epoch", a.epoch, "seq", snap.Seq)
	body, sum, err := checkpoint.Encode(snap)
	if err != nil {
		log.Error("checkpoint encode failed", "err", err)
		return
	}
	key := checkpoint.ObjectKey(a.name, snap.Seq, a.epoch)
	held, errs := h.store.Replicate(h.bg, h.cfg.Region, key, body)
	for r, err := range errs {
		log.Warn("checkpoint copy failed", "store_region", r, "err", err)
	}
	if len(held) < minCheckpointRegions {
		log.Warn("checkpoint not published: too few regions hold it; keeping the log", "object", key, "regions", held)
		return
	}
	meta, _ := json.Marshal(api.CheckpointMeta{
		Seq: snap.Seq, Epoch: a.epoch, Object: key, SHA256: sum,
		Schema: checkpoint.Schema, Size: int64(len(body)), Regions: held,
	})
	ctx, cancel := context.WithTimeout(h.bg, h.cfg.OpTimeout)
	defer cancel()
	resp, err := h.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(api.EpochKey(a.name)), "=", epochString(a.epoch))).
		Then(
			clientv3.OpPut(api.CheckpointKey(a.name), string(meta)),
			clientv3.OpDelete(api.LogKey(a.name, 0), clientv3.WithRange(api.LogKey(a.name, snap.Seq+1))),
		).Commit()
	switch {
	case err != nil:
		log.Warn("checkpoint publish failed; the log is kept", "err", err)
	case !resp.Succeeded:
		h.drop(a, "fenced at checkpoint publish")
	default:
		log.Info("checkpoint published", "object", key, "sha256", sum, "bytes", len(body), "regions", held)
	}
}
