// Package history is the recorded client history of a drill: one Op per request, with
// invoke/complete times on the run's monotonic clock and an outcome of ok, fail or unknown.
// Checkers read it; the workload and the final reads write it.
package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// Kind is the operation type.
type Kind string

const (
	Put Kind = "put"
	Get Kind = "get"
	CAS Kind = "cas"
)

// Outcome says whether an operation took effect.
type Outcome string

const (
	// OK: the operation took effect and its result is known.
	OK Outcome = "ok"
	// Fail: the operation definitely did not take effect.
	Fail Outcome = "fail"
	// Unknown: the operation may or may not have taken effect (timeout, reset after send,
	// 5xx after forwarding).
	Unknown Outcome = "unknown"
)

// Op is one client operation.
type Op struct {
	ID    int64  `json:"id"`
	Agent string `json:"agent"`
	Key   string `json:"key"`
	Kind  Kind   `json:"kind"`
	// Value is the value written (put, cas new value). Write values are unique per run.
	Value string `json:"value,omitempty"`
	// Expect is the value a cas compares against.
	Expect string `json:"expect,omitempty"`

	// Invoke and Complete are offsets from run start on the run's monotonic clock.
	Invoke   time.Duration `json:"invoke_ns"`
	Complete time.Duration `json:"complete_ns"`

	Outcome Outcome `json:"outcome"`
	// Found is set on ok gets, and on ok cas ops that did not swap (see ReadKnown): whether
	// the key had a value. On gets Value then holds what was read.
	Found bool `json:"found,omitempty"`
	// Read is the value a get returned (ok gets only).
	// The workload sets both Value and Read on ok gets. On ok cas ops it also sets Read to
	// the value the response carried (api.Response.Value), when there is one: the new value
	// when the cas swapped, the value the compare saw when it did not.
	Read string `json:"read,omitempty"`
	// Swapped is set on ok cas ops: whether the compare matched and the write happened.
	Swapped bool `json:"swapped,omitempty"`
	// ReadKnown marks an ok cas that did not swap whose Found and Read hold what the failed
	// compare saw: a read of the register the checkers judge like a get's. Recorders before
	// it existed did not record Found for cas, so a cas without it is judged on Swapped only.
	ReadKnown bool `json:"read_known,omitempty"`

	// Region and Epoch name who served the op (from the response), when known.
	Region string `json:"region,omitempty"`
	Epoch  int64  `json:"epoch,omitempty"`

	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// Final marks the post-heal final reads.
	Final bool `json:"final,omitempty"`
}

// IsWrite reports whether the op can change state (put, or cas that may have swapped).
func (o Op) IsWrite() bool { return o.Kind == Put || o.Kind == CAS }

// Acked reports whether the op is an acknowledged write: a put that returned ok or a cas
// that returned ok with swapped=true.
func (o Op) Acked() bool {
	if o.Outcome != OK {
		return false
	}
	return o.Kind == Put || (o.Kind == CAS && o.Swapped)
}

// History is a list of ops ordered by invoke time.
type History []Op

// Sort orders ops by invoke time, then id.
func (h History) Sort() {
	sort.SliceStable(h, func(i, j int) bool {
		if h[i].Invoke != h[j].Invoke {
			return h[i].Invoke < h[j].Invoke
		}
		return h[i].ID < h[j].ID
	})
}

// WriteJSONL writes one op per line.
func (h History) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range h {
		if err := enc.Encode(&h[i]); err != nil {
			return fmt.Errorf("history: encode op %d: %w", h[i].ID, err)
		}
	}
	return bw.Flush()
}

// ErrMalformed is wrapped by the errors of ReadJSONL and Validate for an op no checker can
// judge as written.
var ErrMalformed = errors.New("malformed op")

// Validate rejects an op whose fields cannot mean what the checkers would read into them:
// a kind other than put, get and cas, an outcome other than ok, fail and unknown (an
// unrecognised outcome must not quietly become "may or may not have happened"), no agent or
// key, and times that run backwards.
func (o Op) Validate() error {
	switch o.Kind {
	case Put, Get, CAS:
	case "":
		return fmt.Errorf("%w: op %d has no kind: set \"kind\" to put, get or cas", ErrMalformed, o.ID)
	default:
		return fmt.Errorf("%w: op %d has kind %q: kinds are put, get and cas (lower case)", ErrMalformed, o.ID, o.Kind)
	}
	switch o.Outcome {
	case OK, Fail, Unknown:
	case "":
		return fmt.Errorf("%w: op %d has no outcome: set \"outcome\" to ok, fail or unknown (unknown when the op may or may not have taken effect)", ErrMalformed, o.ID)
	default:
		return fmt.Errorf("%w: op %d has outcome %q: outcomes are ok, fail and unknown (lower case; unknown when the op may or may not have taken effect)", ErrMalformed, o.ID, o.Outcome)
	}
	switch {
	case o.Agent == "" || o.Key == "":
		return fmt.Errorf("%w: op %d names agent %q key %q: both are required", ErrMalformed, o.ID, o.Agent, o.Key)
	case o.Invoke < 0:
		return fmt.Errorf("%w: op %d has invoke_ns %d: times are offsets from run start, never negative", ErrMalformed, o.ID, int64(o.Invoke))
	case o.Complete < o.Invoke:
		return fmt.Errorf("%w: op %d completes (complete_ns %d) before it was invoked (invoke_ns %d)", ErrMalformed, o.ID, int64(o.Complete), int64(o.Invoke))
	}
	return nil
}

// ReadJSONL reads a history written by WriteJSONL. A malformed op (see Validate) or an op
// id used twice is an error naming the line.
func ReadJSONL(r io.Reader) (History, error) {
	var h History
	lines := map[int64]int{} // op id -> line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return nil, fmt.Errorf("history: line %d: %w", line, err)
		}
		if err := op.Validate(); err != nil {
			return nil, fmt.Errorf("history: line %d: %w", line, err)
		}
		if prev, dup := lines[op.ID]; dup {
			return nil, fmt.Errorf("history: line %d: op id %d is also on line %d: ids must be unique", line, op.ID, prev)
		}
		lines[op.ID] = line
		h = append(h, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("history: read: %w", err)
	}
	return h, nil
}

// Load reads a history file.
func Load(path string) (History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	h, err := ReadJSONL(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// Save writes a history file.
func (h History) Save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := h.WriteJSONL(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
