package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/geodrill/geodrill/timeline"
)

// Runner runs a schedule and enforces every fault's lifecycle: inject → verify → hold →
// recover → verify healed. Whatever was injected is recovered before Run returns, also when
// ctx is cancelled (Ctrl-C) or a step fails.
type Runner struct {
	Env      Env
	Clock    *timeline.Clock
	Timeline *timeline.Timeline
	// Log reports progress; may be nil.
	Log func(format string, args ...any)
	// VerifyTimeout bounds each verification (default 15s).
	VerifyTimeout time.Duration
	// CleanupTimeout bounds a recovery that runs after ctx was cancelled (default 90s).
	CleanupTimeout time.Duration
	// Events is where triggered faults wait for their stack event; Until (on Clock) is when
	// they stop waiting: the end of the load.
	Events *StackEvents
	Until  time.Duration

	mu       sync.Mutex
	injected map[string]injected // fault number ("f1") -> its injection
}

// ErrNotTriggered: a triggered fault's event did not come before the load ended, so the
// run did not test what its scenario says.
var ErrNotTriggered = errors.New("not triggered: its stack event did not come before the load ended")

// Run executes the plan; faults may overlap in time. It returns the joined errors of every
// fault whose lifecycle failed.
func (r *Runner) Run(ctx context.Context, plan []Planned) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.lifecycle(ctx, p); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Runner) lifecycle(ctx context.Context, p Planned) (err error) {
	if !sleepUntil(ctx, r.Clock, p.At) {
		return nil // cancelled before injection: nothing to undo
	}
	env := r.Env
	var trigger map[string]string
	if p.Trigger != nil {
		ev, err := r.awaitTrigger(ctx, p)
		if err != nil || ctx.Err() != nil {
			return err
		}
		r.logf("%s triggered by %s; injecting in %s", p.ID, ev, p.Trigger.After)
		if !sleepFor(ctx, p.Trigger.After) {
			return nil
		}
		env.Trigger, trigger = &ev, triggerDetail(ev, *p.Trigger)
	}
	r.logf("inject %s", p.ID)
	start := r.Clock.Now()
	rec, injErr := p.Fault.Inject(ctx, env)
	r.noteInjected(p.ID, start, rec)
	detail := withRealisation(rec.Detail, p)
	for k, v := range trigger {
		detail[k] = v
	}
	ev := timeline.Event{At: start, Kind: timeline.Inject, Name: p.ID, Fault: p.Kind,
		Target: rec.Target, Detail: detail}
	if rec.Agents != nil {
		ev.WithAgents(rec.Agents)
	}
	ev.WithLoss(rec.Loses)
	r.Timeline.Add(ev)

	// From here on the fault may be active: recovery always runs, with a context that
	// survives cancellation of the run.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cleanupTimeout())
		defer cancel()
		if rerr := r.recover(cctx, p, rec, env); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	if injErr != nil {
		return fmt.Errorf("inject: %w", injErr)
	}
	if err := r.poll(ctx, attemptTimeout(p.Fault), func(c context.Context) error { return p.Fault.Verify(c, env) }); err != nil {
		return fmt.Errorf("fault did not take effect: %w", err)
	}
	r.Timeline.Record(timeline.Event{Kind: timeline.Verified, Name: p.ID, Fault: p.Kind, Target: rec.Target})
	r.logf("%s verified, holding %s", p.ID, p.Hold)
	sleepFor(ctx, p.Hold)
	return nil
}

// ErrNotRecovered is wrapped by a fault whose recovery failed or did not heal: the stack
// is left with the fault in place, so waiting for it to heal is pointless.
var ErrNotRecovered = errors.New("fault not recovered")

func (r *Runner) recover(ctx context.Context, p Planned, rec Record, env Env) error {
	r.logf("recover %s", p.ID)
	r.Timeline.Record(timeline.Event{Kind: timeline.Recover, Name: p.ID, Fault: p.Kind, Target: rec.Target})
	if err := p.Fault.Recover(ctx, env); err != nil {
		return fmt.Errorf("%w: recover: %w", ErrNotRecovered, err)
	}
	if err := r.poll(ctx, attemptTimeout(p.Fault), func(c context.Context) error { return p.Fault.VerifyHealed(c, env) }); err != nil {
		return fmt.Errorf("%w: not healed after recovery: %w", ErrNotRecovered, err)
	}
	r.Timeline.Record(timeline.Event{Kind: timeline.Healed, Name: p.ID, Fault: p.Kind, Target: rec.Target})
	r.logf("%s healed", p.ID)
	return nil
}

// awaitTrigger waits for p's stack event until Until. An event that never comes is
// recorded on the timeline and returned as ErrNotTriggered.
func (r *Runner) awaitTrigger(ctx context.Context, p Planned) (StackEvent, error) {
	t := *p.Trigger
	if r.Events == nil {
		return StackEvent{}, fmt.Errorf("triggered on %s, but the run watches no stack events", t.On)
	}
	wctx, cancel := context.WithCancel(ctx)
	if r.Until > 0 {
		wctx, cancel = context.WithTimeout(ctx, r.Until-r.Clock.Now())
	}
	defer cancel()
	r.logf("%s waits for %s", p.ID, describeTrigger(t))
	ev, ok, err := r.Events.Wait(wctx, r.Clock.Now(), func(e StackEvent) bool { return t.matches(e, r.injectedRef(t.Of)) })
	if ok {
		return ev, nil
	}
	if ctx.Err() != nil {
		return StackEvent{}, nil // the run was cancelled: nothing was injected, nothing to report
	}
	why := "the load ended first"
	if err != nil {
		why = "the stack event watch stopped: " + err.Error()
	}
	r.Timeline.Record(timeline.Event{Kind: timeline.NotTriggered, Name: p.ID, Fault: p.Kind,
		Detail: map[string]string{"trigger": describeTrigger(t), "why": why}})
	r.logf("%s not triggered: %s", p.ID, why)
	if err != nil {
		return StackEvent{}, fmt.Errorf("%w (%s)", ErrNotTriggered, why)
	}
	return StackEvent{}, ErrNotTriggered
}

func describeTrigger(t Trigger) string {
	s := string(t.On)
	if t.Of != "" {
		s += " of " + t.Of
	}
	return s + " + " + t.After.String()
}

func (r *Runner) noteInjected(id string, at time.Duration, rec Record) {
	region := rec.Detail["region"]
	if region == "" {
		region = rec.Target
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.injected == nil {
		r.injected = map[string]injected{}
	}
	num, _, _ := strings.Cut(id, ":")
	r.injected[num] = injected{at: at, region: region}
}

// injectedRef is the injection of the fault of names ("f1"), nil if none yet.
func (r *Runner) injectedRef(of string) *injected {
	n := FaultRef(of)
	if n == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if inj, ok := r.injected[fmt.Sprintf("f%d", n)]; ok {
		return &inj
	}
	return nil
}

// attemptTimeout bounds one verification attempt: 2s, or longer for a fault whose checks
// wait for a reply it delays.
func attemptTimeout(f Fault) time.Duration {
	d := 2 * time.Second
	if s, ok := f.(interface{ CheckTimeout() time.Duration }); ok {
		d = max(d, s.CheckTimeout())
	}
	return d
}

// poll retries check, each attempt bounded by attempt, until it passes or the verify
// timeout ends.
func (r *Runner) poll(ctx context.Context, attempt time.Duration, check func(context.Context) error) error {
	timeout := r.VerifyTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, attempt)
		err := check(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *Runner) cleanupTimeout() time.Duration {
	if r.CleanupTimeout > 0 {
		return r.CleanupTimeout
	}
	return 90 * time.Second
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

func withRealisation(d map[string]string, p Planned) map[string]string {
	out := map[string]string{"realised": string(p.How), "how": p.Why}
	for k, v := range d {
		out[k] = v
	}
	return out
}

// sleepUntil waits until the clock reads at; false if ctx ended first.
func sleepUntil(ctx context.Context, clock *timeline.Clock, at time.Duration) bool {
	return sleepFor(ctx, at-clock.Now())
}

func sleepFor(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
