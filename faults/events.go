package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
)

// EventKind is a kind of stack event a fault can be triggered by.
type EventKind string

// The stack events, all read from etcd, so they are the same on every provider.
const (
	// OwnershipChange: an agent's owner key was created by a takeover (a new epoch).
	OwnershipChange EventKind = "ownership-change"
	// Restore: a restore in progress. A host commits the takeover, then restores the agent
	// (checkpoint plus log tail) and only then serves it; on each takeover the harness asks
	// the new owner's /status at once, and an agent it does not serve yet at the new epoch
	// is being restored. Restores took 15-60ms in local drills, so a delay meant to land
	// inside one must be that short.
	Restore EventKind = "restore"
	// CheckpointPublish: an agent's checkpoint metadata was written (a new checkpoint).
	CheckpointPublish EventKind = "checkpoint-publish"
	// LeaseRevoked: an agent's owner key was deleted: its host's lease was revoked or
	// expired, or the agent was released or handed back.
	LeaseRevoked EventKind = "lease-revoked"
	// RegionDead: the controller leader declared a region dead and is revoking its host's
	// lease (api.RegionDead; not a trigger event).
	RegionDead EventKind = "region-dead"
)

// EventKinds lists the kinds a trigger may wait for.
func EventKinds() []string {
	return []string{string(OwnershipChange), string(CheckpointPublish), string(LeaseRevoked), string(Restore)}
}

// StackEvent is one thing the stack did, as seen in etcd.
type StackEvent struct {
	Kind  EventKind `json:"kind"`
	Agent string    `json:"agent"`
	Epoch int64     `json:"epoch"`
	// Region is the new owner (ownership-change, restore), the owner that published
	// (checkpoint-publish) or the owner that lost the agent (lease-revoked).
	Region string `json:"region"`
	// From is the agent's previous owner region (ownership-change, restore), when known.
	From string `json:"from,omitempty"`
	// At is when the harness saw it, on the run clock.
	At time.Duration `json:"at_ns"`
	// Detected (region-dead): when the controller's first failed probe of the region was
	// sent, on the run clock; 0 for a region declared dead on request.
	Detected time.Duration `json:"detected_ns,omitempty"`

	url string // the new owner's URL (ownership-change)
}

// String reads like "ownership-change of agent-03 to b@epoch 4 at 8.410s".
func (e StackEvent) String() string {
	where := "to"
	switch e.Kind {
	case LeaseRevoked:
		where = "from"
	case CheckpointPublish:
		where = "by"
	}
	return fmt.Sprintf("%s of %s %s %s@epoch %d at %.3fs", e.Kind, e.Agent, where, e.Region, e.Epoch, e.At.Seconds())
}

// StackEvents collects the stack's events from an etcd watch for triggers to wait on, and
// records them on the run's timeline (checkpoint publishes excepted: too many to keep).
type StackEvents struct {
	tl     *timeline.Timeline
	status *http.Client // asks a new owner whether it serves yet (checkRestore)

	mu      sync.Mutex
	events  []StackEvent
	changed chan struct{} // closed and replaced on every append
	err     error         // why the watch stopped early, if it did
}

// WatchStack watches the stack's etcd from now until ctx ends, re-watching from the last
// revision seen when a member dies or etcd loses its leader, so no event is lost while
// etcd keeps (has not compacted) its history.
func WatchStack(ctx context.Context, cli *clientv3.Client, status *http.Client, clock *timeline.Clock, tl *timeline.Timeline) (*StackEvents, error) {
	resp, err := cli.Get(ctx, api.AgentsPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read agents before watching: %w", err)
	}
	c := http.Client{}
	if status != nil {
		c = *status
	}
	c.Timeout = 500 * time.Millisecond
	status = &c
	w := &StackEvents{changed: make(chan struct{}), tl: tl, status: status}
	owners := map[string]string{} // agent -> last owner region seen
	for _, kv := range resp.Kvs {
		if agent, ok := agentKey(string(kv.Key), "/owner"); ok {
			var o api.Owner
			if json.Unmarshal(kv.Value, &o) == nil {
				owners[agent] = o.Region
			}
		}
	}
	rev := resp.Header.Revision
	go w.watchDead(ctx, cli, clock, rev)
	go func() {
		for ctx.Err() == nil {
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			for wr := range cli.Watch(wctx, api.AgentsPrefix(), clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(rev+1)) {
				if err := wr.Err(); err != nil {
					if wr.CompactRevision > 0 {
						w.stop(fmt.Errorf("etcd compacted revision %d before the watch read it: %w", rev+1, err))
						cancel()
						return
					}
					break
				}
				now := clock.Now()
				var out []StackEvent
				for _, ev := range wr.Events {
					out = append(out, parseEvent(ev, owners, now)...)
				}
				rev = wr.Header.Revision
				w.add(out)
				for _, e := range out {
					if e.Kind == OwnershipChange && e.url != "" {
						go w.checkRestore(ctx, e, clock)
					}
				}
			}
			cancel()
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return w, nil
}

// parseEvent turns one etcd watch event into stack events; owners (agent -> last owner
// region) is updated so a takeover can name the region it took the agent from.
func parseEvent(ev *clientv3.Event, owners map[string]string, at time.Duration) []StackEvent {
	key := string(ev.Kv.Key)
	if agent, ok := agentKey(key, "/owner"); ok {
		switch {
		case ev.Type == mvccpb.DELETE && ev.PrevKv != nil:
			var o api.Owner
			if json.Unmarshal(ev.PrevKv.Value, &o) != nil {
				return nil
			}
			return []StackEvent{{Kind: LeaseRevoked, Agent: agent, Epoch: o.Epoch, Region: o.Region, At: at}}
		case ev.Type == mvccpb.PUT && ev.IsCreate():
			var o api.Owner
			if json.Unmarshal(ev.Kv.Value, &o) != nil {
				return nil
			}
			from := owners[agent]
			owners[agent] = o.Region
			return []StackEvent{{Kind: OwnershipChange, Agent: agent, Epoch: o.Epoch, Region: o.Region, From: from, At: at, url: o.URL}}
		}
		return nil
	}
	if agent, ok := agentKey(key, "/checkpoint"); ok && ev.Type == mvccpb.PUT {
		var m api.CheckpointMeta
		if json.Unmarshal(ev.Kv.Value, &m) != nil {
			return nil
		}
		return []StackEvent{{Kind: CheckpointPublish, Agent: agent, Epoch: m.Epoch, Region: owners[agent], At: at}}
	}
	return nil
}

// checkRestore asks the new owner of a takeover whether it serves the agent yet; if not,
// its restore is in progress: a Restore event.
func (w *StackEvents) checkRestore(ctx context.Context, e StackEvent, clock *timeline.Clock) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/status", nil)
	if err != nil {
		return
	}
	status := w.status
	if status == nil {
		status = &http.Client{Timeout: 500 * time.Millisecond}
	}
	resp, err := status.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var st api.HostStatus
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return
	}
	if st.Agents[e.Agent] == e.Epoch {
		return // restored before the harness looked: no restore in progress to hit
	}
	r := e
	r.Kind, r.At = Restore, clock.Now()
	w.add([]StackEvent{r})
}

// agentKey returns the agent of key when key is AgentsPrefix + agent + suffix.
func agentKey(key, suffix string) (string, bool) {
	rest, ok := strings.CutPrefix(key, api.AgentsPrefix())
	if !ok || !strings.HasSuffix(rest, suffix) {
		return "", false
	}
	agent := strings.TrimSuffix(rest, suffix)
	return agent, agent != "" && !strings.Contains(agent, "/")
}

func (w *StackEvents) add(evs []StackEvent) {
	if len(evs) == 0 {
		return
	}
	if w.tl != nil {
		for _, e := range evs {
			if e.Kind != CheckpointPublish {
				w.tl.Add(timeline.StackSeen(timeline.StackFact{What: string(e.Kind), Agent: e.Agent, Region: e.Region,
					From: e.From, Epoch: e.Epoch, Detected: e.Detected}, e.At))
			}
		}
	}
	w.mu.Lock()
	w.events = append(w.events, evs...)
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

func (w *StackEvents) stop(err error) {
	w.mu.Lock()
	w.err = err
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// Wait returns the first event seen at or after since that match accepts, waiting until
// one comes, the watch stops (error) or ctx ends (false).
func (w *StackEvents) Wait(ctx context.Context, since time.Duration, match func(StackEvent) bool) (StackEvent, bool, error) {
	next := 0
	for {
		w.mu.Lock()
		evs, changed, err := w.events[next:], w.changed, w.err
		next = len(w.events)
		w.mu.Unlock()
		for _, e := range evs {
			if e.At >= since && match(e) {
				return e, true, nil
			}
		}
		if err != nil {
			return StackEvent{}, false, err
		}
		select {
		case <-ctx.Done():
			return StackEvent{}, false, nil
		case <-changed:
		}
	}
}

// Events is a copy of every event seen so far.
func (w *StackEvents) Events() []StackEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]StackEvent(nil), w.events...)
}

// watchDead records every region the controller leader declares dead (api.RegionDead under
// api.DeadPrefix), from revision rev on, re-watching like WatchStack.
func (w *StackEvents) watchDead(ctx context.Context, cli *clientv3.Client, clock *timeline.Clock, rev int64) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range cli.Watch(wctx, api.DeadPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if wr.Err() != nil {
				break
			}
			now := clock.Now()
			var out []StackEvent
			for _, ev := range wr.Events {
				var d api.RegionDead
				if ev.Type != mvccpb.PUT || json.Unmarshal(ev.Kv.Value, &d) != nil {
					continue
				}
				e := StackEvent{Kind: RegionDead, Region: d.Region, At: now}
				if d.FirstFailureAgoMs > 0 {
					e.Detected = max(0, now-time.Duration(d.FirstFailureAgoMs)*time.Millisecond)
				}
				out = append(out, e)
			}
			rev = wr.Header.Revision
			w.add(out)
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}
