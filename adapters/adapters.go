// Package adapters serves geodrill's system-under-test contract (package conform) in front
// of systems that do not speak it: the HTTP side is here, once; each subpackage (redis,
// postgres) is a Backend that knows who serves now and how to read, write and swap.
package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/geodrill/geodrill/refstack/api"
)

// Serving is who serves operations now: the region and its epoch (a fencing token that
// grows with each takeover), and where, for /status.
type Serving struct {
	Region string
	Epoch  int64
	URL    string
}

// Backend is one system behind the contract.
type Backend interface {
	// Serving is who serves now; false while nobody does (a failover under way).
	Serving() (Serving, bool)
	Get(ctx context.Context, key string) (value string, found bool, err error)
	Put(ctx context.Context, key, value string) error
	// CAS swaps when the current value is expect (a key never written counts as ""); not
	// swapped, it reports what it saw.
	CAS(ctx context.Context, key, expect, value string) (swapped, found bool, cur string, err error)
	// Classify maps an error to a status and an outcome: "fail" when the operation surely
	// did not take effect, "unknown" when it may have.
	Classify(err error) (status int, outcome string)
}

// Readier is a Backend that can say whether the system behind it could survive a fault
// yet (a cluster that has just started may not: its members have not found each other).
// Until Ready is nil, /healthz answers 503, so nothing starts a drill's faults before.
type Readier interface {
	Ready() error
}

// Handler serves the contract over b for agents agent-00 .. agent-(Agents-1).
type Handler struct {
	B      Backend
	Agents int
}

// ServeHTTP serves /healthz, /status and the agent operations.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/healthz":
		if rd, ok := h.B.(Readier); ok {
			if err := rd.Ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		if _, ok := h.B.Serving(); !ok {
			http.Error(w, "nobody serves now", http.StatusServiceUnavailable)
		}
		return
	case r.URL.Path == "/status":
		st := api.RouterStatus{Owners: map[string]api.Owner{}}
		if s, ok := h.B.Serving(); ok {
			for i := range h.Agents {
				st.Owners[api.AgentID(i)] = api.Owner{Region: s.Region, Epoch: s.Epoch, URL: s.URL}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
		return
	case len(parts) == 4 && parts[0] == "agents" && (parts[2] == "kv" || parts[2] == "cas"):
	default:
		http.NotFound(w, r)
		return
	}
	agent, key := parts[1], parts[3]
	s, ok := h.B.Serving()
	if !ok {
		Reply(w, http.StatusServiceUnavailable, api.Response{Agent: agent, Key: key, Error: "nobody serves now"}, "fail")
		return
	}
	ctx, k := r.Context(), agent+"/"+key
	resp := api.Response{Agent: agent, Key: key, Region: s.Region, Epoch: s.Epoch}
	var err error
	switch {
	case parts[2] == "kv" && r.Method == http.MethodGet:
		resp.Value, resp.Found, err = h.B.Get(ctx, k)
	case parts[2] == "kv" && r.Method == http.MethodPut:
		b, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil {
			Reply(w, http.StatusBadRequest, api.Response{Agent: agent, Key: key, Error: rerr.Error()}, "fail")
			return
		}
		err = h.B.Put(ctx, k, string(b))
	case parts[2] == "cas" && r.Method == http.MethodPost:
		var c api.CASRequest
		if derr := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&c); derr != nil {
			Reply(w, http.StatusBadRequest, api.Response{Agent: agent, Key: key, Error: "cas body: " + derr.Error()}, "fail")
			return
		}
		resp.Swapped, resp.Found, resp.Value, err = h.B.CAS(ctx, k, c.Expect, c.Value)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		code, outcome := h.B.Classify(err)
		resp.Error = err.Error()
		Reply(w, code, resp, outcome)
		return
	}
	Reply(w, http.StatusOK, resp, "")
}

// Reply writes resp with its status, the region and epoch headers, and the outcome header
// on a generated error.
func Reply(w http.ResponseWriter, code int, resp api.Response, outcome string) {
	w.Header().Set("Content-Type", "application/json")
	if resp.Region != "" {
		w.Header().Set(api.HeaderRegion, resp.Region)
	}
	if resp.Epoch != 0 {
		w.Header().Set(api.HeaderEpoch, strconv.FormatInt(resp.Epoch, 10))
	}
	if outcome != "" {
		w.Header().Set(api.HeaderOutcome, outcome)
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(resp)
}

// ParseRegions reads "a=host:port,b=host:port".
func ParseRegions(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		r, addr, ok := strings.Cut(kv, "=")
		if !ok || r == "" || addr == "" {
			return nil, fmt.Errorf("%q: want region=host:port, e.g. a=127.0.0.1:6379", kv)
		}
		out[r] = addr
	}
	return out, nil
}
