package local_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/faults"
)

// Slow replies on region a's host → etcd path: a write through the router takes effect at
// once but its answer comes back the latency late, a fresh request on the path measures the
// delay, and once removed the path is fast again.
func TestSlowRepliesDelaysTheAnswersNotTheRequests(t *testing.T) {
	c, _ := upCluster(t, context.Background(), realBin(t))
	ctx := context.Background()
	agent := agentOwnedBy(t, c, "a")
	put := func(key, value string) (int, time.Duration) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, c.Endpoints().Router+"/agents/"+agent+"/kv/"+key, strings.NewReader(value))
		start := time.Now()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("PUT %s: %v", key, err)
		}
		defer resp.Body.Close()
		_, _ = io.ReadAll(resp.Body)
		return resp.StatusCode, time.Since(start)
	}

	const latency = 800 * time.Millisecond
	if how, why := c.SlowRepliesRealisation(faults.PathHostEtcd); how != faults.Exact {
		t.Errorf("host-etcd on local: %s (%s), want exact", how, why)
	}
	id := "slow-test"
	if err := c.SlowReplies(ctx, id, faults.SlowReplies{Path: faults.PathHostEtcd, Region: "a", Latency: latency}); err != nil {
		t.Fatal(err)
	}
	if err := c.RepliesSlowed(ctx, id); err != nil {
		t.Fatalf("not installed: %v", err)
	}
	if took, err := c.PathRoundTrip(ctx, faults.PathHostEtcd, "a"); err != nil || took < latency {
		t.Errorf("round trip on the slowed path: %s, %v; want at least %s", took, err, latency)
	}
	if status, took := put("slow", "v1"); status != http.StatusOK || took < latency {
		t.Errorf("PUT with etcd's replies delayed: status %d in %s, want 200 in at least %s", status, took, latency)
	}
	if took, err := c.PathRoundTrip(ctx, faults.PathHostEtcd, "b"); err != nil || took >= latency/2 {
		t.Errorf("region b's path, not slowed: %s, %v", took, err)
	}

	if err := c.RestoreReplies(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c.RepliesSlowed(ctx, id) == nil {
		t.Error("still installed after RestoreReplies")
	}
	if took, err := c.PathRoundTrip(ctx, faults.PathHostEtcd, "a"); err != nil || took >= latency/2 {
		t.Errorf("round trip after healing: %s, %v", took, err)
	}
	if status, took := put("slow", "v2"); status != http.StatusOK || took >= latency/2 {
		t.Errorf("PUT after healing: status %d in %s", status, took)
	}
}
