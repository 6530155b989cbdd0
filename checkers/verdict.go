package checkers

import "encoding/json"

// Status is a checker's or an SLA target's verdict. Unknown is never a pass.
// NotApplicable is a target the system under test cannot be judged on, by what it is (a
// described system has no checkpoints to verify, or serves no epochs): it says so, counts
// as neither pass nor fail, and never hides a failure.
type Status int

const (
	Pass Status = iota
	Unknown
	Fail

	NotApplicable Status = -1
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case NotApplicable:
		return "n/a"
	default:
		return "unknown"
	}
}

// MarshalText writes the status as pass/fail/unknown.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads pass/fail/unknown.
func (s *Status) UnmarshalText(b []byte) error {
	switch string(b) {
	case "pass":
		*s = Pass
	case "fail":
		*s = Fail
	case "n/a":
		*s = NotApplicable
	default:
		*s = Unknown
	}
	return nil
}

// Worst combines statuses: fail beats unknown beats pass; not applicable counts for
// nothing. No statuses is unknown; only not-applicable ones are not applicable.
func Worst(ss ...Status) Status {
	if len(ss) == 0 {
		return Unknown
	}
	w, any := Pass, false
	for _, s := range ss {
		if s == NotApplicable {
			continue
		}
		any = true
		if s > w {
			w = s
		}
	}
	if !any {
		return NotApplicable
	}
	return w
}

// NotApplicableTo is the verdict of a target the system under test cannot be judged on.
func NotApplicableTo(checker, target, why string) Verdict {
	return Verdict{Checker: checker, Target: target, Status: NotApplicable, Measured: "not applicable", Detail: why}
}

// Verdict is one judged target: what was measured, against what, and the outcome.
type Verdict struct {
	Checker  string  `json:"checker"`          // linearizability, rpo, rto, availability, ...
	Target   string  `json:"target"`           // e.g. "rto_p95 <= 5s"
	Status   Status  `json:"status"`           // pass / fail / unknown
	Measured string  `json:"measured"`         // human-readable measured value, e.g. "2.31s"
	Value    float64 `json:"value"`            // measured value in the target's unit (s, count, ratio)
	Limit    float64 `json:"limit"`            // the target's limit in the same unit
	Detail   string  `json:"detail,omitempty"` // why, briefly
}

// Result is one checker's full output: its verdicts plus checker-specific measurements.
type Result struct {
	Checker  string
	Verdicts []Verdict
	// Data is the checker's own measurements: its typed value (RTOData, RPOData, ...) when
	// the checker ran in this process, the JSON it was saved as when the run was loaded from
	// disk (json.RawMessage), so a saved run can be re-read without knowing every checker's
	// types. Read it with DataOf; it is written as JSON either way.
	Data any
}

// resultJSON is Result on disk.
type resultJSON struct {
	Checker  string          `json:"checker"`
	Verdicts []Verdict       `json:"verdicts"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// MarshalJSON writes Data as JSON. Data that cannot be encoded (a NaN somewhere) is
// written as {"error": ...} rather than losing the whole result.
func (r Result) MarshalJSON() ([]byte, error) {
	out := resultJSON{Checker: r.Checker, Verdicts: r.Verdicts}
	switch d := r.Data.(type) {
	case nil:
	case json.RawMessage:
		out.Data = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			b, _ = json.Marshal(map[string]string{"error": err.Error()})
		}
		out.Data = b
	}
	return json.Marshal(out)
}

// UnmarshalJSON keeps Data as the raw JSON it was saved as.
func (r *Result) UnmarshalJSON(b []byte) error {
	var in resultJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*r = Result{Checker: in.Checker, Verdicts: in.Verdicts}
	if len(in.Data) > 0 {
		r.Data = in.Data
	}
	return nil
}

// DataOf is r's data as a T: the value itself when the checker ran in this process, decoded
// when the run was loaded from disk; ok is false when r holds no T.
func DataOf[T any](r Result) (T, bool) {
	switch d := r.Data.(type) {
	case T:
		return d, true
	case *T:
		if d != nil {
			return *d, true
		}
	case json.RawMessage:
		var v T
		if json.Unmarshal(d, &v) == nil {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// Status is the worst of the result's verdicts.
func (r Result) Status() Status {
	ss := make([]Status, len(r.Verdicts))
	for i, v := range r.Verdicts {
		ss[i] = v.Status
	}
	return Worst(ss...)
}
