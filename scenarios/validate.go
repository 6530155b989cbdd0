package scenarios

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/geodrill/geodrill/system"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/config"
	"github.com/geodrill/geodrill/timeline"
)

// Busiest is the fault target meaning "the region owning most agents at injection time".
const Busiest = "busiest"

// Providers where a stack can run. (docker and kind are designed, not built yet.)
func Providers() []string { return []string{"local", "netns", "docker", "kind", "auto"} }

// FaultKinds that a scenario may schedule: the faults package's table.
func FaultKinds() []string { return faults.Names() }

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	regionPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
)

// Validate reports every problem with a scenario (defaults should be applied first), joined
// with errors.Join. A scenario built in code gets errors without file and line.
func (s *Scenario) Validate() error {
	v := &validator{lines: map[string]int{}, tainted: map[string]bool{}}
	s.validate(v)
	return v.err()
}

// validator collects problems; lines and tainted come from the decoder.
type validator struct {
	file    string
	lines   map[string]int
	tainted map[string]bool
	errs    []*Error
}

// add records a problem with field unless field, or a field the check depends on, already
// failed to decode: one mistake, one message.
func (v *validator) add(field, fix, msg string, deps ...string) {
	for _, p := range append([]string{field}, deps...) {
		if v.isTainted(p) {
			return
		}
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(field), Field: field, Msg: msg, Fix: fix})
}

// taintedUnder: p or a field below it failed to decode (a pointer section such as a
// trigger is then left nil, which must not read as "absent").
func (v *validator) taintedUnder(p string) bool {
	for t := range v.tainted {
		if t == p || strings.HasPrefix(t, p+".") || strings.HasPrefix(t, p+"[") {
			return true
		}
	}
	return v.isTainted(p)
}

func (v *validator) isTainted(p string) bool {
	for t := range v.tainted {
		if t == "" || p == t || strings.HasPrefix(p, t+".") || strings.HasPrefix(p, t+"[") {
			return true
		}
	}
	return false
}

// line is the line of path, or of its nearest ancestor present in the file.
func (v *validator) line(path string) int {
	for {
		if l, ok := v.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parent(path)
	}
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (v *validator) err() error {
	sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
	errs := make([]error, len(v.errs))
	for i, e := range v.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func (s *Scenario) validate(v *validator) {
	if s.Name == "" {
		v.add("name", "set name: to a short identifier, e.g. region-outage", "name is missing")
	} else if !namePattern.MatchString(s.Name) {
		v.add("name", "use letters, digits, '.', '_' and '-' (it names the run directory)",
			fmt.Sprintf("name %q is not a usable identifier", s.Name))
	}
	v.oneOf("provider", "provider", s.Provider, Providers())
	s.Topology.validate(v, s.Stack.Durability)
	s.validateStack(v)
	s.validateSystem(v)
	s.Workload.validate(v, s.Topology)
	s.validateLimits(v)
	if len(s.Faults) <= MaxFaults { // past it, one message says so, not one per fault
		for i, f := range s.Faults {
			f.validate(v, fmt.Sprintf("faults[%d]", i), s)
		}
		s.validateOverlaps(v)
		s.validateHolds(v)
	}
	if s.Nemesis != nil {
		s.Nemesis.validate(v, s)
	}
	s.SLA.validate(v)
}

// oneOf checks value against known, suggesting the closest on a typo.
func (v *validator) oneOf(field, what, value string, known []string, deps ...string) bool {
	if slices.Contains(known, value) {
		return true
	}
	fix := "use one of: " + strings.Join(known, ", ")
	if s := suggest(value, known); s != "" {
		fix = fmt.Sprintf("did you mean %q?", s)
	}
	v.add(field, fix, fmt.Sprintf("unknown %s %q", what, value), deps...)
	return false
}

func (t *Topology) validate(v *validator, durability string) {
	if len(t.Regions) == 0 {
		v.add("topology.regions", "list the regions, e.g. regions: [a, b, c]", "topology.regions is empty")
	}
	first := map[string]int{}
	for i, r := range t.Regions {
		field := fmt.Sprintf("topology.regions[%d]", i)
		switch {
		case slices.Contains(faults.Selectors(), r):
			v.add(field, "pick another name", fmt.Sprintf("region name %q is reserved for fault targets", r))
		case !regionPattern.MatchString(r):
			v.add(field, "use 1-32 lower-case letters, digits and '-' (it names hosts, clusters and directories)",
				fmt.Sprintf("region name %q is not a valid name", r))
		}
		if j, dup := first[r]; dup {
			v.add(field, "region names must be unique",
				fmt.Sprintf("duplicate region %q (also topology.regions[%d] at line %d)", r, j, v.line(fmt.Sprintf("topology.regions[%d]", j))))
			continue
		}
		first[r] = i
	}
	if durability == api.DurabilitySyncGeo && len(t.Regions) > 0 && len(t.Regions) < 3 {
		v.add("topology.regions", "add regions until there are at least 3",
			fmt.Sprintf("durability sync-geo needs a cross-region quorum: at least 3 regions, got %d", len(t.Regions)),
			"stack.durability")
	}
	if t.Agents < 1 {
		v.add("topology.agents", "set agents: to at least 1, e.g. agents: 12",
			fmt.Sprintf("topology.agents must be at least 1, got %d", t.Agents))
	}
	if t.KeysPerAgent < 1 {
		v.add("topology.keys_per_agent", fmt.Sprintf("leave it out for the default (%d)", DefaultKeysPerAgent),
			fmt.Sprintf("topology.keys_per_agent must be at least 1, got %d", t.KeysPerAgent))
	}
	total := 0
	for _, r := range sortedKeys(t.Placement) {
		n := t.Placement[r]
		field := "topology.placement." + r
		if !slices.Contains(t.Regions, r) {
			fix := fmt.Sprintf("place agents in one of topology.regions: %s", strings.Join(t.Regions, ", "))
			if s := suggest(r, t.Regions); s != "" {
				fix = fmt.Sprintf("did you mean %q?", s)
			}
			v.add(field, fix, fmt.Sprintf("placement region %q is not in topology.regions", r), "topology.regions")
		}
		if n < 0 {
			v.add(field, "use 0 or more", fmt.Sprintf("placement count for %q must not be negative, got %d", r, n))
			continue
		}
		total += n
	}
	if t.Agents >= 1 && total > t.Agents {
		v.add("topology.placement", fmt.Sprintf("lower the counts to sum to at most %d, or raise topology.agents to %d", t.Agents, total),
			fmt.Sprintf("placement puts %d agents in regions but topology.agents is %d", total, t.Agents),
			"topology.agents")
	}
}

// validateStack reports what refstack/config finds wrong with the stack section, against
// the fields in the file.
func (s *Scenario) validateStack(v *validator) {
	for _, p := range s.Stack.ProblemsAt("stack.") {
		fix := p.Fix
		if p.Field == "stack.durability" {
			if d := suggest(s.Stack.Durability, config.Durabilities()); d != "" {
				fix = fmt.Sprintf("did you mean %q?", d)
			}
		}
		v.add(p.Field, fix, p.Msg, p.Related...)
	}
}

// validateSystem reports what is wrong with a described system, and what of the scenario
// needs the reference stack: its planted bugs, a provider other than local or netns, and a
// workload with cas when the system does not serve it.
func (s *Scenario) validateSystem(v *validator) {
	d := s.System
	if d == nil {
		return
	}
	for _, p := range d.ProblemsAt("system.") {
		v.add(p.Field, p.Fix, p.Msg, p.Related...)
	}
	if !s.Stack.Unsafe.Set.IsZero() {
		v.add("stack.unsafe", "leave stack.unsafe out: planted bugs are the reference stack's",
			"stack.unsafe applies to the reference stack only", "system")
	}
	if !slices.Contains([]string{"", "auto", "local", "netns"}, s.Provider) {
		v.add("provider", "use provider: local (the default) or netns (root: a namespace per region, for partitions)",
			fmt.Sprintf("a described system runs on the local or netns provider, not %s", s.Provider), "system")
	}
	for i, f := range s.Faults {
		if f.Trigger != nil {
			v.add(fmt.Sprintf("faults[%d].trigger", i), "use at: instead",
				"triggers wait on the reference stack's own events (its etcd), which a described system does not have", "system")
		}
	}
	if s.Nemesis != nil {
		v.add("nemesis", "list the faults instead", "the nemesis draws the reference stack's services and targets", "system")
	}
	if s.Workload.Mix.CAS > 0 && !d.Serve(system.ServesCAS) {
		v.add("workload.mix.cas", "set mix.cas: 0, or add cas to system.serves if the adapter serves it",
			"the system does not serve cas (system.serves)", "system.serves")
	}
}

func (w *Workload) validate(v *validator, t Topology) {
	if w.Rate < 1 {
		v.add("workload.rate", "set a rate in requests per second, e.g. rate: 200",
			fmt.Sprintf("workload.rate must be at least 1 request per second, got %d", w.Rate))
	}
	if w.Duration <= 0 {
		v.add("workload.duration", "set how long to drive load, e.g. duration: 30s",
			fmt.Sprintf("workload.duration must be positive, got %s", w.Duration))
	}
	if w.Timeout <= 0 {
		v.add("workload.timeout", "leave it out for the default (2s)",
			fmt.Sprintf("workload.timeout must be positive, got %s", w.Timeout))
	}
	for _, m := range []struct {
		name string
		n    int
	}{{"put", w.Mix.Put}, {"get", w.Mix.Get}, {"cas", w.Mix.CAS}} {
		if m.n < 0 {
			v.add("workload.mix."+m.name, "weights are 0 or more",
				fmt.Sprintf("workload.mix.%s must not be negative, got %d", m.name, m.n))
		}
	}
	w.validateBurst(v)
	w.Cold.validate(v, w, t)
	if t.Agents >= 1 {
		w.Agents.validate(v, "workload.agents", "agents", t.Agents, "topology.agents")
	}
	if warm := t.KeysPerAgent - w.Cold.Keys; t.KeysPerAgent >= 1 && w.Cold.Keys >= 0 && warm >= 1 {
		what := "keys"
		if w.Cold.Keys > 0 {
			what = "keys that are not cold"
		}
		w.Keys.validate(v, "workload.keys", what, warm, "topology.keys_per_agent", "workload.cold.keys")
	}
}

func (f *Fault) validate(v *validator, path string, s *Scenario) {
	switch {
	case f.Kind == "":
		v.add(path+".kind", "set kind: to one of: "+strings.Join(FaultKinds(), ", "), path+".kind is missing")
	case v.oneOf(path+".kind", "fault kind", f.Kind, FaultKinds()):
		f.validateParams(v, path, s.Topology.Regions, s)
	}
	if f.Trigger != nil {
		f.Trigger.validate(v, path+".trigger", s)
	} else if f.Region == faults.SelectNewOwner && !v.taintedUnder(path+".trigger") {
		v.add(path+".region", "add a trigger: (new-owner is the region a triggering event names), or name a region",
			fmt.Sprintf("region %q needs a trigger", faults.SelectNewOwner), path+".trigger")
	}
	if k, err := faults.Lookup(f.Kind); err == nil && k.NeedsController && s.Stack.Controller.Disabled {
		v.add(path+".kind", "enable the controller (remove stack.controller.disabled)",
			f.Kind+" is filed with the failover controller, which is disabled", "stack.controller.disabled")
	}
	if f.At < 0 {
		v.add(path+".at", "use an offset from the start of the load, e.g. at: 10s",
			fmt.Sprintf("%s.at must not be negative, got %s", path, f.At))
	} else if s.Workload.Duration > 0 && f.At >= s.Workload.Duration {
		v.add(path+".at", fmt.Sprintf("inject before %s, or lengthen workload.duration", s.Workload.Duration),
			fmt.Sprintf("%s.at %s is at or beyond the end of the load (workload.duration %s)", path, f.At, s.Workload.Duration),
			"workload.duration")
	}
	if f.Duration <= 0 {
		v.add(path+".duration", "set how long to hold the fault, e.g. duration: 15s",
			fmt.Sprintf("%s.duration must be positive, got %s", path, f.Duration))
	}
}

// validateParams lets the kind check its own fields (faults.Kind.Check), then build the
// fault, so that no parameter the faults package rejects gets past validation.
func (f *Fault) validateParams(v *validator, path string, regions []string, s *Scenario) {
	k, err := faults.Lookup(f.Kind)
	if err != nil {
		return // reported with the kind
	}
	before := len(v.errs)
	spec := f.Spec(regions, s.Services())
	if k.Check != nil {
		k.Check(spec, paramCheck{v: v, path: path, kind: f.Kind, regions: regions})
	}
	if len(v.errs) > before || v.isTainted(path) {
		return // one mistake, one message: the kind would only repeat it
	}
	for t := range v.tainted {
		if strings.HasPrefix(t, path+".") {
			return // a misspelled field already has its message (ofset: → offset)
		}
	}
	if _, err := k.New(spec); err != nil {
		v.add(path, "fix the fault's parameters (README.md, \"Faults and providers\", lists each kind's)", err.Error())
	}
}

// paramCheck reports a kind's parameter problems against the fault's fields in the file.
type paramCheck struct {
	v       *validator
	path    string // faults[i]
	kind    string
	regions []string
}

func (c paramCheck) Problem(field, fix, msg string, related ...string) {
	c.v.add(c.path+"."+field, fix, msg, related...)
}

func (c paramCheck) Needs(field string, known []string) {
	c.v.add(c.path+"."+field, "set "+field+": to one of: "+strings.Join(known, ", "), c.kind+" needs "+field)
}

func (c paramCheck) OneOf(field, what, value string, known []string, related ...string) bool {
	return c.v.oneOf(c.path+"."+field, what, value, known, related...)
}

func (c paramCheck) Region(field, value string, selectors bool) {
	targets := slices.Clone(c.regions)
	if selectors {
		targets = append(targets, faults.Selectors()...)
	}
	if value == "" {
		c.Needs(field, targets)
		return
	}
	c.v.oneOf(c.path+"."+field, "region", value, targets, "topology.regions")
}

// Spec is the fault as the faults package takes it. A trigger's delay is its range's
// minimum here; the drill draws it from the seed (faults.TriggerDelay).
func (f Fault) Spec(topology, services []string) faults.Spec {
	s := faults.Spec{
		Kind: f.Kind, Region: f.Region, At: f.At.D(), Duration: f.Duration.D(),
		Topology: slices.Clone(topology), Services: slices.Clone(services), Params: f.Params,
	}
	if t := f.Trigger; t != nil {
		s.Trigger = &faults.Trigger{On: faults.EventKind(t.On), Of: t.Of,
			MinAfter: t.After.Min.D(), MaxAfter: t.After.Max.D(), After: t.After.Min.D()}
	}
	return s
}

func (t *Trigger) validate(v *validator, path string, s *Scenario) {
	if t.On == "" {
		v.add(path+".on", "set on: to one of: "+strings.Join(faults.EventKinds(), ", "), path+".on is missing")
	} else {
		v.oneOf(path+".on", "trigger event", t.On, faults.EventKinds())
	}
	if t.After.Min < 0 || t.After.Max < t.After.Min {
		v.add(path+".after", "write a delay such as 150ms or a range low..high such as 0s..300ms",
			fmt.Sprintf("%s.after %s: need 0 <= low <= high", path, t.After))
	}
	if t.Of == "" {
		return
	}
	self := 0
	for i := range s.Faults {
		if s.Faults[i].Trigger == t {
			self = i + 1
		}
	}
	switch n := faults.FaultRef(t.Of); {
	case n == 0:
		v.oneOf(path+".of", "trigger region or fault", t.Of, append(slices.Clone(s.Topology.Regions), "f1"), "topology.regions")
	case n > len(s.Faults):
		v.add(path+".of", fmt.Sprintf("name one of f1..f%d (faults in file order)", len(s.Faults)),
			fmt.Sprintf("%s.of %q names no fault: the scenario has %d", path, t.Of, len(s.Faults)))
	case n == self:
		v.add(path+".of", "name an earlier fault, e.g. f1", fmt.Sprintf("%s.of %q names the fault itself", path, t.Of))
	}
}

// Schedule is the nemesis as the faults package takes it.
func (n Nemesis) Schedule() faults.Nemesis {
	return faults.Nemesis{Kinds: n.Kinds, Start: n.Start.D(), End: n.End.D(),
		MinHold: n.MinHold.D(), MaxHold: n.MaxHold.D(), MinGap: n.MinGap.D(), MaxGap: n.MaxGap.D()}
}

func (n *Nemesis) validate(v *validator, s *Scenario) {
	before := len(v.errs)
	for i, k := range n.Kinds {
		v.oneOf(fmt.Sprintf("nemesis.kinds[%d]", i), "nemesis kind", k, faults.NemesisKinds())
	}
	if s.Workload.Duration > 0 && n.End > s.Workload.Duration {
		v.add("nemesis.end", fmt.Sprintf("end the window by %s, or lengthen workload.duration", s.Workload.Duration),
			fmt.Sprintf("nemesis.end %s is beyond the end of the load", n.End), "workload.duration")
	}
	if len(v.errs) > before || v.isTainted("nemesis") {
		return
	}
	if _, err := n.Schedule().Schedule(s.Seed, s.Topology.Regions); err != nil {
		v.add("nemesis", "set start < end, 0 < min_hold <= max_hold, 0 <= min_gap <= max_gap", err.Error())
	}
}

func (sla *SLA) validate(v *validator) {
	if sla.MaxLostWrites != nil && *sla.MaxLostWrites < 0 {
		v.add("sla.max_lost_writes", "use 0 for no loss", fmt.Sprintf("sla.max_lost_writes must not be negative, got %d", *sla.MaxLostWrites))
	}
	if sla.MaxLossWindow != nil && *sla.MaxLossWindow < 0 {
		v.add("sla.max_loss_window", "use 0s for no loss", fmt.Sprintf("sla.max_loss_window must not be negative, got %s", *sla.MaxLossWindow))
	}
	if sla.RTOP95 != nil && *sla.RTOP95 <= 0 {
		v.add("sla.rto_p95", "e.g. rto_p95: 5s", fmt.Sprintf("sla.rto_p95 must be positive, got %s", *sla.RTOP95))
	}
	if sla.RTOMax != nil && *sla.RTOMax <= 0 {
		v.add("sla.rto_max", "e.g. rto_max: 10s", fmt.Sprintf("sla.rto_max must be positive, got %s", *sla.RTOMax))
	}
	if sla.RTOP95 != nil && sla.RTOMax != nil && *sla.RTOMax > 0 && *sla.RTOP95 > *sla.RTOMax {
		v.add("sla.rto_p95", fmt.Sprintf("lower rto_p95 to at most %s, or raise rto_max", *sla.RTOMax),
			fmt.Sprintf("sla.rto_p95 %s exceeds sla.rto_max %s", *sla.RTOP95, *sla.RTOMax), "sla.rto_max")
	}
	for _, name := range slices.Sorted(maps.Keys(sla.RTOPhasesP95)) {
		field := "sla.rto_phases_p95." + name
		if !timeline.IsRecoveryPhase(name) {
			var names []string
			for _, p := range timeline.RecoveryPhases() {
				names = append(names, p.Name)
			}
			v.add(field, "name one of: "+strings.Join(names, ", "), fmt.Sprintf("%s: %q is not a recovery phase", field, name))
			continue
		}
		if d := sla.RTOPhasesP95[name]; d <= 0 {
			v.add(field, fmt.Sprintf("e.g. %s: 2s", name), fmt.Sprintf("%s must be positive, got %s", field, d))
		}
	}
	if a := sla.MinAvailability; a != nil && !(*a >= 0 && *a <= 1) {
		fix := "write a ratio, e.g. min_availability: 0.8"
		if *a >= 10 && *a <= 100 { // written as a percentage
			fix = fmt.Sprintf("write %g for %g%%", *a/100, *a)
		}
		v.add("sla.min_availability", fix, fmt.Sprintf("sla.min_availability is a ratio in 0..1, got %g", *a))
	}
	if sla.MaxP99Latency != nil && *sla.MaxP99Latency <= 0 {
		v.add("sla.max_p99_latency", "e.g. max_p99_latency: 500ms", fmt.Sprintf("sla.max_p99_latency must be positive, got %s", *sla.MaxP99Latency))
	}
	for _, r := range []struct {
		field string
		x     *float64
	}{{"max_error_rate_during_fault", sla.MaxErrorRateDuringFault}, {"error_budget", sla.ErrorBudget}} {
		if r.x != nil && !(*r.x >= 0 && *r.x <= 1) {
			v.add("sla."+r.field, fmt.Sprintf("write a ratio, e.g. %s: 0.05", r.field), fmt.Sprintf("sla.%s is a ratio in 0..1, got %g", r.field, *r.x))
		}
	}
	if sla.CheckMemoryMiB < 64 {
		v.add("sla.check_memory_mib", fmt.Sprintf("leave it out for the default (%d)", DefaultCheckMemoryMiB),
			fmt.Sprintf("sla.check_memory_mib must be at least 64, got %d", sla.CheckMemoryMiB))
	}
	if sla.CheckTimeout <= 0 {
		v.add("sla.check_timeout", "leave it out for the default (60s)",
			fmt.Sprintf("sla.check_timeout must be positive, got %s", sla.CheckTimeout))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
