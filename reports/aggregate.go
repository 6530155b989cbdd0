package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
)

// Drill is one run's figures, as many-drill aggregates need them.
type Drill struct {
	Dir      string          `json:"dir"`
	Scenario string          `json:"scenario"`
	Seed     int64           `json:"seed"`
	Status   checkers.Status `json:"status"`
	// RTO holds every recovered (fault, agent) pair's RTO in seconds; NotRecovered counts
	// the pairs that never recovered (infinite RTO).
	RTO          []float64 `json:"rto_s"`
	NotRecovered int       `json:"rto_not_recovered"`
	RTOP95       *float64  `json:"rto_p95_s"`
	// LostWrites and LossWindow come from the rpo checker; RPOMeasured is false without it.
	RPOMeasured  bool     `json:"rpo_measured"`
	LostWrites   int      `json:"lost_writes"`
	LossWindow   float64  `json:"loss_window_s"`
	Availability *float64 `json:"availability"`
	// Verdicts by "checker: target".
	Verdicts     map[string]checkers.Status `json:"verdicts"`
	HarnessError string                     `json:"harness_error,omitempty"`
}

// DrillOf extracts a run's figures from its checker results.
func DrillOf(r *Run) Drill {
	d := Drill{Dir: r.Dir, Scenario: r.name(), Seed: r.Seed, Status: r.Overall(), HarnessError: r.HarnessError,
		Verdicts: map[string]checkers.Status{}}
	for _, v := range rows(r.Results) {
		d.Verdicts[verdictName(v)] = checkers.Worst(d.Verdicts[verdictName(v)], v.Status)
	}
	for _, res := range r.Results {
		switch res.Checker {
		case checkers.NameRTO:
			data, ok := checkers.DataOf[checkers.RTOData](res)
			if !ok {
				continue
			}
			for _, w := range data.Windows {
				for _, a := range w.Agents {
					if a.Recovered {
						d.RTO = append(d.RTO, a.Seconds)
					} else {
						d.NotRecovered++
					}
				}
			}
			d.RTOP95 = data.P95
		case checkers.NameRPO:
			data, ok := checkers.DataOf[checkers.RPOData](res)
			if !ok {
				continue
			}
			d.RPOMeasured, d.LostWrites, d.LossWindow = true, data.Lost, data.LossWindowSeconds
		case checkers.NameAvailability:
			if data, ok := checkers.DataOf[checkers.AvailabilityData](res); ok {
				d.Availability = data.Overall.Availability
			}
		}
	}
	sort.Float64s(d.RTO)
	return d
}

func verdictName(v checkers.Verdict) string { return v.Checker + ": " + v.Target }

// Aggregate summarises many drills: how often they passed, the RTO distribution over every
// (drill, fault, agent) recovery, and the worst RPO.
type Aggregate struct {
	Drills   []Drill `json:"drills"`
	Runs     int     `json:"runs"`
	Passed   int     `json:"passed"`
	PassRate float64 `json:"pass_rate"`
	// RTO quantiles are nearest-rank over all recoveries, never-recovered ones counting as
	// infinite; a quantile that lands on one is null (and NotRecovered says why).
	RTOSamples      int      `json:"rto_samples"`
	RTONotRecovered int      `json:"rto_not_recovered"`
	RTOP50          *float64 `json:"rto_p50_s"`
	RTOP95          *float64 `json:"rto_p95_s"`
	RTOMax          *float64 `json:"rto_max_s"`
	// RPO worst case over the drills that measured it; RPOUnmeasured counts the others.
	RPOWorstLost   int      `json:"rpo_worst_lost_writes"`
	RPOWorstWindow float64  `json:"rpo_worst_loss_window_s"`
	RPOUnmeasured  int      `json:"rpo_unmeasured"`
	MinAvailable   *float64 `json:"min_availability"`
	// Verdicts: per "checker: target", how many drills passed, failed and were unknown.
	Verdicts []VerdictTally `json:"verdicts"`
}

// VerdictTally counts one target's verdicts over many drills.
type VerdictTally struct {
	Name    string `json:"name"`
	Pass    int    `json:"pass"`
	Fail    int    `json:"fail"`
	Unknown int    `json:"unknown"`
	// NotApplicable counts drills of a system the target does not apply to.
	NotApplicable int `json:"not_applicable,omitempty"`
}

// AggregateRuns aggregates runs; it is AggregateDrills over DrillOf each.
func AggregateRuns(runs []*Run) Aggregate {
	ds := make([]Drill, len(runs))
	for i, r := range runs {
		ds[i] = DrillOf(r)
	}
	return AggregateDrills(ds)
}

// AggregateDrills aggregates drills. A run counts as passed only when its overall status is
// pass: unknown is never a pass.
func AggregateDrills(ds []Drill) Aggregate {
	a := Aggregate{Drills: ds, Runs: len(ds)}
	var rto []float64
	tallies := map[string]*VerdictTally{}
	var order []string
	for _, d := range ds {
		if d.Status == checkers.Pass {
			a.Passed++
		}
		rto = append(rto, d.RTO...)
		a.RTONotRecovered += d.NotRecovered
		if d.RPOMeasured {
			a.RPOWorstLost = max(a.RPOWorstLost, d.LostWrites)
			a.RPOWorstWindow = math.Max(a.RPOWorstWindow, d.LossWindow)
		} else {
			a.RPOUnmeasured++
		}
		if d.Availability != nil && (a.MinAvailable == nil || *d.Availability < *a.MinAvailable) {
			v := *d.Availability
			a.MinAvailable = &v
		}
		names := make([]string, 0, len(d.Verdicts))
		for n := range d.Verdicts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t := tallies[n]
			if t == nil {
				t = &VerdictTally{Name: n}
				tallies[n] = t
				order = append(order, n)
			}
			switch d.Verdicts[n] {
			case checkers.Pass:
				t.Pass++
			case checkers.Fail:
				t.Fail++
			case checkers.NotApplicable:
				t.NotApplicable++
			default:
				t.Unknown++
			}
		}
	}
	if a.Runs > 0 {
		a.PassRate = float64(a.Passed) / float64(a.Runs)
	}
	sort.Float64s(rto)
	a.RTOSamples = len(rto) + a.RTONotRecovered
	for range a.RTONotRecovered {
		rto = append(rto, math.Inf(1))
	}
	a.RTOP50, a.RTOP95, a.RTOMax = quantile(rto, 0.50), quantile(rto, 0.95), quantile(rto, 1)
	for _, n := range order {
		a.Verdicts = append(a.Verdicts, *tallies[n])
	}
	return a
}

// quantile is nearest-rank over sorted; nil when empty or when it lands on +Inf.
func quantile(sorted []float64, p float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	v := sorted[rank(len(sorted), p)]
	if math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// rtoText shows a quantile, or why there is none.
func (a Aggregate) rtoText(p *float64) string {
	switch {
	case p != nil:
		return fmtSecs(*p)
	case a.RTOSamples == 0:
		return "n/a"
	default:
		return "never"
	}
}

// Text renders the aggregate for a terminal: one line per drill, then the distribution.
func (a Aggregate) Text() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SEED\tVERDICT\tRTO P95\tNOT RECOVERED\tLOST WRITES\tAVAILABILITY\tRUN")
	for _, d := range a.Drills {
		lost := "n/a"
		if d.RPOMeasured {
			lost = fmt.Sprint(d.LostWrites)
		}
		avail := "n/a"
		if d.Availability != nil {
			avail = fmt.Sprintf("%.2f%%", 100**d.Availability)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", d.Seed, upper(d.Status), fmtPtrSecs(d.RTOP95), d.NotRecovered, lost, avail, d.Dir)
	}
	w.Flush()
	fmt.Fprintf(&b, "\n%d drills: %d passed (pass rate %.0f%%)\n", a.Runs, a.Passed, 100*a.PassRate)
	fmt.Fprintf(&b, "RTO over %d recoveries: p50 %s  p95 %s  max %s", a.RTOSamples, a.rtoText(a.RTOP50), a.rtoText(a.RTOP95), a.rtoText(a.RTOMax))
	if a.RTONotRecovered > 0 {
		fmt.Fprintf(&b, "  (%d never recovered)", a.RTONotRecovered)
	}
	b.WriteString("\n")
	switch {
	case a.RPOUnmeasured == a.Runs:
		b.WriteString("RPO worst case: not measured\n")
	default:
		fmt.Fprintf(&b, "RPO worst case: %d acknowledged writes lost, loss window %s", a.RPOWorstLost, fmtSecs(a.RPOWorstWindow))
		if a.RPOUnmeasured > 0 {
			fmt.Fprintf(&b, " (%d drills without an RPO measurement)", a.RPOUnmeasured)
		}
		b.WriteString("\n")
	}
	if a.MinAvailable != nil {
		fmt.Fprintf(&b, "availability, worst drill: %.3f%%\n", 100**a.MinAvailable)
	}
	var notPass []string
	for _, t := range a.Verdicts {
		if t.Fail+t.Unknown > 0 {
			notPass = append(notPass, fmt.Sprintf("  %s: %d pass, %d fail, %d unknown", t.Name, t.Pass, t.Fail, t.Unknown))
		}
	}
	if len(notPass) > 0 {
		b.WriteString("targets that did not always pass:\n" + strings.Join(notPass, "\n") + "\n")
	}
	return b.String()
}

// LoadRuns loads run directories. A path that is not itself a run directory (it has no
// results.json) stands for the run directories directly inside it, so `runs/` or a CI
// artifact folder of many drills can be passed whole.
func LoadRuns(paths ...string) ([]*Run, error) {
	var runs []*Run
	for _, p := range paths {
		dirs := []string{p}
		if _, err := os.Stat(filepath.Join(p, rundir.ResultsFile)); errors.Is(err, fs.ErrNotExist) {
			entries, rerr := os.ReadDir(p)
			if rerr != nil {
				return nil, fmt.Errorf("reports: %s is not a run directory: %w", p, rerr)
			}
			dirs = dirs[:0]
			for _, e := range entries {
				if _, err := os.Stat(filepath.Join(p, e.Name(), rundir.ResultsFile)); e.IsDir() && err == nil {
					dirs = append(dirs, filepath.Join(p, e.Name()))
				}
			}
			if len(dirs) == 0 {
				return nil, fmt.Errorf("reports: %s has no %s and no run directories inside: pass a directory written by harness run", p, rundir.ResultsFile)
			}
		}
		for _, d := range dirs {
			r, err := Load(d)
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
	}
	return runs, nil
}
