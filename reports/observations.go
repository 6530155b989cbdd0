package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
)

func renderObservations(r *Run) ([]byte, error) {
	b, err := json.MarshalIndent(r.Observations, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// loadObservations reads observations.json; a run without one (saved before observations
// existed, or stopped before they were collected) has none: nil, no error.
func loadObservations(dir string) (*checkers.Observations, error) {
	path := filepath.Join(dir, rundir.ObservationsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reports: load: %w", err)
	}
	var obs *checkers.Observations
	if err := json.Unmarshal(data, &obs); err != nil {
		return nil, fmt.Errorf("reports: load %s: %w (the file is damaged; re-run the drill to collect it again)", path, err)
	}
	return obs, nil
}
