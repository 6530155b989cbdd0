package host

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/checkpoint"
)

// agent is one incarnation of an agent on this host: created by a successful takeover at
// epoch, discarded when dropped. A retake creates a new agent value, so nothing of a dropped
// incarnation can leak into the next one.
type agent struct {
	name     string
	epoch    int64  // the fencing token this incarnation writes with
	takeRev  int64  // etcd revision of the takeover transaction
	leaseGen uint64 // host lease generation the owner key is attached to

	// sem is the per-agent mutex, a channel so waiting can be abandoned with the request.
	sem     chan struct{}
	dropped atomic.Bool // set once; the incarnation never serves again
	serving atomic.Bool // restored; read without the mutex by Status

	// Guarded by sem.
	ready        bool              // state restored; may serve
	restoredSeq  int64             // seq the restore ended at (for logs and tests)
	restoredFrom string            // region whose checkpoint copy the restore used, "" if none
	data         map[string]string // key -> value, the applied state
	seq          int64             // last applied log seq
	committed    int64             // last seq known committed in etcd (== seq unless unsafe mode)
	pending      []api.LogEntry    // unsafe mode: applied and acknowledged, not yet committed
	sinceCkpt    int               // committed entries since the last checkpoint snapshot
	ckptRunning  bool

	// Checkpoint chain state, guarded by sem: base is the state at baseSeq, the newest
	// published checkpoint object; the next delta holds what changed since. needFull starts
	// a new chain (first checkpoint of an incarnation, or the chain is chainDeltas long).
	base        map[string]string
	baseSeq     int64
	chainDeltas int
	needFull    bool

	// metaMu serialises this incarnation's writes of the checkpoint metadata (the
	// checkpointer appends objects, the shipper adds the regions that hold them); meta is
	// what it last published, or what the restore read.
	metaMu sync.Mutex
	meta   checkpoint.Meta
}

func newAgent(name string, epoch, takeRev int64, gen uint64) *agent {
	return &agent{
		name: name, epoch: epoch, takeRev: takeRev, leaseGen: gen,
		sem:      make(chan struct{}, 1),
		data:     map[string]string{},
		needFull: true,
	}
}

// lock waits for the agent mutex or for ctx.
func (a *agent) lock(ctx context.Context) error {
	select {
	case a.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *agent) unlock() { <-a.sem }

// apply changes memory after the entry is committed (or, in unsafe mode, accepted).
func (a *agent) apply(e api.LogEntry) {
	a.data[e.Key] = e.Value
	a.seq = e.Seq
}
