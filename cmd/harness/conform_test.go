package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/internal/testbin"
	"github.com/geodrill/geodrill/refstack/api"
)

// harness conform brings up the reference stack, kills the region that serves, and
// passes (exit 0); an adapter that answers 200 for writes it never makes is named for it
// (exit 10); conflicting arguments are a usage error.
func TestConformExitCodes(t *testing.T) {
	bin := testbin.Dir(t)
	sc := filepath.Join("..", "..", "scenarios", "region-outage.yaml")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"conform", "--bin", bin, "--out", t.TempDir(), "--provider", "local", sc}, &out, &errOut); code != exitPass {
		t.Fatalf("the reference stack: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"recovery", "region a killed", "verdict: CONFORMS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the reference stack's report lacks %q:\n%s", want, out.String())
		}
	}

	// A deliberately broken adapter: healthy, 200 for every PUT, stores nothing.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		json.NewEncoder(w).Encode(api.Response{Region: "a", Epoch: 1})
	}))
	defer broken.Close()
	out.Reset()
	if code := run(context.Background(), []string{"conform", "--url", broken.URL}, &out, &errOut); code != exitCheck {
		t.Fatalf("a broken adapter: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "put-get is wrong") || !strings.Contains(out.String(), "a 200 for a write the system did not make") {
		t.Errorf("the report does not name the problem:\n%s", out.String())
	}

	if code := run(context.Background(), []string{"conform", "--url", broken.URL, sc}, &out, &errOut); code != exitUsage {
		t.Errorf("--url with a scenario: exit %d", code)
	}
}

// The Redis Sentinel adapter conforms, the outage of the primary's region included.
func TestConformRedisSentinel(t *testing.T) {
	testbin.HATools(t, "redis-server", "redis-sentinel")
	bin := testbin.Dir(t, "adapter")
	var out, errOut bytes.Buffer
	sc := filepath.Join("..", "..", "scenarios", "redis-sentinel-region-outage.yaml")
	if code := run(context.Background(), []string{"conform", "--bin", bin, "--out", t.TempDir(), sc}, &out, &errOut); code != exitPass {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "region a killed") {
		t.Errorf("no outage in:\n%s", out.String())
	}
}
