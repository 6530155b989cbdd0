package reports

import (
	"path/filepath"

	"github.com/geodrill/geodrill/rundir"
)

// RunJSON is what `harness run --json` prints for one drill: results.json's fields plus
// where the run directory and its report are.
type RunJSON struct {
	Dir    string `json:"dir"`
	Report string `json:"report"`
	resultsFile
}

// NewRunJSON builds r's RunJSON.
func NewRunJSON(r *Run) RunJSON {
	return RunJSON{Dir: r.Dir, Report: filepath.Join(r.Dir, rundir.HTMLFile), resultsFile: newResultsFile(r)}
}
