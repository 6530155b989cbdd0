package reports

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/timeline"
)

// Write writes the run directory r.Dir (creating it if needed): scenario.yaml, timeline.jsonl,
// history.jsonl, results.json, junit.xml, report.html and summary.md. The status written is r.Overall().
// It writes every file it can and reports all failures; each file is replaced atomically.
func Write(r *Run) error {
	if r.Dir == "" {
		return errors.New("reports: write: run has no directory")
	}
	if r.Scenario == nil {
		return fmt.Errorf("reports: write %s: run has no scenario", r.Dir)
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("reports: write: %w", err)
	}
	files := []struct {
		name   string
		render func(*Run) ([]byte, error)
	}{
		{rundir.ScenarioFile, renderScenario},
		{rundir.TimelineFile, renderTimeline},
		{rundir.HistoryFile, renderHistory},
		{rundir.ResultsFile, encodeResults},
		{rundir.ObservationsFile, renderObservations},
		{rundir.JUnitFile, renderJUnit},
		{rundir.HTMLFile, renderHTML}, // before the summary, which links it
		{rundir.SummaryFile, func(r *Run) ([]byte, error) { return []byte(Summary(r)), nil }},
	}
	var errs []error
	for _, f := range files {
		path := filepath.Join(r.Dir, f.name)
		data, err := f.render(r)
		if err == nil {
			err = writeFile(path, data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reports: write %s: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// renderScenario records the scenario that ran, with the run's seed.
func renderScenario(r *Run) ([]byte, error) {
	s := *r.Scenario
	if r.Seed != 0 {
		s.Seed = r.Seed
	}
	return s.Marshal()
}

func renderTimeline(r *Run) ([]byte, error) {
	var buf bytes.Buffer
	err := timeline.WriteJSONL(&buf, r.Timeline)
	return buf.Bytes(), err
}

func renderHistory(r *Run) ([]byte, error) {
	var buf bytes.Buffer
	err := r.History.WriteJSONL(&buf)
	return buf.Bytes(), err
}

// writeFile replaces path atomically: readers (a CI upload, a re-check) never see half a file.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
