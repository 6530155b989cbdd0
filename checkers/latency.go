package checkers

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// NameLatency is the latency/error-rate checker's name.
const NameLatency = "latency"

// LatencyData is the latency Result's Data.
type LatencyData struct {
	Overall Segment         `json:"overall"`
	Windows []LatencyWindow `json:"windows,omitempty"`
}

// Segment is the latency and error rate of the load ops invoked in one span of time.
type Segment struct {
	Ops    int `json:"ops"`
	Errors int `json:"errors"` // fail + unknown
	// ErrorRate is Errors/Ops; P50/P99 are nearest-rank latencies of the ok ops in seconds.
	// Each is null when there is nothing to measure.
	ErrorRate *float64 `json:"error_rate"`
	P50       *float64 `json:"p50_s"`
	P99       *float64 `json:"p99_s"`
	lat       []float64
}

func (s *Segment) add(op history.Op) {
	s.Ops++
	if op.Outcome != history.OK {
		s.Errors++
		return
	}
	s.lat = append(s.lat, seconds(complete(op)-op.Invoke))
}

func (s *Segment) finish() {
	if s.Ops > 0 {
		r := float64(s.Errors) / float64(s.Ops)
		s.ErrorRate = &r
	}
	if len(s.lat) > 0 {
		sort.Float64s(s.lat)
		p50, p99 := nearestRank(s.lat, 50), nearestRank(s.lat, 99)
		s.P50, s.P99 = &p50, &p99
	}
}

// LatencyWindow is one fault window split into before, during (start to verified heal, or
// to the end if never healed) and after, by invoke time.
type LatencyWindow struct {
	Name   string        `json:"name"`
	Fault  string        `json:"fault"`
	Target string        `json:"target,omitempty"`
	Start  time.Duration `json:"start_ns"`
	End    time.Duration `json:"end_ns"`
	Before Segment       `json:"before"`
	During Segment       `json:"during"`
	After  Segment       `json:"after"`
}

// Latency measures p50/p99 latency of ok load ops and the error rate (fail and unknown both
// count) over the load phase and before, during and after each fault window. Three targets:
// SLA.MaxP99Latency bounds the worst p99 of any segment; SLA.MaxErrorRateDuringFault the
// worst error rate during any fault window; SLA.ErrorBudget the error rate of the whole run.
func Latency(_ context.Context, in Input) Result {
	var d LatencyData
	for _, w := range timeline.Windows(in.Timeline) {
		d.Windows = append(d.Windows, LatencyWindow{Name: w.Name, Fault: faultKind(w), Target: w.Target, Start: w.Start, End: w.End})
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
		d.Windows[i].Before.finish()
		d.Windows[i].During.finish()
		d.Windows[i].After.finish()
	}

	sla := in.sla()
	var p99Limit *float64
	if sla.MaxP99Latency != nil {
		l := seconds(sla.MaxP99Latency.D())
		p99Limit = &l
	}
	verdicts := []Verdict{
		judgeAtMost(NameLatency, "latency p99", worstP99(d), p99Limit, fmtLatency),
		judgeAtMost(NameLatency, "error rate during fault", worstDuringErrorRate(d), sla.MaxErrorRateDuringFault, fmtRatio),
		judgeAtMost(NameLatency, "error budget", budget(d.Overall, sla.ErrorBudget), sla.ErrorBudget, fmtRatio),
	}
	return Result{Checker: NameLatency, Verdicts: verdicts, Data: d}
}

// worstP99 is the highest p99 over the whole run and every window segment, naming where.
func worstP99(d LatencyData) measurement {
	m := measurement{absent: "no ok load ops to time"}
	consider := func(s Segment, where string) {
		if s.P99 == nil {
			return
		}
		if m.absent != "" || *s.P99 > m.value {
			m = measurement{value: *s.P99, shown: fmt.Sprintf("%s (%s; p50 %s)", fmtLatency(*s.P99), where, fmtLatency(*s.P50))}
		}
	}
	consider(d.Overall, "whole run")
	for _, w := range d.Windows {
		consider(w.Before, "before "+w.Name)
		consider(w.During, "during "+w.Name)
		consider(w.After, "after "+w.Name)
	}
	return m
}

func worstDuringErrorRate(d LatencyData) measurement {
	m := measurement{absent: "no fault window with load ops to measure"}
	for _, w := range d.Windows {
		s := w.During
		if s.ErrorRate == nil {
			continue
		}
		if m.absent != "" || *s.ErrorRate > m.value {
			m = measurement{value: *s.ErrorRate, shown: fmt.Sprintf("%s (%d of %d ops, during %s)", fmtRatio(*s.ErrorRate), s.Errors, s.Ops, w.Name)}
		}
	}
	return m
}

// budget reports the whole run's error rate and, with a budget, how much of it was used.
func budget(s Segment, limit *float64) measurement {
	if s.ErrorRate == nil {
		return measurement{absent: "no load ops"}
	}
	m := measurement{value: *s.ErrorRate, shown: fmt.Sprintf("%s (%d of %d ops)", fmtRatio(*s.ErrorRate), s.Errors, s.Ops)}
	if limit != nil && *limit > 0 {
		m.shown += fmt.Sprintf(", %.0f%% of budget used", 100**s.ErrorRate / *limit)
	}
	return m
}

// fmtLatency prints seconds at 10µs resolution: loopback requests take well under 1ms.
func fmtLatency(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Microsecond).String()
}
