package local_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/api"
)

// The reply-loss toxic on the router → host path loses replies to requests that took
// effect: a PUT forwarded to region a's host commits, its reply is lost (reset: the router
// answers 502 unknown; drop: 504 unknown after the router's timeout), and once the fault is
// removed a GET reads the value written. A killed host still refuses the router (503 fail,
// nothing sent), because the router's proxy runs only while the host process runs.
func TestReplyLossLosesRepliesToRequestsThatTookEffect(t *testing.T) {
	c, _ := upCluster(t, context.Background(), realBin(t))
	ctx := context.Background()
	router := c.Endpoints().Router
	agent := agentOwnedBy(t, c, "a")
	client := &http.Client{Timeout: 10 * time.Second}
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

	for _, tc := range []struct {
		mode   string
		status int
	}{{faults.ReplyReset, http.StatusBadGateway}, {faults.ReplyDrop, http.StatusGatewayTimeout}} {
		id := "replyloss-test-" + tc.mode
		key, value := "k-"+tc.mode, "written-under-"+tc.mode
		l := faults.ReplyLoss{Path: faults.PathRouterHost, Region: "a", Probability: 1, Mode: tc.mode, Seed: 1}
		if err := c.LoseReplies(ctx, id, l); err != nil {
			t.Fatal(err)
		}
		if err := c.LosingReplies(ctx, id); err != nil {
			t.Fatalf("%s: not installed: %v", tc.mode, err)
		}
		status, outcome, r := do(http.MethodPut, key, value)
		if status != tc.status || outcome != "unknown" {
			t.Errorf("%s: PUT with its reply lost: status %d outcome %q (%s), want %d unknown",
				tc.mode, status, outcome, r.Error, tc.status)
		}
		if n := c.RepliesLost(id); n < 1 {
			t.Errorf("%s: the toxic counted %d lost replies, want at least 1", tc.mode, n)
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

	// The host's other paths: with every reply lost, a request along them gets no answer;
	// healed, it does.
	for _, path := range []string{faults.PathHostEtcd, faults.PathHostObjectStore} {
		id := "replyloss-test-" + path
		if err := c.LoseReplies(ctx, id, faults.ReplyLoss{Path: path, Region: "a", Probability: 1, Mode: faults.ReplyReset}); err != nil {
			t.Fatal(err)
		}
		if err := c.PathWorks(ctx, path, "a"); err == nil {
			t.Errorf("%s: a request got its reply with every reply lost", path)
		}
		if err := c.RestoreReplies(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := c.PathWorks(ctx, path, "a"); err != nil {
			t.Errorf("%s after healing: %v", path, err)
		}
	}

	// A dead host: the router's connection is refused, a definite failure.
	if err := c.Signal("a", "host", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.PathWorks(ctx, faults.PathRouterHost, "a") == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// The router may still hold a pooled connection the proxy closed as the host died; a PUT
	// that meets it gets EOF or a reset and is rightly unknown (502). Such a stale connection
	// is used once; the next request dials and is refused.
	stale := func(status int, r api.Response) bool {
		return status == http.StatusBadGateway && (strings.Contains(r.Error, "EOF") || strings.Contains(r.Error, "reset by peer"))
	}
	status, outcome, r := do(http.MethodPut, "k-dead", "never")
	for try := 0; try < 3 && stale(status, r); try++ {
		status, outcome, r = do(http.MethodPut, "k-dead", "never")
	}
	if status != http.StatusServiceUnavailable || outcome != "fail" {
		t.Errorf("PUT to a killed host: status %d outcome %q (%s), want 503 fail", status, outcome, r.Error)
	}
	if err := c.RestoreRegion(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.PathWorks(ctx, faults.PathRouterHost, "a"); err != nil {
		t.Errorf("router -> host path after the host restarted: %v", err)
	}
}

// agentOwnedBy is some agent region owns now.
func agentOwnedBy(t *testing.T, c *local.Cluster, region string) string {
	t.Helper()
	owners, err := c.Owners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for a, o := range owners {
		if o.Region == region {
			return a
		}
	}
	t.Fatalf("no agent owned by region %s: %v", region, owners)
	return ""
}
