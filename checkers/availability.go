package checkers

import (
	"context"
	"fmt"
	"time"

	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// AvailabilityData is the availability Result's Data.
type AvailabilityData struct {
	Overall OpCounts `json:"overall"`
	// Windows: per fault window (every fault kind), the load ops invoked before its start,
	// during it (start to verified heal; to the end if never healed) and after it.
	Windows []AvailabilityWindow `json:"windows,omitempty"`
}

// OpCounts counts load ops by outcome.
type OpCounts struct {
	Ops     int `json:"ops"`
	OK      int `json:"ok"`
	Failed  int `json:"failed"`
	Unknown int `json:"unknown"`
	// Availability is OK/Ops; null when there are no ops.
	Availability *float64 `json:"availability"`
}

func (c *OpCounts) add(op history.Op) {
	c.Ops++
	switch op.Outcome {
	case history.OK:
		c.OK++
	case history.Fail:
		c.Failed++
	default:
		c.Unknown++
	}
}

func (c *OpCounts) finish() {
	if c.Ops > 0 {
		a := float64(c.OK) / float64(c.Ops)
		c.Availability = &a
	}
}

// AvailabilityWindow is one fault window's breakdown.
type AvailabilityWindow struct {
	Name   string        `json:"name"`
	Fault  string        `json:"fault"`
	Target string        `json:"target,omitempty"`
	Start  time.Duration `json:"start_ns"`
	End    time.Duration `json:"end_ns"` // 0: never healed
	Before OpCounts      `json:"before"`
	During OpCounts      `json:"during"`
	After  OpCounts      `json:"after"`
}

// Availability is the fraction of load ops (not final reads) whose outcome is ok — fail and
// unknown both count against it — over the whole load phase, and per fault window before,
// during and after it, by invoke time. SLA.MinAvailability is the target; nil reports only
// (pass). With no load ops the target is unknown.
func Availability(_ context.Context, in Input) Result {
	var d AvailabilityData
	for _, w := range timeline.Windows(in.Timeline) {
		d.Windows = append(d.Windows, AvailabilityWindow{
			Name: w.Name, Fault: faultKind(w), Target: w.Target, Start: w.Start, End: w.End,
		})
	}
	for _, op := range in.History {
		if op.Final {
			continue
		}
		d.Overall.add(op)
		for i := range d.Windows {
			w := &d.Windows[i]
			inWindow(op.Invoke, w.Start, w.End, &w.Before, &w.During, &w.After).add(op)
		}
	}
	d.Overall.finish()
	for i := range d.Windows {
		w := &d.Windows[i]
		w.Before.finish()
		w.During.finish()
		w.After.finish()
	}

	v := Verdict{Checker: NameAvailability, Target: "availability (no target)"}
	limit := in.sla().MinAvailability
	if limit != nil {
		v.Limit = *limit
		v.Target = fmt.Sprintf("availability >= %s", fmtRatio(*limit))
	}
	switch {
	case d.Overall.Availability == nil:
		v.Measured = "no load ops"
		v.Status = Pass
		if limit != nil {
			v.Status = Unknown
			v.Detail = "the history has no load operations"
		}
	default:
		a := *d.Overall.Availability
		v.Value = a
		v.Measured = fmt.Sprintf("%s (%d of %d ops ok)", fmtRatio(a), d.Overall.OK, d.Overall.Ops)
		v.Status = Pass
		if limit != nil && a < *limit {
			v.Status = Fail
		}
		for _, w := range d.Windows {
			if w.During.Availability != nil {
				v.Detail = joinDetail(v.Detail, fmt.Sprintf("during %s: %s", w.Name, fmtRatio(*w.During.Availability)))
			}
		}
	}
	return Result{Checker: NameAvailability, Verdicts: []Verdict{v}, Data: d}
}
