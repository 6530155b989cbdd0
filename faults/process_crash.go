package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"

	"github.com/geodrill/geodrill/refstack/api"
)

// ProcessCrash SIGKILLs one service of a region and restarts it on recovery, with the same
// ports and data: a crash followed by a supervisor restart.
type ProcessCrash struct {
	// Region is a region name or "busiest"; "" with Service "router" is the router.
	Region string
	// Service is etcd, minio, host or router.
	Service string

	resolved string
}

var processCrashKind = KindOf[ServiceParams]{
	Name: "process-crash",
	Draw: drawService,
	Check: func(s Spec, p *ServiceParams, c ParamCheck) {
		checkServiceParams(s, p, c)
	},
	Realise: func(cluster any) (Realisation, string) {
		if !canSignal(cluster) {
			return Unavailable, "the provider cannot signal one service and restart it"
		}
		return Exact, processHow(cluster, "SIGKILL of the service's process group; restarted with the same ports and data")
	},
	New: func(s Spec, p *ServiceParams) (Fault, error) {
		if err := checkService(s, p.Service); err != nil {
			return nil, err
		}
		return &ProcessCrash{Region: s.Region, Service: p.Service}, nil
	},
}

func canSignal(cluster any) bool {
	_, sc := cluster.(ServiceControl)
	_, sh := cluster.(ServiceHealth)
	return sc && sh
}

// ServiceParams are the parameters of the kinds that act on one service (process-crash,
// pause, brief-pause).
type ServiceParams struct {
	// Service is etcd, minio, host or router.
	Service string `yaml:"service" fault:"target"`
}

// drawService draws a service and, for a regional one, its region (process-crash, pause).
func drawService(s *Spec, p *ServiceParams, d Draws) {
	p.Service = d.Pick(api.Services())
	if p.Service != api.ServiceRouter {
		s.Region = d.Pick(d.Regions())
	}
}

// checkServiceParams checks a scenario's service and, for a regional one, its region
// (process-crash, pause, brief-pause).
func checkServiceParams(s Spec, p *ServiceParams, c ParamCheck) {
	if !c.OneOf("service", "service", p.Service, services(s)) {
		return
	}
	if s.Services == nil && p.Service == api.ServiceRouter {
		if s.Region != "" {
			c.Problem("region", "leave region out: the router is global", "the router has no region")
		}
		return
	}
	c.Region("region", s.Region, true)
}

// services are what a fault of s may name: the described system's services, else the
// reference stack's.
func services(s Spec) []string {
	if s.Services != nil {
		return s.Services
	}
	return api.Services()
}

// checkService accepts the services a scenario may target.
func checkService(s Spec, service string) error {
	region := s.Region
	if s.Services != nil {
		if !slices.Contains(s.Services, service) {
			return fmt.Errorf("unknown service %q (the system's services: %s)", service, strings.Join(s.Services, ", "))
		}
		if region == "" {
			return fmt.Errorf("service %s needs a region (a name or \"busiest\")", service)
		}
		return nil
	}
	switch service {
	case api.ServiceEtcd, api.ServiceMinIO, api.ServiceHost:
		if region == "" {
			return fmt.Errorf("service %s needs a region (a name or \"busiest\")", service)
		}
	case api.ServiceRouter:
		if region != "" {
			return errors.New("the router is global: leave region out")
		}
	default:
		return fmt.Errorf("unknown service %q (use etcd, minio, host or router)", service)
	}
	return nil
}

// Inject resolves the target and kills the service.
func (f *ProcessCrash) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	f.resolved = r
	rec := Record{Target: target(r, f.Service), Detail: map[string]string{"service": f.Service, "region": r}}
	if err := env.Cluster.(ServiceControl).Signal(r, f.Service, syscall.SIGKILL); err != nil {
		return rec, fmt.Errorf("kill %s: %w", rec.Target, err)
	}
	return rec, nil
}

// Verify checks that the service no longer answers its health check.
func (f *ProcessCrash) Verify(ctx context.Context, env Env) error {
	return serviceDown(ctx, env, f.resolved, f.Service)
}

// Recover restarts whatever of the region is not running.
func (f *ProcessCrash) Recover(ctx context.Context, env Env) error {
	return env.Cluster.(ServiceControl).RestoreRegion(ctx, f.resolved)
}

// VerifyHealed checks that the service answers again.
func (f *ProcessCrash) VerifyHealed(ctx context.Context, env Env) error {
	return env.Cluster.(ServiceHealth).ServiceHealthy(ctx, f.resolved, f.Service)
}

func target(region, service string) string {
	if region == "" {
		return service
	}
	return service + " " + region
}

func serviceDown(ctx context.Context, env Env, region, service string) error {
	if err := env.Cluster.(ServiceHealth).ServiceHealthy(ctx, region, service); err == nil {
		return fmt.Errorf("%s still answers its health check", target(region, service))
	}
	return nil
}
