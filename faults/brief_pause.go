package faults

import (
	"context"
	"time"
)

// BriefPause freezes one service (SIGSTOP) for a short, exact time and thaws it (SIGCONT): the
// garbage-collection pause or slow disk a healthy stack must ride out. Unlike pause it does
// not wait for the service's health check to time out before holding, so the stall can be
// shorter than a failure detector's budget; and its record says the stack is expected not
// to fail over (the tolerance checker judges that from the owners observed).
type BriefPause struct {
	Pause
}

// ExpectNoFailover is the inject detail (key "expect") of a fault the stack must ride out
// without moving any agent away from the target region.
const ExpectNoFailover = "no-failover"

// briefPauseVerifyTimeout: a stopped service has not answered its health check within this.
const briefPauseVerifyTimeout = 300 * time.Millisecond

var briefPauseKind = KindOf[ServiceParams]{
	Name: "brief-pause",
	Check: func(s Spec, p *ServiceParams, c ParamCheck) {
		checkServiceParams(s, p, c)
	},
	Realise: func(cluster any) (Realisation, string) {
		if !canSignal(cluster) {
			return Unavailable, "the provider cannot signal one service"
		}
		return Exact, processHow(cluster, "SIGSTOP of the service's process group for the hold, plus the up to 300ms it takes to see it stopped; SIGCONT on recovery")
	},
	New: func(s Spec, p *ServiceParams) (Fault, error) {
		f, err := pauseKind.New(s, p)
		if err != nil {
			return nil, err
		}
		return &BriefPause{Pause: *f.(*Pause)}, nil
	},
}

// Inject stops the service and marks the fault as one the stack must ride out.
func (f *BriefPause) Inject(ctx context.Context, env Env) (Record, error) {
	rec, err := f.Pause.Inject(ctx, env)
	if rec.Detail != nil {
		rec.Detail["expect"] = ExpectNoFailover
	}
	return rec, err
}

// Verify checks that the service stopped answering, within a short health-check timeout.
func (f *BriefPause) Verify(ctx context.Context, env Env) error {
	vctx, cancel := context.WithTimeout(ctx, briefPauseVerifyTimeout)
	defer cancel()
	return serviceDown(vctx, env, f.resolved, f.Service)
}
