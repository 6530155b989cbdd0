package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/reports"
	"github.com/geodrill/geodrill/rundir"
)

// cmdReport aggregates saved run directories and, with --baseline, compares them against a
// baseline; a regression exits 10 like a failed check, so CI can gate on it.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	baseline := fs.String("baseline", "", "")
	threshold := fs.Float64("threshold", reports.DefaultThreshold, "")
	asJSON := fs.Bool("json", false, "")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usageError{"report needs run directories, e.g. harness report runs/ or harness report --baseline runs/base runs/region-outage-..."}
	}
	if *threshold < 0 {
		return usageError{fmt.Sprintf("--threshold %g: must be a percentage >= 0, e.g. --threshold 20", *threshold)}
	}
	runs, err := reports.LoadRuns(dirs...)
	if err != nil {
		return err
	}
	ensureHTML(runs, stderr)
	agg := reports.AggregateRuns(runs)
	out := struct {
		Aggregate  reports.Aggregate   `json:"aggregate"`
		Baseline   *reports.Aggregate  `json:"baseline,omitempty"`
		Comparison *reports.Comparison `json:"comparison,omitempty"`
	}{Aggregate: agg}
	if *baseline != "" {
		base, err := reports.LoadRuns(*baseline)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		ensureHTML(base, stderr)
		b := reports.AggregateRuns(base)
		c := reports.Compare(b, agg, *threshold)
		out.Baseline, out.Comparison = &b, &c
	}
	if *asJSON {
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, agg.Text())
		if out.Comparison != nil {
			fmt.Fprintf(stdout, "\nagainst the baseline %s (%d drills):\n%s", *baseline, out.Baseline.Runs, out.Comparison.Text())
		}
	}
	switch {
	case out.Comparison != nil && len(out.Comparison.Regressions) > 0:
		return checkFailed{checkers.Fail}
	case out.Comparison == nil && agg.Passed < agg.Runs:
		return checkFailed{checkers.Fail}
	}
	return nil
}

// ensureHTML writes report.html into saved runs from before it existed, so every run
// `harness report` names can be opened in a browser. A read-only artifact directory is
// reported and skipped: the aggregate does not need it.
func ensureHTML(runs []*reports.Run, stderr io.Writer) {
	for _, r := range runs {
		if _, err := os.Stat(filepath.Join(r.Dir, rundir.HTMLFile)); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := reports.WriteHTML(r); err != nil {
			fmt.Fprintf(stderr, "harness: %v (the aggregate does not need it)\n", err)
			continue
		}
		fmt.Fprintf(stderr, "wrote %s\n", filepath.Join(r.Dir, rundir.HTMLFile))
	}
}

// printJSON prints what `run --json` promises: for one drill its results (results.json's
// fields plus dir and report), for several {"runs": [...], "aggregates": [...]}, one
// aggregate per scenario file.
func printJSON(w io.Writer, runs []*reports.Run, aggs []reports.Aggregate) error {
	if len(runs) == 1 {
		return writeJSON(w, reports.NewRunJSON(runs[0]))
	}
	all := struct {
		Runs       []reports.RunJSON   `json:"runs"`
		Aggregates []reports.Aggregate `json:"aggregates"`
	}{Runs: []reports.RunJSON{}, Aggregates: aggs}
	for _, r := range runs {
		all.Runs = append(all.Runs, reports.NewRunJSON(r))
	}
	return writeJSON(w, all)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
