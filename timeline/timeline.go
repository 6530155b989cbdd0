// Package timeline holds the run's monotonic clock and the ordered record of what the
// harness did: phases, fault injections and recoveries, and what it observed.
package timeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock is the one monotonic clock of a run: every timestamp is an offset from Start.
type Clock struct{ start time.Time }

// NewClock starts a clock now.
func NewClock() *Clock { return &Clock{start: time.Now()} }

// Now is the offset from run start; time.Since uses the monotonic reading.
func (c *Clock) Now() time.Duration { return time.Since(c.start) }

// Offset converts an absolute time taken with time.Now in this process to a run offset.
func (c *Clock) Offset(t time.Time) time.Duration { return t.Sub(c.start) }

// Start is the wall-clock start, for display only.
func (c *Clock) Start() time.Time { return c.start }

// Kind of a timeline event.
type Kind string

const (
	Phase    Kind = "phase"    // a drill phase starts (Name is one of Phases)
	Inject   Kind = "inject"   // a fault was injected
	Verified Kind = "verified" // the fault was verified to have taken effect
	Recover  Kind = "recover"  // recovery of a fault started
	Healed   Kind = "healed"   // the fault was verified healed
	Observe  Kind = "observe"  // an observation (e.g. ownership at fault time)
	// NotTriggered: a triggered fault's stack event never came, so it was never injected.
	NotTriggered Kind = "not-triggered"
	// Stack: something the stack did, as the harness saw it in etcd (Name is what: a
	// takeover, a lost owner, a restore, a region declared dead; see StackFact).
	Stack Kind = "stack"
)

// Drill phases, in order: a Phase event's Name is one of them. The load phase's end bounds
// recovery (an agent not served by a new owner before the next phase starts never
// recovered).
const (
	PhaseUp          = "up"
	PhaseLoad        = "load"
	PhaseHeal        = "heal"
	PhaseFinalReads  = "final-reads"
	PhaseFinalWrites = "final-writes"
	PhaseObserve     = "observe"
	PhaseDown        = "down"
	PhaseCheck       = "check"
)

// Event is one timeline entry.
type Event struct {
	At     time.Duration     `json:"at_ns"`
	Kind   Kind              `json:"kind"`
	Name   string            `json:"name"`             // phase name or fault id, e.g. "f1:region-outage"
	Fault  string            `json:"fault,omitempty"`  // fault kind
	Target string            `json:"target,omitempty"` // e.g. region name
	Detail map[string]string `json:"detail,omitempty"`
}

// OwnerName names an Observe event that records one agent's owner as the harness saw it.
const OwnerName = "owner"

// LeadersName names an Observe event that records which regions hold the etcd leader and
// the controller leader (Detail keys faults.FactEtcdLeader, faults.FactControllerLeader).
const LeadersName = "leaders"

// Owner is one agent's owner at one moment: its region and epoch.
type Owner struct {
	Agent  string
	Region string
	Epoch  int64
}

// OwnerSeen is the Observe event recording o.
func OwnerSeen(o Owner) Event {
	return Event{Kind: Observe, Name: OwnerName, Target: o.Region,
		Detail: map[string]string{"agent": o.Agent, "region": o.Region, "epoch": strconv.FormatInt(o.Epoch, 10)}}
}

// Owner decodes an OwnerSeen event; ok is false for any other event and for one without
// an agent. An event written without a region names it in Target; an unreadable epoch is 0.
func (e Event) Owner() (o Owner, ok bool) {
	if e.Kind != Observe || e.Name != OwnerName || e.Detail["agent"] == "" {
		return Owner{}, false
	}
	o = Owner{Agent: e.Detail["agent"], Region: e.Detail["region"]}
	if o.Region == "" {
		o.Region = e.Target
	}
	o.Epoch, _ = strconv.ParseInt(e.Detail["epoch"], 10, 64)
	return o, true
}

// StackFact is a Stack event's payload: what the stack did to which agent or region.
type StackFact struct {
	What   string // ownership-change, lease-revoked, restore, region-dead
	Agent  string // "" for a region-level fact
	Region string // the new owner, the owner that lost the agent, or the dead region
	From   string // a takeover's previous owner, when known
	Epoch  int64
	// Detected (region-dead): when the controller's first failed probe of the region was
	// sent, on the run clock; 0 when it was declared dead on request.
	Detected time.Duration
}

// StackSeen is the Stack event recording f; its At is when the harness saw it.
func StackSeen(f StackFact, at time.Duration) Event {
	d := map[string]string{"epoch": strconv.FormatInt(f.Epoch, 10)}
	if f.Agent != "" {
		d["agent"] = f.Agent
	}
	if f.From != "" {
		d["from"] = f.From
	}
	if f.Detected != 0 {
		d["detected_ns"] = strconv.FormatInt(int64(f.Detected), 10)
	}
	return Event{At: at, Kind: Stack, Name: f.What, Target: f.Region, Detail: d}
}

// StackFact decodes a Stack event; ok is false for any other event.
func (e Event) StackFact() (f StackFact, ok bool) {
	if e.Kind != Stack {
		return StackFact{}, false
	}
	f = StackFact{What: e.Name, Agent: e.Detail["agent"], Region: e.Target, From: e.Detail["from"]}
	f.Epoch, _ = strconv.ParseInt(e.Detail["epoch"], 10, 64)
	ns, _ := strconv.ParseInt(e.Detail["detected_ns"], 10, 64)
	f.Detected = time.Duration(ns)
	return f, true
}

// agentsDetail is the Detail key of the agents a fault's injection took away from their
// owner (the region's agents at the time).
const agentsDetail = "agents"

// WithAgents records on an Inject event the agents the fault takes away.
func (e *Event) WithAgents(agents []string) {
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail[agentsDetail] = strings.Join(agents, ",")
}

// Agents are the agents an Inject event says the fault takes away, sorted; ok is false
// when the event does not say.
func (e Event) Agents() (agents []string, ok bool) {
	list, ok := e.Detail[agentsDetail]
	if !ok {
		return nil, false
	}
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			agents = append(agents, a)
		}
	}
	sort.Strings(agents)
	return agents, true
}

// Loss is what a fault takes away that the stack must recover from, recorded on its Inject
// event by the fault itself.
type Loss string

const (
	// LossNone: nothing the checkers measure a recovery from.
	LossNone Loss = ""
	// LossRegion: the target region is cut off from its peers (dead or isolated), so its
	// agents must move to a new owner; RTO is measured.
	LossRegion Loss = "region"
)

// lossDetail is the Detail key of an Inject event's Loss.
const lossDetail = "loses"

// WithLoss records on an Inject event what the fault takes away.
func (e *Event) WithLoss(l Loss) {
	if l == LossNone {
		return
	}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail[lossDetail] = string(l)
}

// Loss is what an Inject event says its fault takes away. Runs saved before faults
// recorded it are read the way the checkers read them then: a region outage, or a
// partition of the isolate shape, loses its region.
func (e Event) Loss() Loss {
	if l, ok := e.Detail[lossDetail]; ok {
		return Loss(l)
	}
	kind := e.Fault
	if kind == "" {
		_, kind, _ = strings.Cut(e.Name, ":")
	}
	if kind == "region-outage" || (kind == "partition" && e.Detail["shape"] == "isolate") {
		return LossRegion
	}
	return LossNone
}

// Timeline is safe for concurrent use.
type Timeline struct {
	mu     sync.Mutex
	clock  *Clock
	events []Event
	// sink, when set, gets every event as it is added (a journal in the run directory).
	sink func(Event)
}

// Stream passes every event added from now on to sink as well, in the order added.
func (t *Timeline) Stream(sink func(Event)) {
	t.mu.Lock()
	t.sink = sink
	t.mu.Unlock()
}

// New returns an empty timeline on clock.
func New(clock *Clock) *Timeline { return &Timeline{clock: clock} }

// Record appends an event stamped now.
func (t *Timeline) Record(e Event) Event {
	e.At = t.clock.Now()
	t.Add(e)
	return e
}

// Add appends an event keeping its At, for events whose time was taken before the action
// they record finished (a fault starts when the kill is sent, not when it returns).
func (t *Timeline) Add(e Event) {
	t.mu.Lock()
	t.events = append(t.events, e)
	if t.sink != nil {
		t.sink(e)
	}
	t.mu.Unlock()
}

// Events returns a copy ordered by time.
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Sorted(t.events)
}

// Sorted returns a copy of events ordered by time (stable, so simultaneous events keep their
// recorded order).
func Sorted(events []Event) []Event {
	out := append([]Event(nil), events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// Window is a fault's active interval: from injection to verified heal.
type Window struct {
	Name   string        `json:"name"`
	Fault  string        `json:"fault"`
	Target string        `json:"target"`
	Start  time.Duration `json:"start_ns"`
	End    time.Duration `json:"end_ns"` // 0 if never healed
}

// Windows pairs Inject and Healed events by Name, in time order whatever the order given.
func Windows(events []Event) []Window {
	var out []Window
	idx := map[string]int{}
	for _, e := range Sorted(events) {
		switch e.Kind {
		case Inject:
			idx[e.Name] = len(out)
			out = append(out, Window{Name: e.Name, Fault: e.Fault, Target: e.Target, Start: e.At})
		case Healed:
			if i, ok := idx[e.Name]; ok {
				out[i].End = e.At
			}
		}
	}
	return out
}

// WriteJSONL writes one event per line.
func WriteJSONL(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("timeline: encode: %w", err)
		}
	}
	return bw.Flush()
}

// Load reads a timeline file written by WriteJSONL.
func Load(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	defer f.Close()
	return ReadJSONL(f, path)
}

// ReadJSONL reads events written by WriteJSONL; name labels errors with their line.
func ReadJSONL(r io.Reader, name string) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", name, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}
