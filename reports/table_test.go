package reports

import (
	"strings"
	"testing"

	"github.com/geodrill/geodrill/checkers"
)

func TestTable(t *testing.T) {
	tests := []struct {
		name    string
		results []checkers.Result
		want    string
	}{
		{"sample", sampleResults(), `
CHECKER          TARGET                   MEASURED  VERDICT
linearizability  linearizable             yes       PASS
rpo              max_lost_writes <= 0     0         PASS
rto              rto_p95 <= 5s            7.31s     FAIL
availability     min_availability >= 0.8  n/a       UNKNOWN
`},
		{"silent checker and messy cells", []checkers.Result{
			{Checker: "split-brain"},
			{Checker: "rpo", Verdicts: []checkers.Verdict{{Target: "max_loss_window <= 0s", Measured: "1.2s\n(3 writes)", Status: checkers.Fail}}},
		}, `
CHECKER      TARGET                 MEASURED         VERDICT
split-brain  (no verdict)           -                UNKNOWN
rpo          max_loss_window <= 0s  1.2s (3 writes)  FAIL
`},
		{"empty", nil, `
CHECKER  TARGET  MEASURED  VERDICT
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Table(tt.results)
			if want := strings.TrimPrefix(tt.want, "\n"); got != want {
				t.Errorf("Table:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
