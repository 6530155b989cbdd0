package reports

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// Load reads a run directory written by Write: scenario.yaml, timeline.jsonl, history.jsonl
// and results.json, so a saved run can be re-checked without a cluster.
func Load(dir string) (*Run, error) {
	s, err := scenarios.Load(filepath.Join(dir, rundir.ScenarioFile))
	if err != nil {
		return nil, fmt.Errorf("reports: load %s: %w", dir, err)
	}
	events, err := timeline.Load(filepath.Join(dir, rundir.TimelineFile))
	if err != nil {
		return nil, fmt.Errorf("reports: load %s: %w", dir, err)
	}
	h, err := history.Load(filepath.Join(dir, rundir.HistoryFile))
	if err != nil {
		return nil, fmt.Errorf("reports: load %s: %w", dir, err)
	}
	path := filepath.Join(dir, rundir.ResultsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reports: load: %w", err)
	}
	f, err := decodeResults(data)
	if err != nil {
		return nil, fmt.Errorf("reports: load %s: %w", path, err)
	}
	obs, err := loadObservations(dir)
	if err != nil {
		return nil, err
	}
	return &Run{
		Dir:          dir,
		Scenario:     s,
		Seed:         f.Seed,
		Started:      f.Started,
		Duration:     f.Duration,
		Provider:     f.Provider,
		Timeline:     events,
		History:      h,
		Results:      f.Results,
		Status:       f.Status,
		HarnessError: f.HarnessError,
		Notes:        f.Notes,
		Observations: obs,
	}, nil
}
