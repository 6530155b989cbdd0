package faults

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geodrill/geodrill/timeline"
)

// stepFault records the lifecycle calls the runner makes; it exercises the runner's own
// state machine, not a system under test.
type stepFault struct {
	mu         sync.Mutex
	calls      []string
	verifyErr  error
	injectErr  error
	recoverErr error
}

func (f *stepFault) add(s string) { f.mu.Lock(); f.calls = append(f.calls, s); f.mu.Unlock() }
func (f *stepFault) Inject(context.Context, Env) (Record, error) {
	f.add("inject")
	return Record{Target: "a"}, f.injectErr
}
func (f *stepFault) Verify(context.Context, Env) error       { f.add("verify"); return f.verifyErr }
func (f *stepFault) Recover(context.Context, Env) error      { f.add("recover"); return f.recoverErr }
func (f *stepFault) VerifyHealed(context.Context, Env) error { f.add("healed"); return nil }

func TestRunnerLifecycle(t *testing.T) {
	tests := []struct {
		name      string
		fault     *stepFault
		cancelAt  time.Duration // 0: never
		wantCalls []string
		wantKinds []timeline.Kind
		wantErr   bool
	}{
		{
			name:      "full lifecycle",
			fault:     &stepFault{},
			wantCalls: []string{"inject", "verify", "recover", "healed"},
			wantKinds: []timeline.Kind{timeline.Inject, timeline.Verified, timeline.Recover, timeline.Healed},
		},
		{
			name:      "verification fails but recovery still runs",
			fault:     &stepFault{verifyErr: errors.New("still up")},
			wantCalls: []string{"inject", "verify", "recover", "healed"},
			wantKinds: []timeline.Kind{timeline.Inject, timeline.Recover, timeline.Healed},
			wantErr:   true,
		},
		{
			name:      "inject fails and recovery still runs",
			fault:     &stepFault{injectErr: errors.New("half done")},
			wantCalls: []string{"inject", "recover", "healed"},
			wantKinds: []timeline.Kind{timeline.Inject, timeline.Recover, timeline.Healed},
			wantErr:   true,
		},
		{
			name:      "cancelled during hold: recovered with a fresh context",
			fault:     &stepFault{},
			cancelAt:  150 * time.Millisecond,
			wantCalls: []string{"inject", "verify", "recover", "healed"},
			wantKinds: []timeline.Kind{timeline.Inject, timeline.Verified, timeline.Recover, timeline.Healed},
		},
		{
			name:     "cancelled before injection: nothing happens",
			fault:    &stepFault{},
			cancelAt: 10 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelAt > 0 {
				time.AfterFunc(tt.cancelAt, cancel)
			}
			clock := timeline.NewClock()
			tl := timeline.New(clock)
			r := &Runner{Clock: clock, Timeline: tl, VerifyTimeout: 300 * time.Millisecond}
			at := 50 * time.Millisecond
			if tt.name == "cancelled before injection: nothing happens" {
				at = time.Second
			}
			err := r.Run(ctx, []Planned{{ID: "f1:test", Kind: "test", At: at, Hold: 400 * time.Millisecond, Fault: tt.fault}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(dedupe(tt.fault.calls), tt.wantCalls) {
				t.Errorf("calls = %v, want %v", tt.fault.calls, tt.wantCalls)
			}
			var kinds []timeline.Kind
			for _, e := range tl.Events() {
				kinds = append(kinds, e.Kind)
			}
			if !slices.Equal(kinds, tt.wantKinds) {
				t.Errorf("timeline = %v, want %v", kinds, tt.wantKinds)
			}
		})
	}
}

// dedupe collapses repeated polls of the same step.
func dedupe(calls []string) []string {
	var out []string
	for _, c := range calls {
		if len(out) == 0 || out[len(out)-1] != c {
			out = append(out, c)
		}
	}
	return out
}

// The kind table is checked at start: a duplicate name, a nameless kind or one without a
// constructor or parameters is refused; the shipped table passes.
func TestCheckKinds(t *testing.T) {
	if err := checkKinds(Kinds); err != nil {
		t.Fatal(err)
	}
	named := func(name string) Kind { k := Kinds[0]; k.Name = name; return k }
	noParams := named("x")
	noParams.Params = nil
	for name, kinds := range map[string][]Kind{
		"duplicate": append(slices.Clone(Kinds), Kinds[0]),
		"nameless":  {named("")},
		"no New":    {{Name: "x", Realise: Kinds[0].Realise, Check: Kinds[0].Check, Params: Kinds[0].Params}},
		"no Params": {noParams},
	} {
		if err := checkKinds(kinds); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A recovery that fails is reported as ErrNotRecovered, so the drill does not wait for a
// stack that cannot heal.
func TestRunnerReportsAFailedRecovery(t *testing.T) {
	clock := timeline.NewClock()
	r := &Runner{Clock: clock, Timeline: timeline.New(clock), VerifyTimeout: 200 * time.Millisecond}
	f := &stepFault{recoverErr: errors.New("listen tcp 127.0.0.1:9000: bind: address already in use")}
	err := r.Run(context.Background(), []Planned{{ID: "f1:step", Kind: "step", Hold: 10 * time.Millisecond, Fault: f}})
	if !errors.Is(err, ErrNotRecovered) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("err %v, want ErrNotRecovered with the cause", err)
	}
}
