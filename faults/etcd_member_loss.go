package faults

import (
	"errors"
)

// EtcdMemberLoss kills one region's etcd member (the cluster keeps its quorum) and
// restarts it on recovery; it rejoins with its data.
//
// Its lifecycle is a crash of one service (ProcessCrash with Service etcd); the kind exists so
// schedules and reports name the failure the way an operator would.
type EtcdMemberLoss struct {
	ProcessCrash // Region: a region name or "busiest"
}

var etcdMemberLossKind = KindOf[NoParams]{
	Name: "etcd-member-loss",
	Draw: func(s *Spec, _ *NoParams, d Draws) {
		s.Region = d.Pick(d.Regions())
	},
	Check: func(s Spec, _ *NoParams, c ParamCheck) {
		c.Region("region", s.Region, true)
	},
	Realise: func(cluster any) (Realisation, string) {
		if !canSignal(cluster) {
			return Unavailable, "the provider cannot kill and restart one etcd member"
		}
		return Exact, processHow(cluster, "SIGKILL of the region's etcd member; it rejoins with its data on recovery")
	},
	New: func(s Spec, _ *NoParams) (Fault, error) {
		if s.Region == "" {
			return nil, errors.New("etcd-member-loss needs a region (a name or \"busiest\")")
		}
		return &EtcdMemberLoss{ProcessCrash{Region: s.Region, Service: "etcd"}}, nil
	},
}
