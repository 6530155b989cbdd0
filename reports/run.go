// Package reports writes and reads run directories: one directory per drill holding the
// resolved scenario, timeline, history, results, a Markdown summary and JUnit XML. A saved
// run directory can be loaded back and re-checked without a cluster.
package reports

import (
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// Run is one drill's record.
type Run struct {
	Dir      string
	Scenario *scenarios.Scenario
	Seed     int64
	Started  time.Time // wall clock, for display
	Duration time.Duration
	Provider string // the provider that ran it (what "auto" resolved to)
	Timeline []timeline.Event
	History  history.History
	Results  []checkers.Result
	Status   checkers.Status
	// HarnessError is non-empty when the harness or cluster failed: the run is then not a
	// verdict on the system under test.
	HarnessError string
	Notes        []string
	// Observations are the post-run facts (observations.json); nil for older runs.
	Observations *checkers.Observations
}

// Overall is the run's verdict: the worst of Status and every checker's result. A harness
// error, or a run with no checker results, is at best unknown: unknown is never a pass.
func (r *Run) Overall() checkers.Status {
	s := checkers.Worst(r.Status, checkers.Overall(r.Results)) // no results at all: unknown
	if r.HarnessError != "" {
		s = checkers.Worst(s, checkers.Unknown)
	}
	return s
}

func (r *Run) provider() string {
	if r.Provider == "" && r.Scenario != nil {
		return r.Scenario.Provider
	}
	return r.Provider
}

func (r *Run) name() string {
	if r.Scenario == nil || r.Scenario.Name == "" {
		return "run"
	}
	return r.Scenario.Name
}
