package faults

import (
	"errors"
)

// ObjectStoreOutage takes a region's object store (MinIO) down and brings it back: the
// region keeps its etcd member and agent host, so owners there must checkpoint elsewhere
// or wait, and restores must fall back to another region's copy.
//
// Its lifecycle is a crash of one service (ProcessCrash with Service minio); the kind exists so
// schedules and reports name the failure the way an operator would.
type ObjectStoreOutage struct {
	ProcessCrash // Region: a region name or "busiest"
}

var objectStoreOutageKind = KindOf[NoParams]{
	Name: "object-store-outage",
	Draw: func(s *Spec, _ *NoParams, d Draws) {
		s.Region = d.Pick(d.Regions())
	},
	Check: func(s Spec, _ *NoParams, c ParamCheck) {
		c.Region("region", s.Region, true)
	},
	Realise: func(cluster any) (Realisation, string) {
		if !canSignal(cluster) {
			return Unavailable, "the provider cannot kill and restart one region's object store"
		}
		return Exact, processHow(cluster, "SIGKILL of the region's MinIO; restarted with the same data on recovery")
	},
	New: func(s Spec, _ *NoParams) (Fault, error) {
		if s.Region == "" {
			return nil, errors.New("object-store-outage needs a region (a name or \"busiest\")")
		}
		return &ObjectStoreOutage{ProcessCrash{Region: s.Region, Service: "minio"}}, nil
	},
}
