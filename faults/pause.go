package faults

import (
	"context"
	"fmt"
	"syscall"
)

// Pause freezes one service with SIGSTOP and thaws it with SIGCONT: the grey failure. The
// process keeps its sockets open, so peers see silence rather than refused connections,
// and a paused owner wakes up believing it still owns its agents.
type Pause struct {
	// Region is a region name or "busiest"; "" with Service "router" is the router.
	Region string
	// Service is etcd, minio, host or router.
	Service string

	resolved string
}

var pauseKind = KindOf[ServiceParams]{
	Name: "pause",
	Draw: drawService,
	Check: func(s Spec, p *ServiceParams, c ParamCheck) {
		checkServiceParams(s, p, c)
	},
	Realise: func(cluster any) (Realisation, string) {
		if !canSignal(cluster) {
			return Unavailable, "the provider cannot signal one service"
		}
		return Exact, processHow(cluster, "SIGSTOP of the service's process group; SIGCONT on recovery")
	},
	New: func(s Spec, p *ServiceParams) (Fault, error) {
		if err := checkService(s, p.Service); err != nil {
			return nil, err
		}
		return &Pause{Region: s.Region, Service: p.Service}, nil
	},
}

// Inject resolves the target and stops the service.
func (f *Pause) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	f.resolved = r
	rec := Record{Target: target(r, f.Service), Detail: map[string]string{"service": f.Service, "region": r}}
	if err := env.Cluster.(ServiceControl).Signal(r, f.Service, syscall.SIGSTOP); err != nil {
		return rec, fmt.Errorf("pause %s: %w", rec.Target, err)
	}
	return rec, nil
}

// Verify checks that the service stopped answering.
func (f *Pause) Verify(ctx context.Context, env Env) error {
	return serviceDown(ctx, env, f.resolved, f.Service)
}

// Recover resumes the service.
func (f *Pause) Recover(ctx context.Context, env Env) error {
	if err := env.Cluster.(ServiceControl).Signal(f.resolved, f.Service, syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume %s: %w", target(f.resolved, f.Service), err)
	}
	return nil
}

// VerifyHealed checks that the service answers again.
func (f *Pause) VerifyHealed(ctx context.Context, env Env) error {
	return env.Cluster.(ServiceHealth).ServiceHealthy(ctx, f.resolved, f.Service)
}
