package reports

import (
	"strings"
	"text/tabwriter"

	"github.com/geodrill/geodrill/checkers"
)

// Table is a compact, aligned terminal table of every verdict: checker, target, measured,
// and the verdict as PASS, FAIL or UNKNOWN. A checker that gave no verdict shows as UNKNOWN.
func Table(results []checkers.Result) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	w.Write([]byte("CHECKER\tTARGET\tMEASURED\tVERDICT\n"))
	for _, row := range rows(results) {
		w.Write([]byte(strings.Join([]string{oneLine(row.Checker), oneLine(row.Target), oneLine(row.Measured),
			upper(row.Status)}, "\t") + "\n"))
	}
	w.Flush()
	return b.String()
}

// rows flattens results into verdicts, standing in an unknown verdict for a checker that
// produced none, so a silent checker is never read as a pass.
func rows(results []checkers.Result) []checkers.Verdict {
	var out []checkers.Verdict
	for _, res := range results {
		if len(res.Verdicts) == 0 {
			out = append(out, checkers.Verdict{Checker: res.Checker, Target: "(no verdict)", Measured: "-",
				Status: checkers.Unknown, Detail: "the checker produced no verdict"})
			continue
		}
		for _, v := range res.Verdicts {
			if v.Checker == "" {
				v.Checker = res.Checker
			}
			out = append(out, v)
		}
	}
	return out
}

func upper(s checkers.Status) string { return strings.ToUpper(s.String()) }

// oneLine keeps a cell on one line and free of tabs.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}
