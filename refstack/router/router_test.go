package router

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

func startRouter(t *testing.T, etcd string, timeout time.Duration) string {
	t.Helper()
	return startRouterWith(t, Config{Etcd: []string{etcd}, Timeout: timeout})
}

// startRouterWith runs a router with cfg on a free port until the test ends.
func startRouterWith(t *testing.T, cfg Config) string {
	t.Helper()
	listen := testenv.FreeAddr(t)
	cfg.Listen = listen
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router run: %v", err)
		}
	})
	url := "http://" + listen
	waitFor(t, "router healthy", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
}

func setOwner(t *testing.T, cli *clientv3.Client, agent string, o api.Owner) {
	t.Helper()
	b, _ := json.Marshal(o)
	if _, err := cli.Put(context.Background(), api.OwnerKey(agent), string(b)); err != nil {
		t.Fatal(err)
	}
}

func routerStatus(t *testing.T, url string) api.RouterStatus {
	t.Helper()
	resp, err := http.Get(url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.RouterStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRouterForwardsToOwner(t *testing.T) {
	etcd := testenv.Etcd(t)
	cli := testenv.Client(t, etcd)

	type seen struct{ method, path, body string }
	got := make(chan seen, 10)
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, string(b)}
		w.Header().Set(api.HeaderRegion, "b")
		w.Header().Set(api.HeaderEpoch, "7")
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(api.Response{Agent: "agent-00", Region: "b", Epoch: 7, Error: "owner says no"})
	}))
	defer owner.Close()
	setOwner(t, cli, "agent-00", api.Owner{Region: "b", Epoch: 7, URL: owner.URL})
	// Log entries and other keys under the agents prefix are not owners.
	if _, err := cli.Put(context.Background(), api.LogKey("agent-00", 1), "{}"); err != nil {
		t.Fatal(err)
	}
	url := startRouter(t, etcd, 3*time.Second)

	waitFor(t, "owner listed", func() bool { return routerStatus(t, url).Owners["agent-00"].Epoch == 7 })
	if n := len(routerStatus(t, url).Owners); n != 1 {
		t.Errorf("router lists %d owners, want 1", n)
	}
	req, _ := http.NewRequest(http.MethodPut, url+"/agents/agent-00/kv/k1", strings.NewReader("v1"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := <-got
	if s != (seen{http.MethodPut, "/agents/agent-00/kv/k1", "v1"}) {
		t.Errorf("owner saw %+v", s)
	}
	if resp.StatusCode != http.StatusConflict || resp.Header.Get(api.HeaderRegion) != "b" ||
		resp.Header.Get(api.HeaderEpoch) != "7" || !strings.Contains(string(body), "owner says no") {
		t.Errorf("router answered %d %v %s, want the owner's response", resp.StatusCode, resp.Header, body)
	}

	// Ownership moves: the watch picks up the new owner.
	owner2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderRegion, "c")
		_ = json.NewEncoder(w).Encode(api.Response{Agent: "agent-00", Region: "c", Epoch: 8})
	}))
	defer owner2.Close()
	setOwner(t, cli, "agent-00", api.Owner{Region: "c", Epoch: 8, URL: owner2.URL})
	waitFor(t, "new owner", func() bool {
		resp, err := http.Get(url + "/agents/agent-00/kv/k1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && resp.Header.Get(api.HeaderRegion) == "c"
	})
}

func TestRouterErrors(t *testing.T) {
	etcd := testenv.Etcd(t)
	cli := testenv.Client(t, etcd)
	url := startRouter(t, etcd, 300*time.Millisecond)

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // read the request, then vanish
		}
	}))
	defer cut.Close()
	setOwner(t, cli, "refused", api.Owner{Region: "a", Epoch: 1, URL: "http://" + testenv.FreeAddr(t)})
	setOwner(t, cli, "hangs", api.Owner{Region: "a", Epoch: 1, URL: hang.URL})
	setOwner(t, cli, "cut", api.Owner{Region: "a", Epoch: 1, URL: cut.URL})
	setOwner(t, cli, "gone", api.Owner{Region: "a", Epoch: 1, URL: hang.URL})
	waitFor(t, "owners listed", func() bool { return len(routerStatus(t, url).Owners) == 4 })
	if _, err := cli.Delete(context.Background(), api.OwnerKey("gone")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deleted owner forgotten", func() bool { return len(routerStatus(t, url).Owners) == 3 })

	for _, tc := range []struct {
		agent      string
		status     int
		outcome    string
		retryAfter string
	}{
		{"nobody", http.StatusServiceUnavailable, "fail", "1"},
		{"gone", http.StatusServiceUnavailable, "fail", "1"},
		{"refused", http.StatusServiceUnavailable, "fail", ""},
		{"hangs", http.StatusGatewayTimeout, "unknown", ""},
		{"cut", http.StatusBadGateway, "unknown", ""},
	} {
		t.Run(tc.agent, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, url+"/agents/"+tc.agent+"/kv/k", strings.NewReader("v"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body api.Response
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.Header.Get(api.HeaderOutcome) != tc.outcome ||
				resp.Header.Get("Retry-After") != tc.retryAfter || body.Agent != tc.agent || body.Error == "" {
				t.Errorf("got %d outcome %q retry-after %q body %+v, want %d %q %q",
					resp.StatusCode, resp.Header.Get(api.HeaderOutcome), resp.Header.Get("Retry-After"), body,
					tc.status, tc.outcome, tc.retryAfter)
			}
		})
	}
}

func TestOwnerAgent(t *testing.T) {
	for key, want := range map[string]string{
		api.OwnerKey("agent-00"):           "agent-00",
		api.EpochKey("agent-00"):           "",
		api.LogKey("agent-00", 3):          "",
		api.AgentsPrefix() + "/owner":      "",
		api.AgentsPrefix() + "x/y/owner":   "",
		api.RegistryKey("agent-00"):        "",
		api.EpochRecordKey("agent-00", 12): "",
	} {
		got, ok := ownerAgent(key)
		if got != want || ok != (want != "") {
			t.Errorf("ownerAgent(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// HostVia sends a region's requests to the given address instead of the owner's advertised
// URL (a proxy before the host); regions without an entry keep the advertised URL.
func TestRouterHostVia(t *testing.T) {
	etcd := testenv.Etcd(t)
	cli := testenv.Client(t, etcd)
	serve := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(api.Response{Agent: r.PathValue("agent"), Value: name})
		}))
	}
	advertisedB, viaB, advertisedC := serve("advertised-b"), serve("via-b"), serve("advertised-c")
	defer advertisedB.Close()
	defer viaB.Close()
	defer advertisedC.Close()
	setOwner(t, cli, "agent-00", api.Owner{Region: "b", Epoch: 1, URL: advertisedB.URL})
	setOwner(t, cli, "agent-01", api.Owner{Region: "c", Epoch: 1, URL: advertisedC.URL})
	url := startRouterWith(t, Config{Etcd: []string{etcd}, Timeout: 3 * time.Second,
		HostVia: map[string]string{"b": strings.TrimPrefix(viaB.URL, "http://")}})
	waitFor(t, "owners listed", func() bool { return len(routerStatus(t, url).Owners) == 2 })
	for agent, want := range map[string]string{"agent-00": "via-b", "agent-01": "advertised-c"} {
		resp, err := http.Get(url + "/agents/" + agent + "/kv/k1")
		if err != nil {
			t.Fatal(err)
		}
		var r api.Response
		_ = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if r.Value != want {
			t.Errorf("%s answered by %q, want %q", agent, r.Value, want)
		}
	}
}
