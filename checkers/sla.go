package checkers

import "fmt"

// This file is the one place where a measured value meets a scenario target. Checkers measure;
// judgeAtMost turns (measurement, target) into a Verdict; Overall combines verdicts. The rule
// is the same everywhere: no target reports the value (pass, "(no target)"); a target with
// nothing measured is unknown, never a pass; fail beats unknown beats pass.

// measurement is a value a checker measured, or why it could not.
type measurement struct {
	value  float64
	shown  string // human-readable value, e.g. "312ms (during f1)"
	absent string // non-empty: nothing was measured, and why
}

// judgeAtMost judges value <= limit. format prints the limit in the target's unit.
func judgeAtMost(checker, metric string, m measurement, limit *float64, format func(float64) string) Verdict {
	v := Verdict{Checker: checker, Target: metric + " (no target)", Value: m.value, Measured: m.shown}
	if limit != nil {
		v.Limit = *limit
		v.Target = fmt.Sprintf("%s <= %s", metric, format(*limit))
	}
	switch {
	case m.absent != "":
		v.Value, v.Measured, v.Status = 0, "not measured", Pass
		if limit != nil {
			v.Status, v.Detail = Unknown, m.absent
		}
	case limit != nil && m.value > *limit:
		v.Status = Fail
	default:
		v.Status = Pass
	}
	return v
}

// Overall is the verdict of a whole run: the worst of every result's status; no results at
// all is unknown.
func Overall(results []Result) Status {
	ss := make([]Status, len(results))
	for i, r := range results {
		ss[i] = r.Status()
	}
	return Worst(ss...)
}
