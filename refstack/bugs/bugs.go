// Package bugs is the one table of the reference stack's unsafe switches: bugs planted on
// purpose, each off by default, each breaking one guarantee so the checkers can be shown to
// notice. A switch has one name (hyphenated); the harness (`harness run --unsafe`), scenario
// files (stack.unsafe), the cluster spec and the refstack processes (`--unsafe a,b`) all
// carry a Set of them, and each component asks its config's Set whether a switch is on.
package bugs

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Name is a switch's name, hyphenated: "skip-checksum".
type Name string

// Component is a part of the reference stack that reads switches.
type Component string

// The components that read switches. Controller and Checkpoint run inside the host process.
const (
	Host       Component = "host"
	Router     Component = "router"
	Controller Component = "controller"
	Checkpoint Component = "checkpoint"
)

// The switches, by name.
const (
	AckBeforeCommit     Name = "ack-before-commit"
	NoReplication       Name = "no-replication"
	RouterIgnoresEpochs Name = "router-ignores-epochs"
	NoFencing           Name = "no-fencing"
	SkipChecksum        Name = "skip-checksum"
)

// Switch is one row of the table.
type Switch struct {
	Name Name
	// Breaks is the guarantee the switch gives up (the README sentence).
	Breaks string
	// Readers are the components that read the switch.
	Readers []Component
	// Durability, if set, is the only durability the switch applies to.
	Durability string
	// Param, if set, says what the switch's duration parameter means (name=10s);
	// DefaultParam is its value when none is given.
	Param        string
	DefaultParam time.Duration
	// Aliases are older spellings still accepted (scenario files written before this table).
	Aliases []string
	// Exposed is the fault or workload that creates the situation the bug needs.
	Exposed string
	// Caught is the checker that should fail when the bug is on and exposed.
	Caught string
}

// Table is every switch, in the order the README lists them.
var Table = []Switch{
	{
		Name:       AckBeforeCommit,
		Breaks:     "writes are acknowledged before the cross-region commit",
		Readers:    []Component{Host},
		Durability: "sync-geo",
		Exposed:    "region-outage of the owner's region: whatever was acknowledged but not flushed is lost",
		Caught:     "linearizability",
	},
	{
		Name:    RouterIgnoresEpochs,
		Breaks:  "the router follows the newest epoch (it keeps forwarding to the previous owner for 10s)",
		Readers: []Component{Router},
		Param:   "how long the router keeps forwarding to the previous owner",
		// Longer than any RTO target, so the rto checker must notice.
		DefaultParam: 10 * time.Second,
		Aliases:      []string{"router-ignores-epochs-for"},
		Exposed:      "region-outage: the failed-over agents stay routed to the dead region",
		Caught:       "rto",
	},
	{
		Name:       NoReplication,
		Breaks:     "checkpoints are replicated to other regions (async: kept in the owner's region only)",
		Readers:    []Component{Host},
		Durability: "async",
		Exposed:    "region-outage of the owner's region (async)",
		Caught:     "integrity",
	},
	{
		Name:    NoFencing,
		Breaks:  "a deposed owner is fenced by its epoch (it keeps serving after its lease went)",
		Readers: []Component{Host},
		Exposed: "pause of the owner's host with router owner_ttl > 0: the deposed owner wakes and serves",
		Caught:  "linearizability",
	},
	{
		Name:    SkipChecksum,
		Breaks:  "restores verify each checkpoint's sha256 (a corrupt copy is taken for the truth)",
		Readers: []Component{Checkpoint},
		Exposed: "checkpoint-corruption, then a restore from the corrupted region",
		Caught:  "linearizability",
	},
}

// Lookup finds a switch by name or alias; underscores count as hyphens.
func Lookup(name string) (Switch, bool) {
	n := strings.ReplaceAll(strings.TrimSpace(name), "_", "-")
	for _, s := range Table {
		if string(s.Name) == n || slices.Contains(s.Aliases, n) {
			return s, true
		}
	}
	return Switch{}, false
}

// Names lists every switch name in table order.
func Names() []string {
	out := make([]string, len(Table))
	for i, s := range Table {
		out[i] = string(s.Name)
	}
	return out
}

// UnknownError is a name that is in no row of the table.
type UnknownError struct{ Name string }

func (e UnknownError) Error() string {
	return fmt.Sprintf("unknown unsafe switch %q (known: %s)", e.Name, strings.Join(Names(), ", "))
}

// On is one switch turned on, with its parameter (0 for none or the default).
type On struct {
	Name  Name
	Param time.Duration
}

// Set is the switches turned on. The zero value is the healthy stack.
type Set struct {
	on []On // sorted by name, at most one per name
}

// Of is the set of the named switches, each with its default parameter.
func Of(names ...Name) Set {
	var s Set
	for _, n := range names {
		if err := s.Add(string(n), ""); err != nil {
			panic(err) // a Name constant missing from Table
		}
	}
	return s
}

// Parse reads a comma-separated list of switches, each name or name=param: "no-fencing",
// "skip-checksum,router-ignores-epochs=5s". "" is the empty set.
func Parse(s string) (Set, error) {
	var set Set
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, param, _ := strings.Cut(part, "=")
		if err := set.Add(name, strings.TrimSpace(param)); err != nil {
			return Set{}, err
		}
	}
	return set, nil
}

// Add turns on the switch name (any spelling Lookup accepts) with param, a duration for
// switches that take one ("" for the default).
func (s *Set) Add(name, param string) error {
	sw, ok := Lookup(name)
	if !ok {
		return UnknownError{Name: strings.TrimSpace(name)}
	}
	o := On{Name: sw.Name}
	switch {
	case param != "" && sw.Param == "":
		return fmt.Errorf("unsafe switch %s takes no parameter, got %q", sw.Name, param)
	case param != "":
		d, err := time.ParseDuration(param)
		if err != nil || d <= 0 {
			return fmt.Errorf("unsafe switch %s: parameter %q: want a positive duration such as %s (%s)", sw.Name, param, sw.DefaultParam, sw.Param)
		}
		if d != sw.DefaultParam {
			o.Param = d
		}
	}
	i, found := slices.BinarySearchFunc(s.on, o.Name, func(a On, n Name) int { return strings.Compare(string(a.Name), string(n)) })
	if found {
		s.on[i] = o
		return nil
	}
	s.on = slices.Insert(slices.Clone(s.on), i, o)
	return nil
}

// On reports whether the switch is on.
func (s Set) On(name Name) bool {
	_, ok := s.find(name)
	return ok
}

// Param is the parameter of a switch that is on: the one given, else the table's default;
// 0 when the switch is off.
func (s Set) Param(name Name) time.Duration {
	o, ok := s.find(name)
	switch {
	case !ok:
		return 0
	case o.Param > 0:
		return o.Param
	}
	sw, _ := Lookup(string(name))
	return sw.DefaultParam
}

func (s Set) find(name Name) (On, bool) {
	for _, o := range s.on {
		if o.Name == name {
			return o, true
		}
	}
	return On{}, false
}

// List is the switches turned on, sorted by name.
func (s Set) List() []On { return slices.Clone(s.on) }

// IsZero reports whether no switch is on (yaml omitempty uses it).
func (s Set) IsZero() bool { return len(s.on) == 0 }

// String is the set as Parse reads it: "no-fencing,router-ignores-epochs=5s".
func (s Set) String() string {
	parts := make([]string, len(s.on))
	for i, o := range s.on {
		parts[i] = string(o.Name)
		if o.Param > 0 {
			parts[i] += "=" + o.Param.String()
		}
	}
	return strings.Join(parts, ",")
}

// Union is s with every switch of t turned on too (t's parameters win).
func (s Set) Union(t Set) Set {
	out := Set{on: slices.Clone(s.on)}
	for _, o := range t.on {
		p := ""
		if o.Param > 0 {
			p = o.Param.String()
		}
		_ = out.Add(string(o.Name), p) // names from a Set are in the table
	}
	return out
}

// CheckDurability reports the first switch that does not apply to durability ("" means
// sync-geo), as an error saying so.
func (s Set) CheckDurability(durability string) error {
	if durability == "" {
		durability = "sync-geo"
	}
	for _, o := range s.on {
		sw, _ := Lookup(string(o.Name))
		if sw.Durability != "" && sw.Durability != durability {
			return DurabilityError{Switch: sw.Name, Want: sw.Durability}
		}
	}
	return nil
}

// DurabilityError is a switch turned on under a durability it does not apply to.
type DurabilityError struct {
	Switch Name
	Want   string
}

func (e DurabilityError) Error() string {
	return fmt.Sprintf("unsafe switch %s applies to durability %s only", e.Switch, e.Want)
}
