package api

import "time"

// The stack settings' defaults and limits, for every place that fills or checks them: the
// scenario, the provider's spec and the host itself.
const (
	// DefaultDurability: a write is acknowledged after a cross-region quorum commit.
	DefaultDurability = DurabilitySyncGeo
	// DefaultLeaseTTL of a host's ownership lease.
	DefaultLeaseTTL = 2 * time.Second
	// MinLeaseTTL is etcd's minimum lease TTL with its default election timeout: etcd
	// silently raises shorter TTLs, so a setting below it would not run what it says.
	MinLeaseTTL = 2 * time.Second
	// DefaultCheckpointEvery: log entries between sync-geo checkpoints.
	DefaultCheckpointEvery = 200
	// DefaultCheckpointInterval: how often async durability ships a checkpoint link.
	DefaultCheckpointInterval = time.Second
	// DefaultChainLength: deltas after a full checkpoint before the next full.
	DefaultChainLength = 8
	// DefaultEtcdHeartbeat and DefaultEtcdElection are etcd's own raft timing.
	DefaultEtcdHeartbeat = 100 * time.Millisecond
	DefaultEtcdElection  = 1000 * time.Millisecond
)
