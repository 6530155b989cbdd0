// Package clock is the agent host's source of wall-clock time, with an offset that can be
// set at runtime (PUT /clock) so the harness can skew one host's clock without touching
// the machine's. Durations inside the host use the monotonic clock and are unaffected, as
// on a real machine whose wall clock is stepped.
package clock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

var offset atomic.Int64 // nanoseconds added to time.Now

// Now is the host's wall-clock time: the machine's plus the offset.
func Now() time.Time { return time.Now().Add(Offset()) }

// Offset is the current offset.
func Offset() time.Duration { return time.Duration(offset.Load()) }

// SetOffset sets the offset.
func SetOffset(d time.Duration) { offset.Store(int64(d)) }

// State is the JSON of GET and PUT /clock.
type State struct {
	Offset string    `json:"offset"` // a Go duration, e.g. "-30s"
	Now    time.Time `json:"now,omitempty"`
}

// Handler serves GET /clock (the offset and the skewed time) and PUT /clock (set the
// offset from {"offset":"30s"}).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut:
			var s State
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&s); err != nil {
				http.Error(w, fmt.Sprintf("want {\"offset\":\"30s\"}: %v", err), http.StatusBadRequest)
				return
			}
			d, err := time.ParseDuration(s.Offset)
			if err != nil {
				http.Error(w, fmt.Sprintf("offset %q: %v (use a Go duration, e.g. -30s)", s.Offset, err), http.StatusBadRequest)
				return
			}
			SetOffset(d)
		default:
			w.Header().Set("Allow", "GET, PUT")
			http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(State{Offset: Offset().String(), Now: Now()})
	})
}
