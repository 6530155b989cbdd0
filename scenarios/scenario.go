// Package scenarios decodes and validates drill scenarios: YAML files decoded strictly into
// one typed struct. The *.yaml files beside this package are the shipped scenarios.
package scenarios

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/geodrill/geodrill/refstack/config"
	"github.com/geodrill/geodrill/system"
	"gopkg.in/yaml.v3"
)

// Scenario is one drill: topology, stack settings, workload, fault schedule, SLA targets, seed.
type Scenario struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Seed        int64    `yaml:"seed" json:"seed"`
	Provider    string   `yaml:"provider,omitempty" json:"provider,omitempty"` // local (default)
	Topology    Topology `yaml:"topology" json:"topology"`
	// Stack is the reference stack's configuration, owned by refstack/config (defaults and
	// validation there); the provider hands it to every process as one file.
	Stack config.Stack `yaml:"stack" json:"stack"`
	// System, when set, is a described system the drill exercises instead of the reference
	// stack (README "Drilling another system"); Stack then does not apply.
	System   *system.Described `yaml:"system,omitempty" json:"system,omitempty"`
	Workload Workload          `yaml:"workload" json:"workload"`
	Faults   []Fault           `yaml:"faults" json:"faults"`
	// Nemesis, when set, adds a random fault schedule drawn from the seed.
	Nemesis *Nemesis `yaml:"nemesis,omitempty" json:"nemesis,omitempty"`
	SLA     SLA      `yaml:"sla" json:"sla"`
}

// Topology: regions, agents and where agents start.
type Topology struct {
	// Regions in preference order; failover prefers the next region after an agent's home.
	Regions      []string `yaml:"regions" json:"regions"`
	Agents       int      `yaml:"agents" json:"agents"`
	KeysPerAgent int      `yaml:"keys_per_agent" json:"keys_per_agent"`
	// Placement gives how many agents start in each region; the rest are spread round-robin.
	Placement map[string]int `yaml:"placement,omitempty" json:"placement,omitempty"`
}

// Workload: open-loop load through the router.
type Workload struct {
	Rate     int      `yaml:"rate" json:"rate"` // requests per second
	Duration Duration `yaml:"duration" json:"duration"`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"` // per request
	Mix      Mix      `yaml:"mix,omitempty" json:"mix,omitempty"`
	// Agents and Keys skew which agent, and which of its keys, each random op goes to
	// (default uniform). The first agent (agent-00) and the first key (k0) are the hottest.
	Agents Popularity `yaml:"agents,omitempty" json:"agents,omitempty"`
	Keys   Popularity `yaml:"keys,omitempty" json:"keys,omitempty"`
	// Cold keys are written early and read back late, out of the random load.
	Cold Cold `yaml:"cold,omitempty" json:"cold,omitempty"`
	// Burst sends the load in groups of this many simultaneous ops, each group on one agent
	// and key, at the same average rate (default 1: one op at a time).
	Burst int `yaml:"burst,omitempty" json:"burst,omitempty"`
}

// Popularity is a distribution over an ordered list (agents, or an agent's keys).
type Popularity struct {
	// Distribution: uniform (default), zipf or hotset.
	Distribution string `yaml:"distribution,omitempty" json:"distribution,omitempty"`
	// Exponent (zipf): item i (from 0) weighs 1/(i+1)^exponent (default 1).
	Exponent float64 `yaml:"exponent,omitempty" json:"exponent,omitempty"`
	// Hot (hotset): how many items, from the first, are hot (default 1).
	Hot int `yaml:"hot,omitempty" json:"hot,omitempty"`
	// HotShare (hotset): the fraction of random ops on the hot items (default 0.8).
	HotShare float64 `yaml:"hot_share,omitempty" json:"hot_share,omitempty"`
}

// Cold keys: the last Keys of every agent's keys_per_agent, left out of the random load.
// Each is written Writes times before WriteBy (a put, then cas ops expecting the previous
// value) and read Reads times between ReadFrom and the end of the load; the final reads read
// it again.
type Cold struct {
	Keys     int      `yaml:"keys,omitempty" json:"keys,omitempty"`
	Writes   int      `yaml:"writes,omitempty" json:"writes,omitempty"`       // default 1
	WriteBy  Duration `yaml:"write_by,omitempty" json:"write_by,omitempty"`   // default a third of the load
	Reads    int      `yaml:"reads,omitempty" json:"reads,omitempty"`         // default 1
	ReadFrom Duration `yaml:"read_from,omitempty" json:"read_from,omitempty"` // default 4/5 of the load
}

// Mix is the op mix as weights.
type Mix struct {
	Put int `yaml:"put" json:"put"`
	Get int `yaml:"get" json:"get"`
	CAS int `yaml:"cas" json:"cas"`
}

// Fault is one scheduled fault: a kind, its target and parameters, when, and how long.
type Fault struct {
	Kind string `yaml:"kind" json:"kind"` // region-outage
	// Region targets a region by name or by a selector resolved at injection: busiest (the
	// region owning most agents), etcd-leader, controller-leader, hottest-owner (the owner
	// of the workload's hottest agent), new-owner (triggered faults: the region the
	// triggering event names).
	Region   string   `yaml:"region,omitempty" json:"region,omitempty"`
	At       Duration `yaml:"at" json:"at"`
	Duration Duration `yaml:"duration" json:"duration"` // hold before recovery
	// Trigger, when set, injects the fault on the first matching stack event after At
	// (plus a seeded delay) instead of at At.
	Trigger *Trigger `yaml:"trigger,omitempty" json:"trigger,omitempty"`

	// Params are the kind's own fields (shape: for a partition, service: for a crash),
	// written beside the ones above and decoded strictly into the kind's type
	// (faults.Kind.Params); README.md, "Faults and providers", lists each kind's.
	Params any `yaml:"-" json:"params,omitempty"`
}

// Trigger starts a fault on an event of the stack itself.
type Trigger struct {
	// On: ownership-change, checkpoint-publish, lease-revoked or restore.
	On string `yaml:"on" json:"on"`
	// After is the delay from the event to the injection: "150ms", or a range "0s..300ms"
	// the delay is drawn from with the scenario seed.
	After DelayRange `yaml:"after,omitempty" json:"after,omitempty"`
	// Of narrows the events: a region (events whose new or previous owner is that region)
	// or a fault id such as f1 (such events of f1's target region, after f1's injection).
	Of string `yaml:"of,omitempty" json:"of,omitempty"`
}

// Nemesis is a seeded random fault schedule: kinds, targets, starts, holds and gaps all come
// from the scenario seed, so --seed reproduces it.
type Nemesis struct {
	// Kinds to draw from; empty means every kind.
	Kinds []string `yaml:"kinds,omitempty" json:"kinds,omitempty"`
	// Start and End bound the window, as offsets from the start of load.
	Start   Duration `yaml:"start" json:"start"`
	End     Duration `yaml:"end" json:"end"`
	MinHold Duration `yaml:"min_hold" json:"min_hold"`
	MaxHold Duration `yaml:"max_hold" json:"max_hold"`
	MinGap  Duration `yaml:"min_gap" json:"min_gap"`
	MaxGap  Duration `yaml:"max_gap" json:"max_gap"`
}

// SLA targets. A nil pointer means "no target" (measured and reported, not judged).
type SLA struct {
	MaxLostWrites *int      `yaml:"max_lost_writes,omitempty" json:"max_lost_writes,omitempty"`
	MaxLossWindow *Duration `yaml:"max_loss_window,omitempty" json:"max_loss_window,omitempty"`
	Linearizable  *bool     `yaml:"linearizable,omitempty" json:"linearizable,omitempty"`
	RTOP95        *Duration `yaml:"rto_p95,omitempty" json:"rto_p95,omitempty"`
	RTOMax        *Duration `yaml:"rto_max,omitempty" json:"rto_max,omitempty"`
	// RTOPhasesP95 bounds the p95 of a recovery phase, per phase name (timeline.RecoveryPhases),
	// e.g. declared: 1.5s; each is measured from the fault's start like the RTO itself.
	RTOPhasesP95 map[string]Duration `yaml:"rto_phases_p95,omitempty" json:"rto_phases_p95,omitempty"`
	// MinAvailability is the minimum fraction of ok ops over the load phase (0..1).
	MinAvailability *float64 `yaml:"min_availability,omitempty" json:"min_availability,omitempty"`
	// MaxP99Latency bounds the p99 latency of ok load ops in every segment (before, during
	// and after each fault window, and the whole load phase).
	MaxP99Latency *Duration `yaml:"max_p99_latency,omitempty" json:"max_p99_latency,omitempty"`
	// MaxErrorRateDuringFault bounds the fraction of load ops that fail or end unknown while
	// a fault is held (0..1), per fault window.
	MaxErrorRateDuringFault *float64 `yaml:"max_error_rate_during_fault,omitempty" json:"max_error_rate_during_fault,omitempty"`
	// ErrorBudget is the fraction of load ops over the whole run allowed to fail or end
	// unknown (0..1).
	ErrorBudget *float64 `yaml:"error_budget,omitempty" json:"error_budget,omitempty"`
	// CheckTimeout bounds the linearizability search; past it the verdict is unknown.
	CheckTimeout Duration `yaml:"check_timeout,omitempty" json:"check_timeout,omitempty"`
	// CheckMemoryMiB bounds the heap the linearizability search may grow the harness to,
	// in MiB; past it the verdict is unknown, never an out-of-memory kill.
	CheckMemoryMiB int `yaml:"check_memory_mib,omitempty" json:"check_memory_mib,omitempty"`
}

// Duration is a time.Duration written as "10s" in YAML and JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes a fault as it is read: the fields every fault has, then the kind's own
// parameters beside them (zero values left out, durations as "10s"), so a run directory's
// scenario.yaml re-runs the same fault.
func (f Fault) MarshalYAML() (any, error) {
	type plain Fault // the same fields, without this method
	var n yaml.Node
	if err := n.Encode(plain(f)); err != nil {
		return nil, err
	}
	if f.Params == nil {
		return &n, nil
	}
	v := reflect.ValueOf(f.Params)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("fault %s: params %T are not a struct", f.Kind, f.Params)
	}
	for i := range v.NumField() {
		field, value := v.Type().Field(i), v.Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || value.IsZero() {
			continue
		}
		x := value.Interface()
		if d, ok := x.(time.Duration); ok {
			x = Duration(d)
		}
		var k, val yaml.Node
		if err := k.Encode(name); err != nil {
			return nil, err
		}
		if err := val.Encode(x); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &k, &val)
	}
	return &n, nil
}

// Services are the services per region its faults may name: the described system's, or
// nil for the reference stack's.
func (s *Scenario) Services() []string {
	if s.System == nil {
		return nil
	}
	out := []string{}
	for _, svc := range s.System.Services {
		out = append(out, svc.Name)
	}
	return out
}
