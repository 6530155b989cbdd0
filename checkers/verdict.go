package checkers

import "encoding/json"

// Status is a checker's or an SLA target's verdict. Unknown is never a pass.
type Status int

const (
	Pass Status = iota
	Unknown
	Fail
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
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
	default:
		*s = Unknown
	}
	return nil
}

// Worst combines statuses: fail beats unknown beats pass. No statuses is unknown.
func Worst(ss ...Status) Status {
	if len(ss) == 0 {
		return Unknown
	}
	w := Pass
	for _, s := range ss {
		if s > w {
			w = s
		}
	}
	return w
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

// Result is one checker's full output: its verdicts plus checker-specific measurements
// kept as JSON so a saved run can be re-read without knowing every checker's types.
type Result struct {
	Checker  string          `json:"checker"`
	Verdicts []Verdict       `json:"verdicts"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// Status is the worst of the result's verdicts.
func (r Result) Status() Status {
	ss := make([]Status, len(r.Verdicts))
	for i, v := range r.Verdicts {
		ss[i] = v.Status
	}
	return Worst(ss...)
}
