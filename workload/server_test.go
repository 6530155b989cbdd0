package workload

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
)

// kvServer serves the refstack API paths from an in-memory map. It stands in for the HTTP
// plumbing only, not for the system under test, and records when it handled each op.
type kvServer struct {
	clock *timeline.Clock
	mu    sync.Mutex
	kv    map[string]string
	seen  map[int64]time.Duration // op id -> clock offset when the handler ran
	reqs  int
	delay time.Duration // each handler sleeps this long before it answers
}

func newKVServer(t *testing.T, clock *timeline.Clock) (*kvServer, *httptest.Server) {
	t.Helper()
	s := &kvServer{clock: clock, kv: map[string]string{}, seen: map[int64]time.Duration{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /agents/{agent}/kv/{key}", s.get)
	mux.HandleFunc("PUT /agents/{agent}/kv/{key}", s.put)
	mux.HandleFunc("POST /agents/{agent}/cas/{key}", s.cas)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *kvServer) note(r *http.Request) (reg string) {
	id, _ := strconv.ParseInt(r.URL.Query().Get("op"), 10, 64)
	s.seen[id] = s.clock.Now()
	s.reqs++
	return r.PathValue("agent") + "/" + r.PathValue("key")
}

func (s *kvServer) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v, found := s.kv[s.note(r)]
	s.mu.Unlock()
	s.wait()
	writeResponse(w, r, api.Response{Found: found, Value: v})
}

func (s *kvServer) put(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.kv[s.note(r)] = string(body)
	s.mu.Unlock()
	s.wait()
	writeResponse(w, r, api.Response{Value: string(body)})
}

func (s *kvServer) cas(w http.ResponseWriter, r *http.Request) {
	var req api.CASRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	reg := s.note(r)
	cur, found := s.kv[reg]
	swapped := (!found && req.Expect == "") || (found && cur == req.Expect)
	if swapped {
		s.kv[reg] = req.Value
		cur = req.Value
	}
	s.mu.Unlock()
	s.wait()
	writeResponse(w, r, api.Response{Swapped: swapped, Value: cur})
}

func (s *kvServer) wait() {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	time.Sleep(d)
}

func writeResponse(w http.ResponseWriter, r *http.Request, resp api.Response) {
	resp.Agent, resp.Key = r.PathValue("agent"), r.PathValue("key")
	resp.Region, resp.Epoch = "r1", 1
	w.Header().Set(api.HeaderRegion, "r1")
	w.Header().Set(api.HeaderEpoch, "1")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}
