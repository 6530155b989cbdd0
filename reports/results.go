package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/geodrill/geodrill/checkers"
)

// resultsFormat versions results.json, so a later geodrill can tell an old run apart.
const resultsFormat = 1

// resultsFile is results.json: everything about the run that is not the scenario, the
// timeline or the history.
type resultsFile struct {
	Format       int               `json:"format"`
	Scenario     string            `json:"scenario"`
	Status       checkers.Status   `json:"status"`
	Seed         int64             `json:"seed"`
	Provider     string            `json:"provider"`
	Started      time.Time         `json:"started"`
	Duration     time.Duration     `json:"duration_ns"`
	HarnessError string            `json:"harness_error,omitempty"`
	Notes        []string          `json:"notes,omitempty"`
	Ops          OpCounts          `json:"ops"`
	Results      []checkers.Result `json:"results"`
}

func encodeResults(r *Run) ([]byte, error) {
	b, err := json.MarshalIndent(newResultsFile(r), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func newResultsFile(r *Run) resultsFile {
	f := resultsFile{
		Format:       resultsFormat,
		Scenario:     r.name(),
		Status:       r.Overall(),
		Seed:         r.Seed,
		Provider:     r.provider(),
		Started:      r.Started,
		Duration:     r.Duration,
		HarnessError: r.HarnessError,
		Notes:        r.Notes,
		Ops:          CountOps(r.History),
		Results:      finite(r.Results),
	}
	if f.Results == nil {
		f.Results = []checkers.Result{} // "results": [] reads better than null
	}
	return f
}

func decodeResults(data []byte) (*resultsFile, error) {
	var f resultsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if f.Format > resultsFormat {
		return nil, fmt.Errorf("format %d is newer than this geodrill reads (%d)", f.Format, resultsFormat)
	}
	if len(f.Results) == 0 {
		f.Results = nil
	}
	for i := range f.Results {
		raw, ok := f.Results[i].Data.(json.RawMessage)
		if !ok {
			continue
		}
		// Indenting the file re-indented the raw data; compact it back to what was written.
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("result %s: %w", f.Results[i].Checker, err)
		}
		f.Results[i].Data = json.RawMessage(buf.Bytes())
	}
	return &f, nil
}

// finite copies results with NaN and ±Inf values (which JSON cannot hold) replaced by 0,
// saying so in the detail, so one odd measurement cannot lose the whole results file.
func finite(results []checkers.Result) []checkers.Result {
	out := make([]checkers.Result, len(results))
	for i, res := range results {
		out[i] = res
		out[i].Verdicts = append([]checkers.Verdict(nil), res.Verdicts...)
		for j := range out[i].Verdicts {
			v := &out[i].Verdicts[j]
			for _, f := range []struct {
				name string
				x    *float64
			}{{"value", &v.Value}, {"limit", &v.Limit}} {
				if math.IsNaN(*f.x) || math.IsInf(*f.x, 0) {
					v.Detail = joinDetail(v.Detail, fmt.Sprintf("%s %v written as 0", f.name, *f.x))
					*f.x = 0
				}
			}
		}
	}
	if results == nil {
		return nil
	}
	return out
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
