package faults

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
)

func TestTriggerMatches(t *testing.T) {
	ms := time.Millisecond
	change := StackEvent{Kind: OwnershipChange, Agent: "agent-03", Epoch: 4, Region: "b", From: "a", At: 900 * ms}
	f1 := &injected{at: 500 * ms, region: "a"}
	tests := []struct {
		name string
		t    Trigger
		e    StackEvent
		of   *injected
		want bool
	}{
		{"any event of the kind", Trigger{On: OwnershipChange}, change, nil, true},
		{"another kind", Trigger{On: LeaseRevoked}, change, nil, false},
		{"of the new owner's region", Trigger{On: OwnershipChange, Of: "b"}, change, nil, true},
		{"of the previous owner's region", Trigger{On: OwnershipChange, Of: "a"}, change, nil, true},
		{"of an uninvolved region", Trigger{On: OwnershipChange, Of: "c"}, change, nil, false},
		{"of a fault on the previous owner", Trigger{On: OwnershipChange, Of: "f1"}, change, f1, true},
		{"of a fault not injected yet", Trigger{On: OwnershipChange, Of: "f1"}, change, nil, false},
		{"of a fault injected after the event", Trigger{On: OwnershipChange, Of: "f1"}, change, &injected{at: time.Second, region: "a"}, false},
		{"of a fault on another region", Trigger{On: OwnershipChange, Of: "f1"}, change, &injected{at: 0, region: "c"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.t.matches(tt.e, tt.of); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

// Same seed and fault, same delay; the delay stays in its range, in whole milliseconds,
// and the seed and the fault's place both change it.
func TestTriggerDelayIsSeeded(t *testing.T) {
	lo, hi := 0*time.Millisecond, 300*time.Millisecond
	seen := map[time.Duration]bool{}
	for seed := int64(1); seed <= 50; seed++ {
		d := TriggerDelay(seed, 2, lo, hi)
		if d != TriggerDelay(seed, 2, lo, hi) {
			t.Fatalf("seed %d: two draws differ", seed)
		}
		if d < lo || d > hi || d%time.Millisecond != 0 {
			t.Fatalf("seed %d: delay %s outside %s..%s or not whole milliseconds", seed, d, lo, hi)
		}
		seen[d] = true
	}
	if len(seen) < 20 {
		t.Errorf("50 seeds gave only %d distinct delays", len(seen))
	}
	differs := false
	for seed := int64(1); seed <= 10; seed++ {
		differs = differs || TriggerDelay(seed, 1, lo, hi) != TriggerDelay(seed, 2, lo, hi)
	}
	if !differs {
		t.Error("faults 1 and 2 got the same delay for ten seeds: the fault does not pick the stream")
	}
	if d := TriggerDelay(7, 1, 150*time.Millisecond, 150*time.Millisecond); d != 150*time.Millisecond {
		t.Errorf("fixed delay = %s, want 150ms", d)
	}
}

func TestTriggerCheck(t *testing.T) {
	for _, bad := range []Trigger{{On: "meteor"}, {On: Restore, MinAfter: time.Second, MaxAfter: 0}, {On: Restore, MinAfter: -time.Second}} {
		if bad.Check() == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
	if err := (Trigger{On: Restore, MaxAfter: time.Second}).Check(); err != nil {
		t.Error(err)
	}
	for of, want := range map[string]int{"f1": 1, "f12": 12, "f2:region-outage": 2, "a": 0, "f0": 0, "f": 0, "busiest": 0} {
		if got := FaultRef(of); got != want {
			t.Errorf("FaultRef(%q) = %d, want %d", of, got, want)
		}
	}
}

func ownerKV(agent, region string, epoch, create, mod int64) *mvccpb.KeyValue {
	v, _ := json.Marshal(api.Owner{Region: region, Epoch: epoch})
	return &mvccpb.KeyValue{Key: []byte(api.OwnerKey(agent)), Value: v, CreateRevision: create, ModRevision: mod}
}

// Watch events become stack events: a created owner key is an ownership change naming the
// previous owner, a deleted one a lost lease, a checkpoint
// put a publish; log entries and epoch keys are nothing.
func TestParseEvent(t *testing.T) {
	owners := map[string]string{"agent-03": "a"}
	meta, _ := json.Marshal(api.CheckpointMeta{Seq: 50, Epoch: 4})
	evs := []*clientv3.Event{
		{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(api.OwnerKey("agent-03")), ModRevision: 9}, PrevKv: ownerKV("agent-03", "a", 3, 2, 2)},
		{Type: mvccpb.PUT, Kv: ownerKV("agent-03", "b", 4, 10, 10)},
		{Type: mvccpb.PUT, Kv: ownerKV("agent-03", "b", 4, 10, 11)}, // a rewrite, not a takeover
		{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(api.CheckpointKey("agent-03")), Value: meta, ModRevision: 12}},
		{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(api.LogKey("agent-03", 51)), Value: []byte("{}"), ModRevision: 13}},
		{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(api.EpochKey("agent-03")), Value: []byte("4"), ModRevision: 10}},
	}
	var got []string
	for _, ev := range evs {
		for _, e := range parseEvent(ev, owners, time.Second) {
			got = append(got, e.String()+" from="+e.From)
		}
	}
	want := []string{
		"lease-revoked of agent-03 from a@epoch 3 at 1.000s from=",
		"ownership-change of agent-03 to b@epoch 4 at 1.000s from=a",
		"checkpoint-publish of agent-03 by b@epoch 4 at 1.000s from=",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Wait returns the first matching event at or after since, including one that comes later.
func TestStackEventsWait(t *testing.T) {
	w := &StackEvents{changed: make(chan struct{})}
	w.add([]StackEvent{{Kind: OwnershipChange, Agent: "agent-00", At: time.Second}})
	isChange := func(e StackEvent) bool { return e.Kind == OwnershipChange }
	if e, ok, _ := w.Wait(context.Background(), 0, isChange); !ok || e.Agent != "agent-00" {
		t.Fatalf("got %v %v, want agent-00", e, ok)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		w.add([]StackEvent{{Kind: LeaseRevoked, Agent: "agent-01", At: 3 * time.Second}})
		w.add([]StackEvent{{Kind: OwnershipChange, Agent: "agent-02", At: 3 * time.Second}})
	}()
	e, ok, err := w.Wait(context.Background(), 2*time.Second, isChange)
	if !ok || err != nil || e.Agent != "agent-02" {
		t.Fatalf("got %v %v %v, want agent-02 (agent-00 is before since)", e, ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, ok, _ := w.Wait(ctx, 10*time.Second, isChange); ok {
		t.Fatal("an event before since fired")
	}
}

func TestLeaderOf(t *testing.T) {
	tests := []struct {
		name string
		st   map[string]memberStatus
		want string
	}{
		{"all agree", map[string]memberStatus{"a": {1, 2}, "b": {2, 2}, "c": {3, 2}}, "b"},
		{"a member is down", map[string]memberStatus{"a": {1, 3}, "c": {3, 3}}, "c"},
		{"a lagging member", map[string]memberStatus{"a": {1, 1}, "b": {2, 3}, "c": {3, 3}}, "c"},
		{"no leader", map[string]memberStatus{"a": {1, 0}, "b": {2, 0}}, ""},
		{"leader did not answer", map[string]memberStatus{"a": {1, 3}, "b": {2, 3}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := leaderOf(tt.st)
			if got != tt.want || (err != nil) != (tt.want == "") {
				t.Errorf("leaderOf = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestResolveRegion(t *testing.T) {
	owners := map[string]api.Owner{"agent-00": {Region: "c"}, "agent-01": {Region: "a"}, "agent-02": {Region: "a"}}
	env := Env{Owners: func(context.Context) (map[string]api.Owner, error) { return owners, nil }, HotAgent: "agent-00"}
	trig := env
	trig.Trigger = &StackEvent{Kind: OwnershipChange, Region: "b"}
	tests := []struct {
		name, region string
		env          Env
		want         string // "" wants an error
	}{
		{"a name", "b", env, "b"},
		{"busiest", SelectBusiest, env, "a"},
		{"hottest owner", SelectHottestOwner, env, "c"},
		{"hottest agent has no owner", SelectHottestOwner, Env{Owners: env.Owners, HotAgent: "agent-09"}, ""},
		{"no hottest agent", SelectHottestOwner, Env{Owners: env.Owners}, ""},
		{"new owner", SelectNewOwner, trig, "b"},
		{"new owner without trigger", SelectNewOwner, env, ""},
		{"etcd leader without endpoints", SelectEtcdLeader, env, ""},
		{"controller leader without endpoints", SelectControllerLeader, env, ""},
		{"controller follower without endpoints", SelectControllerFollower, env, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveRegion(context.Background(), tt.env, tt.region)
			if got != tt.want || (err != nil) != (tt.want == "") {
				t.Errorf("resolveRegion(%q) = %q, %v; want %q", tt.region, got, err, tt.want)
			}
		})
	}
}

// A controller follower is the busiest region besides the leader's, or any other region
// when no other region owns an agent.
func TestBusiestExcept(t *testing.T) {
	owners := map[string]api.Owner{"agent-00": {Region: "c"}, "agent-01": {Region: "a"}, "agent-02": {Region: "a"}}
	regions := []string{"a", "b", "c"}
	for _, tt := range []struct{ except, want string }{{"a", "c"}, {"c", "a"}, {"b", "a"}} {
		if got := busiestExcept(owners, tt.except, regions); got != tt.want {
			t.Errorf("busiest except %s = %q, want %q", tt.except, got, tt.want)
		}
	}
	if got := busiestExcept(map[string]api.Owner{"agent-00": {Region: "a"}}, "a", regions); got != "b" {
		t.Errorf("every agent in the leader's region: %q, want b", got)
	}
	if got := busiestExcept(nil, "a", []string{"a"}); got != "" {
		t.Errorf("one region only: %q, want none", got)
	}
}

// envFault records the env each lifecycle step got.
type envFault struct {
	stepFault
	trigger *StackEvent
}

func (f *envFault) Inject(ctx context.Context, env Env) (Record, error) {
	f.trigger = env.Trigger
	return f.stepFault.Inject(ctx, env)
}

// A triggered fault waits for its event, sleeps its delay, runs the whole lifecycle with
// the event in its env and records it; one whose event never comes is recorded as not
// triggered and fails the run.
func TestRunnerTrigger(t *testing.T) {
	clock := timeline.NewClock()
	tl := timeline.New(clock)
	events := &StackEvents{changed: make(chan struct{})}
	r := &Runner{Clock: clock, Timeline: tl, VerifyTimeout: 300 * time.Millisecond, Events: events, Until: 700 * time.Millisecond}
	fired, never := &envFault{}, &envFault{}
	go func() {
		time.Sleep(100 * time.Millisecond)
		events.add([]StackEvent{{Kind: CheckpointPublish, Agent: "agent-01", Region: "a", At: clock.Now()}})
		events.add([]StackEvent{{Kind: OwnershipChange, Agent: "agent-03", Epoch: 4, Region: "b", From: "a", At: clock.Now()}})
	}()
	err := r.Run(context.Background(), []Planned{
		{ID: "f1:test", Kind: "test", Hold: 50 * time.Millisecond, Fault: fired,
			Trigger: &Trigger{On: OwnershipChange, Of: "a", After: 30 * time.Millisecond}},
		{ID: "f2:test", Kind: "test", Hold: 50 * time.Millisecond, Fault: never,
			Trigger: &Trigger{On: LeaseRevoked}},
	})
	if !errors.Is(err, ErrNotTriggered) || !strings.Contains(err.Error(), "f2:test") {
		t.Fatalf("err = %v, want f2 not triggered", err)
	}
	if !slices.Equal(dedupe(fired.calls), []string{"inject", "verify", "recover", "healed"}) {
		t.Errorf("triggered fault calls = %v", fired.calls)
	}
	if fired.trigger == nil || fired.trigger.Agent != "agent-03" {
		t.Errorf("env.Trigger = %+v, want the ownership change of agent-03", fired.trigger)
	}
	if len(never.calls) != 0 {
		t.Errorf("the fault never triggered ran %v", never.calls)
	}
	var inject, not *timeline.Event
	for _, e := range tl.Events() {
		switch {
		case e.Kind == timeline.Inject && e.Name == "f1:test":
			inject = &e
		case e.Kind == timeline.NotTriggered && e.Name == "f2:test":
			not = &e
		}
	}
	if inject == nil || inject.Detail["triggered_by"] != fired.trigger.String() || inject.Detail["trigger_delay"] != "30ms" {
		t.Errorf("inject event = %+v, want the trigger and its 30ms delay recorded", inject)
	}
	if inject != nil && inject.At < fired.trigger.At+30*time.Millisecond {
		t.Errorf("injected at %s, before the event (%s) plus the delay", inject.At, fired.trigger.At)
	}
	if not == nil {
		t.Error("no not-triggered event for f2")
	}
}

// A takeover whose new owner does not serve the agent yet at the new epoch is a restore in
// progress; one already served, or an owner that does not answer, is none.
func TestCheckRestore(t *testing.T) {
	var serving atomic.Int64 // the epoch the host serves agent-03 at
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.HostStatus{Region: "b", Agents: map[string]int64{"agent-03": serving.Load()}})
	}))
	defer host.Close()
	clock := timeline.NewClock()
	change := StackEvent{Kind: OwnershipChange, Agent: "agent-03", Epoch: 4, Region: "b", url: host.URL}
	for _, tt := range []struct {
		name    string
		serving int64
		url     string
		want    bool
	}{
		{"still restoring", 3, host.URL, true},
		{"already served", 4, host.URL, false},
		{"owner does not answer", 3, "http://127.0.0.1:1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			serving.Store(tt.serving)
			w := &StackEvents{changed: make(chan struct{})}
			e := change
			e.url = tt.url
			w.checkRestore(context.Background(), e, clock)
			got := w.Events()
			if (len(got) == 1 && got[0].Kind == Restore && got[0].Agent == "agent-03" && got[0].Epoch == 4) != tt.want || len(got) > 1 {
				t.Errorf("events = %+v, want restore %v", got, tt.want)
			}
		})
	}
}
