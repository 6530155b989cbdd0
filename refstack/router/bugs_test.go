package router

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

// The router's planted bugs take effect: an owner that reads the first request and drops
// the connection without answering (the reply lost after delivery) is answered 502 unknown
// by a healthy router, re-sent by router-retries-after-send (the owner sees the write twice),
// and reported as a definite 503 fail by router-reset-is-definite.
func TestBugsAfterSend(t *testing.T) {
	etcd := testenv.Etcd(t)
	cli := testenv.Client(t, etcd)
	for _, tc := range []struct {
		set      bugs.Set
		status   int
		outcome  string
		requests int64
	}{
		{bugs.Set{}, http.StatusBadGateway, "unknown", 1},
		{bugs.Of(bugs.RouterRetriesAfterSend), http.StatusOK, "", 2},
		{bugs.Of(bugs.RouterResetIsDefinite), http.StatusServiceUnavailable, "fail", 1},
	} {
		name := tc.set.String()
		if name == "" {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			var seen atomic.Int64
			owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				if seen.Add(1) == 1 {
					if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
						conn.Close() // the write arrived; its reply is lost
					}
					return
				}
				_ = json.NewEncoder(w).Encode(api.Response{Agent: name, Key: "k", Value: "v"})
			}))
			defer owner.Close()
			agent := "agent-" + name
			url := startRouterWith(t, Config{Etcd: []string{etcd}, Timeout: time.Second, Bugs: tc.set})
			setOwner(t, cli, agent, api.Owner{Region: "a", Epoch: 1, URL: owner.URL})
			waitFor(t, "owner listed", func() bool { _, ok := routerStatus(t, url).Owners[agent]; return ok })

			req, _ := http.NewRequest(http.MethodPut, url+"/agents/"+agent+"/kv/k", strings.NewReader("v"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get(api.HeaderOutcome) != tc.outcome || seen.Load() != tc.requests {
				t.Errorf("status %d outcome %q, owner saw %d requests; want %d %q, %d",
					resp.StatusCode, resp.Header.Get(api.HeaderOutcome), seen.Load(), tc.status, tc.outcome, tc.requests)
			}
		})
	}
}
