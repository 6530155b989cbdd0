package faults

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// CrashLoop kills one service of a region again and again while it is held: down for Down,
// restarted with its ports and data, up for Up, killed again. It is a process in a crash
// loop under its supervisor (an OOM kill on every start, a bad config pushed to one
// region): every restart is a recovery the stack must handle, and every crash may come in
// the middle of one. Recovery ends the loop and leaves the service running.
type CrashLoop struct {
	// Region is a region name or a selector; "" with Service "router" is the router.
	Region  string
	Service string
	Down    time.Duration
	Up      time.Duration

	resolved string
	stop     context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	crashes  int
	err      error // the first failed kill or restart of the loop
}

// CrashLoopParams are a crash-loop's parameters.
type CrashLoopParams struct {
	// Service is etcd, minio, host or router.
	Service string `yaml:"service" fault:"target"`
	// Down is how long each crash keeps the service down before its restart (default 1s).
	Down time.Duration `yaml:"down"`
	// Up is how long the service runs after each restart before the next crash (default 2s).
	Up time.Duration `yaml:"up"`
}

// Crash-loop defaults and the shortest phase: a restart must have time to be noticed.
const (
	DefaultCrashDown = time.Second
	DefaultCrashUp   = 2 * time.Second
	MinCrashPhase    = 200 * time.Millisecond
)

var crashLoopKind = KindOf[CrashLoopParams]{
	Name: "crash-loop",
	Check: func(s Spec, p *CrashLoopParams, c ParamCheck) {
		checkServiceParams(s, &ServiceParams{Service: p.Service}, c)
		for _, f := range []struct {
			name string
			d    time.Duration
		}{{"down", p.Down}, {"up", p.Up}} {
			if f.d != 0 && f.d < MinCrashPhase {
				c.Problem(f.name, fmt.Sprintf("use at least %s, or leave it out", MinCrashPhase),
					fmt.Sprintf("crash-loop %s %s is shorter than %s", f.name, f.d, MinCrashPhase))
			}
		}
	},
	Realise: func(cluster any) (Realisation, string) {
		if !canSignal(cluster) {
			return Unavailable, "the provider cannot signal one service and restart it"
		}
		return Exact, processHow(cluster, "SIGKILL of the service's process group, restarted with the same ports and data after down, killed again after up, until recovery")
	},
	New: func(s Spec, p *CrashLoopParams) (Fault, error) {
		if err := checkService(s, p.Service); err != nil {
			return nil, err
		}
		f := &CrashLoop{Region: s.Region, Service: p.Service, Down: p.Down, Up: p.Up}
		if f.Down == 0 {
			f.Down = DefaultCrashDown
		}
		if f.Up == 0 {
			f.Up = DefaultCrashUp
		}
		if f.Down < MinCrashPhase || f.Up < MinCrashPhase {
			return nil, fmt.Errorf("crash-loop down %s and up %s: each must be at least %s", f.Down, f.Up, MinCrashPhase)
		}
		return f, nil
	},
}

// Inject resolves the target, kills the service and starts the loop.
func (f *CrashLoop) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	f.resolved = r
	rec := Record{Target: target(r, f.Service), Detail: map[string]string{
		"service": f.Service, "region": r, "down": f.Down.String(), "up": f.Up.String()}}
	if err := f.kill(env); err != nil {
		return rec, err
	}
	loop, stop := context.WithCancel(context.WithoutCancel(ctx))
	f.stop = stop
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.loop(loop, env)
	}()
	return rec, nil
}

// loop restarts the service after Down and kills it again after Up, until stopped.
func (f *CrashLoop) loop(ctx context.Context, env Env) {
	for {
		if !sleepFor(ctx, f.Down) {
			return
		}
		if err := env.Cluster.(ServiceControl).RestoreRegion(ctx, f.resolved); err != nil {
			if ctx.Err() == nil {
				f.fail(fmt.Errorf("restart %s: %w", target(f.resolved, f.Service), err))
			}
			return
		}
		if !sleepFor(ctx, f.Up) {
			return
		}
		if err := f.kill(env); err != nil {
			f.fail(err)
			return
		}
	}
}

func (f *CrashLoop) kill(env Env) error {
	if err := env.Cluster.(ServiceControl).Signal(f.resolved, f.Service, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", target(f.resolved, f.Service), err)
	}
	f.mu.Lock()
	f.crashes++
	f.mu.Unlock()
	return nil
}

func (f *CrashLoop) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

// Verify checks that the first crash took the service down.
func (f *CrashLoop) Verify(ctx context.Context, env Env) error {
	return serviceDown(ctx, env, f.resolved, f.Service)
}

// Recover ends the loop and restarts whatever of the region is not running. A kill or
// restart that failed inside the loop is reported here: the fault did not do what it said.
func (f *CrashLoop) Recover(ctx context.Context, env Env) error {
	if f.stop != nil {
		f.stop()
		f.wg.Wait()
	}
	if err := env.Cluster.(ServiceControl).RestoreRegion(ctx, f.resolved); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return fmt.Errorf("the crash loop broke after %d crashes: %w", f.crashes, f.err)
	}
	return nil
}

// VerifyHealed checks that the service answers again.
func (f *CrashLoop) VerifyHealed(ctx context.Context, env Env) error {
	return env.Cluster.(ServiceHealth).ServiceHealthy(ctx, f.resolved, f.Service)
}

// Crashes is how many times the loop has killed the service so far.
func (f *CrashLoop) Crashes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashes
}
