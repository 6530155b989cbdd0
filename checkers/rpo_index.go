package checkers

import (
	"math"
	"sort"
	"time"

	"github.com/geodrill/geodrill/workload/history"
)

// A key's loss evidence, indexed. lostBy says read r proves acknowledged write w lost when
// w completed before r was invoked, w was invoked after r's producer completed, and w's
// epoch is one r may judge. Testing every read against every write is quadratic per key
// (a 60k-op single-key history spent 74s there); grouping the writes by epoch (a handful:
// one per ownership change) turns both questions the checker asks into sorted searches.

// evidence is one ok read of a key and the write whose value it returned (nil: it read
// the key empty).
type evidence struct {
	read     history.Op
	producer *history.Op
}

// lo is the time after which a write must have been invoked for this read to prove it lost:
// its producer's completion, or before everything for an empty read.
func (e evidence) lo() time.Duration {
	if e.producer == nil {
		return math.MinInt64
	}
	return complete(*e.producer)
}

// epochOK is lostBy's epoch rule, for a key whose final reads were served by epoch
// settled at most (0: no epochs). A final read judges writes of every epoch: the healed
// system's state is what it kept. A read during the load judges writes of an older epoch
// than its own (a failover forward: it shows what the new owner restored), and, when the
// key settled on an older epoch than the write's, served by that epoch or older (ownership
// went back, as Patroni 3.0.2's leader takes its key back when it wakes: what the newer
// epoch acknowledged is gone once the older one serves for good). Otherwise an old value
// from an older epoch is a stale read, the split-brain checker's business.
func epochOK(r history.Op, writeEpoch, settled int64) bool {
	switch {
	case r.Final:
		return true
	case r.Epoch == 0 || writeEpoch == 0:
		return false
	case writeEpoch < r.Epoch:
		return true
	}
	return settled != 0 && settled < writeEpoch && r.Epoch <= settled
}

// settledEpoch is the newest epoch among a key's final reads (0 when none carries one).
func settledEpoch(finals []history.Op) int64 {
	var e int64
	for _, r := range finals {
		e = max(e, r.Epoch)
	}
	return e
}

// epochWrites are one epoch's acknowledged writes of a key, by completion.
type epochWrites struct {
	epoch  int64
	writes []history.Op
	// maxInvoke[i] is the latest invocation among writes[:i+1].
	maxInvoke []time.Duration
}

type lossIndex struct {
	byEpoch []epochWrites
	settled int64 // the key's settledEpoch
}

func newLossIndex(acked []history.Op, settled int64) lossIndex {
	groups := map[int64][]history.Op{}
	for _, w := range acked {
		groups[w.Epoch] = append(groups[w.Epoch], w)
	}
	idx := lossIndex{settled: settled}
	for e, ws := range groups {
		sort.SliceStable(ws, func(i, j int) bool { return complete(ws[i]) < complete(ws[j]) })
		mx := make([]time.Duration, len(ws))
		for i, w := range ws {
			mx[i] = w.Invoke
			if i > 0 {
				mx[i] = max(mx[i], mx[i-1])
			}
		}
		idx.byEpoch = append(idx.byEpoch, epochWrites{epoch: e, writes: ws, maxInvoke: mx})
	}
	sort.Slice(idx.byEpoch, func(i, j int) bool { return idx.byEpoch[i].epoch < idx.byEpoch[j].epoch })
	return idx
}

// proves reports whether e proves at least one acknowledged write lost.
func (idx lossIndex) proves(e evidence) bool {
	lo := e.lo()
	for _, g := range idx.byEpoch {
		if !epochOK(e.read, g.epoch, idx.settled) {
			continue
		}
		// The writes that completed before the read was invoked are a prefix.
		n := sort.Search(len(g.writes), func(i int) bool { return complete(g.writes[i]) >= e.read.Invoke })
		if n > 0 && g.maxInvoke[n-1] > lo {
			return true
		}
	}
	return false
}

// lost returns every acknowledged write some piece of evidence proves lost, and the
// earliest invocation among those an empty read proves (ok false when none).
func (idx lossIndex) lost(evs []evidence) (lost []history.Op, emptyFrom time.Duration, ok bool) {
	for _, g := range idx.byEpoch {
		// The evidence that may judge this epoch, by invocation, with the smallest lo from
		// each point on: a write is lost when some read invoked after it completed has a lo
		// before the write's invocation.
		var rs []evidence
		latestEmpty := time.Duration(math.MinInt64)
		for _, e := range evs {
			if epochOK(e.read, g.epoch, idx.settled) {
				rs = append(rs, e)
				if e.producer == nil {
					latestEmpty = max(latestEmpty, e.read.Invoke)
				}
			}
		}
		if len(rs) == 0 {
			continue
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].read.Invoke < rs[j].read.Invoke })
		minLo := make([]time.Duration, len(rs)) // minLo[i]: the smallest lo among rs[i:]
		for i := len(rs) - 1; i >= 0; i-- {
			minLo[i] = rs[i].lo()
			if i+1 < len(rs) {
				minLo[i] = min(minLo[i], minLo[i+1])
			}
		}
		for _, w := range g.writes {
			c := complete(w)
			i := sort.Search(len(rs), func(i int) bool { return rs[i].read.Invoke > c })
			if i == len(rs) || minLo[i] >= w.Invoke {
				continue
			}
			lost = append(lost, w)
			if c < latestEmpty && (!ok || w.Invoke < emptyFrom) {
				emptyFrom, ok = w.Invoke, true
			}
		}
	}
	return lost, emptyFrom, ok
}
