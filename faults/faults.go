// Package faults holds the fault kinds, their lifecycle and the schedule that runs them.
//
// Every kind is one file with a typed params struct and sits in the Kinds table. The
// lifecycle is enforced once, by Runner: inject → verify it took effect → hold → recover →
// verify healed, and cleanup (recovering whatever is still injected) always runs.
//
// A fault starts at a time or, with a Trigger, on one of the stack's own events (watched in
// etcd by StackEvents) plus a seeded delay; its region may be a selector (Selectors)
// resolved at injection.
package faults

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
)

// Fault is one injected failure with its parameters resolved.
type Fault interface {
	// Inject starts the failure. It returns details worth recording (e.g. the resolved
	// target and the agents it affects).
	Inject(ctx context.Context, env Env) (Record, error)
	// Verify checks that the failure took effect.
	Verify(ctx context.Context, env Env) error
	// Recover ends the failure.
	Recover(ctx context.Context, env Env) error
	// VerifyHealed checks that the system is back to health after Recover.
	VerifyHealed(ctx context.Context, env Env) error
}

// Record is what an injection reports for the timeline.
type Record struct {
	Target string
	Detail map[string]string
	// Agents are the agents the fault takes away from their owner (the target region's,
	// read at injection), for the checkers that measure their recovery; nil when the
	// fault does not say.
	Agents []string
	// Loses is what the fault takes away that the stack must recover from.
	Loses timeline.Loss
}

// agentsOf lists, sorted, the agents region owns in owners; never nil.
func agentsOf(owners map[string]api.Owner, region string) []string {
	out := []string{}
	for a, o := range owners {
		if o.Region == region {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// Env is what faults act on. Cluster is asked for capabilities by type assertion, so a
// provider only implements what it can do.
type Env struct {
	Cluster any
	Probe   Probe
	Owners  func(ctx context.Context) (map[string]api.Owner, error)
	// Etcd is each region's etcd client endpoint (host:port), for the faults and target
	// selectors that read or write the stack's own state.
	Etcd map[string]string
	// HotAgent is the workload's hottest agent (the hottest-owner selector).
	HotAgent string
	// Trigger is the stack event that triggered this fault (the new-owner selector); nil
	// for a fault scheduled by time. The Runner sets it.
	Trigger *StackEvent
	// TLS, when the stack runs with mutual TLS, is the harness's client configuration for
	// the faults that read or write the stack's own state (etcd, object stores).
	TLS *tls.Config
}

// Probe checks a region's health from outside.
type Probe interface {
	// RegionUp returns nil when every service of the region answers its health check.
	RegionUp(ctx context.Context, region string) error
	// RegionDown returns nil when no service of the region answers.
	RegionDown(ctx context.Context, region string) error
	// RegionAnswers returns nil when every service of the region answers its health check
	// at all, healthy or not: its processes run and are reachable (an isolated region's
	// etcd member answers, unhealthy, without quorum).
	RegionAnswers(ctx context.Context, region string) error
}

// Realisation says how faithfully a provider can produce a fault.
type Realisation string

const (
	Exact       Realisation = "exact"
	Approximate Realisation = "approximate"
	Unavailable Realisation = "unavailable"
)

// Spec is a fault as a scenario states it: what every kind has, plus the kind's own typed
// parameters.
type Spec struct {
	Kind     string
	Region   string
	At       time.Duration
	Duration time.Duration

	// Topology is every region, in preference order (for shapes that need the whole set).
	Topology []string
	// Services are the services per region a fault may name: the described system's; nil
	// for the reference stack's (api.Services, the router among them).
	Services []string
	// Seed is the scenario seed, for kinds that draw at random while they are held.
	Seed int64
	// Trigger, when set, injects the fault on a stack event after At instead of at At.
	Trigger *Trigger
	// Params are the kind's own parameters: a pointer to the struct its Kind.Params makes
	// (*PartitionParams for a partition); nil means all zero.
	Params any
}

// ParamCheck takes the problems a kind finds in its parameters when a scenario is loaded,
// so the user gets file, line, field and fix. field is the scenario's name for the
// parameter, relative to the fault ("region", "path", "regions[1]"); related names other
// scenario fields (absolute, e.g. "topology.regions") the problem depends on, so that one
// mistake gives one message.
type ParamCheck interface {
	// Problem reports field as wrong; fix says what to write instead.
	Problem(field, fix, msg string, related ...string)
	// Needs reports field as missing, listing what it may be.
	Needs(field string, known []string)
	// OneOf reports field unless value is one of known (what names the field in the
	// message), suggesting the closest on a typo; it says whether value was fine.
	OneOf(field, what, value string, known []string, related ...string) bool
	// Region reports field unless value is a topology region or, with selectors, a target
	// selector (Selectors); an empty value is reported as missing.
	Region(field, value string, selectors bool)
}

// Kind describes one fault kind with its parameters erased, as the table holds it; a kind's
// file writes it as a KindOf with typed parameters.
type Kind struct {
	Name string
	// Params makes a new, zero parameters value (a pointer to the kind's params struct, whose
	// yaml tags name the scenario fields written beside kind, region, at, duration and
	// trigger).
	Params func() any
	// Check reports, field by field, what is wrong with the parameters of s before New
	// builds the fault (New's error is reported against the whole fault).
	Check func(s Spec, c ParamCheck)
	// NeedsController: the kind works through the stack's failover controller, so a stack
	// without one cannot run it.
	NeedsController bool
	// Draw, when set, lets the nemesis draw the kind: it fills s's target and parameters
	// from d (At, Duration and Topology are set).
	Draw func(s *Spec, d Draws)
	// Realise reports how the given cluster can realise this kind, and why.
	Realise func(cluster any) (Realisation, string)
	// New builds the fault from its spec.
	New func(spec Spec) (Fault, error)
}

// Kinds is every fault kind geodrill knows, in one explicit table.
var Kinds = []Kind{
	regionOutageKind.Kind(),
	processCrashKind.Kind(),
	pauseKind.Kind(),
	briefPauseKind.Kind(),
	partitionKind.Kind(),
	wanDegradationKind.Kind(),
	objectStoreOutageKind.Kind(),
	etcdMemberLossKind.Kind(),
	etcdQuorumLossKind.Kind(),
	clockSkewKind.Kind(),
	checkpointCorruptionKind.Kind(),
	replyLossKind.Kind(),
	slowRepliesKind.Kind(),
	falseDeclarationKind.Kind(),
	crashLoopKind.Kind(),
	certExpiryKind.Kind(),
}

func init() {
	if err := checkKinds(Kinds); err != nil {
		panic("faults: " + err.Error())
	}
}

// checkKinds rejects a table with a nameless kind, a duplicate name or a kind missing its
// constructor or realisation, before anything runs.
func checkKinds(kinds []Kind) error {
	seen := map[string]bool{}
	for i, k := range kinds {
		switch {
		case k.Name == "":
			return fmt.Errorf("kind %d of the table has no name", i+1)
		case seen[k.Name]:
			return fmt.Errorf("kind %q is in the table twice", k.Name)
		case k.New == nil || k.Realise == nil || k.Check == nil || k.Params == nil:
			return fmt.Errorf("kind %q lacks New, Realise, Check or Params", k.Name)
		}
		seen[k.Name] = true
	}
	return nil
}

// Names lists the kinds in table order.
func Names() []string {
	out := make([]string, len(Kinds))
	for i, k := range Kinds {
		out[i] = k.Name
	}
	return out
}

// Lookup finds a kind by name.
func Lookup(name string) (Kind, error) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.Name
	}
	sort.Strings(names)
	return Kind{}, fmt.Errorf("unknown fault kind %q (known: %s)", name, strings.Join(names, ", "))
}

// Planned is one fault on the schedule.
type Planned struct {
	ID    string // f1:region-outage
	Kind  string
	At    time.Duration
	Hold  time.Duration
	Fault Fault
	How   Realisation
	Why   string
	// Trigger, when set, waits from At for a stack event (see Trigger).
	Trigger *Trigger
}

// Plan builds the schedule for a cluster, failing before anything starts when a fault
// cannot be realised there.
func Plan(specs []Spec, cluster any, provider string) ([]Planned, error) {
	out := make([]Planned, 0, len(specs))
	for i, s := range specs {
		k, err := Lookup(s.Kind)
		if err != nil {
			return nil, fmt.Errorf("fault %d: %w", i+1, err)
		}
		f, err := k.New(s)
		if err != nil {
			return nil, fmt.Errorf("fault %d (%s): %w", i+1, s.Kind, err)
		}
		how, why := k.Realise(cluster)
		// A kind whose faithfulness depends on its parameters (a link's latency needs
		// netem) refines the answer per fault.
		if pr, ok := f.(interface {
			Realise(cluster any) (Realisation, string)
		}); ok && how != Unavailable {
			how, why = pr.Realise(cluster)
		}
		if u, ok := cluster.(Unsupported); ok && u.Unsupported(s.Kind) != "" {
			how, why = Unavailable, u.Unsupported(s.Kind)
		}
		if how == Unavailable {
			return nil, fmt.Errorf("fault %d (%s) is unavailable on provider %q: %s", i+1, s.Kind, provider, why)
		}
		if s.Trigger != nil {
			if err := s.Trigger.Check(); err != nil {
				return nil, fmt.Errorf("fault %d (%s): %w", i+1, s.Kind, err)
			}
		}
		out = append(out, Planned{
			ID: fmt.Sprintf("f%d:%s", i+1, s.Kind), Kind: s.Kind,
			At: s.At, Hold: s.Duration, Fault: f, How: how, Why: why, Trigger: s.Trigger,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out, nil
}
