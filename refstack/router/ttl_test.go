package router

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

func startRouterTTL(t *testing.T, etcd string, ttl time.Duration) string {
	t.Helper()
	return startRouterWith(t, Config{Etcd: []string{etcd}, OwnerTTL: ttl})
}

func regionServer(t *testing.T, region string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderRegion, region)
		_ = json.NewEncoder(w).Encode(api.Response{Agent: "agent-00", Region: region})
	}))
	t.Cleanup(s.Close)
	return s
}

// servedBy GETs through the router: the region that answered, or the status if none did.
func servedBy(t *testing.T, url string) (string, *http.Response) {
	t.Helper()
	resp, err := http.Get(url + "/agents/agent-00/kv/k")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get(api.HeaderRegion), resp
}

// With an owner TTL the router keeps using the owner it looked up, as a resolver keeps a
// DNS record, until the TTL runs out; only then does it follow the move (or answer 503
// with Retry-After once the agent has no owner).
func TestOwnerTTLDelaysFollowingAMove(t *testing.T) {
	const ttl = 2 * time.Second
	etcd := testenv.Etcd(t)
	cli := testenv.Client(t, etcd)
	b, c := regionServer(t, "b"), regionServer(t, "c")
	setOwner(t, cli, "agent-00", api.Owner{Region: "b", Epoch: 1, URL: b.URL})
	url := startRouterTTL(t, etcd, ttl)
	waitFor(t, "owner listed", func() bool { return routerStatus(t, url).Owners["agent-00"].Epoch == 1 })

	looked := time.Now() // the entry is cached at or after this instant, so it lives until at least looked+ttl
	if got, resp := servedBy(t, url); got != "b" {
		t.Fatalf("first request served by %q (%s), want b", got, resp.Status)
	}
	setOwner(t, cli, "agent-00", api.Owner{Region: "c", Epoch: 2, URL: c.URL})
	waitFor(t, "the watch to see the move", func() bool { return routerStatus(t, url).Owners["agent-00"].Epoch == 2 })
	for time.Since(looked) < ttl/2 {
		if got, _ := servedBy(t, url); got != "b" {
			t.Fatalf("served by %q %s after the first lookup, within the %s TTL: want the cached owner b", got, time.Since(looked), ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "the entry to expire and the new owner c to serve", func() bool { got, _ := servedBy(t, url); return got == "c" })
	if moved := time.Since(looked); moved < ttl {
		t.Errorf("followed the move %s after the lookup, before the TTL of %s", moved, ttl)
	}

	if _, err := cli.Delete(context.Background(), api.OwnerKey("agent-00")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "503 + Retry-After once the cached owner expired", func() bool {
		_, resp := servedBy(t, url)
		return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "1" &&
			resp.Header.Get(api.HeaderOutcome) == "fail"
	})

	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`geodrill_router_owner_cache_total{result="hit"}`, `geodrill_router_owner_cache_total{result="refresh"}`,
		`geodrill_router_owner_cache_total{result="miss_no_owner"}`, `geodrill_router_requests_total{outcome="fail",status="503"}`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// With TTL 0 (the default) the router follows the watch: a move is used at once.
func TestNoOwnerTTLFollowsTheWatch(t *testing.T) {
	etcd := testenv.Etcd(t)
	cli := testenv.Client(t, etcd)
	b, c := regionServer(t, "b"), regionServer(t, "c")
	setOwner(t, cli, "agent-00", api.Owner{Region: "b", Epoch: 1, URL: b.URL})
	url := startRouterTTL(t, etcd, 0)
	waitFor(t, "owner listed", func() bool { return routerStatus(t, url).Owners["agent-00"].Epoch == 1 })
	if got, _ := servedBy(t, url); got != "b" {
		t.Fatalf("served by %q, want b", got)
	}
	setOwner(t, cli, "agent-00", api.Owner{Region: "c", Epoch: 2, URL: c.URL})
	waitFor(t, "the watch to see the move", func() bool { return routerStatus(t, url).Owners["agent-00"].Epoch == 2 })
	if got, _ := servedBy(t, url); got != "c" {
		t.Errorf("served by %q right after the watch saw the move, want c", got)
	}
}
