package api

// Durability modes of the reference stack.
const (
	// DurabilitySyncGeo acknowledges a write after its op-log entry is committed in etcd
	// (a cross-region quorum): RPO 0.
	DurabilitySyncGeo = "sync-geo"
	// DurabilityAsync acknowledges after the in-memory apply, checkpoints every interval to
	// the owner region's object store and ships the objects to the other regions in the
	// background: writes after the newest shipped checkpoint die with the region (RPO > 0).
	DurabilityAsync = "async"
)

// Replication modes in ReplicationStatus.
const (
	ReplicationSync     = "sync"     // sync-geo: objects are copied before they are published
	ReplicationAsync    = "async"    // a shipper copies published objects in the background
	ReplicationDisabled = "disabled" // unsafe switch: objects stay in the owner's region
)

// ReplicationStatus is an agent host's GET /replication: how far each other region's
// object store is behind this host's checkpoints.
type ReplicationStatus struct {
	Region      string               `json:"region"`
	Durability  string               `json:"durability"`
	Replication string               `json:"replication"`
	Regions     map[string]RegionLag `json:"regions"` // target region -> lag; absent when not shipping
}

// RegionLag is one target region's replication backlog.
type RegionLag struct {
	// LagSeconds is the age of the oldest checkpoint object not yet copied there (0 when
	// nothing is pending): the writes of that long would be lost if this region died now.
	LagSeconds     float64 `json:"lag_s"`
	PendingObjects int     `json:"pending_objects"`
	ShippedObjects int64   `json:"shipped_objects"`
	FailedAttempts int64   `json:"failed_attempts"`
	// LastShippedUnixNs is when an object last arrived there (0: never).
	LastShippedUnixNs int64 `json:"last_shipped_unix_ns,omitempty"`
}
