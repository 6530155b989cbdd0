package host

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/geodrill/geodrill/refstack/checkpoint"
)

// Unsafe mode (Config.Bugs ack-before-commit): writes are acknowledged from memory and this
// loop commits them later, still guarded by the epoch. Whatever is pending when the region
// dies is lost although it was acknowledged; that is the point of the mode.

// maxBatch keeps a commit transaction under etcd's default limit of 128 operations.
const maxBatch = 60

func (h *Host) flushLoop(ctx context.Context) {
	t := time.NewTicker(h.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.flushAll()
		}
	}
}

func (h *Host) flushAll() {
	for _, a := range h.ownedAgents() {
		h.flush(a)
	}
}

// flush commits a's pending entries. Batches of one agent are committed in order because
// only one goroutine flushes at a time.
func (h *Host) flush(a *agent) {
	if a.lock(context.Background()) != nil {
		return
	}
	if a.dropped.Load() || len(a.pending) == 0 {
		a.unlock()
		return
	}
	batch := a.pending
	a.pending = nil
	// If this batch reaches the checkpoint threshold, snapshot now: the state then is
	// exactly what the batch commits.
	var snap *checkpoint.Object
	if a.sinceCkpt+len(batch) >= h.cfg.CheckpointEvery && !a.ckptRunning {
		if o, ok := h.cutLocked(a); ok {
			snap = &o
		}
	} else {
		a.sinceCkpt += len(batch)
	}
	a.unlock()

	for chunk := range slices.Chunk(batch, maxBatch) {
		if err := h.commit(a.name, a.epoch, chunk); err != nil {
			if errors.Is(err, errFenced) {
				h.drop(a, "fenced on flush: "+err.Error())
			} else {
				h.release(a, "flush failed: "+err.Error())
			}
			h.log.Warn("unsafe mode lost acknowledged writes", "agent", a.name, "epoch", a.epoch,
				"first_seq", chunk[0].Seq, "last_seq", batch[len(batch)-1].Seq, "err", err)
			return
		}
	}
	if a.lock(context.Background()) != nil {
		return
	}
	a.committed = batch[len(batch)-1].Seq
	switch {
	case snap != nil && !a.dropped.Load() && !a.ckptRunning:
		h.startCheckpointLocked(a, *snap)
	case snap != nil:
		a.sinceCkpt += len(batch)
	}
	a.unlock()
}
