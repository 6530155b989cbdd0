package reports

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// DefaultThreshold is how much worse, in percent, an RTO or loss window may get before it
// counts as a regression: drills on shared machines jitter by a few percent.
const DefaultThreshold = 20

// Comparison is the current drills against a baseline.
type Comparison struct {
	Threshold float64      `json:"threshold_percent"`
	Rows      []CompareRow `json:"rows"`
	// Regressions says, one line each, what got worse; empty means no regression.
	Regressions []string `json:"regressions"`
}

// CompareRow is one metric, baseline against current.
type CompareRow struct {
	Metric    string `json:"metric"`
	Baseline  string `json:"baseline"`
	Current   string `json:"current"`
	Change    string `json:"change"`
	Regressed bool   `json:"regressed"`
}

// Compare flags regressions of cur against base: RTO p95 worse by more than threshold
// percent (or any recovery that never happened where the baseline had none), more
// acknowledged writes lost, a loss window worse by more than threshold percent, a lower pass
// rate, and any target that passed in every baseline drill but not in every current one.
// RTO p50 and max are shown for context; they are too noisy over a few drills to gate on.
func Compare(base, cur Aggregate, threshold float64) Comparison {
	c := Comparison{Threshold: threshold}
	add := func(metric, b, cu, change string, regressed bool) {
		c.Rows = append(c.Rows, CompareRow{metric, b, cu, change, regressed})
		if regressed {
			c.Regressions = append(c.Regressions, fmt.Sprintf("%s: %s → %s (%s)", metric, b, cu, change))
		}
	}
	passChange := fmt.Sprintf("%+.0f points", 100*(cur.PassRate-base.PassRate))
	add("pass rate", pct(base.PassRate), pct(cur.PassRate), passChange, cur.PassRate < base.PassRate)

	rtoRow := func(metric string, b, cu *float64, gate bool) {
		bs, cs := base.rtoText(b), cur.rtoText(cu)
		switch {
		case b != nil && cu != nil:
			change, worse := relChange(*b, *cu, threshold)
			add(metric, bs, cs, change, gate && worse)
		case cu == nil && cur.RTOSamples > 0 && (b != nil || base.RTOSamples == 0):
			add(metric, bs, cs, "agents did not recover", gate)
		default:
			add(metric, bs, cs, "-", false)
		}
	}
	rtoRow("RTO p50", base.RTOP50, cur.RTOP50, false)
	rtoRow("RTO p95", base.RTOP95, cur.RTOP95, true)
	rtoRow("RTO max", base.RTOMax, cur.RTOMax, false)
	add("RTO never recovered", fmt.Sprint(base.RTONotRecovered), fmt.Sprint(cur.RTONotRecovered),
		fmt.Sprintf("%+d", cur.RTONotRecovered-base.RTONotRecovered), cur.RTONotRecovered > base.RTONotRecovered)

	if base.RPOUnmeasured < base.Runs && cur.RPOUnmeasured < cur.Runs {
		add("RPO worst lost writes", fmt.Sprint(base.RPOWorstLost), fmt.Sprint(cur.RPOWorstLost),
			fmt.Sprintf("%+d", cur.RPOWorstLost-base.RPOWorstLost), cur.RPOWorstLost > base.RPOWorstLost)
		change, worse := relChange(base.RPOWorstWindow, cur.RPOWorstWindow, threshold)
		add("RPO worst loss window", fmtSecs(base.RPOWorstWindow), fmtSecs(cur.RPOWorstWindow), change, worse)
	}
	if base.MinAvailable != nil && cur.MinAvailable != nil {
		add("availability, worst drill", pct(*base.MinAvailable), pct(*cur.MinAvailable),
			fmt.Sprintf("%+.2f points", 100*(*cur.MinAvailable-*base.MinAvailable)), false)
	}

	baseTally := map[string]VerdictTally{}
	for _, t := range base.Verdicts {
		baseTally[t.Name] = t
	}
	for _, t := range cur.Verdicts {
		b, ok := baseTally[t.Name]
		if ok && b.Fail+b.Unknown == 0 && t.Fail+t.Unknown > 0 {
			add("target "+t.Name, tallyText(b), tallyText(t), "newly failing", true)
		}
	}
	return c
}

// relChange says how cur compares with base in percent, and whether it is worse (larger) by
// more than threshold percent. From zero, any increase is worse.
func relChange(base, cur, threshold float64) (string, bool) {
	if base == 0 {
		if cur == 0 {
			return "same", false
		}
		return "was 0", cur > 0
	}
	change := 100 * (cur - base) / base
	return fmt.Sprintf("%+.1f%%", change), change > threshold
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func tallyText(t VerdictTally) string {
	return fmt.Sprintf("%d/%d pass", t.Pass, t.Pass+t.Fail+t.Unknown)
}

// Text renders the comparison for a terminal.
func (c Comparison) Text() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "METRIC\tBASELINE\tCURRENT\tCHANGE\t")
	for _, r := range c.Rows {
		flag := ""
		if r.Regressed {
			flag = "REGRESSION"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Metric, r.Baseline, r.Current, r.Change, flag)
	}
	w.Flush()
	if len(c.Regressions) == 0 {
		fmt.Fprintf(&b, "no regression against the baseline (threshold %g%%)\n", c.Threshold)
	} else {
		fmt.Fprintf(&b, "%d regressions against the baseline (threshold %g%%):\n  %s\n", len(c.Regressions), c.Threshold,
			strings.Join(c.Regressions, "\n  "))
	}
	return b.String()
}
