package checkers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/timeline"
)

// NameTolerance is the tolerance checker: faults the stack must ride out moved no agent.
const NameTolerance = "tolerance"

// toleranceGrace is how long after a ridden-out fault healed a move still counts against it:
// a detector that fired during the fault may take over an agent a little later.
const toleranceGrace = 2 * time.Second

// toleranceApplies: only runs with a fault marked as one to ride out (a brief pause).
func toleranceApplies(in Input) bool {
	for _, e := range in.Timeline {
		if e.Kind == timeline.Inject && e.Detail["expect"] == faults.ExpectNoFailover {
			return true
		}
	}
	return false
}

// ToleranceData is the tolerance checker's measurement.
type ToleranceData struct {
	// Faults lists each fault to ride out with the agents its region owned at injection.
	Faults []ToleratedFault `json:"faults"`
}

// ToleratedFault is one fault the stack was expected to ride out.
type ToleratedFault struct {
	Name   string        `json:"name"`
	Region string        `json:"region"`
	From   time.Duration `json:"from_ns"`
	To     time.Duration `json:"to_ns"` // healed + grace; 0 if never healed
	Owned  int           `json:"owned"` // agents the region owned at injection
	// Moved: agent -> the region that took it over during the window.
	Moved map[string]string `json:"moved,omitempty"`
}

// Tolerance checks that a fault the stack is expected to ride out (a brief pause of a host,
// shorter than the failure detector's budget) moved none of the agents its region owned: a
// failure detector that fires on one slow probe fails over healthy hosts. It reads the
// owners observed during load; with no owner seen in the region at injection there is
// nothing to judge (unknown).
func Tolerance(_ context.Context, in Input) Result {
	events := timeline.Sorted(in.Timeline)
	windows := map[string]timeline.Window{}
	for _, w := range timeline.Windows(events) {
		windows[w.Name] = w
	}
	owner := map[string]string{} // agent -> region, as last observed
	var d ToleranceData
	open := map[int]bool{}
	for _, e := range events {
		switch {
		case e.Kind == timeline.Inject && e.Detail["expect"] == faults.ExpectNoFailover:
			region := e.Detail["region"]
			if region == "" {
				region = e.Target
			}
			tf := ToleratedFault{Name: e.Name, Region: region, From: e.At}
			if w, ok := windows[e.Name]; ok && w.End > 0 {
				tf.To = w.End + toleranceGrace
			}
			for _, r := range owner {
				if r == region {
					tf.Owned++
				}
			}
			d.Faults = append(d.Faults, tf)
			open[len(d.Faults)-1] = true
		case e.Kind == timeline.Observe && e.Name == timeline.OwnerName:
			o, _ := e.Owner()
			agent, region := o.Agent, o.Region
			prev := owner[agent]
			owner[agent] = region
			for i := range open {
				tf := &d.Faults[i]
				if tf.To > 0 && e.At > tf.To {
					delete(open, i)
					continue
				}
				if prev == tf.Region && region != tf.Region {
					if tf.Moved == nil {
						tf.Moved = map[string]string{}
					}
					tf.Moved[agent] = region
				}
			}
		}
	}

	v := Verdict{Checker: NameTolerance, Target: "agents moved by faults the stack must ride out == 0"}
	moved, owned := 0, 0
	var problems []string
	for _, tf := range d.Faults {
		owned += tf.Owned
		moved += len(tf.Moved)
		if len(tf.Moved) > 0 {
			agents := make([]string, 0, len(tf.Moved))
			for a, r := range tf.Moved {
				agents = append(agents, a+"→"+r)
			}
			sort.Strings(agents)
			problems = append(problems, fmt.Sprintf("%s (%s) moved %s", tf.Name, tf.Region, listFew(agents, 5)))
		}
	}
	v.Value = float64(moved)
	switch {
	case moved > 0:
		v.Status = Fail
		v.Measured = fmt.Sprintf("%d of %d agents failed over during faults to ride out", moved, owned)
		v.Detail = strings.Join(problems, "; ")
	case owned == 0:
		v.Status = Unknown
		v.Measured = "no agent owned by a paused region at injection"
		v.Detail = "nothing was at stake: no owner of the paused regions was observed"
	default:
		v.Status = Pass
		v.Measured = fmt.Sprintf("0 of %d agents moved over %d faults to ride out", owned, len(d.Faults))
	}
	return Result{Checker: NameTolerance, Verdicts: []Verdict{v}, Data: d}
}
