package netns_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
)

// Reply loss on netns is exact: the router's PUT reaches region a's host and commits, then
// the host's reply is rewritten into an RST (reset: the router answers 502 unknown, the
// connection reset by peer) or dropped (drop: 504 unknown after the router's timeout);
// once the rules are removed a GET reads the value written. The host → etcd and host →
// object-store rules are read back from the kernel and removed too. It runs without TLS,
// under which the chosen segment may be a handshake's and the fault is only approximate.
func TestReplyLossIsExact(t *testing.T) {
	off := false
	c, runDir := newCluster(t, func(s *clusters.Spec) { s.Stack.TLS = &off })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	defer assertClean(t, c, runDir)
	defer func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	}()
	if err := c.Up(ctx); err != nil {
		t.Fatal(err)
	}
	owners, err := c.Owners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent := ""
	for a, o := range owners {
		if o.Region == "a" {
			agent = a
			break
		}
	}
	if agent == "" {
		t.Fatalf("no agent owned by region a: %v", owners)
	}
	router := c.Endpoints().Router
	tlsCfg, err := c.Endpoints().ClientTLS() // netns runs the stack with mutual TLS by default
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	do := func(method, key, body string) (int, string, api.Response) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, router+"/agents/"+agent+"/kv/"+key, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, key, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var r api.Response
		_ = json.Unmarshal(raw, &r)
		return resp.StatusCode, resp.Header.Get(api.HeaderOutcome), r
	}

	if _, ok := any(c).(faults.IsolateControl); ok {
		t.Error("netns offers the local provider's approximate isolation; it partitions exactly")
	}
	for _, tc := range []struct {
		mode   string
		status int
		err    string
	}{{faults.ReplyReset, http.StatusBadGateway, "reset by peer"}, {faults.ReplyDrop, http.StatusGatewayTimeout, ""}} {
		if how, why := c.ReplyLossRealisation(faults.PathRouterHost, tc.mode); how != faults.Exact {
			t.Errorf("%s realised %s (%s), want exact", tc.mode, how, why)
		}
		id := "replyloss-test-" + tc.mode
		key, value := "k-"+tc.mode, "written-under-"+tc.mode
		l := faults.ReplyLoss{Path: faults.PathRouterHost, Region: "a", Probability: 1, Mode: tc.mode}
		if err := c.LoseReplies(ctx, id, l); err != nil {
			t.Fatal(err)
		}
		if err := c.LosingReplies(ctx, id); err != nil {
			t.Fatalf("%s: not installed: %v", tc.mode, err)
		}
		status, outcome, r := do(http.MethodPut, key, value)
		if status != tc.status || outcome != "unknown" || !strings.Contains(r.Error, tc.err) {
			t.Errorf("%s: PUT with its reply lost: status %d outcome %q (%s), want %d unknown (%s)",
				tc.mode, status, outcome, r.Error, tc.status, tc.err)
		}
		if err := c.RestoreReplies(ctx, id); err != nil {
			t.Fatal(err)
		}
		if c.LosingReplies(ctx, id) == nil {
			t.Errorf("%s: still installed after RestoreReplies", tc.mode)
		}
		if err := c.PathWorks(ctx, faults.PathRouterHost, "a"); err != nil {
			t.Errorf("%s: path after healing: %v", tc.mode, err)
		}
		status, _, r = do(http.MethodGet, key, "")
		if status != http.StatusOK || !r.Found || r.Value != value {
			t.Errorf("%s: GET after the lost reply: status %d found %v value %q, want %q: the PUT took effect",
				tc.mode, status, r.Found, r.Value, value)
		}
	}

	for _, path := range []string{faults.PathHostEtcd, faults.PathHostObjectStore} {
		id := "replyloss-test-" + path
		if err := c.PathWorks(ctx, path, "a"); err != nil {
			t.Errorf("%s before the fault: %v", path, err)
		}
		if err := c.LoseReplies(ctx, id, faults.ReplyLoss{Path: path, Region: "a", Probability: 1, Mode: faults.ReplyReset}); err != nil {
			t.Fatal(err)
		}
		if err := c.LosingReplies(ctx, id); err != nil {
			t.Errorf("%s: not installed: %v", path, err)
		}
		if err := c.PathWorks(ctx, path, "a"); err == nil || !strings.Contains(err.Error(), "reset by peer") {
			t.Errorf("%s with every reply reset: %v, want a connection reset", path, err)
		}
		if err := c.RestoreReplies(ctx, id); err != nil {
			t.Fatal(err)
		}
		if c.LosingReplies(ctx, id) == nil {
			t.Errorf("%s: still installed after RestoreReplies", path)
		}
		if err := c.PathWorks(ctx, path, "a"); err != nil {
			t.Errorf("%s after healing: %v", path, err)
		}
	}

	// Slow replies: on each path a fresh connection's first reply comes back the latency
	// late, and on time once removed; a PUT through the router under a slow router → host
	// path takes effect and is answered late, not lost.
	const latency = 300 * time.Millisecond
	for _, path := range faults.ReplyLossPaths() {
		if how, why := c.SlowRepliesRealisation(path); how != faults.Exact {
			t.Errorf("slow-replies on %s realised %s (%s), want exact", path, how, why)
		}
		id := "slow-test-" + path
		if err := c.SlowReplies(ctx, id, faults.SlowReplies{Path: path, Region: "a", Latency: latency}); err != nil {
			t.Fatal(err)
		}
		if err := c.RepliesSlowed(ctx, id); err != nil {
			t.Errorf("%s: not installed: %v", path, err)
		}
		if took, err := c.PathRoundTrip(ctx, path, "a"); err != nil || took < latency*9/10 {
			t.Errorf("%s with replies %s late: round trip %s (%v)", path, latency, took, err)
		}
		if path == faults.PathRouterHost {
			start := time.Now()
			if status, _, _ := do(http.MethodPut, "k-slow", "written-slowly"); status != http.StatusOK {
				t.Errorf("PUT under slow replies: status %d, want 200", status)
			}
			if took := time.Since(start); took < latency {
				t.Errorf("PUT under %s slow replies answered in %s", latency, took)
			}
		}
		if c.Held(id) == 0 {
			t.Errorf("%s: no packet held", path)
		}
		if err := c.RestoreReplies(ctx, id); err != nil {
			t.Fatal(err)
		}
		if c.RepliesSlowed(ctx, id) == nil {
			t.Errorf("%s: still installed after RestoreReplies", path)
		}
		if took, err := c.PathRoundTrip(ctx, path, "a"); err != nil || took > latency/2 {
			t.Errorf("%s after healing: round trip %s (%v)", path, took, err)
		}
	}
	if status, _, r := do(http.MethodGet, "k-slow", ""); status != http.StatusOK || r.Value != "written-slowly" {
		t.Errorf("GET after the slow PUT: status %d value %q", status, r.Value)
	}
}
