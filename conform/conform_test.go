package conform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/conform"
	"github.com/geodrill/geodrill/internal/testbin"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/config"
)

// stack brings the reference stack up on the local provider without TLS (so an adapter
// in front of it is a plain reverse proxy) and returns its target.
func stack(t *testing.T, ctx context.Context) (*local.Cluster, conform.Target) {
	t.Helper()
	off := false
	runDir := t.TempDir()
	c, err := local.New(clusters.Spec{Regions: []string{"a", "b", "c"}, Agents: 3,
		Stack: config.Stack{LeaseTTL: 2 * time.Second, TLS: &off}, BinDir: testbin.Dir(t), RunDir: runDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
		local.KillLeftovers(runDir)
	})
	if err := c.Up(ctx); err != nil {
		t.Fatal(err)
	}
	eps := c.Endpoints()
	tg := conform.Target{URL: eps.Router, Agents: []string{api.AgentID(0), api.AgentID(1), api.AgentID(2)}}
	for _, r := range []string{"a", "b", "c"} {
		tg.Health = append(tg.Health, eps.HealthURLs(r)...)
	}
	return c, tg
}

func finding(t *testing.T, rep conform.Report, part string) conform.Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Part.Name == part {
			return f
		}
	}
	t.Fatalf("no finding for %s", part)
	return conform.Finding{}
}

// The reference stack conforms, the outage included; adapters in front of it that break
// the contract are named for what they break: one drops the epoch (optional: the checkers
// that need it are named), one answers 200 for writes it never forwards, one serves no
// /healthz, one serves no cas.
func TestReferenceStackAndBrokenAdapters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, tg := stack(t, ctx)

	rep, err := conform.Check(ctx, tg, c, []string{"a", "b", "c"}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Text())
	for _, f := range rep.Findings {
		if f.Status != conform.OK && f.Part.Name != conform.PartCheckpoints {
			t.Errorf("reference stack: %s %s: %s", f.Part.Name, f.Status, f.Detail)
		}
	}
	if !rep.Passed() || !strings.Contains(rep.Text(), "verdict: CONFORMS") {
		t.Error("the reference stack does not conform")
	}

	router, _ := url.Parse(tg.URL)
	adapter := func(t *testing.T, edit func(w http.ResponseWriter, r *http.Request) bool, modify func(*http.Response) error) conform.Target {
		t.Helper()
		proxy := httputil.NewSingleHostReverseProxy(router)
		proxy.ModifyResponse = modify
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if edit != nil && edit(w, r) {
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		a := tg
		a.URL, a.Health = srv.URL, nil
		return a
	}
	check := func(t *testing.T, a conform.Target) conform.Report {
		t.Helper()
		rep, err := conform.Check(ctx, a, nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + rep.Text())
		return rep
	}

	t.Run("drops the epoch", func(t *testing.T) {
		rep := check(t, adapter(t, nil, func(res *http.Response) error {
			res.Header.Del(api.HeaderEpoch)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var body map[string]any
			if json.Unmarshal(b, &body) == nil {
				delete(body, "epoch")
				b, _ = json.Marshal(body)
			}
			res.Body = io.NopCloser(bytes.NewReader(b))
			res.ContentLength = int64(len(b))
			res.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		}))
		if f := finding(t, rep, conform.PartEpoch); f.Status != conform.Missing {
			t.Errorf("epoch: %s %s", f.Status, f.Detail)
		}
		if !strings.Contains(rep.Text(), "epoch is not served (optional; needed by split-brain, rpo): split-brain says unknown") {
			t.Error("the report does not say which checkers cannot judge without the epoch")
		}
		if f := finding(t, rep, conform.PartRecovery); f.Status != conform.Skipped || !strings.Contains(f.Detail, "did not start") {
			t.Errorf("recovery without a way to kill a region: %s %s", f.Status, f.Detail)
		}
	})
	t.Run("answers 200 for writes it does not make", func(t *testing.T) {
		rep := check(t, adapter(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPut {
				return false
			}
			w.Header().Set(api.HeaderRegion, "a")
			json.NewEncoder(w).Encode(api.Response{Agent: "x", Region: "a", Epoch: 1})
			return true
		}, nil))
		f := finding(t, rep, conform.PartPutGet)
		if f.Status != conform.Wrong || !strings.Contains(f.Detail, "a 200 for a write the system did not make") {
			t.Errorf("put-get: %s %s", f.Status, f.Detail)
		}
		if rep.Passed() || !strings.Contains(rep.Text(), "put-get is wrong") || !strings.Contains(rep.Text(), "DOES NOT CONFORM") {
			t.Error("the report does not name the problem")
		}
	})
	t.Run("serves no healthz and no cas", func(t *testing.T) {
		rep := check(t, adapter(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/healthz" || strings.Contains(r.URL.Path, "/cas/") {
				http.NotFound(w, r)
				return true
			}
			return false
		}, nil))
		if f := finding(t, rep, conform.PartHealth); f.Status != conform.Missing {
			t.Errorf("health: %s %s", f.Status, f.Detail)
		}
		if f := finding(t, rep, conform.PartCAS); f.Status != conform.Missing {
			t.Errorf("cas: %s %s", f.Status, f.Detail)
		}
		if rep.Passed() || !strings.Contains(rep.Text(), "health is missing (required)") {
			t.Error("a missing required part passed")
		}
	})
}
