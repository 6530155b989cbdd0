package checkers

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/config"
	"github.com/geodrill/geodrill/timeline"
)

// NameFailback is the fail-back checker; it runs only for scenarios with automatic fail-back.
const NameFailback = "failback"

// failbackApplies: only a scenario that asks for automatic fail-back is judged on it.
func failbackApplies(in Input) bool {
	return in.Scenario != nil && in.Scenario.Stack.Failback.Mode == config.FailbackAuto
}

// FailbackData is the failback checker's measurement.
type FailbackData struct {
	Moved    []string                 `json:"moved"`     // agents seen away from their home region
	Returned map[string]time.Duration `json:"returned"`  // agent -> fail-back delay after its home healed
	NotBack  map[string]string        `json:"not_back"`  // agent -> region it ended in
	MaxDelay time.Duration            `json:"max_delay"` // over Returned
}

// Failback checks, from the owners observed at the router during load, that every agent
// that failed over away from its home region was handed back to it, and measures how long
// after the home region healed that happened.
func Failback(_ context.Context, in Input) Result {
	sc := in.Scenario
	homes := map[string]string{}
	for _, reg := range api.Placement(sc.Topology.Regions, sc.Topology.Agents, sc.Topology.Placement) {
		homes[reg.Agent] = reg.Home
	}
	healed := map[string]time.Duration{} // region -> last heal of a fault targeting it
	type track struct {
		left       bool
		last       string
		leftAt     time.Duration
		returnedAt time.Duration
	}
	tracks := map[string]*track{}
	events := timeline.Sorted(in.Timeline)
	for _, e := range events {
		switch {
		case e.Kind == timeline.Healed && e.Target != "":
			healed[e.Target] = e.At
		case e.Kind == timeline.Observe && e.Name == timeline.OwnerName:
			o, _ := e.Owner()
			agent, region := o.Agent, o.Region
			home, ok := homes[agent]
			if !ok || region == "" {
				continue
			}
			t := tracks[agent]
			if t == nil {
				t = &track{}
				tracks[agent] = t
			}
			t.last = region
			switch {
			case region != home && !t.left:
				t.left, t.leftAt = true, e.At
			case region == home && t.left && t.returnedAt == 0:
				t.returnedAt = e.At
			case region != home:
				t.returnedAt = 0 // left again
			}
		}
	}
	data := FailbackData{Returned: map[string]time.Duration{}, NotBack: map[string]string{}}
	for agent, t := range tracks {
		if !t.left {
			continue
		}
		data.Moved = append(data.Moved, agent)
		if t.last != homes[agent] {
			data.NotBack[agent] = t.last
			continue
		}
		delay := max(t.returnedAt-healed[homes[agent]], 0)
		data.Returned[agent] = delay
		data.MaxDelay = max(data.MaxDelay, delay)
	}
	sort.Strings(data.Moved)

	back := Verdict{Checker: NameFailback, Target: "every agent that failed over is back in its home region by the end of load",
		Value: float64(len(data.NotBack)), Limit: 0}
	switch {
	case len(data.Moved) == 0:
		back.Status = Unknown
		back.Measured = "no agent left its home region"
		back.Detail = "fail-back was not exercised: no owner change away from a home region was observed"
	case len(data.NotBack) > 0:
		back.Status = Fail
		var left []string
		for a, r := range data.NotBack {
			left = append(left, a+" in "+r)
		}
		sort.Strings(left)
		back.Measured = fmt.Sprintf("%d of %d moved agents not back: %s", len(data.NotBack), len(data.Moved), listFew(left, 5))
	default:
		back.Status = Pass
		back.Measured = fmt.Sprintf("%d of %d moved agents back home", len(data.Returned), len(data.Moved))
	}
	hold := sc.Stack.Failback.Hold
	delay := Verdict{Checker: NameFailback, Target: "fail-back delay after the home region healed (no target)",
		Status: Pass, Value: seconds(data.MaxDelay),
		Measured: fmt.Sprintf("max %s (hold %s)", data.MaxDelay.Round(time.Millisecond), hold)}
	if len(data.Returned) == 0 {
		delay.Status, delay.Measured = Unknown, "no agent returned"
	}
	return Result{Checker: NameFailback, Verdicts: []Verdict{back, delay}, Data: data}
}

// scenarioCheckers judge only the runs whose scenario asks for what they check; other runs
// (and their saved results) get no result from them, so saved runs replay unchanged.
var scenarioCheckers = []struct {
	checker
	applies func(Input) bool
}{
	{checker{NameFailback, Failback}, failbackApplies},
	{checker{NameTolerance, Tolerance}, toleranceApplies},
	{checker{NameCertificates, Certificates}, certificatesApplies},
}

// scenarioResults runs the scenario checkers that apply to in, after the fixed ones.
func scenarioResults(ctx context.Context, in Input) []Result {
	var out []Result
	for _, c := range scenarioCheckers {
		switch {
		case !c.applies(in):
		case ctx.Err() != nil:
			out = append(out, Result{Checker: c.name, Verdicts: []Verdict{{
				Checker: c.name, Target: "checked", Status: Unknown, Measured: "not checked",
				Detail: fmt.Sprintf("not run: %v", ctx.Err()),
			}}})
		default:
			out = append(out, c.check(ctx, in))
		}
	}
	return out
}
