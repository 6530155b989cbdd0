package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/checkpoint"
)

// Async durability (Config.Durability == api.DurabilityAsync): a write is acknowledged once
// applied in memory. Every CheckpointInterval the checkpoint loop cuts the next link of each
// agent's chain, writes it to this region's object store and publishes it (epoch-guarded)
// with this region as its only holder. One shipper per other region then copies the
// objects there in order and adds that region to the object's holders — the S3
// cross-region-replication analogue. A region that dies takes with it the writes after the
// newest checkpoint that reached another region; GET /replication shows how far behind
// each region is.

// ownStoreRetry: after a failed write to this region's store, checkpoints go to another
// region first for this long before this region's store is tried first again.
const ownStoreRetry = 2 * time.Second

// maxShipQueue bounds a region's backlog; beyond it the oldest objects are not shipped
// (their chain is superseded by then) so a long-dead region cannot exhaust memory.
const maxShipQueue = 4096

func (h *Host) async() bool { return h.cfg.Durability == api.DurabilityAsync }

// checkpointLoop cuts and publishes a checkpoint of every served agent each interval.
func (h *Host) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(h.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.checkpointAll(ctx)
		}
	}
}

func (h *Host) checkpointAll(ctx context.Context) {
	for _, a := range h.ownedAgents() {
		if ctx.Err() != nil {
			return
		}
		h.checkpointAsync(ctx, a)
	}
}

// checkpointAsync writes a's next link to this region only and hands it to the shippers.
func (h *Host) checkpointAsync(ctx context.Context, a *agent) {
	if a.lock(ctx) != nil {
		return
	}
	if a.dropped.Load() || !a.ready {
		a.unlock()
		return
	}
	o, ok := h.cutLocked(a)
	cut := time.Now()
	a.unlock()
	if !ok {
		return
	}
	log := h.log.With("agent", a.name, "epoch", a.epoch, "seq", o.Seq, "kind", o.Kind)
	body, sum, err := checkpoint.Encode(o)
	if err != nil {
		log.Error("checkpoint encode failed", "err", err)
		return
	}
	key := checkpoint.ChainObjectKey(a.name, o.Kind, o.Seq, a.epoch)
	first, err := h.putFirst(ctx, key, body)
	if err != nil {
		log.Warn("checkpoint write failed in every region; retrying next interval", "err", err)
		return
	}
	om := objectMeta(o, key, sum, len(body), []string{first}, cut)
	err = h.publish(a, om, false)
	switch {
	case errors.Is(err, errFenced):
		h.drop(a, "fenced at checkpoint publish")
		return
	case err != nil:
		log.Warn("checkpoint publish failed; retrying next interval", "err", err)
		return
	}
	if a.lock(context.Background()) == nil {
		a.advanceBaseLocked(o)
		a.unlock()
	}
	log.Debug("checkpoint published", "object", key, "sha256", sum, "bytes", len(body))
	for r, s := range h.shippers {
		if r != first {
			s.push(shipItem{a: a, om: om, body: body})
		}
	}
}

// putFirst writes a new object to this region's store, or, while that store is down, to
// the first other region that takes it (the shippers copy it on from there), so an
// object-store outage does not stop the checkpoints. It returns the region written.
func (h *Host) putFirst(ctx context.Context, key string, body []byte) (string, error) {
	order := []string{h.cfg.Region}
	if !h.cfg.Bugs.On(bugs.NoReplication) { // the switch keeps every object in this region
		for _, r := range h.store.Regions() {
			if r != h.cfg.Region {
				order = append(order, r)
			}
		}
		if h.store.FailedWithin(h.cfg.Region, ownStoreRetry) {
			// Recently down: try it last instead of waiting out its timeout every time.
			order = append(order[1:], h.cfg.Region)
		}
	}
	var errs []error
	for _, r := range order {
		err := h.store.Put(ctx, r, key, body)
		if err == nil {
			return r, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

type shipItem struct {
	a    *agent
	om   checkpoint.ObjectMeta
	body []byte
}

// shipper copies checkpoint objects to one region, in order.
type shipper struct {
	region string
	wake   chan struct{}

	mu          sync.Mutex
	queue       []shipItem
	shipped     int64
	failed      int64
	lastShipped time.Time
}

func newShipper(region string) *shipper {
	return &shipper{region: region, wake: make(chan struct{}, 1)}
}

func (s *shipper) push(it shipItem) {
	s.mu.Lock()
	if len(s.queue) >= maxShipQueue {
		s.queue = s.queue[1:]
	}
	s.queue = append(s.queue, it)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *shipper) head() (shipItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return shipItem{}, false
	}
	return s.queue[0], true
}

// pop removes it if it is still the head (push may have dropped it meanwhile).
func (s *shipper) pop(it shipItem, shipped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 && s.queue[0].om.Object == it.om.Object && s.queue[0].a == it.a {
		s.queue = s.queue[1:]
	}
	if shipped {
		s.shipped++
		s.lastShipped = time.Now()
	}
}

func (s *shipper) lag(now time.Time) api.RegionLag {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := api.RegionLag{PendingObjects: len(s.queue), ShippedObjects: s.shipped, FailedAttempts: s.failed}
	if len(s.queue) > 0 {
		l.LagSeconds = max(0, now.Sub(time.Unix(0, s.queue[0].om.UnixNs)).Seconds())
	}
	if !s.lastShipped.IsZero() {
		l.LastShippedUnixNs = s.lastShipped.UnixNano()
	}
	return l
}

// shipLoop copies the queue head to s.region and records the new holder in the metadata;
// a failure (region down) retries the same object after a pause, so order is kept.
func (h *Host) shipLoop(ctx context.Context, s *shipper) {
	warned := false
	for ctx.Err() == nil {
		it, ok := s.head()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		if it.a.dropped.Load() || !it.a.references(it.om.Object) {
			// A newer owner restores and ships its own chain; a chain that fell off the
			// metadata is garbage.
			s.pop(it, false)
			continue
		}
		err := h.store.Put(ctx, s.region, it.om.Object, it.body)
		if err != nil && h.cfg.Bugs.On(bugs.HeldWithoutCopy) {
			// BUG (held-without-copy): "the metadata must not lag": log the failed copy and
			// record the region as a holder anyway.
			h.log.Warn("checkpoint copy failed; recording the region as holder anyway", "store_region", s.region,
				"object", it.om.Object, "err", err)
			err = nil
		}
		if err == nil {
			err = h.markHeld(it.a, it.om.Object, s.region)
		}
		switch {
		case errors.Is(err, errFenced):
			h.drop(it.a, "fenced while recording a replicated checkpoint")
			s.pop(it, false)
		case err != nil:
			s.mu.Lock()
			s.failed++
			s.mu.Unlock()
			if !warned {
				h.log.Warn("replication to region failing; retrying", "store_region", s.region, "object", it.om.Object, "err", err)
				warned = true
			}
			sleep(ctx, 500*time.Millisecond)
		default:
			if warned {
				h.log.Info("replication to region resumed", "store_region", s.region)
				warned = false
			}
			s.pop(it, true)
		}
	}
}

// references reports whether a's metadata still lists object.
func (a *agent) references(object string) bool {
	a.metaMu.Lock()
	defer a.metaMu.Unlock()
	for _, om := range a.meta.Objects() {
		if om.Object == object {
			return true
		}
	}
	return false
}

// markHeld adds region to the holders of object in a's checkpoint metadata.
func (h *Host) markHeld(a *agent, object, region string) error {
	a.metaMu.Lock()
	defer a.metaMu.Unlock()
	next, changed := a.meta.Held(object, region)
	if !changed {
		return nil // the object's chain was superseded meanwhile
	}
	if err := h.putMetaLocked(a, next); err != nil {
		return err
	}
	a.meta = next
	return nil
}

// drainShippers waits until every shipper is empty or ctx ends (clean shutdown: hand the
// last checkpoints to the other regions before the lease goes).
func (h *Host) drainShippers(ctx context.Context) {
	for _, s := range h.shippers {
		for {
			if _, busy := s.head(); !busy || !sleep(ctx, 50*time.Millisecond) {
				break
			}
		}
	}
}

// Replication reports each other region's replication backlog.
func (h *Host) Replication() api.ReplicationStatus {
	st := api.ReplicationStatus{Region: h.cfg.Region, Durability: h.cfg.Durability, Regions: map[string]api.RegionLag{}}
	switch {
	case !h.async():
		st.Replication = api.ReplicationSync
	case h.cfg.Bugs.On(bugs.NoReplication):
		st.Replication = api.ReplicationDisabled
	default:
		st.Replication = api.ReplicationAsync
	}
	now := time.Now()
	for r, s := range h.shippers {
		st.Regions[r] = s.lag(now)
	}
	return st
}

func (h *Host) handleReplication(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(api.HeaderRegion, h.cfg.Region)
	_ = json.NewEncoder(w).Encode(h.Replication())
}

// newShippers makes one shipper per other region when async replication is on.
func newShippers(cfg Config, regions []string) map[string]*shipper {
	out := map[string]*shipper{}
	if cfg.Durability != api.DurabilityAsync || cfg.Bugs.On(bugs.NoReplication) {
		return out
	}
	for _, r := range regions {
		if r != cfg.Region {
			out[r] = newShipper(r)
		}
	}
	return out
}
