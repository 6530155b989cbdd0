// Package drill runs one scenario end to end: cluster up, load and faults on one timeline,
// heal, final reads, cluster down, checks, report. Data flows one way; the cluster is torn
// down on every exit path (success, failure, panic, Ctrl-C).
package drill

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/providers"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/reports"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/system"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload"
	"github.com/geodrill/geodrill/workload/history"
)

// Options for one drill.
type Options struct {
	Scenario *scenarios.Scenario
	// Seed overrides the scenario's seed when non-nil.
	Seed *int64
	// OutBase is where run directories are created (default "runs").
	OutBase string
	// BinDir holds refstack and minio; "" lets the cluster find it (clusters.FindBinDir).
	BinDir string
	// Progress receives the live progress line and phase messages; nil is quiet.
	Progress io.Writer
	// KeepData keeps the services' data (rundir.DataDir, about 190 MB a run) after a drill
	// that passed; a drill that did not pass always keeps it, for the post-mortem.
	KeepData bool
}

// HarnessError is a failure of the harness or the cluster, not of the system under test.
type HarnessError struct{ Err error }

func (e *HarnessError) Error() string { return "harness: " + e.Err.Error() }
func (e *HarnessError) Unwrap() error { return e.Err }

// Run executes the drill. The returned run is written to disk whenever its directory could
// be created, also on failure. A non-nil error is a *HarnessError (or ctx's error).
func Run(ctx context.Context, opts Options) (run *reports.Run, err error) {
	sc := *opts.Scenario
	if opts.Seed != nil {
		sc.Seed = *opts.Seed
	}
	if sc.Seed == 0 {
		sc.Seed = time.Now().UnixNano() & 0x7fffffff // recorded in the report, so reproducible
	}
	base := opts.OutBase
	if base == "" {
		base = "runs"
	}
	started := time.Now()
	dir, err := reports.NewDir(base, sc.Name, sc.Seed, started)
	if err != nil {
		return nil, &HarnessError{fmt.Errorf("create run directory: %w", err)}
	}
	clock := timeline.NewClock()
	tl := timeline.New(clock)
	run = &reports.Run{Dir: dir, Scenario: &sc, Seed: sc.Seed, Started: started, Provider: provider(sc)}
	p := newProgress(opts.Progress, clock)
	defer p.stop()

	d := &drill{sc: &sc, opts: opts, clock: clock, tl: tl, dir: dir, progress: p, run: run}
	// The history and timeline go to journals as they grow, so a harness killed outright
	// leaves them behind; a written report replaces them.
	hj, herr := rundir.OpenJournal(dir, rundir.HistoryJournal)
	tj, terr := rundir.OpenJournal(dir, rundir.TimelineJournal)
	if jerr := errors.Join(herr, terr); jerr != nil {
		p.notef("no journals, the record stays in memory until the end: %v", jerr)
	}
	d.journal = hj
	tl.Stream(func(e timeline.Event) { tj.Add(e) })
	defer func() {
		run.Duration = clock.Now()
		run.Timeline = tl.Events()
		if err != nil {
			run.HarnessError = err.Error()
			run.Status = checkers.Worst(run.Status, checkers.Unknown)
		}
		tl.Stream(nil)
		if werr := reports.Write(run); werr != nil {
			err = errors.Join(err, &HarnessError{fmt.Errorf("write report: %w", werr)})
			_, _ = hj.Close(), tj.Close()
		} else if jerr := errors.Join(hj.Remove(), tj.Remove()); jerr != nil {
			p.notef("remove the journals: %v", jerr)
		}
		if err == nil && run.Status == checkers.Pass && !opts.KeepData {
			if rerr := os.RemoveAll(filepath.Join(dir, rundir.DataDir)); rerr != nil {
				p.notef("keep the service data: %v", rerr)
			}
		}
	}()
	err = d.execute(ctx)
	if ctx.Err() != nil {
		// Interrupted at any phase, the checks included: their verdicts are not to be
		// trusted, and the run says why.
		return run, &HarnessError{fmt.Errorf("interrupted: faults recovered, cluster stopped, partial report kept: %w", context.Cause(ctx))}
	}
	if err != nil {
		var he *HarnessError
		if errors.As(err, &he) {
			return run, err
		}
		return run, &HarnessError{err}
	}
	return run, nil
}

type drill struct {
	sc       *scenarios.Scenario
	opts     Options
	clock    *timeline.Clock
	tl       *timeline.Timeline
	dir      string
	progress *progress
	run      *reports.Run
	journal  *rundir.Journal // the history as it grows; nil without one
}

// record journals ops as they are settled.
func (d *drill) record(ops ...history.Op) {
	for _, op := range ops {
		d.journal.Add(op)
	}
}

func (d *drill) phase(name string) {
	d.tl.Record(timeline.Event{Kind: timeline.Phase, Name: name})
	d.progress.setPhase(name)
}

// state is what a drill carries from phase to phase.
type state struct {
	cl   clusters.Cluster
	plan []faults.Planned
	eps  clusters.Endpoints
	wcfg workload.Config
	env  faults.Env
	hist history.History
	// loadErr is the load or the fault runner failing; the drill goes on to heal, read
	// and check, and returns it at the end.
	loadErr error
	downed  bool
}

// phases is a drill: each phase in order, recorded on the timeline as it starts. A phase's
// error ends the drill (the cluster still goes down).
var phases = []struct {
	name string
	run  func(d *drill, ctx context.Context, s *state) error
}{
	{timeline.PhaseUp, (*drill).up},
	{timeline.PhaseLoad, (*drill).load},
	{timeline.PhaseHeal, (*drill).heal},
	{timeline.PhaseFinalReads, (*drill).finalReads},
	{timeline.PhaseFinalWrites, (*drill).finalWrites},
	{timeline.PhaseObserve, (*drill).observe},
	{timeline.PhaseDown, (*drill).down},
	{timeline.PhaseCheck, (*drill).check},
}

func (d *drill) execute(ctx context.Context) (err error) {
	s, err := d.prepare()
	if err != nil {
		return err
	}
	// Down runs on every exit path, with a context that survives Ctrl-C.
	defer func() {
		if !s.downed {
			err = errors.Join(err, d.down(ctx, s))
		}
	}()
	for _, p := range phases {
		d.phase(p.name)
		err := p.run(d, ctx, s)
		d.run.History = s.hist
		if err != nil {
			return errors.Join(s.loadErr, err)
		}
	}
	return s.loadErr
}

// prepare builds the cluster and plans the faults before anything starts: a fault the
// provider cannot realise fails the run now.
func (d *drill) prepare() (*state, error) {
	sc := d.sc
	if err := checkMachine(sc, readMachine()); err != nil {
		return nil, err
	}
	cl, err := providers.New(provider(*sc), clusterSpec(sc, d.opts.BinDir, d.dir, d.progress.note))
	if err != nil {
		return nil, err
	}
	specs, err := FaultSpecs(sc)
	if err != nil {
		return nil, err
	}
	plan, err := faults.Plan(specs, cl, provider(*sc))
	if err != nil {
		return nil, err
	}
	for _, p := range plan {
		d.run.Notes = append(d.run.Notes, planNote(p))
	}
	return &state{cl: cl, plan: plan}, nil
}

// clusterSpec is the stack the scenario asks for, as the provider takes it.
func clusterSpec(sc *scenarios.Scenario, binDir, runDir string, progress func(string)) clusters.Spec {
	return clusters.Spec{
		Regions:   sc.Topology.Regions,
		Agents:    sc.Topology.Agents,
		Placement: sc.Topology.Placement,
		Stack:     sc.Stack,
		System:    sc.System,
		BinDir:    binDir,
		RunDir:    runDir,
		Progress:  progress,
	}
}

// planNote says when a planned fault fires, for how long, and how it is realised.
func planNote(p faults.Planned) string {
	when := "at " + p.At.String()
	if t := p.Trigger; t != nil {
		of := ""
		if t.Of != "" {
			of = " of " + t.Of
		}
		when = fmt.Sprintf("on the first %s%s after %s, %s later (drawn from %s..%s)", t.On, of, p.At, t.After, t.MinAfter, t.MaxAfter)
	}
	return fmt.Sprintf("%s %s for %s: %s (%s)", p.ID, when, p.Hold, p.How, p.Why)
}

// up brings the cluster up and derives the load and the faults' view of it.
func (d *drill) up(ctx context.Context, s *state) error {
	if err := s.cl.Up(ctx); err != nil {
		return fmt.Errorf("cluster up: %w", err)
	}
	s.eps = s.cl.Endpoints()
	tlsCfg, err := s.eps.ClientTLS()
	if err != nil {
		return err
	}
	s.wcfg = WorkloadConfig(d.sc, s.eps.Router)
	s.wcfg.Routers = s.eps.Routers
	s.wcfg.TLS = tlsCfg
	s.wcfg.Record = func(op history.Op) { d.record(op) }
	s.env = faults.Env{Cluster: s.cl, Probe: probeFor(s.eps, tlsCfg), Owners: ownersOf(s.cl, s.eps, tlsCfg),
		Etcd: map[string]string{}, HotAgent: s.wcfg.HottestAgent(), TLS: tlsCfg}
	for r, re := range s.eps.Regions {
		if re.Etcd != "" {
			s.env.Etcd[r] = re.Etcd
		}
	}
	return nil
}

// load drives the workload and the fault schedule on one clock, observing owners and
// leaders meanwhile. The scenario's fault times are relative to the start of load, so the
// plan is shifted by it. A failing load or runner is kept in s.loadErr; only an
// interruption ends the drill here.
func (d *drill) load(ctx context.Context, s *state) error {
	loadStart := d.clock.Now()
	runner := &faults.Runner{Env: s.env, Clock: d.clock, Timeline: d.tl, Log: d.progress.notef,
		Until: loadStart + d.sc.Workload.Duration.D()}
	loadCtx, stopObserve := context.WithCancel(ctx)
	defer stopObserve()
	// The stack's own events (takeovers, lost owners, restores, regions declared dead) go
	// on the timeline for the RTO phases; triggered faults wait on them too.
	events, closeWatch, err := watchStack(loadCtx, s.eps.Etcd, s.env.TLS, d.clock, d.tl)
	if err != nil {
		return err
	}
	defer closeWatch()
	runner.Events = events
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stopObserve()
		h, err := workload.Run(gctx, s.wcfg, d.clock, &d.progress.stats)
		s.hist = h
		if err != nil {
			return fmt.Errorf("workload: %w", err)
		}
		return nil
	})
	g.Go(func() error { return runner.Run(gctx, shiftPlan(s.plan, loadStart)) })
	g.Go(func() error { observeOwners(loadCtx, s.env.Owners, d.tl); return nil })
	g.Go(func() error { observeLeaders(loadCtx, s.env, d.tl); return nil })
	loadErr := g.Wait()
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: the load's own error only repeats it
	}
	s.loadErr = loadErr
	return nil
}

// heal waits until every region serves and every agent has an owner again.
func (d *drill) heal(ctx context.Context, s *state) error {
	if errors.Is(s.loadErr, faults.ErrNotRecovered) {
		// A recovery failed for good (a port taken while the region was down, say): the
		// stack will not heal by waiting.
		return errors.New("stack cannot heal: a fault was not recovered (see above)")
	}
	if err := waitHealthy(ctx, s.env, d.sc.Topology.Regions, s.wcfg.Agents, 90*time.Second); err != nil {
		return fmt.Errorf("stack did not heal: %w", err)
	}
	// The final reads come next: let the hosts finish what the load left queued first.
	q := waitQuiet(ctx, s.eps, s.env.TLS, d.sc.Topology.Regions, quietLimit)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d.tl.Record(q.event())
	switch {
	case q.err != nil:
		d.progress.notef("final reads may race the stack: %v", q.err)
	case q.held > 0:
		d.progress.notef("waited %s for the stack to finish %d requests the load left in flight", q.waited.Round(10*time.Millisecond), q.held)
	}
	return nil
}

// quietLimit bounds the wait for the hosts to go idle before the final reads.
const quietLimit = 60 * time.Second

// finalReads reads every register once the stack has healed (RPO, convergence).
func (d *drill) finalReads(ctx context.Context, s *state) error {
	final, err := workload.FinalReads(ctx, s.wcfg, d.clock, 60*time.Second)
	d.record(final...)
	s.hist = append(s.hist, final...)
	s.hist.Sort()
	if err != nil {
		d.progress.notef("final reads: %v", err)
	}
	return nil
}

// finalWrites checks that the healed stack takes writes again (convergence).
func (d *drill) finalWrites(ctx context.Context, s *state) error {
	fw, err := workload.FinalWrites(ctx, s.wcfg, d.clock)
	d.record(fw...)
	s.hist = append(s.hist, fw...)
	s.hist.Sort()
	if err != nil {
		d.progress.notef("final writes: %v", err)
	}
	return nil
}

// observe reads the post-run facts while every service still runs (integrity,
// convergence).
func (d *drill) observe(ctx context.Context, s *state) error {
	if !d.sc.System.Serve(system.ServesCheckpoints) {
		return nil // nothing to observe: integrity and convergence say not applicable
	}
	d.run.Observations = observe(ctx, s.eps, s.env.TLS, d.sc.Topology.Regions, d.clock, settleFor(d.sc))
	return nil
}

// down stops the cluster, with a context that survives Ctrl-C.
func (d *drill) down(ctx context.Context, s *state) error {
	s.downed = true
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	if err := s.cl.Down(dctx); err != nil {
		return fmt.Errorf("cluster down: %w", err)
	}
	return nil
}

// check runs every checker over the record.
func (d *drill) check(ctx context.Context, s *state) error {
	d.run.Timeline = d.tl.Events()
	d.run.Notes = append(d.run.Notes, leaderNotes(d.run.Timeline)...)
	d.run.Results = checkers.Run(ctx, checkers.Input{
		Scenario: d.sc, History: s.hist, Timeline: d.run.Timeline, ArtifactDir: d.dir,
		Observations: d.run.Observations,
	})
	d.run.Status = checkers.Overall(d.run.Results)
	return nil
}

func provider(sc scenarios.Scenario) string {
	if sc.Provider == "" {
		return "local"
	}
	return providers.ResolveFor(sc.Provider, sc.System != nil) // the report names what "auto" became
}

// FaultSpecs is the scenario's fault schedule: its listed faults, then the nemesis's
// draws from the seed. The same scenario and seed always give the same specs.
func FaultSpecs(sc *scenarios.Scenario) ([]faults.Spec, error) {
	out := make([]faults.Spec, 0, len(sc.Faults))
	for i, f := range sc.Faults {
		s := f.Spec(sc.Topology.Regions, sc.Services())
		if t := s.Trigger; t != nil {
			t.After = faults.TriggerDelay(sc.Seed, i+1, t.MinAfter, t.MaxAfter)
		}
		out = append(out, s)
	}
	if sc.Nemesis != nil {
		drawn, err := sc.Nemesis.Schedule().Schedule(sc.Seed, sc.Topology.Regions)
		if err != nil {
			return nil, fmt.Errorf("nemesis: %w (fix the scenario's nemesis: section)", err)
		}
		out = append(out, drawn...)
	}
	for i := range out {
		out[i].Seed = sc.Seed // for faults that draw while held (reply-loss)
	}
	return out, nil
}

// WorkloadConfig is the scenario's workload against router. Its HottestAgent (agent 0) is
// the agent the skewed load hits most.
func WorkloadConfig(sc *scenarios.Scenario, router string) workload.Config {
	agents, keys := names(sc)
	w := sc.Workload
	return workload.Config{
		Router: router, Agents: agents, Keys: keys,
		Rate: w.Rate, Duration: w.Duration.D(), Timeout: w.Timeout.D(), Seed: sc.Seed,
		Mix:       workload.Mix{Put: w.Mix.Put, Get: w.Mix.Get, CAS: w.Mix.CAS},
		AgentSkew: w.Agents.Skew(), KeySkew: w.Keys.Skew(), Cold: w.Cold.Schedule(), Burst: w.Burst,
	}
}

// watchStack starts the stack event watch: the timeline records what it sees, and triggered
// faults wait on it. A described system has no such events (and its scenarios no
// triggers).
func watchStack(ctx context.Context, endpoints []string, tlsCfg *tls.Config, clock *timeline.Clock, tl *timeline.Timeline) (*faults.StackEvents, func(), error) {
	if len(endpoints) == 0 {
		return nil, func() {}, nil // a system without the reference stack's etcd: no stack events
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, TLS: tlsCfg, Logger: zap.NewNop()})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to etcd %v for stack events: %w", endpoints, err)
	}
	events, err := faults.WatchStack(ctx, cli, statusClient(tlsCfg), clock, tl)
	if err != nil {
		cli.Close()
		return nil, nil, fmt.Errorf("watch stack events: %w", err)
	}
	return events, func() { cli.Close() }, nil
}

func names(sc *scenarios.Scenario) (agents, keys []string) {
	for i := 0; i < sc.Topology.Agents; i++ {
		agents = append(agents, api.AgentID(i))
	}
	for j := 0; j < sc.Topology.KeysPerAgent; j++ {
		keys = append(keys, api.KeyName(j))
	}
	return agents, keys
}
