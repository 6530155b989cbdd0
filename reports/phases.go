package reports

import (
	"fmt"
	"strings"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/timeline"
)

// phaseRow is one recovery phase as the reports show it.
type phaseRow struct {
	Phase, What, P50, P95, Max string
	Agents                     int
	Width                      float64 // the p50 bar, percent of the slowest phase's max
}

// phaseWhat says what each phase's moment is.
func phaseWhat(name string) string {
	for _, p := range timeline.RecoveryPhases() {
		if p.Name == name {
			return p.Means
		}
	}
	return ""
}

// phaseRows are the rto checker's recovery phases, nil when it measured none.
func phaseRows(d *checkers.RTOData) []phaseRow {
	if d == nil || len(d.Phases) == 0 {
		return nil
	}
	var slowest float64
	for _, p := range d.Phases {
		slowest = max(slowest, p.Max)
	}
	var out []phaseRow
	for _, p := range d.Phases {
		r := phaseRow{Phase: p.Phase, What: phaseWhat(p.Phase), Agents: p.Agents,
			P50: fmtSecs(p.P50), P95: fmtSecs(p.P95), Max: fmtSecs(p.Max)}
		if slowest > 0 {
			r.Width = 100 * p.P50 / slowest
		}
		out = append(out, r)
	}
	return out
}

// leaderNotes say, per measured fault, whether its region held the etcd or the controller
// leader when it started: either costs an election before recovery can begin.
func leaderNotes(d *checkers.RTOData) []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, w := range d.Windows {
		if w.EtcdLeader == "" && w.ControllerLeader == "" {
			continue
		}
		var held []string
		if w.EtcdLeader == w.Region {
			held = append(held, "the etcd leader")
		}
		if w.ControllerLeader == w.Region {
			held = append(held, "the controller leader")
		}
		what := "neither leader"
		if len(held) > 0 {
			what = strings.Join(held, " and ")
		}
		out = append(out, fmt.Sprintf("%s: region %s held %s at the fault's start (etcd leader %s, controller leader %s)",
			w.Name, w.Region, what, orNone(w.EtcdLeader), orNone(w.ControllerLeader)))
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writePhases is summary.md's recovery phase table.
func writePhases(b *strings.Builder, d *checkers.RTOData) {
	rows := phaseRows(d)
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Recovery phases\n\nSeconds from each region fault's start, over every affected agent.\n\n")
	b.WriteString("| Phase | Moment | Agents | p50 | p95 | max |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s |\n", r.Phase, mdCell(r.What), r.Agents, r.P50, r.P95, r.Max)
	}
	b.WriteString("\n")
	for _, n := range leaderNotes(d) {
		fmt.Fprintf(b, "- %s\n", oneLine(n))
	}
	b.WriteString("\n")
}

// rtoData is the run's rto checker data, nil when there is none.
func rtoData(r *Run) *checkers.RTOData {
	for _, res := range r.Results {
		if d, ok := checkers.DataOf[checkers.RTOData](res); ok {
			return &d
		}
	}
	return nil
}
